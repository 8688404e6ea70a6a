"""What a folder target's report says about how it was found, and the manifest that reproduces it.

`find_init` looks for the repository's weight initialisation of the chosen network: a module-level
function that a script applies to it right where it builds it (`model = AlexNet(); model.apply(
weights_init)` or `init_weights(model)`) is run the same way on every model the audit builds;
one that nothing applies to it is named in the notes as not run. `describe` writes the notes
(the choice, the others seen, every assumption) and the `inferred` manifest payload
(`inferred.manifest_text` renders it), whose notes are the same notes, so that auditing the
manifest reproduces the report.
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .arguments import CLASS_COUNT
from .evidence import DATASETS, datasets, init_functions, init_uses, yaml_items
from .layout import rel_entry
from .notebook import plan_notes
from .repo_import import NO_STUB_ENV, Imports, place_of
from .scan import Candidate, module_functions
from .sources import Sources

if TYPE_CHECKING:
    from .repo import Found

STUB_NOTE = "Stubbed optional modules: {}."  # the manifest loader's own words: it adds this line itself
MAX_LISTED = 8


@dataclass
class Init:
    """A weight initialisation the repository applies to the model right after building it."""

    style: str  # "apply": model.apply(fn); "call": fn(model)
    fn: Callable[..., Any]
    ref: str  # for the manifest: "train:weights_init"
    name: str
    where: str  # the script line that does it
    text: str

    def run(self, model: Any) -> None:
        if self.style == "apply":
            model.apply(self.fn)
        else:
            self.fn(model)


@dataclass
class InitFinding:
    init: Init | None = None
    notes: list[str] = field(default_factory=list)


def _node(cand: Candidate) -> ast.AST | None:
    return next((n for n in cand.unit.tree.body if getattr(n, "lineno", None) == cand.line), None)


def _names_in(node: ast.AST | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


def find_init(src: Sources, chosen: Found, candidates: list[Candidate], imports: Imports) -> InitFinding:
    """The chosen network's init function, when a script applies it where it builds the network."""
    cand = chosen.cand
    builds = {cand.name, *cand.returns} | {c.name for c in candidates if cand.name in c.returns}
    fns = module_functions(src.units)
    out = InitFinding()
    for use in init_uses(src.units, {c.name for c in candidates}):
        if use.model not in builds:
            continue
        defs = sorted(fns.get(use.function, []), key=lambda d: d[0].rel != use.where.split(" ")[0])
        place = imports.places.get(defs[0][0].rel) or place_of(defs[0][0], src.root) if defs else None
        module = imports.load(defs[0][0], place) if defs and place is not None else None
        fn = getattr(module, use.function, None) if module is not None else None
        if not callable(fn):
            out.notes.append(f"{use.where} initialises the model with `{use.text}`, which the audit cannot run "
                             "(not a module-level function of the repository); the init items measure the "
                             "constructor's own initialisation.")
            continue
        assert place is not None
        out.init = Init(use.style, fn, f"{place.ref}:{use.function}", use.function, use.where, use.text)
        out.notes.append(f"Weight init: {use.where} runs `{use.text}` right after building the model, so every "
                         f"model the audit builds gets {use.function} ({defs[0][0].where(defs[0][1].lineno)}) the "
                         "same way.")
        break
    inside = _names_in(_node(cand)) | (out.init and {out.init.name} or set())
    for name, where in init_functions(src.units):
        if name not in inside and not any(name in n for n in out.notes):
            out.notes.append(f"{where} defines {name}, a weight-init function that nothing in the repository "
                             f"applies where it builds {cand.label}: it was not run, so the init items measure the "
                             "constructor's own initialisation.")
    return out


@dataclass
class Story:
    """Everything the notes and the manifest tell."""

    src: Sources
    path: Path
    text: str  # the folder or notebook as the user wrote it
    name: str
    chosen: Found
    others: list[Found]
    found: list[Found]
    imports: Imports
    sides: list[tuple[int, str]]
    init: InitFinding
    picked: bool  # chosen by `::Name`
    classes: tuple[int, str] | None = None  # the class count the repository states, and where


