"""Gate behaviour that `make mutation` showed untested (mutants of alexnet_audit/gate/evaluate.py that survived
tests/gate/test_gate.py): --require-explained and the `unexplained` summary, the per-item notes the plugin
shows, the counts in the summary line, and the payload a worker hands its parent (`GateResult.to_dict`)."""
from __future__ import annotations

import datetime as dt

import pytest

from alexnet_audit.core.findings import Finding, Report, Status
from alexnet_audit.gate import evaluate as g
from alexnet_audit.gate.evaluate import evaluate_gate, unexplained_message
from alexnet_audit.spec.load import load_spec
from alexnet_audit.spec.waivers import Waiver

TODAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def report(spec, explained=None, **statuses: str) -> Report:
    findings = []
    for it in spec.items:
        st = statuses.get(it.id, "pass")
        findings.append(Finding(id=it.id, status=Status(st), severity=it.severity, expected=it.expected, observed=None,
                                message=f"{it.id} is {st}", variant="alpha/n" if st == "variant" else None))
    extras = {"explained": explained} if explained is not None else {}
    return Report(target={"name": "t"}, spec={"version": spec.version, "sha256": spec.sha256}, findings=findings,
                  extras=extras)


def gate(spec, statuses=None, waivers=None, explained=None, **kw):
    return evaluate_gate(report(spec, explained, **(statuses or {})), spec, waivers or {}, today=TODAY, **kw)


# ------------------------------------------------------------------------- require_explained ---

DIVERGED = {"ok": False, "first_divergence": {"at": "lrn1", "reason": "k differs"}, "opaque": []}


def test_require_explained_fails_an_unexplained_report_with_its_reason(spec):
    r = gate(spec, explained=DIVERGED, require_explained=True)
    assert (r.passed, r.explained, r.unexplained_fails, r.failing) == (False, False, True, [])
    assert r.messages == ["unexplained: the measurements stop reproducing the model at lrn1: k differs."]
    assert r.summary_line("t") == ("t: 0 deviations (0 major, 0 minor), 0 variants, 0 skipped, 0 errors, "
                                   "unexplained; gate fail-on=minor: FAIL (unexplained)")
    assert r.to_dict()["require_explained"] is True


def test_unexplained_is_said_but_does_not_fail_unless_required(spec):
    r = gate(spec, explained=DIVERGED)
    assert (r.passed, r.explained, r.unexplained_fails, r.messages) == (True, False, False, [])
    assert r.summary_line("t").endswith(", 0 errors, unexplained; gate fail-on=minor: PASS")
    assert "require_explained" not in r.to_dict()


def test_an_explained_report_passes_the_required_gate(spec):
    r = gate(spec, explained={"ok": True, "first_divergence": None, "opaque": []}, require_explained=True)
    assert (r.passed, r.explained, r.unexplained_fails, r.messages) == (True, True, False, [])
    assert "unexplained" not in r.summary_line("t")


def test_a_report_without_the_rebuild_check_is_unexplained_when_required(spec):
    r = gate(spec, require_explained=True)
    assert (r.passed, r.explained) == (False, None)
    assert r.messages == ["unexplained: the rebuild check did not run, so the measurements are not shown to "
                          "explain the model."]
    assert r.summary_line("t").endswith("; gate fail-on=minor: FAIL (unexplained)")
    failing = gate(spec, {"lrn.k": "deviation"}, require_explained=True)
    assert failing.summary_line("t").endswith("FAIL (lrn.k, unexplained)")


def test_unexplained_messages():
    assert unexplained_message({"ok": False, "opaque": ["mystery_op", "other"]}) == (
        "unexplained: the outputs are reproduced only by replaying what the audit could not classify: "
        "mystery_op, other.")
    assert unexplained_message({"ok": False, "first_divergence": None, "opaque": None}) == (
        "unexplained: the outputs are reproduced only by replaying what the audit could not classify: .")


# ----------------------------------------------------------------------------- the notes ---

def test_every_verdict_names_its_item_and_says_why(spec):
    r = gate(spec, {"lrn.k": "deviation", "lrn.size": "error", "arch.neurons": "deviation", "train.lr": "skip",
                    "lrn.alpha": "variant"}, fail_on="major")
    v = r.verdicts
    assert all(x.id == i for i, x in v.items())
    assert v["lrn.k"].note == "minor deviation tolerated (below fail-on=major): lrn.k is deviation"
    assert v["arch.neurons"].note == "info deviation tolerated (info items never fail): arch.neurons is deviation"
    assert v["lrn.size"].note == "error: lrn.size is error"
    assert v["train.lr"].note == "train.lr is skip"
    assert v["lrn.alpha"].note == "accepted variant 'alpha/n': lrn.alpha is variant"
    assert v["lrn.beta"].note == "lrn.beta is pass"
    strict = gate(spec, {"lrn.alpha": "variant"}, strict=True).verdicts
    assert strict["lrn.alpha"].id == "lrn.alpha" and strict["lrn.alpha"].verdict == g.VARIANT_FAIL
    never = gate(spec, {"lrn.size": "error", "arch.neurons": "error"}, fail_on="never").verdicts
    assert all(x.id == i for i, x in never.items())
    assert never["lrn.size"].note == "error tolerated (fail-on=never): lrn.size is error"
    assert never["arch.neurons"].note == "error tolerated (info items never fail): arch.neurons is error"


