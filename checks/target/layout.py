"""A repository's own import layout, and importing its files definitions-only (`definitions`).

`module_for` names a file the way the repository imports it:
- inside a package (its folder has `__init__.py`): the dotted name from the top package, whose
  parent goes on sys.path;
- a file with package-relative imports in a plain folder: a namespace package, dotted from the
  repository root or from `src/`;
- otherwise a top-level module with its own folder on sys.path, so its sibling imports work (as
  `python model.py` would run it).

`install(root, entries)` puts the entries first on sys.path, makes every file under `root` import
through `DefinitionsLoader` (its definitions run, its script code does not) and forgets modules of
the same names that some other folder provided before (a fresh interpreter would not have them).
A manifest with `inferred_from:` does the same, so both import the same code.
"""
from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .definitions import Failure, line_ranges, run_statements, select

SRC_DIRS = ("src", "lib")


def _identifier_parts(parts: tuple[str, ...]) -> bool:
    return all(p.isidentifier() for p in parts)


def module_for(path: Path, root: Path, relative: bool) -> tuple[str, Path]:
    """(module name, sys.path entry) for the file `path` of the repository at `root`."""
    path, root = path.resolve(), root.resolve()
    top = path.parent
    if (top / "__init__.py").is_file():
        while (top.parent / "__init__.py").is_file() and top.parent != root.parent and top != top.parent:
            top = top.parent
        parts = path.relative_to(top.parent).with_suffix("").parts
        if _identifier_parts(parts):
            name = ".".join(p for p in parts if p != "__init__") if path.name == "__init__.py" else ".".join(parts)
            return name, top.parent
    if relative and path.parent != root:
        for base in [*(root / d for d in SRC_DIRS), root]:
            try:
                parts = path.relative_to(base).with_suffix("").parts
            except ValueError:
                continue
            if _identifier_parts(parts):
                return ".".join(parts), base
    return path.stem, path.parent


def rel_entry(entry: Path, root: Path) -> str:
    try:
        rel = entry.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(entry)
    return rel or "."


@dataclass
class ImportLog:
    """What the definitions-only imports left out or skipped, per file (for the notes)."""

    dropped: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # rel path -> (line, reason)
    failures: list[Failure] = field(default_factory=list)

    def notes(self) -> list[str]:
        out = []
        for rel, dropped in sorted(self.dropped.items()):
            if not dropped:
                continue
            reasons = sorted({why for _, why in dropped if why != "script code"})
            what = f" ({', '.join(reasons)})" if reasons else ""
            out.append(f"{rel} was imported without its script code: {len(dropped)} top-level statement(s) not "
                       f"run{what}, lines {line_ranges(n for n, _ in dropped)}.")
        for f in self.failures:
            out.append(f"{f.where}: `{f.statement}` failed when its file was imported ({f.error}) and was skipped.")
        return out


class DefinitionsLoader(importlib.machinery.SourceFileLoader):
    """Loads a repository file running only its definitions (`definitions.select`); never from bytecode."""

    def __init__(self, fullname: str, path: str, finder: RepoFinder) -> None:
        super().__init__(fullname, path)
        self.finder = finder

    def get_code(self, fullname: str) -> Any:  # a stale __pycache__ must not stand in for the source
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: Any) -> None:
        source = self.get_data(self.path).decode("utf-8-sig")
        tree = ast.parse(source, self.path)
        chosen = select(tree.body, self.finder.models)
        rel = rel_entry(Path(self.path), self.finder.root)
        self.finder.log.dropped[rel] = chosen.dropped
        run_statements(chosen.kept, module.__dict__, self.path, lambda line: f"{rel} line {line}",
                       self.finder.log.failures)


class RepoFinder(importlib.abc.MetaPathFinder):
    """Finds modules as the path finder does, and loads those under `root` with DefinitionsLoader."""

    def __init__(self, root: Path, models: set[str]) -> None:
        self.root = root.resolve()
        self.models = models
        self.log = ImportLog()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py") or not inside(spec.origin, self.root):
            return None
        spec.loader = DefinitionsLoader(fullname, spec.origin, self)
        return spec


def inside(path: str | Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def _installed_roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(str(Path(__file__).resolve().parents[1]))  # this package
    return [os.path.realpath(r) for r in roots if r]


def provided_names(entries: list[Path]) -> set[str]:
    """The top-level module names the entries provide (files and package folders in them)."""
    names = set()
    for entry in entries:
        try:
            children = list(entry.iterdir())
        except OSError:
            continue
        for child in children:
            if child.suffix == ".py" and child.stem.isidentifier():
                names.add(child.stem)
            elif child.is_dir() and child.name.isidentifier() and not child.name.startswith((".", "_")):
                names.add(child.name)
    return names


def forget_foreign(names: set[str], root: Path) -> None:
    """Drop loaded modules of these top-level names that came from another user folder."""
    installed = _installed_roots()
    for name in sorted(names - set(sys.stdlib_module_names)):
        mod = sys.modules.get(name)
        origin = getattr(mod, "__file__", None) if mod is not None else None
        if mod is None or not origin or inside(origin, root):
            continue
        if any(os.path.realpath(origin).startswith(r + os.sep) for r in installed):
            continue
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            sys.modules.pop(key, None)


def install(root: Path, entries: list[Path], models: set[str]) -> RepoFinder:
    """sys.path entries first (in order), a RepoFinder for `root` (one per root), stale modules forgotten."""
    root = root.resolve()
    for entry in reversed(entries):
        text = str(entry.resolve())
        if text in sys.path:
            sys.path.remove(text)
        sys.path.insert(0, text)
    finder = next((f for f in sys.meta_path if isinstance(f, RepoFinder) and f.root == root), None)
    if finder is None:
        finder = RepoFinder(root, models)
        sys.meta_path.insert(0, finder)
    else:
        finder.models |= models
    forget_foreign(provided_names(entries), root)
    importlib.invalidate_caches()
    return finder
