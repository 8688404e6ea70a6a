"""The one paper audit of a pytest session: what the options asked for, then (once) the outcome.

`PaperSession` reads the `--paper-*` options when pytest configures, and audits on first use (the
first paper item's setup, or the `paper_audit` fixture) through the single-target client,
`alexnet_audit.isolate.client`, the same path `alexnet-audit audit` takes: a worker process for a
target string, this process for probes a conftest registered or a target object the fixture holds.
Waivers and `--paper-require-explained` travel with the `Request`, so the worker's gate applies
them exactly as for the CLI. Nothing here raises once the audit has started: a problem becomes
`error` (one line) and, for a crash of the audit itself, `trace` (shown once).

Light at import time: pytest, the standard library and `core.errors`; everything else on use.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

from ..core.errors import first_line

FORMATS = ("md", "json")  # what --paper-report writes


class PaperSession:
    """The session's single audit, shared by every paper item, the fixtures and the summary."""

    def __init__(self, config: pytest.Config, ref: str | None = None, spec: Any = None, waivers: Any = None) -> None:
        """Read the options; `ref`, `spec` and `waivers` replace them (the `paper_audit` fixture's)."""
        opt = config.getoption
        self.ref: str = ref if ref is not None else opt("paper_target")
        self.fail_on: str = opt("paper_fail_on")
        self.strict: bool = bool(opt("paper_strict"))
        self.report_dir: Path | None = Path(opt("paper_report")) if opt("paper_report") else None
        self.sarif: Path | None = Path(opt("paper_sarif")) if opt("paper_sarif") else None
        self.require_explained = bool(opt("paper_require_explained"))
        self.spec, self.file_waivers = _spec_and_waivers(config, spec, waivers)
        self.waiver_file: str | None = opt("paper_waivers")
        self.spec_path: Path | None = Path(spec.path).resolve() if spec is not None else \
            (Path(config.invocation_params.dir) / opt("paper_spec")).resolve() if opt("paper_spec") else None
        self.timeout: float = float(opt("paper_timeout"))
        self.base = Path(config.invocation_params.dir)
        self.outcome: Any = None  # client.Outcome of the audit
        self.data: dict[str, Any] | None = None  # the report in its JSON form, for --paper-report
        self.ran = False
        self.name: str = self.ref
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
            self.data, self.report, self.gate = outcome.data, with_locations(outcome.report(), outcome.data), \
                outcome.gate
            self.name = str(self.report.target.get("name") or self.name)
            return
        self.error = f"paper target '{self.ref}' could not be audited: {outcome.cause.splitlines()[0]}"
        if outcome.stage not in ("spec", "load"):
            self.data = outcome.data  # the error report; nothing was measured for spec and load problems

    def write_reports(self) -> None:
        """--paper-report (markdown and JSON), --paper-sarif and, under GitHub Actions, the job
        summary; a failure is kept as one line."""
        if self.data is None or self.outcome is None:
            return
        try:
            from ..core.files import check_out_dir, write_atomic
            from ..report import sarif_dumps, to_sarif
            from ..report.annotate import append_step_summary, in_github_actions, step_summary

            if self.report_dir is not None:
                out = check_out_dir(self.report_dir, [self.outcome.stem], FORMATS)
                self.written = self.outcome.write(out, FORMATS)
            if self.sarif is not None:
                path = self.sarif if self.sarif.is_absolute() else self.base / self.sarif
                path.parent.mkdir(parents=True, exist_ok=True)
                self.written.append(write_atomic(path, sarif_dumps(to_sarif(self.data, self.spec))))
            if in_github_actions() and self.error is None:
                summary = append_step_summary(step_summary(self.data))
                if summary is not None:
                    self.written.append(summary)
        except Exception as exc:
            self.write_error = first_line(exc)

    def header(self) -> str:
        """The line pytest prints under its own header: target, spec, gate options."""
        waivers = f", waivers={self.waiver_file}" if self.waiver_file else ""
        return (f"paper audit: target={self.ref}, spec {self.spec.version} ({len(self.spec.items)} items), "
                f"fail-on={self.fail_on}{' strict' if self.strict else ''}{waivers}")

    def summary(self) -> list[str]:
        """The lines of the terminal summary's `paper audit` section."""
        if not self.ran:
            lines = [f"paper audit: no paper test ran for '{self.ref}'."]
        elif self.error is not None:
            lines = [self.error.splitlines()[0]]
        else:
            from ..report.annotate import compiler_lines, github_annotations, in_github_actions

            shown = compiler_lines(self.data or {})
            if in_github_actions():
                shown += github_annotations(self.data or {})
            lines = [self.gate.summary_line(self.name), *shown, *(f"wrote {path}" for path in self.written)]
        if self.write_error:
            where = self.report_dir or self.sarif
            lines.append(f"paper audit: reports not written to {where}: {self.write_error}")
        return lines


def with_locations(report: Any, data: dict[str, Any]) -> Any:
    """`report` (rebuilt from the worker's JSON) with each finding's source location from that JSON."""
    from ..core.findings import Location
    from ..report.locations import location_list

    by_id = {f.get("id"): f for f in data.get("findings") or []}
    for f in report.findings:
        f.location = [Location(str(x["path"]), int(x["line"]))
                      for x in location_list((by_id.get(f.id) or {}).get("location"))]
    return report


def _spec_and_waivers(config: pytest.Config, spec: Any, waivers: Any) -> tuple[Any, Any]:
    """The spec and the waivers file of the options (unless given); a problem is a usage error."""
    from ..spec.load import SpecError, load_spec
    from ..spec.waivers import load_waivers

    opt = config.getoption
    try:
        spec = spec if spec is not None else load_spec(opt("paper_spec"))
        if waivers is None:
            waivers = load_waivers(opt("paper_waivers"), spec) if opt("paper_waivers") else {}
    except SpecError as exc:  # WaiverError is a SpecError
        raise pytest.UsageError(f"paper audit: {exc}") from None
    return spec, waivers


def local_probes(spec: Any) -> set[str]:
    """Probe names the spec uses that only this process knows (registered at run time, e.g. by a
    conftest): a worker could not run them, so such an audit runs in this process."""
    from ..probes import static_probe_names

    return {it.probe for it in spec.items} - static_probe_names()


def parse_timeout(text: str) -> float:
    """--paper-timeout: the CLI's --timeout rule (a number of seconds > 0), as a pytest usage error."""
    import argparse

    from ..core.inputs import timeout_arg

    try:
        return timeout_arg(text)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(str(exc).replace("--timeout", "--paper-timeout", 1)) from None


SESSION = pytest.StashKey["PaperSession | None"]()  # config.stash[SESSION]: None without --paper-target


def session_of(config: pytest.Config) -> PaperSession | None:
    """The session's PaperSession (None without --paper-target, or before pytest_configure)."""
    return config.stash.get(SESSION, None)

