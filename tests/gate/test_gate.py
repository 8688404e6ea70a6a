"""The gate (alexnet_audit.gate.evaluate): thresholds, errors, info, waivers (waived, stale, expired, unknown id),
strict mode, the waiver file format and the one-line summary. Pure: no torch, no probes."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alexnet_audit.core.findings import Finding, Report, Status
from alexnet_audit.gate import evaluate as g
from alexnet_audit.gate.evaluate import GateResult, evaluate_gate
from alexnet_audit.spec.load import SpecError, load_spec
from alexnet_audit.spec.waivers import Waiver, WaiverError, load_waivers, parse_waivers

TODAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def finding(spec, item_id: str, status: str, variant: str | None = None) -> Finding:
    it = spec.item(item_id)
    return Finding(id=item_id, status=Status(status), severity=it.severity, expected=it.expected, observed=None,
                   message=f"{item_id} is {status}", variant=variant)


def report(spec, **statuses: str) -> Report:
    """report(spec, **{'lrn.k': 'deviation'}): every other spec item passes."""
    out = []
    for it in spec.items:
        st = statuses.get(it.id, "pass")
        out.append(finding(spec, it.id, st, variant="some variant" if st == "variant" else None))
    return Report(target={"name": "t"}, spec={"version": spec.version, "sha256": spec.sha256}, findings=out)


def gate(spec, statuses: dict[str, str], waivers: dict | None = None, **kw) -> GateResult:
    return evaluate_gate(report(spec, **statuses), spec, waivers or {}, today=TODAY, **kw)


# ----------------------------------------------------------------------------- thresholds ---

@pytest.mark.parametrize(("item_id", "fail_on", "fails"), [
    ("lrn.size", "minor", True), ("lrn.size", "major", True), ("lrn.size", "never", False),   # major item
    ("lrn.k", "minor", True), ("lrn.k", "major", False), ("lrn.k", "never", False),           # minor item
    ("arch.neurons", "minor", False), ("arch.neurons", "major", False),                      # info item
])
def test_deviation_fails_at_or_above_the_threshold(spec, item_id, fail_on, fails):
    r = gate(spec, {item_id: "deviation"}, fail_on=fail_on)
    assert r.passed is not fails
    assert r.failing == ([item_id] if fails else [])
    assert r.verdicts[item_id].verdict == (g.DEVIATION if fails else g.TOLERATED)


def test_clean_report_passes_and_every_item_has_a_verdict(spec):
    r = gate(spec, {})
    assert r.passed and r.failing == [] and r.messages == []
    assert set(r.verdicts) == set(spec.ids)
    assert all(v.verdict == g.PASS for v in r.verdicts.values())


@pytest.mark.parametrize(("item_id", "fail_on", "fails"), [
    ("lrn.size", "minor", True), ("lrn.size", "major", True), ("lrn.size", "never", False),
    ("lrn.k", "major", True),  # an unchecked minor item still fails under fail-on=major
    ("arch.neurons", "minor", False),  # info never fails
])
def test_errors_fail_unless_never_or_info(spec, item_id, fail_on, fails):
    r = gate(spec, {item_id: "error"}, fail_on=fail_on)
    assert r.passed is not fails
    assert r.verdicts[item_id].verdict == (g.ERROR if fails else g.ERROR_TOLERATED)


def test_skip_and_variant_pass(spec):
    r = gate(spec, {"train.lr": "skip", "lrn.alpha": "variant"})
    assert r.passed
    assert r.verdicts["train.lr"].verdict == g.SKIP
    assert r.verdicts["lrn.alpha"].verdict == g.VARIANT


def test_strict_makes_variants_fail_but_not_info_ones(spec):
    r = gate(spec, {"lrn.alpha": "variant", "arch.neurons": "variant"}, strict=True)
    assert not r.passed and r.failing == ["lrn.alpha"]
    assert r.verdicts["lrn.alpha"].verdict == g.VARIANT_FAIL
    assert "strict" in r.summary_line("t")


def test_invalid_fail_on_is_rejected(spec):
    with pytest.raises(ValueError, match="fail_on"):
        gate(spec, {}, fail_on="info")


# --------------------------------------------------------------------------------- waivers ---

def test_waived_deviation_does_not_fail_and_is_recorded(spec):
    rep = report(spec, **{"lrn.k": "deviation"})
    r = evaluate_gate(rep, spec, {"lrn.k": Waiver("legacy weights")}, today=TODAY)
    assert r.passed and r.waived == {"lrn.k": "legacy weights"}
    assert r.verdicts["lrn.k"].verdict == g.WAIVED
    assert rep.by_id()["lrn.k"].waived == "legacy weights"
    assert "1 waived" in r.summary_line("t")


def test_stale_waiver_fails(spec):
    r = gate(spec, {}, {"lrn.k": Waiver("was k=1")})
    assert not r.passed and r.stale == ["lrn.k"] and r.failing == ["lrn.k"]
    assert "stale waiver" in r.messages[0]


def test_waiver_on_a_variant_is_stale_unless_strict(spec):
    w = {"lrn.alpha": Waiver("alpha/n")}
    assert gate(spec, {"lrn.alpha": "variant"}, w).stale == ["lrn.alpha"]
    strict = gate(spec, {"lrn.alpha": "variant"}, w, strict=True)
    assert strict.passed and strict.waived == {"lrn.alpha": "alpha/n"}


def test_expired_waiver_fails_and_until_is_inclusive(spec):
    expired = gate(spec, {"lrn.k": "deviation"}, {"lrn.k": Waiver("temp", until=TODAY - dt.timedelta(days=1))})
    assert not expired.passed and expired.expired == ["lrn.k"] and "expired on 2026-05-31" in expired.messages[0]
    today = gate(spec, {"lrn.k": "deviation"}, {"lrn.k": Waiver("temp", until=TODAY)})
    assert today.passed and today.waived == {"lrn.k": "temp"}


def test_waiver_problems_only_fail_where_the_item_is_gated(spec):
    # fail-on=major: a minor item's stale or expired waiver is listed, not failed.
    r = gate(spec, {}, {"lrn.k": Waiver("x"), "lrn.beta": Waiver("y", until=dt.date(2000, 1, 1))}, fail_on="major")
    assert r.passed and r.stale == ["lrn.k"] and r.expired == ["lrn.beta"] and len(r.messages) == 2
    assert gate(spec, {}, {"lrn.size": Waiver("x")}, fail_on="never").passed


def test_waiver_on_skipped_errored_or_unaudited_item_is_not_stale(spec):
    rep = report(spec, **{"train.lr": "skip", "lrn.size": "error"})
    rep.findings = [f for f in rep.findings if f.id != "lrn.beta"]  # not audited (pytest -k)
    r = evaluate_gate(rep, spec, {"train.lr": Waiver("a"), "lrn.size": Waiver("b"), "lrn.beta": Waiver("c")},
                      today=TODAY)
    assert r.stale == [] and r.waived == {}
    assert r.failing == ["lrn.size"]  # errors cannot be waived
    assert any("lrn.beta not checked" in m for m in r.messages)


def test_unknown_waiver_id_is_a_one_line_error_with_did_you_mean(spec):
    with pytest.raises(WaiverError, match=r"unknown item id 'lrn.kk' \(did you mean 'lrn.k'\?\)"):
        gate(spec, {}, {"lrn.kk": Waiver("typo")})
    assert issubclass(WaiverError, SpecError)  # so the CLI reports it with exit 2


# ------------------------------------------------------------------------------ waiver file ---

def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "waivers.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_load_waivers_both_forms(spec, tmp_path):
    p = write(tmp_path, "lrn.k: legacy checkpoint uses k=1\n"
                        "train.lr:\n  reason: fine-tuning recipe\n  until: 2027-01-31\n"
                        "lrn.beta: {reason: 'quoted', until: '2026-12-01'}\n")
    assert load_waivers(p, spec) == {
        "lrn.k": Waiver("legacy checkpoint uses k=1"),
        "train.lr": Waiver("fine-tuning recipe", dt.date(2027, 1, 31)),
        "lrn.beta": Waiver("quoted", dt.date(2026, 12, 1)),
    }
    assert load_waivers(write(tmp_path, "# nothing waived\n"), spec) == {}


@pytest.mark.parametrize(("text", "message"), [
    ("lrn.k: [oops\n", r"waivers.yaml: not valid YAML at line \d"),
    ("- lrn.k\n", r"waivers.yaml: waivers must be a mapping of item id to reason \(got list\)"),
    ("lrn.k: 3\n", r"waivers.yaml: waiver 'lrn.k': must be a reason string"),
    ("lrn.k: {reason: x, untill: 2026-01-01}\n", r"waiver 'lrn.k': unknown key 'untill' \(did you mean 'until'\?\)"),
    ("lrn.k: {until: 2026-01-01}\n", r"waiver 'lrn.k': needs a 'reason' string"),
    ("lrn.k: {reason: x, until: next year}\n", r"waiver 'lrn.k': 'until' must be a date YYYY-MM-DD"),
    ("lrn.k: '  '\n", r"waiver 'lrn.k': the reason is empty"),
    ("lnr.k: typo\n", r"waivers.yaml: unknown item id 'lnr.k' \(did you mean 'lrn.k'\?\)"),
])
def test_malformed_waiver_files_give_one_line_naming_file_and_key(spec, tmp_path, text, message):
    with pytest.raises(WaiverError, match=message) as exc:
        load_waivers(write(tmp_path, text), spec)
    assert "\n" not in str(exc.value)


def test_missing_waiver_file(spec, tmp_path):
    with pytest.raises(WaiverError, match="cannot read waivers"):
        load_waivers(tmp_path / "nope.yaml", spec)


def test_parse_waivers_without_spec_defers_the_id_check():
    assert parse_waivers({"anything": "reason"}, None, "m.yaml: waivers") == {"anything": Waiver("reason")}


# ------------------------------------------------------------------------------- summary ---

def test_summary_line_pass_and_fail(spec):
    statuses = {"lrn.alpha": "variant", "train.lr": "skip", "train.momentum": "skip"}
    assert gate(spec, statuses).summary_line("reference") == (
        "reference: 0 deviations (0 major, 0 minor), 1 variant, 2 skipped, 0 errors; gate fail-on=minor: PASS")
    statuses = {"lrn.k": "deviation", "lrn.size": "deviation", "arch.neurons": "deviation", "pool.type": "error"}
    assert gate(spec, statuses, fail_on="major").summary_line("m") == (
        "m: 3 deviations (1 major, 1 minor, 1 info), 0 variants, 0 skipped, 1 error; "
        "gate fail-on=major: FAIL (lrn.size, pool.type)")


def test_gate_is_pure():
    src = Path(g.__file__).read_text(encoding="utf-8")
    assert "import torch" not in src and "alexnet_audit.audit.verify" not in src
    assert g.GateResult(passed=True, fail_on="minor").to_dict()["passed"] is True
