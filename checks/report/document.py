"""The JSON report (docs/ARCHITECTURE.md, "Reports"): `report_to_dict`, `to_json`, the fidelity score.

Same input, same bytes: no timestamps, floats rounded to 6 significant digits, findings in spec
order, fixed key order for the envelope, sorted keys where order carries no meaning (target,
environment, waivers), checkout paths scrubbed.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from ..core.findings import Report, Severity, Status
from ..judge.causes import explained
from ..spec.load import Spec
from .values import normalise

FORMAT = "alexnet-audit/report@1"
STATUSES = tuple(s.value for s in Status)  # pass, variant, deviation, skip, error
SEVERITIES = tuple(s.value for s in Severity)  # major, minor, info

# Fidelity score weights (README, "Fidelity score"): info items are context and never count.
WEIGHTS = {"major": 3, "minor": 1, "info": 0}
MEASURED = ("pass", "variant", "deviation")
FAITHFUL = ("pass", "variant")

_FINDING_KEYS = ("id", "status", "severity", "expected", "observed", "message", "where", "group", "section")
_OPTIONAL_KEYS = ("location", "evidence", "variant", "waived", "caused_by", "covered_by")


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    """Versions that decide the measurements, and the OS sandbox the target ran in (when it ran in
    a worker: the parent names it in ALEXNET_AUDIT_SANDBOX_USED)."""
    import os

    from .. import __version__

    env = {
        "alexnet_audit": __version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
    }
    sandbox = os.environ.get("ALEXNET_AUDIT_SANDBOX_USED")
    if sandbox:
        env["sandbox"] = sandbox
    return env


def fidelity(findings: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Severity-weighted share of measured items that pass or are accepted variants (0-100).

    Weights major 3, minor 1, info 0. Skips and errors are not measured and do not count; the
    share of the total weight that was measured is reported beside it as `coverage`. A derived
    deviation with `caused_by` (a count or size that a primary deviation moved) is measured but
    left out of the score, so that one defect is charged once, on its primary item.
    """
    total = measured = faithful = derived = 0
    for f in findings:
        w = WEIGHTS.get(str(f.get("severity")), 0)
        total += w
        if f.get("status") in MEASURED:
            measured += w
            if f.get("status") in FAITHFUL:
                faithful += w
            elif explained(f):
                derived += w
    scored = measured - derived
    score = round(100.0 * faithful / scored, 1) if scored else None
    coverage = round(100.0 * measured / total, 1) if total else None
    return {"score": score, "coverage": coverage, "weight_faithful": faithful, "weight_measured": measured,
            "weight_derived": derived, "weight_total": total}


def summarise(findings: list[dict[str, Any]], gate: dict[str, Any] | None) -> dict[str, Any]:
    counts = {s: 0 for s in STATUSES}
    devs = {s: 0 for s in SEVERITIES}
    for f in findings:
        counts[f["status"]] = counts.get(f["status"], 0) + 1
        if f["status"] == "deviation":
            devs[f["severity"]] = devs.get(f["severity"], 0) + 1
    fid = fidelity(findings)
    return {
        "items": len(findings),
        "counts": counts,
        "deviations_by_severity": devs,
        "fidelity_score": fid["score"],
        "fidelity_coverage": fid["coverage"],
        "gate": gate,
    }


def _explained(report: Report) -> dict[str, Any]:
    """`summary.explained`: whether the measurements rebuild the model (trace/rebuild)."""
    exp = report.extras.get("explained")
    return {"explained": normalise(exp)} if isinstance(exp, dict) else {}


def gate_to_dict(gate: Any) -> dict[str, Any] | None:
    """Duck-typed `gate.evaluate.GateResult`: passed, fail_on, failing, waived."""
    if gate is None:
        return None
    waived = getattr(gate, "waived", None) or {}
    reasons = {str(k): getattr(v, "reason", v) for k, v in waived.items()}
    out = {
        "fail_on": normalise(getattr(gate, "fail_on", None)),
        "passed": bool(gate.passed),
        "failing": [str(i) for i in (getattr(gate, "failing", None) or [])],
        "waived": normalise({k: reasons[k] for k in sorted(reasons)}),
    }
    if getattr(gate, "require_explained", False) is True:
        out["require_explained"] = True
    for key in ("stale", "expired"):  # waiver problems, when the gate reports any
        ids = getattr(gate, key, None)
        if ids:
            out[key] = [str(i) for i in ids]
    return out


def _finding(f: Any, spec: Spec, waived: dict[str, Any]) -> dict[str, Any]:
    raw = f.to_dict()
    try:
        item = spec.item(f.id)
        raw.setdefault("group", item.group)
        raw.setdefault("section", item.section)
    except KeyError:
        raw.setdefault("group", "other")
        raw.setdefault("section", "")
    if f.id in waived and "waived" not in raw:
        raw["waived"] = waived[f.id]
    out = {k: raw.get(k) for k in _FINDING_KEYS}
    for k in _OPTIONAL_KEYS:
        if raw.get(k) not in (None, ""):
            out[k] = raw[k]
    if raw.get("explained") is False:  # the verdict rests on a part the rebuild check did not reproduce
        out["explained"] = False
    return normalise(out)


def _order(findings: list, spec: Spec) -> list:
    """Spec order; ids not in the spec keep their relative order at the end."""
    pos = {i: n for n, i in enumerate(spec.ids)}
    return sorted(findings, key=lambda f: pos.get(f.id, len(pos)))  # sorted() is stable


def report_to_dict(report: Report, spec: Spec, gate: Any = None) -> dict[str, Any]:
    """The JSON report as plain data; identical input gives identical output."""
    g = gate_to_dict(gate)
    waived = (g or {}).get("waived", {})
    findings = [_finding(f, spec, waived) for f in _order(list(report.findings), spec)]
    target = normalise(report.target)
    out: dict[str, Any] = {
        "format": FORMAT,
        "target": {k: target[k] for k in sorted(target)},
        "spec": {"version": str(report.spec.get("version", spec.version)),
                 "sha256": str(report.spec.get("sha256", spec.sha256))},
        "environment": environment(),
        "summary": {**summarise(findings, g), **_explained(report)},
        "findings": findings,
        "layers": normalise(report.extras.get("layers") or []),
    }
    if report.extras.get("layers_error"):
        out["layers_error"] = normalise(report.extras["layers_error"])
    claims = target.get("claims")
    if claims:
        from .claims import review_claims

        out["claims_review"] = review_claims(claims, findings)
    return out


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def to_json(report: Report, spec: Spec, gate: Any = None) -> str:
    return dumps(report_to_dict(report, spec, gate))
