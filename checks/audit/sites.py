"""Source sites: the line of the target's own code behind something the audit saw, as a stack frame
names it, and that line as a repository-relative `Location`.

A frame belongs to one of four owners (`owner_of`): torch (its own package), this package (our
frames: the audit's machinery), the Python library (stdlib, frozen import machinery, `<string>`) or
the user: everything else, third-party packages such as torchvision included (their code is what a
target built on them runs). The bundled targets (`target/bundled`) stand for user code.
`user_site` walks outwards from a frame past torch and library frames to the first user frame; a
walk that reaches one of our frames first finds nothing (the audit built the thing itself).

`Site.location(base)` gives the path that every report shows, never absolute, the same bytes
wherever the checkout lies: relative to `base` (the directory the user ran from) when the file is
inside it and not in an installed package; for installed code, from the frame's module name
(`torchvision/models/alexnet.py`); else relative to the outermost `sys.path` entry that holds it
(a repository on PYTHONPATH names its files from its root, `src/` layouts included); else from
the module's name; else the file's name.
"""
from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ..core.findings import Location

TORCH, OURS, LIBRARY, USER = "torch", "ours", "library", "user"
_INSTALLED = ("site-packages", "dist-packages")
_DOTTED = re.compile(r"[A-Za-z]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class Site:
    """A line of the target's code: the file as the frame names it, the line and the module's name."""

    file: str
    line: int
    module: str = ""

    def location(self, base: Path | str | None) -> Location | None:
        path = relative_path(self.file, self.module, base)
        return Location(path, int(self.line)) if path and self.line > 0 else None


def _real(path: str) -> str:
    return os.path.realpath(path)


@functools.lru_cache(maxsize=1)
def _roots() -> tuple[str, str, str, tuple[str, ...]]:
    import torch

    ours = _real(str(Path(__file__).resolve().parents[1]))
    bundled = os.path.join(ours, "target", "bundled")
    paths = sysconfig.get_paths()
    stdlib = tuple(dict.fromkeys(_real(paths[k]) for k in ("stdlib", "platstdlib") if paths.get(k)))
    return _real(str(Path(torch.__file__).parent)), ours, bundled, stdlib


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@functools.lru_cache(maxsize=8192)
def owner_of(file: str) -> str:
    """torch, ours, library or user: who wrote the code of a frame whose code lives in `file`."""
    if not file or file.startswith("<"):
        return LIBRARY  # <frozen importlib._bootstrap>, <string>
    torch_root, ours, bundled, stdlib = _roots()
    path = _real(file)
    if _under(path, ours):
        return USER if _under(path, bundled) else OURS
    if _under(path, torch_root):
        return TORCH
    if any(part in _INSTALLED for part in Path(path).parts):
        return USER  # a third-party package: torchvision's AlexNet is the code its target runs
    if any(_under(path, root) for root in stdlib):
        return LIBRARY
    return USER


def user_site(frame: FrameType | None, owner: Any = None) -> Site | None:
    """The first user frame from `frame` outwards (torch and library frames skipped), or None when
    one of our frames comes first. With `owner`, the `__init__` frames of that object (its own class
    and its bases running `super().__init__()`) are skipped too: the site is where it was created."""
    f = frame
    while f is not None:
        code = f.f_code
        if owner is not None and code.co_name == "__init__" and f.f_locals.get("self") is owner:
            f = f.f_back
            continue
        who = owner_of(code.co_filename)
        if who == USER:
            return Site(code.co_filename, int(f.f_lineno or 0), str(f.f_globals.get("__name__") or ""))
        if who == OURS:
            return None
        f = f.f_back
    return None


def caller(depth: int) -> FrameType | None:
    """The frame `depth` levels above the one calling this."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


def relative_path(file: str, module: str, base: Path | str | None) -> str:
    """The path a report shows for `file` (module docstring); "" when there is none."""
    if not file or file.startswith("<"):
        return ""
    path = Path(_real(file if os.path.isabs(file) else os.path.join(os.getcwd(), file)))
    installed = any(part in _INSTALLED for part in path.parts)
    root = Path(_real(str(base if base is not None else os.getcwd())))
    if not installed and len(root.parts) > 1 and _under(str(path), str(root)) and path != root:
        return path.relative_to(root).as_posix()
    named = _module_path(path, module)
    if installed and named:
        return named
    best: Path | None = None
    for entry in sys.path:
        if not entry:
            continue
        e = Path(_real(entry))
        if len(e.parts) > 1 and _under(str(path), str(e)) and path != e and \
                (best is None or len(e.parts) < len(best.parts)):
            best = e
    if best is not None and not installed:
        return path.relative_to(best).as_posix()
    return named or path.name


def _module_path(path: Path, module: str) -> str:
    """`alexnet_ref/model.py` for module `alexnet_ref.model` ("" for a name no import gives)."""
    top = module.split(".")[0]
    if not module or not _DOTTED.fullmatch(module) or top.startswith("_") or module == "__main__":
        return ""
    stem = module.replace(".", "/")
    return f"{stem}/__init__.py" if path.name == "__init__.py" else f"{stem}{path.suffix or '.py'}"


def definition_site(obj: Any, installed: bool = False) -> Site | None:
    """Where a user-written function or class is defined (its `def` / `class` line), or None; one in
    an installed package (torchvision's) only with `installed`."""
    import inspect

    target = obj if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj) else None
    if target is None:
        return None
    try:
        file = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return None
    if not file or owner_of(file) != USER:
        return None
    if not installed and any(part in _INSTALLED for part in Path(_real(file)).parts):
        return None
    module = getattr(target, "__module__", "") or ""
    return Site(file, int(line) or 1, str(module))
