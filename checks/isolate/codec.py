"""The audit's result as it crosses from a worker to its parent: plain JSON data both ways.

The parent (the pytest plugin, `audit`, `compare`) never imports the target, so it rebuilds the
`Report` and the `GateResult` it works with from what the worker sent. JSON rather than pickle:
the result file sits in a directory the target's code could write to, and loading it must not run
anything.
"""
from __future__ import annotations

from typing import Any

from ..core.findings import Finding, Location, Report, Severity, Status
from ..gate.evaluate import GateResult, GateVerdict, Verdict


def gate_payload(gate: GateResult) -> dict[str, Any]:
    """The gate with every per-item verdict and the counts (GateResult.to_dict leaves those out)."""
    out = gate.to_dict()
    out["verdicts"] = {i: {"verdict": v.verdict.value, "note": v.note} for i, v in gate.verdicts.items()}
    out["counts"] = dict(gate.counts)
    out["explained"] = gate.explained
    out["require_explained"] = gate.require_explained
    return out


def gate_from_payload(d: dict[str, Any]) -> GateResult:
    verdicts = {i: Verdict(i, GateVerdict(v["verdict"]), str(v.get("note", ""))) for i, v in d["verdicts"].items()}
    return GateResult(passed=bool(d["passed"]), fail_on=str(d["fail_on"]), strict=bool(d.get("strict")),
                      failing=list(d.get("failing") or []), waived=dict(d.get("waived") or {}),
                      stale=list(d.get("stale") or []), expired=list(d.get("expired") or []),
                      messages=list(d.get("messages") or []), verdicts=verdicts,
                      counts={k: int(v) for k, v in (d.get("counts") or {}).items()},
                      explained=d.get("explained"), require_explained=bool(d.get("require_explained")))


def report_from_dict(d: dict[str, Any]) -> Report:
    """A Report from its JSON form (`report.report_to_dict`): the findings as the worker measured them."""
    findings = [Finding(id=f["id"], status=Status(f["status"]), severity=Severity(f["severity"]),
                        expected=f.get("expected"), observed=f.get("observed"), message=str(f.get("message") or ""),
                        where=str(f.get("where") or ""), variant=f.get("variant"),
                        evidence=str(f.get("evidence") or ""), waived=f.get("waived"),
                        location=_locations(f.get("location")))
                for f in d.get("findings") or []]
    extras = {"layers": d.get("layers") or []}
    return Report(target=dict(d.get("target") or {}), spec=dict(d.get("spec") or {}), findings=findings,
                  extras=extras)


def _locations(value: Any) -> list[Location]:
    """A finding's `location` (one {path, line} or a list) back as Location records."""
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [Location(str(v["path"]), int(v["line"])) for v in items if isinstance(v, dict) and "path" in v]
