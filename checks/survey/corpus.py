"""A corpus: TARGETS read from list files, globs and arguments; the name, stem and content key of each;
the markers that let a rerun skip what already finished.

A list file holds one target per line, in any form `audit` takes (`#` starts a comment, blank lines are
ignored); its relative references are relative to the list file's folder, which is also the base their
reports are written from (so a line audits exactly as `cd LISTDIR && alexnet-audit audit LINE` does). An
argument that does not exist but holds glob characters is expanded (sorted).

Names are `refs.default_name` where that is unique in the corpus; two targets that would share one
(every repository's `model.py:build`) are told apart by their folders (`repo-007-model.build`), so a
name does not depend on the order of the list. The content key (`key`) is the tool version, the spec's
sha256, the reference and gate options and a hash of the target's sources: a target whose key matches
its marker (`DIR/state/<stem>.done`, written after its reports) is skipped by a rerun.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..isolate.client import Request
from ..target import refs

SOURCE_SUFFIXES = (".py", ".ipynb", ".yaml", ".yml", ".json", ".toml", ".cfg", ".txt")
MAX_SOURCE_BYTES = 2 * 2**20  # a bigger file (weights, data) counts by its size and mtime, not its bytes
MAX_SOURCE_FILES = 2000
TARGET_SUFFIXES = (".py", ".ipynb", ".yaml", ".yml")
STATE = "state"
TARGETS = "targets"


@dataclass(frozen=True)
class Entry:
    """One target of the corpus: its reference, the folder it is relative to, its place in the list."""

    ref: str
    base: Path
    line: str = ""  # where it came from, for messages (`list.txt:12`, or the argument)


def _is_list_file(arg: str) -> bool:
    path = Path(arg)
    return path.is_file() and refs.split_ref(arg) is None and not arg.lower().endswith(TARGET_SUFFIXES)


def read_list(path: Path) -> Iterator[Entry]:
    """The targets of a list file, relative to its folder."""
    base = path.resolve().parent
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line:
            yield Entry(line, base, f"{path}:{number}")


def entries(args: Sequence[str], cwd: Path | None = None) -> list[Entry]:
    """Every target named by `args` (list files, globs, targets), in order; repeats of one target dropped."""
    cwd = cwd or Path.cwd()
    out: list[Entry] = []
    for arg in args:
        if _is_list_file(arg):
            out.extend(read_list(Path(arg)))
        elif not os.path.lexists(arg) and glob.has_magic(arg):
            out.extend(Entry(m.rstrip("/"), cwd, arg) for m in sorted(glob.glob(arg)))
        else:
            out.append(Entry(arg, cwd, arg))
    seen: set[tuple[str, str]] = set()
    unique = []
    for e in out:
        where = (refs.absolutize(e.ref, e.base), str(e.base))
        if where not in seen:
            seen.add(where)
            unique.append(e)
    return unique


def _source_path(entry: Entry) -> Path | None:
    """The file or folder a reference reads, where it is one."""
    parts = refs.split_ref(entry.ref)
    left = parts[0] if parts is not None else entry.ref
    path = entry.base / left
    return path if os.path.lexists(path) else None


def _qualified(entry: Entry, name: str, depth: int) -> str:
    path = _source_path(entry)
    if path is None:
        return name
    folder = path.resolve() if path.is_dir() else path.resolve().parent
    parts = [p for p in folder.parts[-depth:] if p not in ("/", "")] if depth else []
    if path.is_dir():
        return refs.safe_name("/".join(parts)) if parts else name
    return refs.safe_name("/".join([*parts, name]))


def names(items: Sequence[Entry]) -> list[str]:
    """Report names, unique in the corpus: a clash is told apart by the targets' folders."""
    out = [refs.default_name(e.ref) for e in items]
    for depth in (1, 2, 3):
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(out):
            groups.setdefault(name.casefold(), []).append(i)
        clashes = [i for members in groups.values() if len(members) > 1 for i in members]
        if not clashes:
            break
        for i in clashes:
            out[i] = _qualified(items[i], refs.default_name(items[i].ref), depth)
    return refs.dedupe(out, key=str.casefold)


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for f in sorted(files):
            if f.endswith(SOURCE_SUFFIXES):
                yield Path(root) / f


def content_hash(entry: Entry) -> str:
    """A hash of what the target is made of: the source files of its folder (a file's folder, a
    folder target's tree, a manifest's folder); for a registered name or a module, the reference."""
    path = _source_path(entry)
    digest = hashlib.sha256()
    if path is None:
        digest.update(entry.ref.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()
    folder = path if path.is_dir() else path.parent
    for n, file in enumerate(_walk(folder)):
        if n >= MAX_SOURCE_FILES:
            break
        try:
            st = file.stat()
            rel = file.relative_to(folder).as_posix()
            digest.update(f"{rel}\0{st.st_size}\0".encode("utf-8", "surrogatepass"))
            digest.update(file.read_bytes() if st.st_size <= MAX_SOURCE_BYTES else str(st.st_mtime_ns).encode())
        except OSError:
            continue
    return digest.hexdigest()


def key(req: Request, entry: Entry, settings: Iterable[tuple[str, str]] = ()) -> str:
    """The content key of one target's reports: a rerun with the same key skips it. `settings` (the
    sandbox settings, `warm.SETTINGS`) count where any is set: --no-stub or --sandbox off audits differently."""
    from .. import __version__

    what = {"tool": __version__, "spec": req.spec.sha256, "ref": req.ref, "name": req.name, "stem": req.file_stem,
            "fail_on": req.fail_on, "strict": req.strict, "require_explained": req.require_explained,
            "waivers": sorted((req.waivers or {}).keys()), "content": content_hash(entry)}
    given = {name: value for name, value in settings if value}
    if given:
        what["settings"] = given
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()


def marker(out: Path, stem: str) -> Path:
    return out / STATE / f"{stem}.done"


def finished(out: Path, stem: str, want: str, formats: Iterable[str]) -> bool:
    """Whether `stem`'s reports exist for the key `want` (its marker matches and every format is there)."""
    try:
        data = json.loads(marker(out, stem).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("key") == want and \
        all((out / TARGETS / f"{stem}.{fmt}").is_file() for fmt in formats)


def mark(out: Path, stem: str, done: dict[str, Any]) -> None:
    """Record that `stem`'s reports are written (after they are: a crash in between redoes the target)."""
    from ..core.files import write_atomic

    path = marker(out, stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(done, sort_keys=True) + "\n")


def _outermost(paths: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for p in sorted(set(paths), key=lambda s: s.split("/")):  # a folder sorts right before what it holds
        if not kept or not p.startswith(kept[-1].rstrip("/") + "/"):
            kept.append(p)
    return kept


def collapse(paths: Iterable[str], most: int = 64) -> tuple[str, ...]:
    """The folders a sandbox must keep readable, few enough to bind: nested ones dropped, and while there
    are more than `most`, the deepest replaced by their parents."""
    kept = _outermost(os.path.normpath(p) for p in paths if p)
    while len(kept) > most:
        deepest = max(p.count("/") for p in kept)
        kept = _outermost(os.path.dirname(p) if p.count("/") == deepest else p for p in kept)
    return tuple(kept)
