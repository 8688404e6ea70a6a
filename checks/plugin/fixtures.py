"""The plugin's fixtures, for a test file of your own (`paper_target` is the one to override):

    # conftest.py                              # test_paper.py
    @pytest.fixture(scope="session")           def test_faithful_to_the_paper(paper_audit):
    def paper_target():                            paper_audit.check()
        return "mypkg.model:alexnet"

`paper_audit` audits `paper_target` once per session through the same `PaperSession.run` as the
collected items: a target string in a worker, like `--paper-target`; an object (a module, a
factory, a plain-dict target) in this process. The plugin module imports these functions, so
pytest registers them with the plugin.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .session import PaperSession, session_of


class PaperAudit:
    """What the `paper_audit` fixture gives: the target's name, the report, the gate and a `check()`."""

    def __init__(self, name: str, spec: Any, report: Any, gate: Any) -> None:
        """Hold the audited target's name, the spec, its Report and its GateResult."""
        self.name, self.spec, self.report, self.gate = name, spec, report, gate

    @property
    def passed(self) -> bool:
        """Whether the gate passed (with --paper-fail-on, the waivers and require-explained)."""
        return bool(self.gate.passed)

    def explain(self) -> str:
        """The gate's summary line, then one indented line per gate message (why it failed)."""
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

    a = session_of(pytestconfig)
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
    from ..target.record import TargetError

    a = session_of(pytestconfig)
    try:
        waivers = _waivers(paper_waivers, paper_spec)
        if isinstance(paper_target, str | Path):
            if a is None or str(paper_target) != a.ref or paper_spec is not a.spec or waivers != a.file_waivers:
                a = PaperSession(pytestconfig, ref=str(paper_target), spec=paper_spec, waivers=waivers)
            a.run(None)
        else:  # an object already lives in this process: audited here, through the same client
            a = PaperSession(pytestconfig, ref=getattr(paper_target, "__name__", "paper_target"), spec=paper_spec,
                             waivers=waivers)
            a.run(None, target=_as_target(paper_target))
    except (SpecError, TargetError) as exc:
        pytest.fail(f"paper target could not be audited: {exc}", pytrace=False)
    if a.error is not None:
        pytest.fail(a.error, pytrace=False)
    return PaperAudit(a.name, paper_spec, a.report, a.gate)


@pytest.fixture(scope="session")
def paper_report(paper_audit: PaperAudit) -> Any:
    """The `alexnet_audit.core.findings.Report` of `paper_target` (findings in spec order)."""
    return paper_audit.report


def _waivers(given: Any, spec: Any) -> Any:
    """The `paper_waivers` fixture's value as Waivers: loaded ones as they are, `{id: reason}` parsed."""
    from ..spec.waivers import Waiver, parse_waivers

    if all(isinstance(w, Waiver) for w in given.values()):
        return given
    return parse_waivers(given, spec, "paper_waivers fixture")


def _as_target(ref: Any) -> Any:
    """A Target from a reference string (resolver), a Target, or any object the target protocol accepts."""
    from ..target.record import Target, from_object

    if isinstance(ref, Target):
        return ref
    if isinstance(ref, str | Path):
        from ..target.resolve import load_target

        return load_target(str(ref))
    return from_object(getattr(ref, "__name__", "paper_target"), ref, "paper_target fixture")
