"""Target references as strings: their forms, the report name they get, and safe file names.

Nothing here imports target code, so the parent of a compare run can name every target first.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

MANIFEST_SUFFIXES = (".yaml", ".yml")
NOTEBOOK_SUFFIX = ".ipynb"
PICK = "::"  # `path/to/repo::Name`: the candidate called Name, not the one the audit would choose
COMPARISON_STEM = "comparison"  # comparison.md/.json/.csv/.png: no target's report may take it
MAX_STEM_CHARS = 100
MAX_STEM_BYTES = 160  # UTF-8: 100 CJK characters would be 300 bytes, over the usual 255-byte limit
_HASH_CHARS = 10
_KEEP = "._-"


def safe_name(text: str) -> str:
    """A file-system-safe report name: Unicode letters and digits, '.', '_' and '-'.

    Each run of anything else (path separators, control characters, spaces, ':' and the like,
    which break paths, shells or markdown links) becomes one '-'. Text is NFC-normalised first, so a
    letter typed with a combining accent stays one letter. Not bounded: see `report_stems`.
    """
    out: list[str] = []
    replacing = False
    for ch in unicodedata.normalize("NFC", text):
        keep = ch.isalnum() or ch in _KEEP
        if keep or not replacing:
            out.append(ch if keep else "-")
        replacing = not keep
    name = "".join(out).strip("-.")
    return name or "target"


def _fits(text: str, chars: int, nbytes: int) -> bool:
    return len(text) <= chars and len(text.encode("utf-8")) <= nbytes


def _cut(text: str, chars: int, nbytes: int) -> str:
    """The longest prefix of `text` within both limits (whole characters only)."""
    text = text[:chars]
    while text and len(text.encode("utf-8")) > nbytes:
        text = text[:-1]
    return text


def _bounded(name: str) -> str:
    """safe_name(name) within the stem limits: a readable prefix plus a hash of the full name when cut."""
    stem = safe_name(name)
    if not _fits(stem, MAX_STEM_CHARS, MAX_STEM_BYTES):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
        room = _HASH_CHARS + 1
        prefix = _cut(stem, MAX_STEM_CHARS - room, MAX_STEM_BYTES - room).rstrip("-.")
        stem = f"{prefix}-{digest}" if prefix else digest
    if stem.casefold() == COMPARISON_STEM:
        stem = f"{stem}-target"
    return stem


def _with_suffix(stem: str, suffix: str) -> str:
    room = len(suffix)
    return _cut(stem, MAX_STEM_CHARS - room, MAX_STEM_BYTES - room).rstrip("-.") + suffix


def dedupe(names: Iterable[str], key: Callable[[str], str] = str,
           suffixed: Callable[[str, str], str] = str.__add__, taken: Iterable[str] = ()) -> list[str]:
    """Names made unique in order: a repeat gets the first free '-2', '-3', ...

    Every name's first occurrence keeps it, so a target really called `x-2` is never renamed
    because of another target's repeat of `x`. `key` says when two names clash (e.g. casefold, for
    case-insensitive file systems); `taken` holds keys nobody may have.
    """
    names = list(names)
    used = {key(t) for t in taken}
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if key(name) not in used:
            first.setdefault(key(name), i)
    used |= set(first)
    out = []
    for i, name in enumerate(names):
        if first.get(key(name)) == i:
            out.append(name)
            continue
        k = 2
        while key(candidate := suffixed(name, f"-{k}")) in used:
            k += 1
        used.add(key(candidate))
        out.append(candidate)
    return out


def report_stems(names: Iterable[str]) -> list[str]:
    """The file stems (`<stem>.md`, `<stem>.json`) of one run's reports, one per name, in order.

    The one place that decides report file names, for a lone audit and for compare alike. A stem
    is `safe_name(name)` bounded to MAX_STEM_CHARS characters and MAX_STEM_BYTES bytes (a cut one
    ends in a hash of the full name, so two long names that share a prefix stay apart), is never
    `comparison`, and is unique within the run ignoring case (two targets must not share a file on
    a case-insensitive file system either). The report itself keeps the full name.
    """
    return dedupe([_bounded(n) for n in names], key=str.casefold, suffixed=_with_suffix, taken=[COMPARISON_STEM])


def report_names(refs: Iterable[str]) -> list[str]:
    """The targets' report names, made unique in order (a repeat gets -2, -3, ...)."""
    return dedupe(default_name(ref) for ref in refs)


