"""The plugin's fixtures as a user's conftest drives them: `paper_target` returning an object (an
nn.Module, a factory, a plain-dict target), `paper_waivers` returning `{id: reason}`, and the
`paper_audit` result's `.passed` and `.explain()`.

Each run's own test writes what the fixtures gave into `seen.json`; the assertions are made here,
on exact values, so that a fixture path that quietly audits something else (another target, no
waivers) fails.
"""
from __future__ import annotations

import json

import pytest

from tests.plugin.stand_in import STUB_CONFTEST, run

# The run's test: what paper_audit and paper_report gave, for the assertions below.
SEEN_TEST = """
import json


def test_seen(paper_audit, paper_report):
    gate = paper_audit.gate
    seen = {"name": paper_audit.name, "passed": paper_audit.passed, "explain": paper_audit.explain(),
            "target": paper_report.target.get("name"),
            "observed": {f.id: f.observed for f in paper_report.findings if f.status.value not in ("skip", "error")},
            "failing": list(gate.failing), "waived": {i: getattr(w, "reason", w) for i, w in gate.waived.items()}}
    with open("seen.json", "w", encoding="utf-8") as fh:
        json.dump(seen, fh)


def test_check(paper_audit):
    paper_audit.check()
"""

# The mutant of stand_in.TINY_TARGET, as objects that live only in the conftest (no reference string).
OBJECT_TARGETS = '''
import pytest
import torch.nn as nn

MUTANT = dict(a=1, b=3, d=40, f=60, g=70, h=8, i=90, j=100)  # tiny_target.MUTANT, defined here only


class Values(nn.Module):
    """A module the stub probe reads like the dict targets' model (values[key])."""

    def __init__(self, values):
        super().__init__()
        self.values = dict(values)

    def __getitem__(self, key):
        return self.values[key]


def build_mutant():
    return {"model": lambda: dict(MUTANT), "batch_size": 128}


FORMS = {
    "module": lambda: Values(MUTANT),
    "factory": lambda: build_mutant,
    "dict": lambda: {"model": lambda: dict(MUTANT), "batch_size": 128},
}


@pytest.fixture(scope="session")
def paper_target():
    return FORMS["{form}"]()
'''

MUTANT_OBSERVED = {"t.pass": 1, "t.variant": 3, "t.deviation": 40, "t.info": 60, "t.waived": 70, "t.stale": 8,
                   "t.expired": 90, "t.minor": 100}
MUTANT_FAILING = ["t.deviation", "t.waived", "t.expired", "t.error", "t.minor"]


def seen(tiny: pytest.Pytester) -> dict:
    return json.loads((tiny.path / "seen.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("form", "name"), [("module", "paper_target"), ("factory", "build_mutant"),
                                            ("dict", "paper_target")])
def test_paper_target_object_is_audited_here(tiny, form, name):
    """An object from paper_target (no reference string reaches it) is the very thing audited."""
    tiny.makeconftest(STUB_CONFTEST + OBJECT_TARGETS.replace("{form}", form))
    tiny.makepyfile(test_paper=SEEN_TEST)
    result = run(tiny, "--paper-spec=tiny_spec.yaml")
    result.assert_outcomes(passed=1, failed=1)  # test_seen passes; check() fails the mutant's gate
    got = seen(tiny)
    assert got["name"] == got["target"] == name
    assert got["observed"] == MUTANT_OBSERVED
    assert got["passed"] is False
    assert got["failing"] == MUTANT_FAILING
    result.stdout.fnmatch_lines([f"*{name}: 5 deviations (2 major, 2 minor, 1 info), 1 variant, 1 skipped, 1 error"
                                 "*; gate fail-on=minor: FAIL (t.deviation, t.waived, t.expired, t.error, "
                                 "t.minor)"])