def stated_classes(src: Sources, configs: Mapping[str, Any], classes: int | None) -> tuple[int, str] | None:
    """The model's class count when the repository states it too: a data set it loads has that many
    classes, or a configuration file sets a class count to it (then the audit judges the head as
    declared, as it does for a target that declares num_classes)."""
    if classes is None:
        return None
    for name, where in datasets(src.units, configs):
        if DATASETS[name][1] == classes:
            return classes, f"the repository loads {name} ({where}), which has {classes} classes"
    for rel, data in configs.items():
        for key, value in yaml_items(data):
            if str(key).lower() in CLASS_COUNT and value == classes and not isinstance(value, bool):
                return classes, f"{rel} sets {key}: {classes}"
    return None


def _listed(items: list[str]) -> str:
    shown = items[:MAX_LISTED]
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return "; ".join(shown) + more


def _groups(found: list[Found]) -> list[list[Found]]:
    """The candidates grouped by the network they build (same layers, output and size), in order."""
    groups: dict[tuple[Any, ...], list[Found]] = {}
    for f in found:
        groups.setdefault(f.signature, []).append(f)
    return list(groups.values())


def _choice_notes(s: Story) -> list[str]:
    c = s.chosen
    assert c.screened is not None and c.screened.shape is not None
    scores = f"[N, {c.screened.shape.classes}] scores"
    folder = s.path.name
    groups = _groups([c, *s.others])
    if s.picked:
        text = f"Audited {c.describe()}, chosen by name ('{folder}::{c.cand.name}'); it gives {scores}."
        better = [o for o in s.others if o.distance < c.distance]
        if better:
            text += f" By behaviour the audit would have chosen {better[0].cand.label}."
    else:
        how = ("it has the paper's five convolutions and three dense layers" if c.distance == 0 else
               "the closest to the paper's five convolutions and three dense layers")
        text = (f"Chose {c.describe()} from the {len(groups)} image classifier(s) in {folder}: {how} on the path to "
                f"its {scores}.")
        ties = [g[0] for g in groups[1:] if g[0].distance == c.distance]
        named = [o for o in ties if "alexnet" in o.cand.name.casefold()]
        if ties and "alexnet" in c.cand.name.casefold() and not named:
            text += f" Its name breaks the tie with {', '.join(o.cand.label for o in ties)}."
        elif ties:
            text += (f" As close: {', '.join(o.cand.label for o in ties)}; it comes first (classes before factories, "
                     "then file order).")
    out = [text]
    same = [o for o in groups[0][1:]]
    if same:
        out.append(f"The same network is also built by {', '.join(f'{o.cand.label} ({o.cand.where})' for o in same)}.")
    rest = [g[0].describe() + (f", also built by {', '.join(o.cand.label for o in g[1:])}" if g[1:] else "")
            for g in groups[1:]]
    if rest:
        out.append(f"Also seen: {_listed(rest)}; audit one with '{folder}::Name'.")
    unbuilt = [f for f in s.found if not f.classifies and (f.screened is None or f.screened.error)]
    outs = [f for f in s.found if not f.classifies and f not in unbuilt]
    if outs:
        out.append("Not image classifiers: " + _listed([f"{f.cand.label} ({f.cand.where}: {f.why_not})" for f in outs])
                   + ".")
    if unbuilt:
        out.append("Not built: " + _listed([f"{f.cand.label} ({f.cand.where}: {f.why_not})" for f in unbuilt]) + ".")
    return out


def _build_notes(s: Story) -> list[str]:
    c = s.chosen
    call = (c.construction.call(c.cand.label) if c.construction else f"{c.cand.label.removesuffix('()')}()")
    reasons = c.construction.reasons() if c.construction else []
    how = "; ".join(reasons) if reasons else "its default arguments"
    entries = ", ".join(rel_entry(e, s.src.root) for e in s.imports.entries)
    where = "the notebook's cells" if c.place.notebook else f"`{c.place.ref}` with sys.path [{entries}]"
    return [f"Built as {call} ({how}), imported from {where}."]


