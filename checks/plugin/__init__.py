"""pytest plugin (entry point `pytest11: paper_audit`): audit an AlexNet implementation with pytest.

    pytest --paper-target path/to/model.py:build [--paper-fail-on major|minor|never]
           [--paper-waivers waivers.yaml] [--paper-strict] [--paper-report DIR] [--paper-spec SPEC]

With `--paper-target`, pytest collects one test per spec item, named by the item id
(`paper_audit::lrn.k`), in any directory and with no test file: the plugin appends a collector to
the session's top-level collection report, so `-k`, `--co`, `--junitxml` and `-x` see ordinary
items. The audit (resolve the target, run every selected probe) runs once, on the first paper
test, and every item reads its finding from it. Outcomes follow `checks.gate.evaluate`:

    pass, accepted variant, tolerated deviation -> passed (variant / note in the test's report)
    variant with --paper-strict                 -> failed
    skip                                        -> skipped with the reason
    deviation at or above --paper-fail-on       -> failed: claim, section, expected, observed, fix
    waived deviation                            -> xfailed with the waiver's reason
    stale or expired waiver                     -> failed
    error (probe or target failed)              -> error (setup), one line

Without `--paper-target` the plugin only registers its options and fixtures. This module imports
nothing but pytest and the standard library at load time; torch and the probes load when the
first paper test runs.

Fixtures for a test file of your own (`paper_target` is the one to override):

    # conftest.py                              # test_paper.py
    @pytest.fixture(scope="session")           def test_faithful_to_the_paper(paper_audit):
    def paper_target():                            paper_audit.check()
        return "mypkg.model:alexnet"
"""
from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

import pytest

from ..core.errors import first_line

COLLECTOR_NAME = "paper_audit"
EXPLAINED = "explained"  # the extra test of --paper-require-explained
FORMATS = ("md", "json")


# ----------------------------------------------------------------------------------- options ---


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("paper-audit", "AlexNet paper audit (alexnet-audit)")
    g.addoption("--paper-target", metavar="TARGET", default=None,
                help="audit TARGET (registered name, module:attr, path/file.py:attr or manifest.yaml): "
                     "one test per spec item, named by the item id.")
    g.addoption("--paper-spec", metavar="SPEC", default=None,
                help="spec file (default: the packaged paper_spec.yaml).")
    g.addoption("--paper-waivers", metavar="FILE", default=None,
                help="YAML mapping id: reason or id: {reason: ..., until: YYYY-MM-DD}.")
    g.addoption("--paper-fail-on", choices=("major", "minor", "never"), default="minor",
                help="lowest severity whose deviations fail (default: minor; info items never fail).")
    g.addoption("--paper-strict", action="store_true", default=False,
                help="accepted variants fail too.")
    g.addoption("--paper-report", metavar="DIR", default=None,
                help="write the markdown and JSON reports of the audit to DIR at session end.")
    g.addoption("--paper-require-explained", action="store_true", default=False,
                help="add the test paper_audit::explained, which fails unless the measurements rebuild the model.")
    g.addoption("--paper-timeout", metavar="SECONDS", type=_seconds, default=600.0,
                help="seconds the audit may take (default 600); the target runs in its own process.")


def _seconds(text: str) -> float:
    """--paper-timeout: the CLI's --timeout rule (a number of seconds > 0), as a pytest usage error."""
    import argparse

    from ..core.inputs import timeout_arg

    try:
        return timeout_arg(text)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(str(exc).replace("--timeout", "--paper-timeout", 1)) from None


# ------------------------------------------------------------------------------ shared audit ---


class PaperProblem(Exception):
    """A paper test's failure; str() is the whole text shown, with no Python traceback."""


