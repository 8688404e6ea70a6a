"""Writes of a captured run stay in its scratch directory (child side).

The run's working directory is already the scratch directory, so relative writes land there. Real
scripts also write to absolute paths: `Path(__file__).parent / "runs"` (into the user's checkout),
`/results/...`, `~/.cache/...`. Every write to a path outside the scratch directory is redirected
to `<scratch>/outside/<the absolute path>`, and a later read of that path reads the redirected
copy, so the script runs on as it would; the note names the places it wrote to. A relative read
of a file missing in the scratch directory reads it from the user's working directory. Directory
creation there never fails because the directory exists (the script's own existence checks look
at the original path, which stays absent). Only the Python-level calls are covered (open, os.open,
mkdir/makedirs, rename/replace, remove, chmod/utime); torch.save is handled in `child`.
"""
from __future__ import annotations

import builtins
import io
import os
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Redirect:
    def __init__(self, rec: Any, scratch: Path, user_cwd: str = "") -> None:
        self.rec = rec
        self.user_cwd = user_cwd
        self.scratch = scratch.resolve()
        self.base = Path.cwd().resolve() / "outside"
        self.done: set[str] = set()

    def inside(self, path: Path) -> bool:
        return path == self.scratch or self.scratch in path.parents or path.parts[1:2] == ("dev",)

    def moved(self, file: Any, write: bool, folder: bool = False) -> Any:
        """Where `file` really is for this run: itself, or its redirected place outside the scratch."""
        if isinstance(file, int) or not isinstance(file, str | bytes | os.PathLike):
            return file
        raw = os.fsdecode(file)
        if not write and self.user_cwd and not os.path.isabs(raw) and not os.path.exists(raw):
            there = os.path.join(self.user_cwd, raw)  # the run's cwd is the scratch: the user's files are there
            if os.path.exists(there):
                return there
        path = Path(os.path.abspath(os.path.expanduser(raw)))
        if self.inside(path):
            return file
        target = self.base / path.relative_to(path.anchor)
        if write:
            top = str(Path(path.anchor, *path.parts[1:3]))
            if top not in self.done:  # one note per place: the first directory written there
                self.done.add(top)
                self.rec.note(f"the script wrote to {path if folder else path.parent}, outside its scratch directory: "
                              "redirected into it")
            target.parent.mkdir(parents=True, exist_ok=True)
            return target
        return target if target.exists() else file


def install(rec: Any, scratch: Path, user_cwd: str = "") -> None:
    r = Redirect(rec, scratch, user_cwd)
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
