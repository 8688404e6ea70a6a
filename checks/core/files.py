"""Writing report files: atomically, into an output directory checked before any audit runs.

A report is written to a temporary file beside it and renamed over the old one (`os.replace`), so
a failure half-way (disk full, a file-size limit, an interrupt) leaves the previous report intact
instead of a truncated one. `check_out_dir` finds an unusable `--out` in a moment, rather than
after minutes of auditing.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UsageError

_UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it) and put back
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; it replaces `path` when the block succeeds.

    On an exception the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide reports from other users
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8 with '\\n' line ends, untranslated) to `path` atomically."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the rename makes them the report
    return path


def _missing_parents(path: Path) -> list[Path]:
    """`path` and its ancestors that do not exist yet, deepest first."""
    out = []
    while not os.path.lexists(path) and path != path.parent:
        out.append(path)
        path = path.parent
    return out


def check_out_dir(path: str | Path, stems: Iterable[str] = (), formats: Iterable[str] = ("md", "json"),
                  files: Iterable[str] = ()) -> Path:
    """Check that reports can be written into `path`; its absolute path, or UsageError (one line).

    `path` must be a directory or creatable, and writable (a temporary file is created and removed
    there); none of `<stem>.<format>` nor `files` may be an existing directory. Directories created
    for the check are removed again, so a run that stops before writing leaves nothing behind.
    """
    given = str(path)
    out = Path(os.path.abspath(path))
    stems, formats = list(stems), list(formats)
    created: list[Path] = []
    try:
        if os.path.lexists(out) and not out.is_dir():
            raise UsageError(f"--out {given} is not a directory")
        if not out.is_dir():
            missing = _missing_parents(out)
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"--out {given} cannot be created: {exc.strerror or exc}") from None
            created = missing
        try:
            fd, probe = tempfile.mkstemp(dir=out, prefix=".alexnet-audit-probe-", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise UsageError(f"--out {given} is not writable: {exc.strerror or exc}") from None
        names = [f"{stem}.{fmt}" for stem in stems for fmt in formats] + list(files)
        for name in names:
            if (out / name).is_dir():
                raise UsageError(f"--out {given} holds a directory {name}, where a report is to be written")
    except OSError as exc:  # e.g. a parent that cannot be searched
        raise UsageError(f"--out {given} cannot be used: {exc.strerror or exc}") from None
    finally:
        for made in created:
            with contextlib.suppress(OSError):
                made.rmdir()
    return out