class _Audit:
    """The one audit of a pytest session: configuration, then (lazily) target, report and gate."""

    def __init__(self, config: pytest.Config, ref: str | None = None, spec: Any = None, waivers: Any = None) -> None:
        from ..spec.load import SpecError, load_spec
        from ..spec.waivers import load_waivers

        opt = config.getoption
        self.ref: str = ref if ref is not None else opt("paper_target")
        self.fail_on: str = opt("paper_fail_on")
        self.strict: bool = bool(opt("paper_strict"))
        self.report_dir: Path | None = Path(opt("paper_report")) if opt("paper_report") else None
        self.require_explained = bool(opt("paper_require_explained"))
        try:
            self.spec = spec if spec is not None else load_spec(opt("paper_spec"))
            self.file_waivers = waivers if waivers is not None else \
                load_waivers(opt("paper_waivers"), self.spec) if opt("paper_waivers") else {}
        except SpecError as exc:  # WaiverError is a SpecError
            raise pytest.UsageError(f"paper audit: {exc}") from None
        self.waiver_file: str | None = opt("paper_waivers")
        self.spec_path: Path | None = Path(spec.path).resolve() if spec is not None else \
            (Path(config.invocation_params.dir) / opt("paper_spec")).resolve() if opt("paper_spec") else None
        self.timeout: float = float(opt("paper_timeout"))
        self.base = Path(config.invocation_params.dir)
        self.outcome: Any = None  # client.Outcome of the audit
        self.data: dict[str, Any] | None = None  # the report in its JSON form, for --paper-report
        self.result: Any = None
        self.ran = False
        self.name: str = self.ref
        self.target: Any = None
        self.report: Any = None
        self.gate: Any = None
        self.error: str | None = None  # one line: why no finding could be produced
        self.trace: str | None = None  # traceback of an unexpected crash, shown once
        self.written: list[Path] = []
        self.write_error: str | None = None

    def run(self, ids: list[str] | None, target: Any = None) -> None:
        """Audit through the single-target client (in a worker, or here for a conftest's probes or
        a target object); never raises."""
        if self.ran:
            return
        self.ran = True
        from ..isolate import client
        from ..probes import check_probe_names
        from ..spec.load import SpecError
        from ..target.refs import default_name

        try:  # here, not at configure: conftests may register probes in their pytest_configure
            check_probe_names(self.spec)
        except SpecError as exc:
            self.error = f"paper audit: {exc}"
            return
        self.name = default_name(self.ref) if target is None else target.name
        req = client.Request(ref=self.ref, name=self.name, spec=self.spec, spec_path=self.spec_path,
                             fail_on=self.fail_on, strict=self.strict, require_explained=self.require_explained,
                             waivers=self.file_waivers, only=ids, timeout=self.timeout, base=self.base)
        try:
            here = target is not None or bool(local_probes(self.spec))
            self.outcome = outcome = client.run_here(req, target) if here else client.run(req)
        except Exception as exc:  # a crash of the audit itself: one line per test, the traceback once
            self.error = f"the audit of '{self.ref}' crashed: {first_line(exc)}"
            self.trace = traceback.format_exc()
            return
        if outcome.ok and outcome.gate is not None:
            self.data, self.report, self.gate = outcome.data, outcome.report(), outcome.gate
            self.name = str(self.report.target.get("name") or self.name)
            return
        self.error = f"paper target '{self.ref}' could not be audited: {outcome.cause.splitlines()[0]}"
        if outcome.stage not in ("spec", "load"):
            self.data = outcome.data  # the error report; nothing was measured for spec and load problems

    def write_reports(self) -> None:
        if self.report_dir is None or self.data is None or self.outcome is None:
            return
        try:
            from ..core.files import check_out_dir

            out = check_out_dir(self.report_dir, [self.outcome.stem], FORMATS)
            self.written = self.outcome.write(out, FORMATS)
        except Exception as exc:
            self.write_error = first_line(exc)


def local_probes(spec: Any) -> set[str]:
    """Probe names the spec uses that only this process knows (registered at run time, e.g. by a
    conftest): a worker could not run them, so such an audit runs in this process."""
    from ..probes import static_probe_names

    return {it.probe for it in spec.items} - static_probe_names()


_AUDIT = pytest.StashKey["_Audit | None"]()


def _load_target(ref: Any) -> Any:
    """A Target from a reference string (resolver), a Target, or any object the target protocol accepts."""
    from ..target.record import Target, from_object

    if isinstance(ref, Target):
        return ref
    if isinstance(ref, str | Path):
        from ..target.resolve import load_target

        return load_target(str(ref))
    return from_object(getattr(ref, "__name__", "paper_target"), ref, "paper_target fixture")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_AUDIT] = _Audit(config) if config.getoption("paper_target") else None


