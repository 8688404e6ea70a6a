"""The pytest plugin (alexnet_audit.plugin), driven through pytester in subprocesses so that it loads from
its `pytest11` entry point exactly as in a user's run.

Most runs use the stand-in of stand_in.py: a 10-item spec whose probe (`stub`, registered by the
run's conftest) reads a value out of a plain-dict target, so every outcome mapping is reached in
one cheap run. The acceptance runs at the end use the real spec against the reference and a
one-defect mutant. The fixtures' own tests (object targets, waivers) are in test_fixtures.py.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.fixtures.mutant_sources import MUTANT_K1
from tests.plugin.stand_in import (
    EXPECTED,
    GROUPS,
    STUB_CONFTEST,
    TINY_ITEMS,
    TINY_TARGET,
    junit,
    run,
    run_sub,
    tiny_args,
)

# -------------------------------------------------------------------- every outcome, one run ---

def test_every_outcome_mapping_in_one_run(tiny):
    result = run_sub(tiny, *tiny_args("mutant", "--paper-waivers=waivers.yaml", "--junitxml=out.xml", "-rA"))
    result.assert_outcomes(passed=3, failed=4, skipped=1, xfailed=1, errors=1)
    assert result.ret == 1
    cases = junit(tiny.path / "out.xml")
    assert {name: c["outcome"] for name, c in cases.items()} == EXPECTED  # junit lists the ids
    assert {c["classname"] for c in cases.values()} == {"paper_audit"}

    # variant: passed, named in user_properties and in a report section
    assert cases["t.variant"]["props"]["paper_variant"] == "three"
    result.stdout.fnmatch_lines(["*Captured paper audit call*", "t.variant is 3: accepted variant 'three'*"])
    # deviation: claim, section, expected, observed, fix; no Python traceback
    dev = cases["t.deviation"]["text"]
    for part in ("major deviation: t.deviation must be 4 (got 40).", "claim:    t.deviation claim",
                 "section:  §t.deviation  [major]", "expected: 4", "observed: 40",
                 "fix:      fix t.deviation like this"):
        assert part in dev, part
    # info deviation: passed with a note
    assert "info items never fail" in cases["t.info"]["props"]["paper_note"]
    # skip: the reason; waived: xfail with the reason
    assert "the target gives no recipe" in cases["t.skip"]["text"]
    assert "k=1 kept until the retrain" in cases["t.waived"]["text"]
    # stale and expired waivers
    assert "stale waiver: t.stale is now pass" in cases["t.stale"]["text"]
    assert "expired on 2000-01-01" in cases["t.expired"]["text"]
    # error: the cause, as an error (setup), one line of text, no traceback
    assert "stub probe failed: KeyError: 'err'" in cases["t.error"]["text"]
    out = result.stdout.str()
    assert "Traceback" not in out, out
    assert "plugin.py" not in out, out
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] paper_audit::t.skip: the target gives no recipe"])
    result.stdout.fnmatch_lines(["*ERROR at setup of t.error [[]major[]]*", "*paper audit*",
                                 "tiny_target.mutant: 5 deviations (2 major, 2 minor, 1 info), 1 variant, 1 skipped, "
                                 "1 error, 1 waived; "
                                 "gate fail-on=minor: FAIL (t.deviation, t.stale, t.expired, t.error, t.minor)"])


def test_fail_on_major_and_never(tiny):
    # minor deviation below the threshold passes with a note; a minor item's stale waiver is not gated
    major = run(tiny, *tiny_args("mutant", "--paper-waivers=waivers.yaml", "--paper-fail-on=major",
                                 "--junitxml=out.xml"))
    cases = junit(tiny.path / "out.xml")
    assert cases["t.minor"]["outcome"] == "passed"
    assert "below fail-on=major" in cases["t.minor"]["props"]["paper_note"]
    assert cases["t.stale"]["outcome"] == "passed"
    failing = sorted(n for n, c in cases.items() if c["outcome"] in ("failed", "error"))
    assert failing == ["t.deviation", "t.error", "t.expired"]
    assert major.ret == 1
    # never: report only, exit 0 (waived stays xfail, the error is a note)
    never = run(tiny, *tiny_args("mutant", "--paper-waivers=waivers.yaml", "--paper-fail-on=never"))
    never.assert_outcomes(passed=8, skipped=1, xfailed=1)
    assert never.ret == 0


def test_strict_makes_the_variant_fail(tiny):
    result = run(tiny, *tiny_args("clean", "--paper-strict", "-k", "t.variant or t.pass"))
    result.assert_outcomes(passed=2)  # clean: b == 2, not a variant
    tiny.makepyfile(tiny_target=TINY_TARGET.replace("err=11)", "err=11, b=3)").replace("a=1, b=2, ", "a=1, "))
    result = run(tiny, *tiny_args("clean", "--paper-strict", "-k", "t.variant or t.pass"))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*variant (strict): t.variant is 3: accepted variant 'three'*"])


def test_clean_target_passes(tiny):
    result = run(tiny, *tiny_args("clean"))
    result.assert_outcomes(passed=9, skipped=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*0 deviations (0 major, 0 minor), 0 variants, 1 skipped, 0 errors; "
                                 "gate fail-on=minor: PASS"])


# ----------------------------------------------------------------------------- selection ---

def test_k_selects_by_id_and_audits_only_those(tiny):
    result = run(tiny, *tiny_args("mutant", "-k", "t.pass or t.deviation", "-v"))
    result.assert_outcomes(passed=1, failed=1, deselected=8)
    result.stdout.fnmatch_lines(["paper_audit::t.pass PASSED*", "paper_audit::t.deviation FAILED*",
                                 "*1 deviation (1 major, 0 minor), 0 variants, 0 skipped, 0 errors*"])


def collected(result: pytest.RunResult) -> list[str]:
    """The node ids `--co -q` listed."""
    return [line for line in result.outlines if line.startswith("paper_audit::")]


def test_k_selects_by_severity(tiny):
    # No id, group or node name contains "major": only the items' severity keyword can select them.
    assert not any("major" in (item_id + GROUPS.get(item_id, "architecture")) for item_id, *_ in TINY_ITEMS)
    result = run(tiny, *tiny_args("mutant", "-k", "major", "--co", "-q"))
    assert collected(result) == ["paper_audit::t.pass", "paper_audit::t.skip", "paper_audit::t.deviation",
                                 "paper_audit::t.expired", "paper_audit::t.error"]
    result.stdout.fnmatch_lines(["*5/10 tests collected (5 deselected)*"])


def test_k_selects_by_group_and_audits_only_those(tiny):
    # No id, severity or node name contains "training": only the items' group keyword can select them.
    assert not any("training" in f"{item_id} {sev}" for item_id, sev, *_ in TINY_ITEMS)
    result = run(tiny, *tiny_args("mutant", "-k", "training", "-v"))
    result.assert_outcomes(passed=1, failed=2, deselected=7)
    result.stdout.fnmatch_lines(["paper_audit::t.deviation FAILED*", "paper_audit::t.info PASSED*",
                                 "paper_audit::t.minor FAILED*",
                                 "*3 deviations (1 major, 1 minor, 1 info), 0 variants, 0 skipped, 0 errors*"])
    # severity and group together: the architecture items of minor severity
    result = run(tiny, *tiny_args("mutant", "-k", "architecture and minor", "--co", "-q"))
    assert collected(result) == ["paper_audit::t.variant", "paper_audit::t.waived", "paper_audit::t.stale"]


# --------------------------------------------------------------------- usage and load errors ---

def test_unknown_waiver_id_is_a_usage_error(tiny):
    tiny.makefile(".yaml", bad_waivers="t.pas: typo\n")
    result = run_sub(tiny, *tiny_args("mutant", "--paper-waivers=bad_waivers.yaml"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad_waivers.yaml: unknown item id 't.pas' (did you mean 't.pass'?)*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_malformed_spec_is_a_usage_error(tiny):
    tiny.makefile(".yaml", broken_spec="format: alexnet-audit/spec\nversion: '1'\n")
    result = run(tiny, "--paper-target=tiny_target.py:clean", "--paper-spec=broken_spec.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*broken_spec.yaml: missing required key*"])


def test_target_load_failure_is_one_line_per_item(tiny):
    result = run(tiny, *tiny_args("broken", "-k", "t.pass or t.minor"))
    result.assert_outcomes(errors=2, deselected=8)
    out = result.stdout.str()
    assert "Traceback" not in out and "plugin.py" not in out
    result.stdout.fnmatch_lines(["*paper target 'tiny_target.py:broken' could not be audited: *"
                                 "RuntimeError: cannot build: weights file missing*"])


def test_paper_timeout_stops_a_hanging_target_in_one_line_per_item(pytester):
    hangs = f"{Path(__file__).resolve().parents[1] / 'fixtures' / 'broken_targets.py'}:hangs"
    result = run_sub(pytester, f"--paper-target={hangs}", "--paper-timeout=3", "-k", "lrn.k or lrn.size")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("errors"), outcomes.get("passed"), outcomes.get("failed")) == (2, None, None)
    line = (f"paper target '{hangs}' could not be audited: the audit did not finish within 3 s and was stopped "
            "(a hang, or a model too slow to audit here; raise --timeout)")
    assert [ln for ln in result.outlines if "could not be audited" in ln and not ln.startswith("ERROR")] == [line] * 3
    result.stdout.fnmatch_lines(["*ERROR at setup of lrn.size [[]major[]]*", line,
                                 "*ERROR at setup of lrn.k [[]minor[]]*", line, "*- paper audit -*", line])
    assert "Traceback" not in result.stdout.str()


def test_paper_timeout_must_be_a_positive_number(pytester):
    result = run_sub(pytester, "--paper-target=reference", "--paper-timeout=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --paper-timeout takes a number of seconds > 0 (got '0')"])


# ------------------------------------------------------------------------------- reports ---

def test_paper_report_writes_reports_and_summary(tiny):
    result = run(tiny, *tiny_args("mutant", "--paper-waivers=waivers.yaml", "--paper-report=out"))
    result.stdout.fnmatch_lines(["*- paper audit -*", "tiny_target.mutant: *; gate fail-on=minor: FAIL (*"])
    written = sorted(p.suffix for p in (tiny.path / "out").iterdir())
    assert written == [".json", ".md"]
    result.stdout.fnmatch_lines(["wrote *out*"])


# ------------------------------------------------------------------------ no --paper-target ---

def test_without_paper_target_the_plugin_adds_nothing_and_imports_nothing_heavy(pytester):
    pytester.makepyfile(test_user="""
        import sys

        def test_light(pytestconfig):
            assert pytestconfig.pluginmanager.hasplugin("paper_audit")
            assert "alexnet_audit.plugin" in sys.modules
            assert [m for m in ("torch", "torchvision") if m in sys.modules] == []
            # the plugin's own modules and core (errors) only: no other stage loads with the plugin
            light = ("alexnet_audit.plugin.", "alexnet_audit.core.")
            ours = [m for m in sys.modules if m.startswith("alexnet_audit.") and not m.startswith(light)
                    and m not in ("alexnet_audit.plugin", "alexnet_audit.core")]
            assert ours == []
    """)
    result = run_sub(pytester, "-v")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "paper audit" not in out and "paper_audit::" not in out  # no header, item or summary
    empty = pytester.mkdir("empty")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", str(empty))
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


# ------------------------------------------------------------------------------- fixtures ---

def test_fixtures_two_line_test(tiny):
    def use_target(name: str) -> None:
        tiny.makeconftest(STUB_CONFTEST + textwrap.dedent(f"""
            import pytest

            @pytest.fixture(scope="session")
            def paper_target():
                return "tiny_target.py:{name}"
        """))

    tiny.makepyfile(test_paper="""
        def test_faithful_to_the_paper(paper_audit):
            paper_audit.check()

        def test_report_fixture(paper_report):
            assert paper_report.by_id()["t.pass"].status.value == "pass"
    """)
    use_target("clean")
    run(tiny, "--paper-spec=tiny_spec.yaml").assert_outcomes(passed=2)
    use_target("mutant")
    bad = run(tiny, "--paper-spec=tiny_spec.yaml")
    bad.assert_outcomes(passed=1, failed=1)
    bad.stdout.fnmatch_lines(["*mutant: 5 deviations*FAIL (t.deviation, t.waived, t.expired, t.error, t.minor)",
                              "*major deviation: t.deviation must be 4 (got 40).*", "*error: stub probe failed*"])
    assert "Traceback" not in bad.stdout.str()


def test_paper_target_fixture_skips_without_a_target(pytester):
    pytester.makepyfile(test_paper="def test_it(paper_audit):\n    paper_audit.check()\n")
    run(pytester).assert_outcomes(skipped=1)


# ---------------------------------------------------------- acceptance: real spec, real model ---


@pytest.fixture
def real(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(k1_mutant=MUTANT_K1)
    return pytester


@pytest.mark.slow
def test_acceptance_reference_passes(real):
    result = run_sub(real, "--paper-target=reference")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*0 deviations (0 major, 0 minor)*gate fail-on=minor: PASS"])


@pytest.mark.slow
def test_acceptance_minor_mutant_fails_exactly_lrn_k_and_waiver_and_fail_on_major_pass(real):
    failed = run_sub(real, "--paper-target=k1_mutant.py:build", "--junitxml=out.xml")
    cases = junit(real.path / "out.xml")
    assert [n for n, c in cases.items() if c["outcome"] in ("failed", "error")] == ["lrn.k"]
    assert "lrn.k must be 2 (got 1)" in cases["lrn.k"]["text"] and "k=2.0" in cases["lrn.k"]["text"]
    assert failed.ret == 1

    real.makefile(".yaml", waivers="lrn.k: pretrained checkpoint uses k=1\n")
    waived = run_sub(real, "--paper-target=k1_mutant.py:build", "--paper-waivers=waivers.yaml", "-rx")
    assert waived.ret == 0
    waived.stdout.fnmatch_lines(["XFAIL*lrn.k*pretrained checkpoint uses k=1*"])
    assert waived.parseoutcomes()["xfailed"] == 1

    major = run_sub(real, "--paper-target=k1_mutant.py:build", "--paper-fail-on=major", "-k", "lrn")
    assert major.ret == 0
    major.stdout.fnmatch_lines(["*1 deviation (0 major, 1 minor)*gate fail-on=major: PASS"])


def test_example_workflow_gates_with_the_plugin():
    import yaml

    root = Path(__file__).resolve().parents[2]
    path = root / "docs" / "examples" / "paper-gate.yml"
    assert not (root / ".github" / "workflows" / "example-gate.yml").exists()  # GitHub would run it here
    flow = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = flow["jobs"]["paper-gate"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    assert '"$ALEXNET_AUDIT"' in script and "download.pytorch.org/whl/cpu" in script
    assert '--paper-target="$target"' in script and "--paper-fail-on=major" in script
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)


def test_this_repository_ci_runs_lint_and_the_test_command():
    import yaml

    root = Path(__file__).resolve().parents[2]
    flow = yaml.safe_load((root / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    script = "\n".join(step.get("run", "") for job in flow["jobs"].values() for step in job["steps"])
    assert "bash .ci/run" in script
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.index("make lint") < ci.index("make test\n") < ci.index("make test-slow")