def report_stem(name: str) -> str:
    """The stem of a lone target's reports (`alexnet-audit audit`)."""
    return report_stems([name])[0]


def split_ref(ref: str) -> tuple[str, str] | None:
    """'left:attr' -> (left, attr); None when there is no attr part (a Windows drive is not one, nor a
    folder's `::Name`)."""
    if ":" not in ref or PICK in ref:
        return None
    left, _, attr = ref.rpartition(":")
    if not left or not attr or re.fullmatch(r"[A-Za-z]", left) or "/" in attr or "\\" in attr:
        return None
    return left, attr


def split_pick(ref: str) -> tuple[str, str] | None:
    """'path/to/repo::Name' -> ('path/to/repo', 'Name'); None without a `::Name`."""
    if PICK not in ref:
        return None
    left, _, name = ref.rpartition(PICK)
    return (left, name) if left.strip() and name.strip() else None


def is_manifest_ref(ref: str) -> bool:
    return split_ref(ref) is None and split_pick(ref) is None and ref.lower().endswith(MANIFEST_SUFFIXES)


def is_notebook_ref(ref: str) -> bool:
    return ref.lower().endswith(NOTEBOOK_SUFFIX)


def _path_like(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref in (".", "..") or is_notebook_ref(ref)


def is_file_left(left: str) -> bool:
    """Whether the left side of `left:attr` is a file (.py, .ipynb or a path) rather than a module name."""
    return left.endswith((".py", NOTEBOOK_SUFFIX)) or "/" in left or "\\" in left


_is_file_left = is_file_left  # the old private name


class _Unreadable(Exception):
    """A manifest that cannot be read while naming it (its audit reports why)."""


def default_name(ref: str) -> str:
    """The report name a reference gets, known without importing anything.

    Registered names keep their name; `pkg.mod:attr` -> `mod.attr`; `dir/file.py:attr` ->
    `file.attr`; a manifest -> its `name` key, else the file's stem; a folder -> its name; a
    notebook -> its stem; `folder::Name` -> `folder.Name`.
    """
    pick = split_pick(ref)
    if pick is not None:
        return safe_name(f"{_folder_stem(pick[0])}.{pick[1]}")
    if is_manifest_ref(ref):
        from ..core.inputs import read_yaml  # bounded: a hostile manifest cannot swamp the parent

        try:
            data, _ = read_yaml(ref, "manifest", _Unreadable)
        except _Unreadable:  # the worker reports the manifest's problem; here it only lacks a name
            data = None
        if isinstance(data, Mapping) and isinstance(data.get("name"), str) and data["name"].strip():
            return safe_name(data["name"].strip())
        return safe_name(Path(ref).stem)
    parts = split_ref(ref)
    if parts is None:
        return safe_name(_folder_stem(ref) if _path_like(ref) else ref)
    left, attr = parts
    stem = Path(left).stem if is_file_left(left) else left.rsplit(".", 1)[-1]
    return safe_name(f"{stem}.{attr}")


def _folder_stem(path: str) -> str:
    """A folder's or a notebook's name: `../their-repo/` -> 'their-repo', `nb.ipynb` -> 'nb', `.` -> the cwd's."""
    p = Path(path.rstrip("/\\") or path)
    if p.name in ("", ".", ".."):
        p = p.resolve()
    return p.stem if is_notebook_ref(p.name) else p.name


def absolutize(ref: str, base: Path | None = None) -> str:
    """Make the file part of a file or manifest reference absolute (for a subprocess elsewhere)."""
    base = base or Path.cwd()
    if is_manifest_ref(ref):
        return str((base / ref).resolve())
    pick = split_pick(ref)
    if pick is not None:
        return f"{absolutize(pick[0], base)}{PICK}{pick[1]}"
    parts = split_ref(ref)
    if parts is not None and is_file_left(parts[0]):
        return f"{(base / parts[0]).resolve()}:{parts[1]}"
    if parts is None and (_path_like(ref) or _bare_folder(ref, base)):
        return str((base / ref).resolve())
    return ref


def _bare_folder(ref: str, base: Path) -> bool:
    """A plain word naming a folder under `base` that is not a registered target (which wins)."""
    if not (base / ref).is_dir():
        return False
    from .registry import registered_targets  # entry-point metadata only: no target code

    return ref not in registered_targets()
