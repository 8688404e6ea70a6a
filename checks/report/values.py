"""Value plumbing shared by the JSON and markdown writers: normalisation and compact rendering.

`normalise` turns anything a probe may observe into plain JSON data, deterministically: floats to
6 significant digits, tuples to lists, enums to their value, sets sorted, tensors and arrays to
lists, absolute checkout paths and memory addresses scrubbed from strings. `show` renders a
normalised value compactly for a markdown cell.
"""
from __future__ import annotations

import dataclasses
import enum
import math
import re
from pathlib import Path, PurePath
from typing import Any

from ..core.numbers import sig

DIGITS = 6
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def _roots() -> list[str]:
    """Absolute prefixes that must not leak into a report (they differ between checkouts)."""
    out = {str(Path.cwd().resolve()), str(Path(__file__).resolve().parents[2])}
    return sorted((r for r in out if len(r) > 1), key=len, reverse=True)


def scrub(text: str) -> str:
    """Strip checkout-specific absolute prefixes and object addresses from a string."""
    for root in _roots():  # per call: the working directory is the caller's now, not at import
        if root in text:
            text = text.replace(root + "/", "").replace(root, ".")
    return _ADDRESS.sub("0x…", text)


def round_float(x: float, digits: int = DIGITS) -> float | str:
    """`digits` significant digits (a backstop: probes round what they measure to what it supports)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return sig(x, digits)  # never -0.0


def normalise(value: Any, digits: int = DIGITS) -> Any:
    """Plain, JSON-ready, deterministic data (see the module docstring)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return round_float(value, digits)
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, PurePath):
        return scrub(value.as_posix())
    if isinstance(value, dict):
        return {scrub(str(k.value if isinstance(k, enum.Enum) else k)): normalise(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v, digits) for v in value]
    if isinstance(value, set | frozenset):
        items = [normalise(v, digits) for v in value]
        return sorted(items, key=lambda v: (type(v).__name__, repr(v)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return normalise(dataclasses.asdict(value), digits)
    numel = getattr(value, "numel", None)
    if callable(numel) and hasattr(value, "shape"):  # a torch tensor: small ones as data
        if numel() <= 64:
            return normalise(value.tolist(), digits)
        return f"tensor{list(value.shape)}"
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        size = getattr(value, "size", 1)
        if isinstance(size, int) and size > 64:
            return f"array{list(getattr(value, 'shape', []))}"
        return normalise(value.tolist(), digits)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if name and callable(value):
        return scrub(f"{getattr(value, '__module__', '') or ''}.{name}".lstrip("."))
    return scrub(str(value))


# ------------------------------------------------------------------ markdown rendering ---------

def _num(v: int | float) -> str:
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    return f"{v:.6g}"


def _same(a: Any, b: Any) -> bool:
    """Equal in value and type all the way down (False is not 0 here)."""
    import json

    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def show(value: Any, limit: int | None = None, collapse: bool = True, top: bool = True) -> str:
    """Compact text for a normalised value: dicts as `k: v`, long lists shortened, ints grouped.

    `limit` caps the length of a list (first items, an ellipsis, the last item and the count);
    `collapse` writes a mapping whose 3+ values are the same mapping or list once (`conv1…fc8 (all 8): v`).
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if not value:
            return "{}"
        vals = list(value.values())
        keys = list(value)
        if collapse and len(vals) >= 3 and isinstance(vals[0], dict | list) and all(_same(v, vals[0]) for v in vals):
            inner = show(vals[0], limit, collapse, top=False)
            return f"{keys[0]}…{keys[-1]} (all {len(vals)}): {inner}"
        body = ", ".join(f"{k}: {show(v, limit, collapse, top=False)}" for k, v in value.items())
        return body if top else "{" + body + "}"
    if isinstance(value, list):
        items = [show(v, limit, collapse, top=False) for v in value]
        if limit is not None and len(items) > limit:
            head = max(limit - 2, 1)
            items = [*items[:head], "…", items[-1]]
            return "[" + ", ".join(items) + f"] ({len(value)} entries)"
        return "[" + ", ".join(items) + "]"
    return str(value)


def cell(text: str, width: int | None = None) -> str:
    """One markdown table cell: no newlines, pipes escaped, optionally truncated."""
    text = " ".join(str(text).split())
    if width is not None and len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    return text.replace("|", "\\|")


def code(text: str) -> str:
    """Inline code span that survives backticks in the text."""
    text = " ".join(str(text).split())
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fmt_macs(v: Any) -> str:
    """Multiply-accumulates in M (K below a million), '—' when unknown."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return "—"
    return f"{v / 1e6:,.1f} M" if abs(v) >= 1e6 or v == 0 else f"{v / 1e3:,.1f} K"
