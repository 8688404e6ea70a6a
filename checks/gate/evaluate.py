"""The gate: turn a Report into pass/fail for CI, the CLI exit code and the pytest outcomes.

Pure: no torch, no probes. Shared by `alexnet-audit audit` and the pytest plugin so that both give
the same verdict on the same report.

Semantics (README, "Gate your model in CI"):

- `fail_on` is the lowest severity whose deviations fail: `major` fails on major deviations,
  `minor` (the default) on major and minor ones, `never` on none (report only: the gate always
  passes; problems are still listed in `messages`). `info` items never fail, whatever their status.
- A deviation at or above the threshold fails unless it is waived; a waived one is recorded in
  `waived` (and the finding's `waived` field carries the reason).
- An `error` finding (the probe or the target failed, so the item was not checked) fails for every
  major or minor item unless `fail_on == "never"`: `--fail-on major` relaxes which deviations are
  tolerated, not whether the audit ran. Errors cannot be waived.
- A waiver whose item now passes (status `pass`, or `variant` outside strict mode) is stale and
  fails, so waivers do not outlive their defect. A waiver for an item that was skipped, errored
  or was not audited in this run (e.g. `pytest -k`) is neither used nor stale.
- A waiver whose `until` date is before `today` has expired and fails (`until` is inclusive).
- Stale and expired waivers fail only where the item is gated (major/minor at or above the
  threshold); elsewhere they are listed in `messages` and the item passes with a note.
- `strict=True` treats accepted variants as deviations (they fail, or can be waived).
- `require_explained=True` fails the gate when the audit could not rebuild the model from its
  measurements (`summary.explained.ok` is false: `alexnet_audit.trace.rebuild`); the summary line says
  `unexplained` whenever that is so, required or not.
"""
from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.findings import Finding, Report, Severity, Status
from ..core.inputs import short_repr
from ..spec.load import Spec
from ..spec.waivers import Waiver, check_waiver_ids

FAIL_ON = ("major", "minor", "never")
_GATED = {"major": (Severity.MAJOR,), "minor": (Severity.MAJOR, Severity.MINOR), "never": ()}


class GateVerdict(enum.StrEnum):
    """Per-item verdicts, the vocabulary the plugin maps to pytest outcomes."""

    PASS = "pass"  # matches the paper
    VARIANT = "variant"  # accepted variant, does not fail
    VARIANT_FAIL = "variant-strict"  # accepted variant under strict: fails
    SKIP = "skip"  # could not be observed
    DEVIATION = "deviation"  # fails the gate
    TOLERATED = "tolerated"  # deviation below the threshold (or info, or fail_on=never): passes with a note
    WAIVED = "waived"  # deviation covered by a valid waiver: xfail
    STALE = "stale"  # waived item no longer deviates: fails
    EXPIRED = "expired"  # waiver past its date: fails
    ERROR = "error"  # probe/target failed: fails
    ERROR_TOLERATED = "error-tolerated"  # error on an info item or under fail_on=never: passes with a note


FailOn = Literal["major", "minor", "never"]

# Module-level names for the verdicts, as the plugin and tests spell them.
PASS, VARIANT, VARIANT_FAIL, SKIP = GateVerdict.PASS, GateVerdict.VARIANT, GateVerdict.VARIANT_FAIL, GateVerdict.SKIP
DEVIATION, TOLERATED, WAIVED = GateVerdict.DEVIATION, GateVerdict.TOLERATED, GateVerdict.WAIVED
STALE, EXPIRED, ERROR, ERROR_TOLERATED = GateVerdict.STALE, GateVerdict.EXPIRED, GateVerdict.ERROR, \
    GateVerdict.ERROR_TOLERATED
FAILING_VERDICTS = frozenset({VARIANT_FAIL, DEVIATION, STALE, EXPIRED, ERROR})


@dataclass(frozen=True)
class Verdict:
    """What the gate decided for one item, with the sentence that says why."""

    id: str
    verdict: GateVerdict
    note: str = ""

    @property
    def fails(self) -> bool:
        return self.verdict in FAILING_VERDICTS


