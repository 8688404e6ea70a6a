"""The collected side of `--paper-target`: one pytest item per spec item, under one collector.

`PaperCollector` (node id `paper_audit`, in the directory pytest ran from) yields a `PaperItem`
per spec item, named by the item id, and with `--paper-require-explained` the `ExplainedItem`
`paper_audit::explained`. The first item's setup runs the session's audit, for the items pytest
selected only; every item then maps the gate's verdict on its finding to a pytest outcome:

    pass, accepted variant, tolerated deviation -> passed (variant / note in the test's report)
    variant with --paper-strict                 -> failed
    skip                                        -> skipped with the reason
    deviation at or above --paper-fail-on       -> failed: claim, section, expected, observed, fix
    waived deviation                            -> xfailed with the waiver's reason
    stale or expired waiver                     -> failed
    error (probe or target failed)              -> error (setup), one line

A failure is a `PaperProblem`, whose text (`describe`) is shown as it is, without a traceback.
"""
from __future__ import annotations

from typing import Any

import pytest

from .session import PaperSession, session_of

COLLECTOR_NAME = "paper_audit"
EXPLAINED = "explained"  # the extra test of --paper-require-explained


class PaperProblem(Exception):
    """A paper test's failure; str() is the whole text shown, with no Python traceback."""


def audited(node: pytest.Item) -> PaperSession:
    """The session's PaperSession, audited (once, on the first paper item) for the selected items."""
    a = session_of(node.config)
    assert a is not None
    if not a.ran:
        a.run([i.name for i in node.session.items if isinstance(i, PaperItem)] or None)
    return a


class PaperCollector(pytest.Collector):
    """One PaperItem per spec item, in spec order (and the ExplainedItem when it is required)."""

    def collect(self) -> list[pytest.Item]:
        """The items, named by the spec item ids so that `-k`, `--co` and junit show the ids."""
        a = session_of(self.config)
        assert a is not None
        items: list[pytest.Item] = [PaperItem.from_parent(self, name=it.id, spec_item=it) for it in a.spec.items]
        if a.require_explained:
            items.append(ExplainedItem.from_parent(self, name=EXPLAINED))
        return items

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where pytest says the collector is: the directory pytest ran from."""
        return self.path, None, COLLECTOR_NAME


class _ProblemText(pytest.Item):
    """Shared by the paper items: a PaperProblem shows as its text, never as a traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """The PaperProblem's text as it is; anything else as pytest would show it."""
        if isinstance(excinfo.value, PaperProblem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class PaperItem(_ProblemText):
    """One spec item of the audit; its outcome is the gate's verdict on its finding."""

    def __init__(self, *, spec_item: Any, **kw: Any) -> None:
        """Keep the spec item; its severity and group are keywords too (`-k major`, `-k normalisation`)."""
        super().__init__(**kw)
        self.spec_item = spec_item
        # `-k major`, `-k normalisation` select by severity or group as well as by id.
        self.extra_keyword_matches.update({spec_item.severity.value, spec_item.group})

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """The failure headline: the id and the severity."""
        # Not a suffix of the node id, so `-v` shows the id as it is
        # (pytest turns the dots of a suffix domain into '::', as for Python test classes).
        return self.path, None, f"{self.name} [{self.spec_item.severity.value}]"

    def setup(self) -> None:
        """Run the audit if no item has yet; an error verdict is an error of this test's setup."""
        a = audited(self)
        if a.error is not None:
            text, a.trace = (a.error + ("\n\n" + a.trace if a.trace else "")), None
            raise PaperProblem(text)
        verdict = a.gate.verdicts.get(self.name)
        if verdict is not None and verdict.verdict == "error":
            raise PaperProblem(describe(self.spec_item, a.report.by_id()[self.name], verdict.note))

    def runtest(self) -> None:
        """Map the gate's verdict on this item to passed, skipped, xfailed or failed."""
        from ..gate import evaluate as g

        a = session_of(self.config)
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
            self.add_report_section("call", "paper audit", describe(self.spec_item, finding, v.note))
            return
        if v.verdict == g.WAIVED:
            pytest.xfail(f"{self.name} {v.note}")
        raise PaperProblem(describe(self.spec_item, finding, v.note))


class ExplainedItem(_ProblemText):
    """`--paper-require-explained`: passes when the network rebuilt from the measurements alone
    reproduces the target's outputs (the report's `summary.explained.ok`)."""

    def setup(self) -> None:
        """Run the audit if no item has yet; an audit that could not run is one line here."""
        a = audited(self)
        if a.error is not None:
            raise PaperProblem(a.error.splitlines()[0])

    def runtest(self) -> None:
        """Fail with the worker's one-line reason when its gate found the model unexplained."""
        a = session_of(self.config)
        assert a is not None and a.outcome is not None
        reason = a.outcome.unexplained  # the worker's gate decided it (the report says so too)
        if reason:
            raise PaperProblem(reason)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """The failure headline: what this test requires."""
        return self.path, None, f"{EXPLAINED} [the audit explains the model]"


def describe(item: Any, finding: Any, headline: str) -> str:
    """The failure text: headline, then the claim, section, expected, observed and the fix hint."""
    from ..judge.verdict import show_value

    lines = [headline, "",
             f"  claim:    {item.claim}",
             f"  section:  {item.section}  [{item.severity.value}]"]
    locations = [str(loc) for loc in getattr(finding, "location", None) or []]
    if locations:  # path:line, as editors and terminals open it
        lines.append(f"  location: {', '.join(locations)}")
    lines.append(f"  expected: {show_value(item.expected)}")
    if finding.status.value != "error":
        lines.append(f"  observed: {show_value(finding.observed)}")
    if finding.where:
        lines.append(f"  where:    {finding.where}")
    if finding.evidence:
        lines.append(f"  evidence: {finding.evidence}")
    if finding.status.value in ("deviation", "variant") and item.fix:
        lines.append(f"  fix:      {item.fix}")
    return "\n".join(lines)
