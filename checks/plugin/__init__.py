"""pytest plugin (entry point `pytest11: paper_audit`): audit an AlexNet implementation with pytest.

    pytest --paper-target path/to/model.py:build [--paper-fail-on major|minor|never]
           [--paper-waivers waivers.yaml] [--paper-strict] [--paper-report DIR] [--paper-spec SPEC]
           [--paper-require-explained] [--paper-timeout SECONDS] [--paper-sarif FILE]

With `--paper-target`, pytest collects one test per spec item, named by the item id
(`paper_audit::lrn.k`), in any directory and with no test file: the plugin appends a collector to
the session's top-level collection report, so `-k` (ids, severities, groups), `--co`, `--junitxml`
and `-x` see ordinary items. The audit runs once, on the first paper test, and every item reads
its finding from it; `items.py` lists how verdicts become pytest outcomes.

This module holds only the hooks, each a few lines over the parts in their own modules:

    session.py   PaperSession: the options, the one audit (through `isolate.client`), the reports
    items.py     PaperCollector, PaperItem, ExplainedItem, PaperProblem and the failure text
    fixtures.py  paper_target, paper_spec, paper_waivers, paper_audit (PaperAudit), paper_report

Without `--paper-target` the plugin only registers its options and fixtures. It imports nothing
but pytest and the standard library at load time; torch and the probes load when the first paper
test runs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .fixtures import PaperAudit, paper_audit, paper_report, paper_spec, paper_target, paper_waivers
from .items import COLLECTOR_NAME, PaperCollector, PaperItem, PaperProblem
from .session import SESSION, PaperSession, parse_timeout, session_of

__all__ = ["PaperAudit", "PaperSession", "paper_audit", "paper_report", "paper_spec", "paper_target",
           "paper_waivers"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the `--paper-*` options (group "paper-audit")."""
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
    g.addoption("--paper-sarif", metavar="FILE", default=None,
                help="write the audit as SARIF 2.1.0 to FILE at session end (for code scanning).")
    g.addoption("--paper-require-explained", action="store_true", default=False,
                help="add the test paper_audit::explained, which fails unless the measurements rebuild the model.")
    g.addoption("--paper-timeout", metavar="SECONDS", type=parse_timeout, default=600.0,
                help="seconds the audit may take (default 600); the target runs in its own process.")


def pytest_configure(config: pytest.Config) -> None:
    """Read the options into the session's PaperSession (a bad spec or waivers file is a usage error)."""
    config.stash[SESSION] = PaperSession(config) if config.getoption("paper_target") else None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """One header line naming the target, the spec and the gate options."""
    a = session_of(config)
    return None if a is None else [a.header()]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """Add the paper collector next to whatever the session collected (possibly nothing)."""
    rep = yield
    if isinstance(collector, pytest.Session) and session_of(collector.config) is not None and rep.passed:
        config = collector.config
        here = config.invocation_params.dir
        # Node ids are relative to the rootdir; place the items in the directory pytest ran from, so
        # they show as `paper_audit::lrn.k` there even when the rootdir is an ancestor.
        rel = Path(os.path.relpath(here, config.rootpath)).as_posix()
        nodeid = COLLECTOR_NAME if rel == "." else f"{rel}/{COLLECTOR_NAME}"
        rep.result.append(PaperCollector.from_parent(collector, name=COLLECTOR_NAME, nodeid=nodeid, path=here))
    return rep


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """--paper-report, --paper-sarif and, under GitHub Actions, the job summary: written once the
    audit ran."""
    a = session_of(session.config)
    if a is not None and a.ran:
        a.write_reports()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The `paper audit` section: the gate's summary line (or why there is none), a compiler-style
    line per deviation and error the gate weighs (and, under GitHub Actions, its annotation) and the
    files written."""
    a = session_of(config)
    if a is None or (config.option.collectonly and not a.ran):
        return
    terminalreporter.write_sep("-", "paper audit")
    for line in a.summary():
        terminalreporter.write_line(line)