@dataclass
class GateResult:
    passed: bool
    fail_on: str
    strict: bool = False
    failing: list[str] = field(default_factory=list)  # ids that fail the gate, in spec order
    waived: dict[str, str] = field(default_factory=dict)  # id -> reason, for waived deviations
    stale: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # one line per failing item or waiver problem
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # id -> Verdict, for every finding
    counts: dict[str, int] = field(default_factory=dict)  # status and severity counts of the report
    explained: bool | None = None  # whether the measurements rebuild the model (None: not checked)
    require_explained: bool = False

    @property
    def unexplained_fails(self) -> bool:
        """The gate fails because the measurements do not explain the model (--require-explained)."""
        return self.require_explained and self.explained is not True

    def summary_line(self, name: str) -> str:
        """One line, e.g. 'reference: 0 deviations (0 major, 0 minor), 12 variants, 11 skipped,
        0 errors; gate fail-on=minor: PASS'."""
        c = self.counts
        sev = f"{c.get('major', 0)} major, {c.get('minor', 0)} minor"
        if c.get("info", 0):
            sev += f", {c['info']} info"
        parts = [
            f"{_plural(c.get('deviation', 0), 'deviation')} ({sev})",
            _plural(c.get("variant", 0), "variant"),
            f"{c.get('skip', 0)} skipped",
            _plural(c.get("error", 0), "error"),
        ]
        if self.waived:
            parts.append(f"{len(self.waived)} waived")
        if self.explained is False:
            parts.append("unexplained")
        gate = f"gate fail-on={self.fail_on}{' strict' if self.strict else ''}: "
        if self.passed:
            gate += "PASS"
        else:
            shown = ", ".join(self.failing[:5]) + (", ..." if len(self.failing) > 5 else "")
            if self.unexplained_fails:
                shown = ", ".join(x for x in (shown, "unexplained") if x)
            gate += f"FAIL ({shown})"
        return f"{name}: {', '.join(parts)}; {gate}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "fail_on": self.fail_on,
            "strict": self.strict,
            "failing": list(self.failing),
            "waived": dict(self.waived),
            "stale": list(self.stale),
            "expired": list(self.expired),
            "messages": list(self.messages),
            **({"require_explained": True} if self.require_explained else {}),
        }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def unexplained_message(explained: Any) -> str:
    """One line: why --require-explained fails (the report's `summary.explained`)."""
    if not isinstance(explained, Mapping):
        return "unexplained: the rebuild check did not run, so the measurements are not shown to explain the model."
    div = explained.get("first_divergence") or {}
    if div:
        return (f"unexplained: the measurements stop reproducing the model at {div.get('at')}: "
                f"{div.get('reason')}.")
    opaque = ", ".join(str(o) for o in explained.get("opaque") or [])
    return f"unexplained: the outputs are reproduced only by replaying what the audit could not classify: {opaque}."


