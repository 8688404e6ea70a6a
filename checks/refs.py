"""Target references as strings: their forms, the report name they get, and safe file names.

Nothing here imports target code, so the parent of a compare run can name every target first.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

MANIFEST_SUFFIXES = (".yaml", ".yml")


def safe_name(text: str) -> str:
    """A file-system-safe report name: letters, digits, '.', '_' and '-' only."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return out or "target"


def split_ref(ref: str) -> tuple[str, str] | None:
    """'left:attr' -> (left, attr); None when there is no attr part (a Windows drive is not one)."""
    if ":" not in ref:
        return None
    left, _, attr = ref.rpartition(":")
    if not left or not attr or re.fullmatch(r"[A-Za-z]", left) or "/" in attr or "\\" in attr:
        return None
    return left, attr


def is_manifest_ref(ref: str) -> bool:
    return split_ref(ref) is None and ref.lower().endswith(MANIFEST_SUFFIXES)


def _is_file_left(left: str) -> bool:
    return left.endswith(".py") or "/" in left or "\\" in left


def default_name(ref: str) -> str:
    """The report name a reference gets, known without importing anything.

    Registered names keep their name; `pkg.mod:attr` -> `mod.attr`; `dir/file.py:attr` ->
    `file.attr`; a manifest -> its `name` key, else the file's stem.
    """
    if is_manifest_ref(ref):
        try:
            import yaml

            data = yaml.safe_load(Path(ref).read_text(encoding="utf-8"))
            if isinstance(data, Mapping) and isinstance(data.get("name"), str) and data["name"].strip():
                return safe_name(data["name"].strip())
        except Exception:
            pass
        return safe_name(Path(ref).stem)
    parts = split_ref(ref)
    if parts is None:
        return safe_name(ref)
    left, attr = parts
    stem = Path(left).stem if _is_file_left(left) else left.rsplit(".", 1)[-1]
    return safe_name(f"{stem}.{attr}")


def absolutize(ref: str, base: Path | None = None) -> str:
    """Make the file part of a file or manifest reference absolute (for a subprocess elsewhere)."""
    base = base or Path.cwd()
    if is_manifest_ref(ref):
        return str((base / ref).resolve())
    parts = split_ref(ref)
    if parts is not None and _is_file_left(parts[0]):
        return f"{(base / parts[0]).resolve()}:{parts[1]}"
    return ref
