"""A folder or a notebook as a target: find the AlexNet in it without running its scripts, and say how.

`load_folder("path/to/repo")` (or a notebook, or `path::Name` to choose a candidate by name):
1. `sources` parses every Python file and notebook; `scan` finds the candidates (nn.Module classes
   and the factories returning them); `evidence` reads sizes, datasets, call sites, init calls.
2. `layout` puts the repository's own layout on sys.path and imports the candidates' files
   definitions-only; `repo_import` stubs what is not installed (each stub named in the notes).
3. `arguments` builds each candidate with its defaults or the fewest obvious values; `screen` runs
   it on the `meta` device at each input side in turn (`evidence.input_sides`) and counts its
   convolutions and dense layers. The candidates that give [N, classes] scores are the image
   classifiers.
4. `choose` takes the one closest to the paper's five convolutions and three dense layers (a name
   containing "alexnet" breaks a tie); the notes say which, why, which others were seen, and every
   assumption made (arguments, stubs, input size, the init function, the code that did not run).
5. The target carries `inferred`: the manifest that reproduces it (`inferred.manifest_text`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import call_target, first_line
from ..core.inputs import did_you_mean
from .arguments import Construction, Context, constructions, ordered_yaml
from .evidence import call_sites, config_loaders, datasets, init_functions, input_sides, size_hints
from .layout import SRC_DIRS, install, provided_names
from .record import Target, TargetError, from_mapping, reuse_first
from .refs import default_name, is_notebook_ref, split_pick
from .repo_import import Imports, Place, places_for
from .scan import Candidate, find_candidates, module_functions
from .screen import Screened, screen
from .sources import Sources, Unit, read_sources

PAPER_CONVS, PAPER_DENSE = 5, 3


@dataclass
class Found:
    """One candidate after screening: how it was built and what it showed, or why it is out."""

    cand: Candidate
    place: Place
    obj: Any = None
    construction: Construction | None = None
    screened: Screened | None = None
    why_not: str = ""

    @property
    def classifies(self) -> bool:
        return self.screened is not None and self.screened.side is not None

    @property
    def distance(self) -> int:
        assert self.screened is not None and self.screened.shape is not None
        shape = self.screened.shape
        return abs(shape.convs - PAPER_CONVS) + abs(shape.dense - PAPER_DENSE)

    def rank(self, index: int) -> tuple[int, int, int, int]:
        named = 0 if "alexnet" in self.cand.name.casefold() else 1
        return (self.distance, named, 0 if self.cand.kind == "class" else 1, index)

    @property
    def signature(self) -> tuple[Any, ...]:
        assert self.screened is not None and self.screened.shape is not None
        s = self.screened.shape
        return (s.convs, s.dense, s.output, s.parameters)

    def describe(self) -> str:
        assert self.screened is not None and self.screened.shape is not None
        return f"{self.cand.label} ({self.cand.where}: {self.screened.shape.layers})"


def _split(ref: str) -> tuple[Path, str | None, str]:
    pick = split_pick(ref)
    text, wanted = pick if pick is not None else (ref, None)
    path = Path(text).expanduser()
    if not path.exists():
        raise TargetError(f"'{text}': no such folder or notebook.")
    if path.is_file() and not is_notebook_ref(path.name):
        raise TargetError(f"'{ref}': a file target needs ':attr' (file.py:attr); `::Name` picks from a folder "
                          "or a notebook.")
    return path.resolve(), wanted, text


def _relevant_units(src: Sources, candidates: list[Candidate]) -> list[Unit]:
    """The units whose files may be imported: candidates', config loaders' and init functions'."""
    rels = {c.unit.rel for c in candidates} | {u.rel for _, u, _ in config_loaders(src.units)}
    fns = module_functions(src.units)
    for name, _ in init_functions(src.units):
        rels |= {u.rel for u, _ in fns.get(name, [])}
    seen: dict[str, Unit] = {}
    for u in src.units:
        if u.rel in rels:
            seen.setdefault(u.rel, u)
    return list(seen.values())


def _entries(root: Path, places: list[Place]) -> list[Path]:
    out: list[Path] = []
    for p in [*(pl.entry for pl in places), *(root / d for d in SRC_DIRS), root]:
        if p.is_dir() and p.resolve() not in out:
            out.append(p.resolve())
    return out


def _context(src: Sources, imports: Imports, places: dict[str, Place], configs: dict[str, Any],
             candidates: list[Candidate]) -> Context:
    loaders = []
    for qual, unit, _ in config_loaders(src.units):
        module = imports.load(unit, places[unit.rel])
        obj = module
        for part in qual.split("."):
            obj = getattr(obj, part, None)
        if callable(obj):
            loaders.append((f"{places[unit.rel].ref}:{qual}", obj))
    sites = call_sites(src.units, {c.name for c in candidates})
    return Context(src.root, sites, configs, datasets(src.units, configs), loaders)


def _screen_one(found: Found, ctx: Context, sides: list[int]) -> None:
    options, why = constructions(found.obj, found.cand.label, ctx)
    if not options:
        found.why_not = why
        return
    for option in options:
        try:
            kwargs = option.values()
        except Exception as exc:  # a config loader that does not take this file
            found.why_not = f"{option.call(found.cand.label)} failed: {first_line(exc)}"
            continue
        result = screen(_maker(found.obj, kwargs), sides)
        found.construction, found.screened = option, result
        if result.side is not None:
            return
        found.why_not = result.error and f"building it failed: {result.error}" or _not_classifier(result)
    found.construction = found.construction if found.classifies else None


