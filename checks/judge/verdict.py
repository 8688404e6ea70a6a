"""The one place where observed values meet the paper's: pass / variant / deviation.

Pure: no torch, no I/O. Numbers compare within the item's tolerance; mappings must have the same
keys; sequences the same length. "$num_classes" in an expected value stands for the target's
declared class count.
"""
from __future__ import annotations

import difflib
import math
from typing import Any

from ..core.findings import Finding, Observation, Status
from ..core.numbers import sig
from ..spec.load import Item
from . import edits as _edits

_MISSING = object()


def _resolve(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return context.get(value[1:], _MISSING)
    if isinstance(value, dict):
        return {k: _resolve(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v, context) for v in value]
    return value


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _close(expected: float, observed: float, tol: dict[str, float]) -> bool:
    if math.isnan(observed):
        return False
    if not tol:
        return math.isclose(expected, observed, rel_tol=1e-9, abs_tol=1e-12)
    return abs(observed - expected) <= max(tol.get("abs", 0.0), tol.get("rel", 0.0) * abs(expected))


def differences(expected: Any, observed: Any, tol: dict[str, float], path: str = "") -> list[str]:
    """Human-readable places where observed differs from expected ([] when they match)."""
    at = path or "value"
    if expected is _MISSING:
        return [f"{at}: the target declares no value to compare with"]
    if isinstance(expected, dict):
        if not isinstance(observed, dict):
            return [f"{at}: expected a mapping, got {show_value(observed)}"]
        out: list[str] = []
        for key in expected:
            sub = f"{path}.{key}" if path else str(key)
            if key not in observed:
                out.append(f"{sub}: missing (expected {show_value(expected[key])})")
            else:
                out.extend(differences(expected[key], observed[key], tol, sub))
        for key in observed:
            if key not in expected:
                sub = f"{path}.{key}" if path else str(key)
                out.append(f"{sub}: unexpected (got {show_value(observed[key])})")
        return out
    if isinstance(expected, list | tuple):
        if not isinstance(observed, list | tuple):
            return [f"{at}: expected a sequence, got {show_value(observed)}"]
        if len(expected) != len(observed):
            if all(isinstance(x, str) for x in [*expected, *observed]):
                return _sequence_edits(list(expected), list(observed), at)
            return [f"{at}: expected {len(expected)} entries, got {len(observed)}"]
        out = []
        for i, (e, o) in enumerate(zip(expected, observed, strict=True)):
            out.extend(differences(e, o, tol, f"{path}[{i}]"))
        return out
    if isinstance(expected, bool) or isinstance(observed, bool):
        return [] if expected is observed else [f"{at}: expected {show_value(expected)}, got {show_value(observed)}"]
    if _is_number(expected) and _is_number(observed):
        if _close(float(expected), float(observed), tol):
            return []
        return [f"{at}: expected {show_value(expected)}, got {show_value(observed)}"]
    return [] if expected == observed else [f"{at}: expected {show_value(expected)}, got {show_value(observed)}"]


def _sequence_edits(expected: list[str], observed: list[str], at: str) -> list[str]:
    """Describe how a sequence of names differs, as edits a reader can act on."""
    out: list[str] = []
    ops = difflib.SequenceMatcher(a=expected, b=observed, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        after = f" after {' '.join(expected[max(0, i1 - 2):i1])}" if i1 else " at the start"
        if tag == "delete":
            out.append(f"{at}: missing {' '.join(expected[i1:i2])}{after}")
        elif tag == "insert":
            out.append(f"{at}: unexpected {' '.join(observed[j1:j2])}{after}")
        elif tag == "replace":
            out.append(f"{at}: {' '.join(observed[j1:j2])} instead of {' '.join(expected[i1:i2])}{after}")
    return out


def show_value(v: Any) -> str:
    """A value as the messages print it: floats to 6 significant digits, as in the JSON report."""
    if isinstance(v, float):  # 6 digits, as in the JSON report (observed values are rounded by their probe)
        return f"{sig(v, 6):g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {show_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(show_value(x) for x in v) + "]"
    if v is None:
        return "none"
    return str(v)


def judge(item: Item, observation: Observation, context: dict[str, Any] | None = None) -> Finding:
    """Compare one observation with the item's expected value and accepted variants."""
    ctx = context or {}
    expected = _resolve(item.expected, ctx)
    base = dict(id=item.id, severity=item.severity, expected=item.expected, observed=observation.value,
                where=observation.where, evidence=observation.evidence)
    if "covered_by" in item.params and isinstance(expected, list) and isinstance(observation.value, list):
        return _judge_sequence(item, expected, observation, base)
    diffs = differences(expected, observation.value, item.tolerance)
    if not diffs:
        return Finding(status=Status.PASS, message=f"{item.id} is {show_value(observation.value)}, as the paper says.",
                       **base)
    for variant in item.variants:
        if not differences(_resolve(variant.value, ctx), observation.value, item.tolerance):
            return Finding(
                status=Status.VARIANT,
                variant=variant.name,
                message=f"{item.id} is {show_value(observation.value)}: accepted variant '{variant.name}' "
                        f"({variant.why})",
                **base,
            )
    detail = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
    msg = f"{item.id} must be {show_value(expected)} (got {show_value(observation.value)})."
    if expected is _MISSING:  # "$num_classes" and the target gives no count, as nested values say it
        msg = f"{item.id} differs from the paper: the target declares no value for {item.expected} to compare with."
    elif isinstance(expected, dict | list) and diffs:
        msg = f"{item.id} differs from the paper: {detail}."
    return Finding(status=Status.DEVIATION, message=msg, **base)


def _judge_sequence(item: Item, expected: list[Any], observation: Observation, base: dict[str, Any]) -> Finding:
    """A sequence whose differences other items report passes with a note naming them; what no
    other item reports is this item's deviation (judge/edits.py)."""
    roles = {**_edits.as_roles(item.params.get("roles")), **_edits.as_roles(observation.detail.get("roles"))}
    found = _edits.edits([str(x) for x in expected], [str(x) for x in observation.value], roles,
                         dict(item.params.get("covered_by") or {}))
    own, others = _edits.summarise(found)
    note = _edits.covered_note(others)
    if own:
        msg = f"{item.id} differs from the paper where no other item reports it: {'; '.join(own)}."
        if note:
            msg += f" Reported by other items: {note}."
        return Finding(status=Status.DEVIATION, message=msg, **base)
    if note:
        return Finding(status=Status.PASS, message=f"{item.id} matches the paper apart from differences that other "
                                                   f"items report: {note}.", covered_by=list(others), **base)
    return Finding(status=Status.PASS, message=f"{item.id} is {show_value(observation.value)}, as the paper says.",
                   **base)


def skipped(item: Item, reason: str) -> Finding:
    return Finding(id=item.id, status=Status.SKIP, severity=item.severity, expected=item.expected, observed=None,
                   message=reason)


def errored(item: Item, reason: str) -> Finding:
    return Finding(id=item.id, status=Status.ERROR, severity=item.severity, expected=item.expected, observed=None,
                   message=reason)
