"""The one audit pipeline: spec + target + waivers -> verify -> gate -> (optionally) write.

`alexnet-audit audit`, the compare worker, the pytest plugin and the committed-reports test all
call `run_audit`, so waivers merge the same way everywhere (the target's own, checked against the
run's spec, then a waivers file, which wins) and a report says the same thing whichever front end
produced it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.findings import Report
from ..gate.evaluate import GateResult, evaluate_gate
from ..spec.load import Spec
from ..spec.waivers import Waiver, merge_waivers
from ..target.record import Target


@dataclass
class AuditResult:
    """What one audit produced: the report, the gate's verdicts and the files written."""

    report: Report
    gate: GateResult
    paths: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.gate.passed)

    def summary_line(self) -> str:
        return self.gate.summary_line(str(self.report.target.get("name") or "target"))


def scrub_paths(report: Report, base: Path | str | None) -> Report:
    """The report with `base/` removed from every string, so no absolute path of the user's leaks.

    Targets given as files are passed to workers as absolute paths; the report shows them relative
    to the directory the user ran from, as `audit` in that directory would.
    """
    if base is None:
        return report
    root = str(Path(base).resolve())
    if root in ("", os.sep) or len(Path(root).parts) < 2:
        return report
    prefix = root.rstrip(os.sep) + os.sep

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(prefix, "")
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, tuple):
            return tuple(clean(v) for v in value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    findings = [replace(f, expected=clean(f.expected), observed=clean(f.observed), message=clean(f.message),
                        where=clean(f.where), evidence=clean(f.evidence)) for f in report.findings]
    return Report(target=clean(report.target), spec=dict(report.spec), findings=findings, extras=clean(report.extras))


def run_audit(
    spec: Spec,
    target: Target,
    *,
    waivers: Mapping[str, Waiver] | None = None,
    fail_on: str = "minor",
    strict: bool = False,
    only: Iterable[str] | None = None,
    out: Path | str | None = None,
    formats: Iterable[str] = ("md", "json"),
    base: Path | str | None = None,
    require_explained: bool = False,
) -> AuditResult:
    """Audit `target` against `spec`, evaluate the gate and, with `out`, write the reports there.

    `require_explained` fails the gate when the measurements do not rebuild the model
    (`summary.explained.ok` false; `trace/rebuild`).
    """
    from .verify import verify

    merged = merge_waivers(target, spec, waivers)
    report = scrub_paths(verify(spec, target, only=only, base=base), base)
    gate = evaluate_gate(report, spec, merged, fail_on=fail_on, strict=strict, require_explained=require_explained)
    result = AuditResult(report=report, gate=gate)
    if out is not None:
        result.paths = write(result, spec, out, formats, base=base)
    return result


def write(result: AuditResult, spec: Spec, out: Path | str, formats: Iterable[str] = ("md", "json"),
          base: Path | str | None = None, read_from: Path | str | None = None) -> list[Path]:
    """Write the result's reports into `out`; the paths written. The markdown links the source
    locations when it sits under `base` (where they are relative to; default the current directory),
    as read from `read_from` (default `out`)."""
    from ..report import write_reports

    return list(write_reports(result.report, spec, Path(out), formats=list(formats), gate=result.gate, root=base,
                              read_from=read_from))