def _size_note(s: Story) -> str:
    c = s.chosen
    assert c.screened is not None and c.screened.shape is not None and c.screened.side is not None
    tried = []
    for side, why in s.sides:
        if side == c.screened.side:
            tried.append(f"{side} ({why}): runs")
            break
        tried.append(f"{side} ({why}): {c.screened.failed.get(side, 'not tried').rstrip('.')}")
    shape = c.screened.shape
    return (f"Input size {shape.channels} x {c.screened.side} x {c.screened.side}: the first size at which the model "
            f"runs and gives [N, {shape.classes}] scores; tried in order {'; '.join(tried)}.")


def _import_notes(s: Story) -> list[str]:
    out = s.imports.log.notes()
    for rel, plan in sorted(s.imports.plans.items()):
        out += plan_notes(s.src.root / rel, s.src.root, plan)
    if s.imports.stubbed:
        listed = ", ".join(f"{name} (imported at {where})" for name, where in s.imports.stubbed)
        out.append(f"Not installed, so replaced by empty stub modules (a manifest's stub_modules): {listed}. "
                   f"{NO_STUB_ENV}=1 (--no-stub) refuses stubs.")
    return out


def _recipe_note(s: Story) -> str:
    """Why the recipe items are skipped, and the command that would measure them (`audit --train`)."""
    from .entrypoint import find_training_command

    head = "Recipe items are skipped: the definitions were imported, nothing was trained."
    if s.path.is_file():
        return f"{head} `--train` (or `alexnet-audit capture {s.path.name}`) runs the notebook top to bottom under " \
               "capture to measure them."
    search = find_training_command(s.path)
    if search.found is not None:
        return f"{head} `--train` runs `{search.found.text}` ({search.found.source}) under capture to measure them."
    seen = f" (candidates: {', '.join(search.ambiguous)})" if search.ambiguous else ""
    return f"{head} No training command was found{seen}: `--train \"python train.py ...\"` runs one under capture."


def describe(s: Story) -> tuple[list[str], dict[str, Any]]:
    """The target's notes and the inferred-manifest payload."""
    notes = [*_choice_notes(s), *_build_notes(s), _size_note(s), *s.init.notes, *_import_notes(s), _recipe_note(s)]
    if s.classes is not None:
        notes.insert(3, f"num_classes {s.classes[0]} is declared: the model gives {s.classes[0]} scores and "
                        f"{s.classes[1]}.")
    stubs = s.imports.stub_names
    c = s.chosen
    assert c.screened is not None and c.screened.shape is not None
    entries: list[list[Any]] = [["model", f"{c.place.ref}:{c.cand.name}", f"chosen: {c.describe()}"]]
    if c.construction is not None and c.construction.kwargs:
        entries.append(["kwargs", c.construction.manifest(), "; ".join(c.construction.reasons()) or "turned off"])
    entries.append(["sys_path", [rel_entry(e, s.src.root) for e in s.imports.entries],
                    "the repository's layout: folders of the files imported, src/, the root"])
    if stubs:
        entries.append(["stub_modules", stubs, "not installed: " + ", ".join(f"{n} at {w}" for n, w in
                                                                            s.imports.stubbed)])
    if s.init.init is not None:
        i = s.init.init
        entries.append(["init", {i.style: i.ref}, f"{i.where}: {i.text}"])
    side = c.screened.side
    entries.append(["input_size", [c.screened.shape.channels, side, side],
                    f"the first size that runs: {dict(s.sides).get(side or 0, '')}"])
    if s.classes is not None:
        entries.append(["num_classes", s.classes[0], f"the model's output, and {s.classes[1]}"])
    payload = {"format": 1, "name": s.name, "from": str(s.path), "kind": "notebook" if s.path.is_file() else "folder",
               "entries": entries, "notes": list(notes)}
    if stubs:
        notes.append(STUB_NOTE.format(", ".join(stubs)))
    return notes, payload
