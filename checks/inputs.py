"""Reading what users hand us (spec, manifests, waivers, names) with one-line errors.

Every message names the file (and key) and, for a misspelt name, suggests the closest valid one,
so bad input never surfaces as a traceback.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def did_you_mean(bad: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest choice, matching dotted ids on their last part too."""
    options = list(choices)
    close = difflib.get_close_matches(bad, options, n=1, cutoff=cutoff)
    if not close:  # "k" -> "lrn.k"
        tails = {c.rsplit(".", 1)[-1]: c for c in options if "." in c}
        close = [tails[t] for t in difflib.get_close_matches(bad.rsplit(".", 1)[-1], list(tails), n=1, cutoff=0.8)]
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_yaml(path: str | Path, what: str, error: type[Exception]) -> tuple[Any, bytes]:
    """Safe-load a YAML file; returns (data, raw bytes) or raises `error` with one line."""
    import yaml

    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror or exc}).") from None
    try:
        return yaml.safe_load(raw), raw
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{p}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}.") from None
