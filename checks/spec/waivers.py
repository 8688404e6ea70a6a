"""Waivers: accepted deviations, from a waivers file, a manifest's `waivers:` or the plugin's fixture.

The record, its parsing with one-line errors, the id check against the spec and the one merge
rule (the target's own, then the run's, which win) live here; the gate only applies them.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..core.inputs import did_you_mean, read_yaml, short_repr
from .load import Spec, SpecError


@dataclass(frozen=True)
class Waiver:
    """An accepted deviation: the reason, and optionally the date after which it no longer holds."""

    reason: str
    until: date | None = None



class WaiverError(SpecError):
    """A waiver file or section that cannot be used (unknown id, bad shape); str() is one line.

    A SpecError, so every caller that reports spec problems in one line (the CLI's exit 2, the
    plugin's usage error) reports this one too.
    """


def _date(value: Any, where: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError(f"{where}: 'until' must be a date YYYY-MM-DD (got {short_repr(value)}).")


def parse_waivers(mapping: Any, spec: Spec | None, where: str) -> dict[str, Waiver]:
    """Validate a waiver mapping (`id: reason` or `id: {reason: ..., until: YYYY-MM-DD}`).

    `where` names the source in messages (a file path, or 'manifest.yaml: waivers'). With a spec,
    unknown ids are an error with a did-you-mean; without one (a manifest read before the spec is
    known) ids are checked later by `check_waiver_ids`. Raises WaiverError with one line.
    """
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise WaiverError(f"{where}: waivers must be a mapping of item id to reason (got {type(mapping).__name__}).")
    out: dict[str, Waiver] = {}
    for key, value in mapping.items():
        if not isinstance(key, str) or not key.strip():
            raise WaiverError(f"{where}: waiver key {short_repr(key)} is not an item id.")
        at = f"{where}: waiver {short_repr(key)}"
        if isinstance(value, str):
            reason, until = value, None
        elif isinstance(value, Mapping):
            extra = [str(k) for k in value if k not in ("reason", "until")]
            if extra:
                hint = did_you_mean(extra[0], ["reason", "until"])
                raise WaiverError(f"{at}: unknown key {short_repr(extra[0])}{hint}; "
                                  "use {reason: ..., until: YYYY-MM-DD}.")
            given = value.get("reason")
            if not isinstance(given, str):
                raise WaiverError(f"{at}: needs a 'reason' string (got {short_repr(given)}).")
            reason = given
            until = _date(value["until"], at) if value.get("until") is not None else None
        else:
            raise WaiverError(f"{at}: must be a reason string or {{reason: ..., until: YYYY-MM-DD}} "
                              f"(got {type(value).__name__}).")
        if not reason.strip():
            raise WaiverError(f"{at}: the reason is empty; say why the deviation is accepted.")
        out[key] = Waiver(reason=" ".join(reason.split()), until=until)
    if spec is not None:
        check_waiver_ids(out, spec, where)
    return out


def check_waiver_ids(waivers: Mapping[str, Waiver], spec: Spec, where: str = "waivers") -> None:
    """Raise WaiverError for the first waiver id that is not in the spec."""
    ids = spec.ids
    for key in waivers:
        if key not in ids:
            raise WaiverError(f"{where}: unknown item id {short_repr(key)}{did_you_mean(key, ids)} "
                              "(alexnet-audit list items).")


def load_waivers(path: str | Path, spec: Spec) -> dict[str, Waiver]:
    """Read a waivers YAML file; raises WaiverError with one line naming the file (and key)."""
    p = Path(path)
    raw, _ = read_yaml(p, "waivers", WaiverError)
    return parse_waivers(raw, spec, str(p))


def merge_waivers(target: Any, spec: Spec, extra: Mapping[str, Waiver] | None = None) -> dict[str, Waiver]:
    """The target's own waivers (ids checked against `spec`), then `extra` (a waivers file or the
    plugin's fixture), which wins: the one merge every front end gets, in the worker."""
    waivers = dict(target.waivers)
    check_waiver_ids(waivers, spec, f"{target.source}: waivers")
    waivers.update(extra or {})
    return waivers
