"""The pytest plugin (alexnet_audit.plugin), driven through pytester in subprocesses so that it loads from
its `pytest11` entry point exactly as in a user's run.

Most runs use a stand-in: a 10-item spec whose probe (`stub`, registered by the run's conftest)
reads a value out of a plain-dict target, so every outcome mapping is reached in one cheap run.
The acceptance runs at the end use the real spec against the reference and a one-defect mutant.
"""
from __future__ import annotations

import importlib
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.fixtures.mutant_sources import MUTANT_K1

TINY_SPEC = """\
format: alexnet-audit/spec
version: "0.0-test"
paper: {title: t, authors: a, venue: v, url: "http://example.invalid"}
items:
"""
# id, severity, probe params, expected, extra yaml
TINY_ITEMS = [
    ("t.pass", "major", "{key: a}", "1", ""),
    ("t.variant", "minor", "{key: b}", "2", "variants: [{name: three, value: 3, why: the paper is ambiguous}]"),
    ("t.skip", "major", "{skip: the target gives no recipe}", "0", ""),
    ("t.deviation", "major", "{key: d}", "4", ""),
    ("t.info", "info", "{key: f}", "6", ""),
    ("t.waived", "minor", "{key: g}", "7", ""),
    ("t.stale", "minor", "{key: h}", "8", ""),
    ("t.expired", "major", "{key: i}", "9", ""),
    ("t.error", "major", "{key: err}", "11", ""),
    ("t.minor", "minor", "{key: j}", "10", ""),
]

STUB_CONFTEST = '''\
"""Stand-in probe for the plugin tests: reads params['key'] out of the plain dict the target builds."""
from alexnet_audit import probes as _probes
from alexnet_audit.core.findings import Observation, Skip


def _stub(ctx, item):
    if "skip" in item.params:
        raise Skip(item.params["skip"])
    values = ctx.cached("stub_values", ctx.target.model)
    return Observation(values[item.params["key"]], where=f"values[{item.params['key']!r}]")


def pytest_configure(config):
    _probes.PROBES["stub"] = _stub


def pytest_unconfigure(config):  # in-process runs share the registry with the outer session
    _probes.PROBES.pop("stub", None)
'''

TINY_TARGET = '''\
"""Plain-dict stand-in targets (the model factory returns the values the stub probe reads)."""
MUTANT = dict(a=1, b=3, d=40, f=60, g=70, h=8, i=90, j=100)  # no 'err': that probe raises KeyError
CLEAN = dict(a=1, b=2, d=4, f=6, g=7, h=8, i=9, j=10, err=11)

mutant = {"model": lambda: dict(MUTANT), "batch_size": 128}
clean = {"model": lambda: dict(CLEAN)}


def broken():
    raise RuntimeError("cannot build: weights file missing")
'''

WAIVERS = """\
t.waived: k=1 kept until the retrain
t.stale: {reason: fixed upstream, until: 2999-01-01}
t.expired: {reason: temporary, until: 2000-01-01}
"""

EXPECTED = {  # outcome of each item for tiny_target.py:mutant with WAIVERS, default fail-on=minor
    "t.pass": "passed", "t.variant": "passed", "t.skip": "skipped", "t.deviation": "failed", "t.info": "passed",
    "t.waived": "xfailed", "t.stale": "failed", "t.expired": "failed", "t.error": "error", "t.minor": "failed",
}


def _spec_text() -> str:
    out = [TINY_SPEC]
    for item_id, sev, params, expected, extra in TINY_ITEMS:
        out.append(f"  - id: {item_id}\n    group: architecture\n    claim: \"{item_id} claim\"\n"
                   f"    section: \"§{item_id}\"\n    severity: {sev}\n    probe: stub\n    params: {params}\n"
                   f"    expected: {expected}\n    fix: \"fix {item_id} like this\"\n")
        if extra:
            out.append(f"    {extra}\n")
    return "".join(out)


@pytest.fixture(scope="session")
def preloaded() -> None:
    """Import once, before any pytester snapshot of sys.modules, what in-process runs would import.

    Pytester drops the modules a run imported when it ends; torch, torchvision and the probe
    modules must not be imported twice in one process (native registrations, `@probe` names).
    """
    import alexnet_audit.target.record

    alexnet_audit.target.record._is_module(None)  # torch.nn
    mods = ["torchvision", "alexnet_ref", "alexnet_audit.target.resolve", "alexnet_audit.audit.verify", "alexnet_audit.probes.layers",
            "alexnet_audit.trace", "alexnet_audit.report"]
    from alexnet_audit import probes

    for mod in mods + [f"alexnet_audit.probes.{m}" for m in probes._MODULES]:
        importlib.import_module(mod)


@pytest.fixture
def tiny(preloaded: None, pytester: pytest.Pytester) -> pytest.Pytester:
    """A directory with no test file: the stand-in spec, targets, waivers and the stub conftest."""
    pytester.makefile(".yaml", tiny_spec=_spec_text(), waivers=WAIVERS)
    pytester.makepyfile(tiny_target=TINY_TARGET, conftest=STUB_CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In-process (fast: torch is imported once); see `run_sub` for the user's real path."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def run_sub(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A fresh interpreter: the plugin loads from its entry point, nothing is imported beforehand."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def tiny_args(target: str = "mutant", *extra: str) -> list[str]:
    return [f"--paper-target=tiny_target.py:{target}", "--paper-spec=tiny_spec.yaml", *extra]


def junit(path: Path) -> dict[str, dict]:
    """name -> {'outcome': ..., 'text': ..., 'props': {...}, 'classname': ...} from a junit xml file."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, text = ("failed" if child.tag == "failure" else "error"), (child.text or "")
            elif child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                text = child.get("message") or ""
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        out[case.get("name")] = {"outcome": outcome, "text": text, "props": props, "classname": case.get("classname")}
    return out


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

def test_k_selects_by_id_severity_and_audits_only_those(tiny):
    result = run(tiny, *tiny_args("mutant", "-k", "t.pass or t.deviation", "-v"))
    result.assert_outcomes(passed=1, failed=1, deselected=8)
    result.stdout.fnmatch_lines(["paper_audit::t.pass PASSED*", "paper_audit::t.deviation FAILED*",
                                 "*1 deviation (1 major, 0 minor), 0 variants, 0 skipped, 0 errors*"])
    result = run(tiny, *tiny_args("mutant", "-k", "info", "--co", "-q"))
    result.stdout.fnmatch_lines(["paper_audit::t.info", "*1/10 tests collected (9 deselected)*"])


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
            heavy = [m for m in ("torch", "alexnet_audit.audit.verify", "alexnet_audit.probes", "alexnet_audit.target.resolve",
                                 "alexnet_audit.report")
                     if m in sys.modules]
            assert heavy == []
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