def test_passed_and_explain_of_the_paper_audit_result(tiny):
    tiny.makeconftest(STUB_CONFTEST + OBJECT_TARGETS.replace("{form}", "dict"))
    tiny.makepyfile(test_paper=SEEN_TEST)
    run(tiny, "--paper-spec=tiny_spec.yaml").assert_outcomes(passed=1, failed=1)
    lines = seen(tiny)["explain"].splitlines()
    assert lines[0] == ("paper_target: 5 deviations (2 major, 2 minor, 1 info), 1 variant, 1 skipped, 1 error; "
                        "gate fail-on=minor: FAIL (t.deviation, t.waived, t.expired, t.error, t.minor)")
    assert lines[1:] == ["  major deviation: t.deviation must be 4 (got 40).",
                         "  minor deviation: t.waived must be 7 (got 70).",
                         "  major deviation: t.expired must be 9 (got 90).",
                         "  error: stub probe failed: KeyError: 'err'",
                         "  minor deviation: t.minor must be 10 (got 100)."]

    # the clean target: passed, and explain() is the summary line alone
    tiny.makeconftest(STUB_CONFTEST + OBJECT_TARGETS.replace("{form}", "dict").replace("dict(MUTANT)", "dict(CLEAN)")
                      + "\nCLEAN = dict(a=1, b=2, d=4, f=6, g=7, h=8, i=9, j=10, err=11)\n")
    run(tiny, "--paper-spec=tiny_spec.yaml").assert_outcomes(passed=2)
    got = seen(tiny)
    assert got["passed"] is True
    assert got["explain"] == ("paper_target: 0 deviations (0 major, 0 minor), 0 variants, 1 skipped, 0 errors; "
                              "gate fail-on=minor: PASS")


WAIVERS_FIXTURE = '''
import pytest


@pytest.fixture(scope="session")
def paper_target():
    return "tiny_target.py:mutant"


@pytest.fixture(scope="session")
def paper_waivers():
    return {WAIVERS}
'''


def test_paper_waivers_fixture_as_id_reason_mapping(tiny):
    waivers = {"t.waived": "k=1 kept until the retrain", "t.deviation": {"reason": "on purpose", "until": "2999-01-01"},
               "t.stale": "fixed upstream"}
    tiny.makeconftest(STUB_CONFTEST + WAIVERS_FIXTURE.replace("{WAIVERS}", repr(waivers)))
    tiny.makepyfile(test_paper=SEEN_TEST)
    result = run(tiny, "--paper-spec=tiny_spec.yaml")
    result.assert_outcomes(passed=1, failed=1)
    got = seen(tiny)
    assert got["waived"] == {"t.deviation": "on purpose", "t.waived": "k=1 kept until the retrain"}
    assert got["failing"] == ["t.stale", "t.expired", "t.error", "t.minor"]  # t.stale: the waiver is stale
    assert got["explain"].splitlines()[1] == \
        "  stale waiver: t.stale is now pass, not a deviation; remove its waiver (fixed upstream)."


def test_paper_waivers_fixture_with_an_unknown_id_fails_in_one_line(tiny):
    tiny.makeconftest(STUB_CONFTEST + WAIVERS_FIXTURE.replace("{WAIVERS}", repr({"t.pas": "typo"})))
    tiny.makepyfile(test_paper="def test_it(paper_audit):\n    paper_audit.check()\n")
    result = run(tiny, "--paper-spec=tiny_spec.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*paper target could not be audited: paper_waivers fixture: unknown item id 't.pas' "
                                 "(did you mean 't.pass'?)*"])
    assert "Traceback" not in result.stdout.str()


def test_user_fixture_overrides_are_used_not_the_options(tiny):
    """An overriding conftest fixture wins over --paper-waivers (the plugin's own fixture reads it)."""
    tiny.makeconftest(STUB_CONFTEST + WAIVERS_FIXTURE.replace("{WAIVERS}", repr({"t.minor": "accepted"})))
    tiny.makepyfile(test_paper=SEEN_TEST)
    run(tiny, "--paper-spec=tiny_spec.yaml", "--paper-waivers=waivers.yaml").assert_outcomes(passed=1, failed=1)
    assert seen(tiny)["waived"] == {"t.minor": "accepted"}