def _maker(obj: Any, kwargs: dict[str, Any]) -> Any:
    return lambda: obj(**kwargs)


def _not_classifier(s: Screened) -> str:
    if s.shape is not None:
        return f"its output is {list(s.shape.output)}, not [N, classes] scores"
    side, why = next(iter(s.failed.items()), (0, "it did not run"))
    return f"it did not run at any input size tried ({side}: {why})"


def screen_all(src: Sources, candidates: list[Candidate], configs: dict[str, Any]) -> tuple[list[Found], Imports,
                                                                                           list[tuple[int, str]]]:
    """Import, build and screen every candidate (see the module docstring, steps 2 and 3)."""
    root = src.root
    units = _relevant_units(src, candidates)
    places = places_for(units, root)
    entries = _entries(root, list(places.values()))
    finder = install(root, entries, {c.name for c in candidates})
    imports = Imports(root, provided_names(entries), entries, finder.log, places)
    found = []
    for cand in candidates:
        f = Found(cand, places[cand.unit.rel])
        module = imports.load(cand.unit, f.place)
        f.obj = getattr(module, cand.name, None) if module is not None else None
        if f.obj is None:
            f.why_not = imports.failures.get(cand.unit.rel, f"{cand.name} is not defined once its file is imported")
        found.append(f)
    ctx = _context(src, imports, places, configs, candidates)
    sides = input_sides(size_hints(src.units, configs), ctx.datasets)
    for f in found:
        if f.obj is not None and callable(f.obj):
            _screen_one(f, ctx, [s for s, _ in sides])
    return found, imports, sides


def choose(found: list[Found], wanted: str | None, where: str) -> tuple[Found, list[Found]]:
    """The chosen candidate and the other image classifiers (best first)."""
    ranked = sorted((f for f in found if f.classifies), key=lambda f: f.rank(found.index(f)))
    if wanted is not None:
        matches = [f for f in found if wanted in (f.cand.name, f"{f.cand.unit.rel}:{f.cand.name}",
                                                  f"{f.place.ref}:{f.cand.name}")]
        if not matches:
            names = sorted({f.cand.name for f in found})
            raise TargetError(f"{where}: no candidate named '{wanted}'{did_you_mean(wanted, names)}; "
                              f"found: {', '.join(names)}.")
        if len({f.cand.unit.rel for f in matches}) > 1 and len(matches) > 1:
            raise TargetError(f"{where}: '{wanted}' is defined in more than one file ("
                              f"{', '.join(f.cand.where for f in matches)}); write '::file.py:{wanted}'.")
        pick = matches[0]
        if not pick.classifies:
            raise TargetError(f"{where}: {pick.cand.label} ({pick.cand.where}) is not an image classifier: "
                              f"{pick.why_not}.")
        return pick, [f for f in ranked if f is not pick]
    if not ranked:
        why = "; ".join(f"{f.cand.label}: {f.why_not}" for f in found[:6])
        if all(f.screened is None or f.screened.error for f in found):
            raise TargetError(f"{where}: none of the {len(found)} candidate network(s) could be built: {why}.")
        raise TargetError(f"{where}: none of the {len(found)} candidate network(s) is an image classifier "
                          f"([N, classes] scores for an image batch): {why}.")
    return ranked[0], ranked[1:]


def load_folder(ref: str, name: str | None = None) -> Target:
    """Resolve a folder, a notebook or `path::Name` to a Target (see the module docstring)."""
    from . import repo_notes

    path, wanted, text = _split(ref)
    src = read_sources(path)
    candidates = find_candidates(src.units)
    if not candidates:
        skipped = f"; unreadable: {', '.join(src.unreadable[:5])}" if src.unreadable else ""
        n_py = len({u.rel for u in src.units if not u.notebook})
        raise TargetError(f"{text}: no nn.Module subclass or model factory found in {n_py} Python file(s) and "
                          f"{len(src.cells)} notebook(s){skipped}.")
    configs = ordered_yaml(src.yaml_files, src.root)
    found, imports, sides = screen_all(src, candidates, configs)
    chosen, others = choose(found, wanted, text)
    init = repo_notes.find_init(src, chosen, candidates, imports)
    construction = chosen.construction or Construction()
    kwargs = construction.values()
    obj = chosen.obj

    def factory() -> Any:
        model = obj(**kwargs)
        if init.init is not None:
            init.init.run(model)
        return model

    built = call_target(factory, f"{text}: building {construction.call(chosen.cand.label)}", TargetError)
    target_name = name or default_name(ref)
    assert chosen.screened is not None and chosen.screened.shape is not None and chosen.screened.side is not None
    shape, side = chosen.screened.shape, chosen.screened.side
    classes = repo_notes.stated_classes(src, configs, shape.classes)
    notes, payload = repo_notes.describe(repo_notes.Story(src, path, text, target_name, chosen, others, found,
                                                          imports, sides, init, wanted is not None, classes))
    mapping = {"model": reuse_first(built, factory), "input_size": (shape.channels, side, side)}
    if classes is not None:
        mapping["num_classes"] = classes[0]
    return from_mapping(target_name, mapping, str(path), notes=notes, inferred=payload)