def evaluate_gate(
    report: Report,
    spec: Spec,
    waivers: Mapping[str, Waiver] | None = None,
    fail_on: str = "minor",
    today: _dt.date | None = None,
    strict: bool = False,
    require_explained: bool = False,
) -> GateResult:
    """Decide pass/fail for `report` (see the module docstring for the rules).

    Waiver ids are checked against `spec` (WaiverError on an unknown one). Sets `Finding.waived`
    on the waived deviations so that reports show the reason.
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)} (got {short_repr(fail_on)})")
    waivers = dict(waivers or {})
    check_waiver_ids(waivers, spec)
    today = today or _dt.date.today()
    gated = _GATED[fail_on]
    result = GateResult(passed=True, fail_on=fail_on, strict=strict, require_explained=require_explained)
    explained = report.extras.get("explained")
    if isinstance(explained, Mapping) and "ok" in explained:
        result.explained = bool(explained["ok"])
    for f in report.findings:
        gates = f.severity in gated  # info and fail_on=never: nothing fails
        deviates = f.status is Status.DEVIATION or (strict and f.status is Status.VARIANT)
        w = waivers.get(f.id)
        v = _waiver_verdict(f, w, gates, deviates, today, result) if w is not None else None
        _record(result, f, v or _plain_verdict(f, gates, deviates, fail_on))
    audited = {f.id for f in report.findings}
    for key in waivers:
        if key not in audited:
            result.messages.append(f"waiver for {key} not checked: the item was not audited in this run.")
    if result.unexplained_fails:
        result.messages.append(unexplained_message(explained))
    result.passed = not result.failing and not result.unexplained_fails
    result.counts = _counts(report)
    return result


def _label(f: Finding) -> str:
    return "variant" if f.status is Status.VARIANT else f"{f.severity.value} deviation"


def _waiver_verdict(f: Finding, w: Waiver, gates: bool, deviates: bool, today: _dt.date,
                    result: GateResult) -> Verdict | None:
    """The verdict a waiver decides (expired, waived or stale), noted in `result` and on a waived `f`;
    None when the waiver has no say (the item was skipped or errored)."""
    if w.until is not None and w.until < today:
        result.expired.append(f.id)
        return Verdict(f.id, EXPIRED if gates else TOLERATED,
                       f"the waiver for {f.id} expired on {w.until.isoformat()} ({w.reason}); "
                       f"renew or remove it. The item is now {f.status.value}.")
    if deviates:
        result.waived[f.id] = w.reason
        f.waived = w.reason
        return Verdict(f.id, WAIVED, f"waived {_label(f)}: {w.reason}"
                       + (f" (until {w.until.isoformat()})" if w.until else ""))
    if f.status in (Status.PASS, Status.VARIANT):
        result.stale.append(f.id)
        return Verdict(f.id, STALE if gates else TOLERATED,
                       f"stale waiver: {f.id} is now {f.status.value}"
                       f"{' (' + f.variant + ')' if f.variant else ''}, not a deviation; remove its waiver "
                       f"({w.reason}).")
    return None


def _plain_verdict(f: Finding, gates: bool, deviates: bool, fail_on: str) -> Verdict:
    """The verdict of an item no waiver decides."""
    if deviates:
        if gates:
            return Verdict(f.id, VARIANT_FAIL if f.status is Status.VARIANT else DEVIATION,
                           f"{_label(f)}{' (strict)' if f.status is Status.VARIANT else ''}: {f.message}")
        why = "info items never fail" if f.severity is Severity.INFO else f"below fail-on={fail_on}"
        return Verdict(f.id, TOLERATED, f"{_label(f)} tolerated ({why}): {f.message}")
    if f.status is Status.ERROR:
        if fail_on != "never" and f.severity is not Severity.INFO:
            return Verdict(f.id, ERROR, f"error: {f.message}")
        why = "info items never fail" if f.severity is Severity.INFO else "fail-on=never"
        return Verdict(f.id, ERROR_TOLERATED, f"error tolerated ({why}): {f.message}")
    if f.status is Status.SKIP:
        return Verdict(f.id, SKIP, f.message)
    if f.status is Status.VARIANT:
        return Verdict(f.id, VARIANT, f"accepted variant '{f.variant}': {f.message}")
    return Verdict(f.id, PASS, f.message)


def _record(result: GateResult, f: Finding, v: Verdict) -> None:
    result.verdicts[f.id] = v
    if v.fails:
        result.failing.append(f.id)
        result.messages.append(v.note)
    elif f.id in result.stale or f.id in result.expired:
        result.messages.append(v.note)  # not gated here, but a waiver problem is still worth a line


def _counts(report: Report) -> dict[str, int]:
    """How many findings have each status, and how many deviations each severity."""
    counts = {s.value: 0 for s in Status} | {s.value: 0 for s in Severity}
    for f in report.findings:
        counts[f.status.value] += 1
        if f.status is Status.DEVIATION:
            counts[f.severity.value] += 1
    return counts
