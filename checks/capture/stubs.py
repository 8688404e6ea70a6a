"""Modules a captured run imports but that are not installed become stubs (child side), with a note.

A training script often imports a visualisation client or a logger it does not need for the recipe
(`import visdom`); some cannot even be installed on a current Python. An unguarded import of a
module that cannot be found gets the stub module manifests use (`target.manifest.stubs`), and the
name goes to the captured manifest's `stub_modules`. An import inside `try: ... except
ImportError:` keeps its fallback, and so does an import reached from one (a library's optional
module imported under a guard): the code chose what to do without the module. Never stubbed:
torch, torchvision, numpy, PIL, the audit itself, and the repository's own packages (`./lib` that
the command cannot import is a missing PYTHONPATH, which the error's hint says).
ALEXNET_AUDIT_NO_STUB=1 (`--no-stub`) turns it off.
"""
from __future__ import annotations

import ast
import functools
import importlib.abc
import importlib.machinery
import sys
from typing import Any

NEVER = ("torch", "torchvision", "numpy", "PIL", "alexnet_audit", "alexnet_ref")
_IMPORT_GUARDS = frozenset({"ImportError", "ModuleNotFoundError"})
_GUARDS = _IMPORT_GUARDS | {"Exception", "BaseException"}


@functools.lru_cache(maxsize=256)
def _guarded_lines(filename: str, guards: frozenset[str] = _GUARDS) -> frozenset[int]:
    """Lines of `filename` inside a `try:` body whose handlers catch a failed import (one of `guards`)."""
    import linecache

    try:  # linecache: a notebook cell's code is there under its `nb.ipynb#cellN` name (capture/cells.py)
        tree = ast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError):
        return frozenset()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            caught = set()
            for handler in node.handlers:
                kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                caught |= {"BaseException" if k is None else getattr(k, "id", getattr(k, "attr", "")) for k in kinds}
            if caught & guards:
                for stmt in node.body:
                    lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return frozenset(lines)


def _importers() -> list[tuple[str, int]]:
    """The file and line of the import statement being executed (the first frame outside importlib),
    then of each statement that led to it: the chain of imports up to the script."""
    out = []
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<frozen") and "importlib" not in name and name != __file__:
            out.append((name, frame.f_lineno))
        frame = frame.f_back  # type: ignore[assignment]
    return out


def own_module(fullname: str, cwd: str) -> str:
    """The repository path of a top-level module that lives in the folder the command ran from
    (`lib/` or `lib.py`, also under `src/`), else ''."""
    import os

    top = fullname.split(".")[0]
    for folder in ("", "src"):
        for name in (top, f"{top}.py"):
            rel = os.path.join(folder, name) if folder else name
            full = os.path.join(cwd, rel)
            if os.path.isfile(full) or (os.path.isdir(full) and any(f.endswith(".py") for f in os.listdir(full))):
                return rel
    return ""


class MissingModuleStubs(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: asked only for what no other finder found."""

    def __init__(self, rec: Any) -> None:
        self.rec = rec

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname.split(".")[0] in NEVER:
            return None  # a missing submodule of a real package is the package's business
        if own_module(fullname, self.rec.cwd):
            return None  # the repository's own code, off sys.path: a stub would hide that (child.HINTS says so)
        chain = _importers()
        if not chain or chain[0][1] in _guarded_lines(chain[0][0]) or any(
                line in _guarded_lines(name, _IMPORT_GUARDS) for name, line in chain[1:]):
            return None  # guarded here, or by an import that led here: whoever wrote the guard has a fallback
        where = chain[0]
        from ..target.manifest.stubs import stub_spec

        self.rec.data.setdefault("stub_modules", [])
        if fullname not in self.rec.data["stub_modules"]:
            self.rec.data["stub_modules"].append(fullname)
            self.rec.note(f"{fullname} is not installed: imported as an empty stub ({self.rec.rel(where[0])}:"
                          f"{where[1]}); values the run took from it were not measured")
        return stub_spec(fullname)


def install(rec: Any) -> None:
    import os

    if os.environ.get("ALEXNET_AUDIT_NO_STUB", "") not in ("", "0"):
        return
    sys.meta_path.append(MissingModuleStubs(rec))