def _audit(config: pytest.Config) -> _Audit | None:
    return config.stash.get(_AUDIT, None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    a = _audit(config)
    if a is None:
        return None
    waivers = f", waivers={a.waiver_file}" if a.waiver_file else ""
    return [f"paper audit: target={a.ref}, spec {a.spec.version} ({len(a.spec.items)} items), "
            f"fail-on={a.fail_on}{' strict' if a.strict else ''}{waivers}"]


# -------------------------------------------------------------------------------- collection ---


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """Add the paper collector next to whatever the session collected (possibly nothing)."""
    rep = yield
    if isinstance(collector, pytest.Session) and _audit(collector.config) is not None and rep.passed:
        config = collector.config
        here = config.invocation_params.dir
        # Node ids are relative to the rootdir; place the items in the directory pytest ran from, so
        # they show as `paper_audit::lrn.k` there even when the rootdir is an ancestor.
        rel = Path(os.path.relpath(here, config.rootpath)).as_posix()
        nodeid = COLLECTOR_NAME if rel == "." else f"{rel}/{COLLECTOR_NAME}"
        rep.result.append(PaperCollector.from_parent(collector, name=COLLECTOR_NAME, nodeid=nodeid, path=here))
    return rep


class PaperCollector(pytest.Collector):
    """One PaperItem per spec item, in spec order."""

    def collect(self) -> list[pytest.Item]:
        a = _audit(self.config)
        assert a is not None
        items: list[pytest.Item] = [PaperItem.from_parent(self, name=it.id, spec_item=it) for it in a.spec.items]
        if self.config.getoption("paper_require_explained"):
            items.append(ExplainedItem.from_parent(self, name=EXPLAINED))
        return items

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, COLLECTOR_NAME


class PaperItem(pytest.Item):
    """One spec item of the audit; its outcome is the gate's verdict on its finding."""

    def __init__(self, *, spec_item: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec_item = spec_item
        # `-k major`, `-k normalisation` select by severity or group as well as by id.
        self.extra_keyword_matches.update({spec_item.severity.value, spec_item.group})

    def reportinfo(self) -> tuple[Any, int | None, str]:
        # The failure headline. Not a suffix of the node id, so `-v` shows the id as it is
        # (pytest turns the dots of a suffix domain into '::', as for Python test classes).
        return self.path, None, f"{self.name} [{self.spec_item.severity.value}]"

    def setup(self) -> None:
        a = _audit(self.config)
        assert a is not None
        if not a.ran:
            ids = [i.name for i in self.session.items if isinstance(i, PaperItem)]
            a.run(ids or None)
        if a.error is not None:
            text, a.trace = (a.error + ("\n\n" + a.trace if a.trace else "")), None
            raise PaperProblem(text)
        verdict = a.gate.verdicts.get(self.name)
        if verdict is not None and verdict.verdict == "error":
            raise PaperProblem(_describe(self.spec_item, a.report.by_id()[self.name], verdict.note))

    def runtest(self) -> None:
        from ..gate import evaluate as g

        a = _audit(self.config)
        assert a is not None and a.report is not None
        finding = a.report.by_id().get(self.name)
        if finding is None:  # not audited (cannot happen for a selected item)
            pytest.skip(f"{self.name} was not audited in this run")
        v = a.gate.verdicts[self.name]
        self.user_properties.append(("paper_status", finding.status.value))
        self.user_properties.append(("paper_severity", finding.severity.value))
        if finding.variant:
            self.user_properties.append(("paper_variant", finding.variant))
            self.add_report_section("call", "paper audit", finding.message)
        if v.verdict in (g.PASS, g.VARIANT):
            return
        if v.verdict == g.SKIP:
            pytest.skip(finding.message)
        if v.verdict in (g.TOLERATED, g.ERROR_TOLERATED):
            self.user_properties.append(("paper_note", v.note))
            self.add_report_section("call", "paper audit", _describe(self.spec_item, finding, v.note))
            return
        if v.verdict == g.WAIVED:
            pytest.xfail(f"{self.name} {v.note}")
        raise PaperProblem(_describe(self.spec_item, finding, v.note))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, PaperProblem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class ExplainedItem(pytest.Item):
    """`--paper-require-explained`: passes when the network rebuilt from the measurements alone
    reproduces the target's outputs (the report's `summary.explained.ok`)."""

    def setup(self) -> None:
        a = _audit(self.config)
        assert a is not None
        if not a.ran:
            a.run([i.name for i in self.session.items if isinstance(i, PaperItem)] or None)
        if a.error is not None:
            raise PaperProblem(a.error.splitlines()[0])

    def runtest(self) -> None:
        a = _audit(self.config)
        assert a is not None and a.outcome is not None
        reason = a.outcome.unexplained  # the worker's gate decided it (the report says so too)
        if reason:
            raise PaperProblem(reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, PaperProblem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{EXPLAINED} [the audit explains the model]"


def _describe(item: Any, finding: Any, headline: str) -> str:
    """The failure text: headline, then the claim, section, expected, observed and the fix hint."""
    from ..judge.verdict import _show

    lines = [headline, "",
             f"  claim:    {item.claim}",
             f"  section:  {item.section}  [{item.severity.value}]",
             f"  expected: {_show(item.expected)}"]
    if finding.status.value != "error":
        lines.append(f"  observed: {_show(finding.observed)}")
    if finding.where:
        lines.append(f"  where:    {finding.where}")
    if finding.evidence:
        lines.append(f"  evidence: {finding.evidence}")
    if finding.status.value in ("deviation", "variant") and item.fix:
        lines.append(f"  fix:      {item.fix}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Setup errors of paper items show their text too, and skips name the item, not this plugin."""
    rep = yield
    if isinstance(item, PaperItem) and call.excinfo is not None:
        if isinstance(call.excinfo.value, PaperProblem):
            rep.longrepr = str(call.excinfo.value)
        elif rep.skipped and isinstance(rep.longrepr, tuple) and not hasattr(rep, "wasxfail"):
            rep.longrepr = (item.nodeid, None, rep.longrepr[2])  # the item, not a line of this plugin
    return rep


# --------------------------------------------------------------------------- session end ---


def pytest_sessionfinish(session: pytest.Session) -> None:
    a = _audit(session.config)
    if a is not None and a.ran:
        a.write_reports()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    a = _audit(config)
    if a is None or (config.option.collectonly and not a.ran):
        return
    tr = terminalreporter
    tr.write_sep("-", "paper audit")
    if not a.ran:
        tr.write_line(f"paper audit: no paper test ran for '{a.ref}'.")
    elif a.error is not None:
        tr.write_line(a.error.splitlines()[0])
    else:
        tr.write_line(a.gate.summary_line(a.name))
        for path in a.written:
            tr.write_line(f"wrote {path}")
    if a.write_error:
        tr.write_line(f"paper audit: reports not written to {a.report_dir}: {a.write_error}")


# ------------------------------------------------------------------------------- fixtures ---


class PaperAudit:
    """What the `paper_audit` fixture gives: the target's name, the report, the gate and a `check()`."""

    def __init__(self, name: str, spec: Any, report: Any, gate: Any) -> None:
        self.name, self.spec, self.report, self.gate = name, spec, report, gate

    @property
    def passed(self) -> bool:
        return bool(self.gate.passed)

    def explain(self) -> str:
        lines = [self.gate.summary_line(self.name)]
        lines += [f"  {m}" for m in self.gate.messages]
        return "\n".join(lines)

    def check(self) -> None:
        """Fail the calling test (no traceback) when the gate fails, listing every failing item."""
        if not self.passed:
            pytest.fail(self.explain(), pytrace=False)


@pytest.fixture(scope="session")
def paper_target(pytestconfig: pytest.Config) -> Any:
    """The target to audit: --paper-target by default. Override it (session scope) to return a
    target string, an nn.Module, a model factory or a plain-dict target."""
    ref = pytestconfig.getoption("paper_target")
    if ref is None:
        pytest.skip("no paper target: pass --paper-target or override the paper_target fixture")
    return ref


@pytest.fixture(scope="session")
def paper_spec(pytestconfig: pytest.Config) -> Any:
    """The spec (--paper-spec or the packaged one)."""
    from ..spec.load import SpecError, load_spec

    a = _audit(pytestconfig)
    if a is not None:
        return a.spec
    try:
        return load_spec(pytestconfig.getoption("paper_spec"))
    except SpecError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def paper_waivers(pytestconfig: pytest.Config, paper_spec: Any) -> Any:
    """Waivers from --paper-waivers (id -> Waiver). Override to return `{id: reason}` instead."""
    from ..spec.waivers import WaiverError, load_waivers

    path = pytestconfig.getoption("paper_waivers")
    try:
        return load_waivers(path, paper_spec) if path else {}
    except WaiverError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def paper_audit(pytestconfig: pytest.Config, paper_target: Any, paper_spec: Any, paper_waivers: Any) -> PaperAudit:
    """The audit of `paper_target` (run once per session) with the gate of --paper-fail-on.

    A target given as a string is audited in an isolated worker, like `--paper-target`; an object
    (a module, a factory, a dict) already lives in this process and is audited here.
    """
    from ..spec.load import SpecError
    from ..spec.waivers import Waiver, parse_waivers
    from ..target.record import TargetError

    a = _audit(pytestconfig)
    try:
        waivers = paper_waivers if all(isinstance(w, Waiver) for w in paper_waivers.values()) else \
            parse_waivers(paper_waivers, paper_spec, "paper_waivers fixture")
        if isinstance(paper_target, str | Path):
            if a is None or str(paper_target) != a.ref or paper_spec is not a.spec or waivers != a.file_waivers:
                a = _Audit(pytestconfig, ref=str(paper_target), spec=paper_spec, waivers=waivers)
            a.run(None)
        else:  # an object already lives in this process: audited here, through the same client
            a = _Audit(pytestconfig, ref=getattr(paper_target, "__name__", "paper_target"), spec=paper_spec,
                       waivers=waivers)
            a.run(None, target=_load_target(paper_target))
    except (SpecError, TargetError) as exc:
        pytest.fail(f"paper target could not be audited: {exc}", pytrace=False)
    if a.error is not None:
        pytest.fail(a.error, pytrace=False)
    return PaperAudit(a.name, paper_spec, a.report, a.gate)


@pytest.fixture(scope="session")
def paper_report(paper_audit: PaperAudit) -> Any:
    """The `checks.core.findings.Report` of `paper_target` (findings in spec order)."""
    return paper_audit.report
