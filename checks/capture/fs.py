"""Writes of a captured run stay out of the user's tree (child side).

The command runs in the user's own working directory. In the OS sandbox that directory is an
overlay (`isolate.namespace`): what the run writes under it lands in the scratch directory, whatever
writes it (compiled code and child processes included), and reads find it there. Everything else
the sandbox makes read-only, so Python-level writes elsewhere (`/results/...`, `~/.cache/...`) are
redirected here to `<scratch>/outside/<the absolute path>`, and a later read of that path reads
the redirected copy, so the script runs on as it would; a note names each place. Without the
sandbox, writes under the working directory are redirected the same way, and the note says that
writes below Python (compiled code, child processes) could not be. Directory creation there never
fails because the directory exists (the script's own existence checks look at the original path,
which stays absent). Covered: open, os.open, mkdir/makedirs, rename/replace, remove, chmod/utime;
torch.save is handled in `child`.
"""
from __future__ import annotations

import builtins
import io
import os
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Redirect:
    def __init__(self, rec: Any, scratch: Path, contained: list[str]) -> None:
        self.rec = rec
        self.scratch = scratch.resolve()
        self.free = [self.scratch, *(Path(c).resolve() for c in contained)]  # writes there are safe as they are
        self.base = self.scratch / "outside"
        self.done: set[str] = set()

    def inside(self, path: Path) -> bool:
        return any(path == f or f in path.parents for f in self.free) or path.parts[1:2] in (("dev",), ("proc",))

    def moved(self, file: Any, write: bool, folder: bool = False) -> Any:
        """Where `file` really is for this run: itself, or its redirected place outside the scratch."""
        if isinstance(file, int) or not isinstance(file, str | bytes | os.PathLike):
            return file
        raw = os.fsdecode(file)
        path = Path(os.path.abspath(os.path.expanduser(raw)))
        if self.inside(path):
            return file
        target = self.base / path.relative_to(path.anchor)
        if write:
            top = str(Path(path.anchor, *path.parts[1:3]))
            if top not in self.done:  # one note per place: the first directory written there
                self.done.add(top)
                where = self.rec.rel(str(path if folder else path.parent))
                self.rec.note(f"the script wrote to {where}, outside its scratch directory: redirected into it")
            target.parent.mkdir(parents=True, exist_ok=True)
            return target
        return target if target.exists() else file


def install(rec: Any, scratch: Path, contained: list[str]) -> None:
    """Patch the Python-level file calls; `contained` are the folders the sandbox's overlay covers."""
    r = Redirect(rec, scratch, contained)
    if not contained:
        rec.note("no OS sandbox: writes below Python (compiled code, child processes) under the working directory "
                 "could not be redirected")
    opener = builtins.open
    os_open, mkdir, makedirs = os.open, os.mkdir, os.makedirs
    rename, replace, remove, chmod, utime = os.rename, os.replace, os.remove, os.chmod, os.utime

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return opener(r.moved(file, any(c in mode for c in "wax+")), mode, *args, **kwargs)

    def os_open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        return os_open(r.moved(path, bool(flags & _WRITE_FLAGS)), flags, *args, **kwargs)

    def mkdir_(path: Any, mode: int = 0o777, *args: Any, **kwargs: Any) -> None:
        target = r.moved(path, True, folder=True)
        if target is not path and os.path.isdir(target):
            return
        mkdir(target, mode, *args, **kwargs)

    def makedirs_(name: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
        target = r.moved(name, True, folder=True)
        makedirs(target, mode, exist_ok=exist_ok or target is not name)

    def two(fn: Any) -> Any:
        def moved_pair(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            return fn(r.moved(src, False), r.moved(dst, True), *args, **kwargs)
        return moved_pair

    def one(fn: Any) -> Any:
        def moved_one(path: Any, *args: Any, **kwargs: Any) -> Any:
            return fn(r.moved(path, False), *args, **kwargs)
        return moved_one

    builtins.open = io.open = open_
    os.open, os.mkdir, os.makedirs = os_open_, mkdir_, makedirs_
    os.rename, os.replace = two(rename), two(replace)
    os.remove = os.unlink = one(remove)
    os.chmod, os.utime = one(chmod), one(utime)