def test_failing_notes_are_the_messages(spec):
    r = gate(spec, {"lrn.size": "deviation", "lrn.alpha": "variant"}, strict=True)
    assert r.messages == ["major deviation: lrn.size is deviation", "variant (strict): lrn.alpha is variant"]
    assert r.failing == [i for i in spec.ids if i in ("lrn.size", "lrn.alpha")]  # spec order


def test_waiver_notes(spec):
    waived = gate(spec, {"lrn.k": "deviation"}, {"lrn.k": Waiver("k=1 checkpoint", until=dt.date(2026, 12, 31))})
    assert waived.verdicts["lrn.k"].note == "waived minor deviation: k=1 checkpoint (until 2026-12-31)"
    assert waived.verdicts["lrn.k"].id == "lrn.k"
    plain = gate(spec, {"lrn.k": "deviation"}, {"lrn.k": Waiver("k=1 checkpoint")})
    assert plain.verdicts["lrn.k"].note == "waived minor deviation: k=1 checkpoint"
    strict = gate(spec, {"lrn.alpha": "variant"}, {"lrn.alpha": Waiver("alpha/n on purpose")}, strict=True)
    assert strict.verdicts["lrn.alpha"].note == "waived variant: alpha/n on purpose"
    stale = gate(spec, {"lrn.alpha": "variant"}, {"lrn.alpha": Waiver("was 5e-4")})
    assert stale.verdicts["lrn.alpha"].note == ("stale waiver: lrn.alpha is now variant (alpha/n), not a deviation; "
                                                "remove its waiver (was 5e-4).")
    assert stale.verdicts["lrn.alpha"].id == "lrn.alpha"
    expired = gate(spec, {"lrn.k": "deviation"}, {"lrn.k": Waiver("temp", until=dt.date(2026, 1, 1))})
    assert expired.verdicts["lrn.k"].id == "lrn.k"
    assert expired.messages == ["the waiver for lrn.k expired on 2026-01-01 (temp); renew or remove it. The item "
                                "is now deviation."]


def test_a_waiver_problem_where_the_item_is_not_gated_is_still_a_message(spec):
    r = gate(spec, {}, {"lrn.k": Waiver("x")}, fail_on="major")
    assert r.passed and r.messages == ["stale waiver: lrn.k is now pass, not a deviation; remove its waiver (x)."]


def test_an_invalid_fail_on_names_the_choices_and_the_value(spec):
    with pytest.raises(ValueError) as exc:
        gate(spec, fail_on="info")
    assert str(exc.value) == "fail_on must be one of major, minor, never (got 'info')"


# --------------------------------------------------------------------- counts and summary ---

def test_counts_count_every_deviation_of_a_severity(spec):
    r = gate(spec, {"lrn.size": "deviation", "pool.type": "deviation", "lrn.k": "deviation",
                    "arch.neurons": "deviation", "train.epochs": "deviation", "train.lr": "skip",
                    "lrn.alpha": "variant", "lrn.beta": "error"}, fail_on="never")
    assert {k: r.counts[k] for k in ("major", "minor", "info", "deviation", "variant", "skip", "error")} == {
        "major": 2, "minor": 1, "info": 2, "deviation": 5, "variant": 1, "skip": 1, "error": 1}
    assert r.summary_line("m") == ("m: 5 deviations (2 major, 1 minor, 2 info), 1 variant, 1 skipped, 1 error; "
                                   "gate fail-on=never: PASS")


def test_a_summary_without_counts_reads_zero():
    r = g.GateResult(passed=True, fail_on="minor")
    assert r.summary_line("x") == "x: 0 deviations (0 major, 0 minor), 0 variants, 0 skipped, 0 errors; " \
                                  "gate fail-on=minor: PASS"


def test_the_summary_shows_five_failing_ids_then_an_ellipsis(spec):
    ids = [it.id for it in spec.items if it.severity.value == "major"]
    five = gate(spec, {i: "deviation" for i in ids[:5]})
    assert five.summary_line("t").endswith(f"FAIL ({', '.join(ids[:5])})")
    six = gate(spec, {i: "deviation" for i in ids[:6]})
    assert six.summary_line("t").endswith(f"FAIL ({', '.join(ids[:5])}, ...)")
    strict = gate(spec, {}, strict=True)
    assert strict.summary_line("t").endswith("; gate fail-on=minor strict: PASS")


def test_to_dict_is_the_payload_a_worker_sends(spec):
    r = gate(spec, {"lrn.k": "deviation", "lrn.size": "deviation"},
             {"lrn.k": Waiver("k=1"), "lrn.beta": Waiver("old", until=dt.date(2000, 1, 1))}, fail_on="minor",
             strict=True)
    assert r.to_dict() == {
        "passed": False, "fail_on": "minor", "strict": True, "failing": ["lrn.size", "lrn.beta"],
        "waived": {"lrn.k": "k=1"}, "stale": [], "expired": ["lrn.beta"],
        "messages": ["major deviation: lrn.size is deviation",
                     "the waiver for lrn.beta expired on 2000-01-01 (old); renew or remove it. The item is now pass."],
    }
