"""The single-target client: one target's audit in a worker, returned as a finished `Outcome`.

Every front end (`audit`, `compare`, `capture`, the pytest plugin's items and fixture) calls
`run` and then only prints and writes what comes back: the report data (an error report when the
target could not be audited), the gate, the summary line, the run notes and the target's log are
decided here and in the worker's gate, never patched afterwards. Waivers and
`--require-explained` travel to the worker with the `Request`, so they are applied once, by the
same `evaluate_gate` call, whichever front end asked.

`run` never raises for what the target does (import errors, crashes, hangs, memory): that becomes
an `Outcome` with `ok=False` and a cause. A spec or load problem the user must fix keeps its
`stage` ("spec", "load"), which the CLI turns into exit 2.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.inputs import parse_memory_limit
from . import sandbox

if TYPE_CHECKING:
    from ..gate.evaluate import GateResult
    from ..spec.load import Spec
    from ..spec.waivers import Waiver

WORKER = f"{__package__}.worker"


@dataclass(frozen=True)
class Request:
    """What to audit and how to gate it; the same fields for every front end."""

    ref: str
    name: str
    spec: Spec
    spec_path: Path | None = None  # None: the packaged spec
    fail_on: str = "minor"
    strict: bool = False
    require_explained: bool = False
    waivers: Mapping[str, Waiver] | None = None  # a waivers file's or fixture's: they win over the target's own
    only: Sequence[str] | None = None  # item ids (pytest -k); None: every item
    timeout: float = 120.0
    base: Path = field(default_factory=Path.cwd)  # where the user ran us: relative refs and report paths
    stem: str = ""  # the reports' file stem ("": the lone target's, `refs.report_stem(name)`)
    notes: tuple[str, ...] = ()  # run notes the front end adds (audit --train: why no recipe was captured)

    @property
    def file_stem(self) -> str:
        from ..target.refs import report_stem

        return self.stem or report_stem(self.name)


@dataclass
class Outcome:
    """One finished audit. `data` is always a whole report (JSON form), ready to write."""

    ref: str
    name: str
    ok: bool = False
    passed: bool = False
    cause: str = ""
    stage: str = ""  # where a failed audit stopped: spec, load, model, audit ("" for the process itself)
    detail: str = ""  # the full text of a load error (a manifest can list several problems)
    summary: str = ""
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    gate: GateResult | None = None
    target_waivers: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    output_lines: tuple[int, int] = (0, 0)  # lines the target wrote to stdout, stderr
    log: str = ""  # that output, for <stem>.log
    threads: list[str] = field(default_factory=list)  # threads the target left running
    notes: list[str] = field(default_factory=list)  # run notes, already in data["run_notes"]
    contained: list[str] = field(default_factory=list)  # what the target tried that the sandbox stopped
    inferred: dict[str, Any] | None = None  # the manifest a folder or notebook target was read as
    withheld: list[str] = field(default_factory=list)  # environment variables kept from the target (names)
    paths: list[str] = field(default_factory=list)

    @property
    def unexplained(self) -> str | None:
        """The one-line reason --require-explained failed, or None."""
        if self.gate is None or not self.gate.unexplained_fails:
            return None
        return next((m for m in self.gate.messages if m.startswith("unexplained")), "unexplained")

    def report(self) -> Any:
        """The findings as a `Report` (rebuilt from the JSON data)."""
        from .codec import report_from_dict

        return report_from_dict(self.data)

    spec: Any = field(default=None, repr=False)  # the Spec the report follows (for writing it)
    stem: str = ""  # the reports' file stem

    def write(self, out: Path, formats: Sequence[str], *, log_prefix: str = "") -> list[Path]:
        """Write the reports (run notes included) and, if the target printed anything, `<stem>.log`
        (after `log_prefix`: what a captured command printed before)."""
        from ..core.files import write_atomic
        from ..report import write_report_data

        paths = write_report_data(self.data, self.spec, out, formats, stem=self.stem)
        if self.log or log_prefix:
            log = out / f"{self.stem}.log"
            sep = "\n===== while the captured manifest was audited =====\n" if log_prefix and self.log else ""
            write_atomic(log, f"{log_prefix}{sep}{self.log}")
            paths.append(log)
        if self.inferred:  # a folder or notebook target: the manifest it was read as, to correct and re-audit
            from ..target.inferred import manifest_text

            write_atomic(out / f"{self.stem}.yaml", manifest_text(self.inferred, out))
            paths.insert(0, out / f"{self.stem}.yaml")
        self.paths = [str(p) for p in paths]
        return paths


def memory_limit(jobs: int = 1) -> int:
    """Bytes of resident memory allowed to each worker's process group (0: unlimited)."""
    env = os.environ.get("ALEXNET_AUDIT_MEMORY_LIMIT", "").strip()
    if env:
        return parse_memory_limit(env)  # garbage is a one-line usage error, not a silent default
    return sandbox.default_memory_limit(jobs)


def worker_env(jobs: int = 1) -> dict[str, str]:
    """The worker's environment: ours, with OMP/MKL threads split between `jobs` parallel workers."""
    env = dict(os.environ)  # the installed package is found as installed: no path of ours ahead of the user's
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the user's checkouts
    return env


def stop_all_workers() -> None:
    """Kill the process group of every running worker (the user pressed Ctrl-C)."""
    sandbox.stop_all()


def waivers_payload(waivers: Mapping[str, Waiver]) -> dict[str, Any]:
    """Waivers as the JSON a waivers file could hold (what crosses to the worker)."""
    return {i: {"reason": w.reason, **({"until": w.until.isoformat()} if w.until else {})} for i, w in waivers.items()}


def worker_args(req: Request, scratch: Path, result: Path, limit: int) -> list[str]:
    """The worker's command line for `req` (waivers go through a JSON file in its scratch directory)."""
    from ..target.refs import absolutize

    cmd = [sys.executable, "-m", WORKER, "--ref", absolutize(req.ref, req.base), "--name", req.name,
           "--result", str(result), "--fail-on", req.fail_on, "--memory-limit", str(limit), "--base", str(req.base)]
    if req.spec_path is not None:
        cmd += ["--spec", str(Path(req.spec_path).resolve())]
    if req.strict:
        cmd.append("--strict")
    if req.require_explained:
        cmd.append("--require-explained")
    if req.only:
        cmd += ["--only", ",".join(req.only)]
    if req.waivers:
        path = scratch / ".alexnet-audit-waivers.json"
        path.write_text(json.dumps(waivers_payload(req.waivers)), encoding="utf-8")
        cmd += ["--waivers", str(path)]
    return cmd


def keep_paths(req: Request) -> list[str]:
    """What a sandboxed worker must still read in a hidden home: where the user ran us, the target's
    file or manifest, the spec."""
    keep = [str(req.base)]
    for part in (req.ref.rpartition(":")[0] or req.ref, str(req.spec_path or "")):
        if part and ("/" in part or part.endswith((".py", ".yaml", ".yml", ".ipynb"))):
            path = (req.base / part).resolve()
            keep.append(str(path.parent if path.is_file() or not path.exists() else path))
    return keep


def run(req: Request, *, jobs: int = 1, env: dict[str, str] | None = None, limit: int | None = None,
        forker: Any = None, scratch_root: Path | None = None) -> Outcome:
    """Audit `req.ref` in a worker process, inside the OS sandbox where there is one; whatever
    happens, a finished Outcome (never an exception but the user's Ctrl-C)."""
    from . import jail

    outcome = Outcome(ref=req.ref, name=req.name)
    limit = memory_limit(jobs) if limit is None else limit
    env = worker_env(jobs) if env is None else env
    scratch = Path(tempfile.mkdtemp(prefix="alexnet-audit-", dir=scratch_root))
    keep = keep_paths(req)
    env, outcome.withheld = jail.prepare_env(env, scratch, keep=keep)
    confine = None if forker is not None else jail.confinement([scratch], keep)
    result = scratch / ".alexnet-audit-result.json"
    stdout, stderr = scratch / ".stdout.txt", scratch / ".stderr.txt"
    start = time.monotonic()
    try:
        cmd = worker_args(req, scratch, result, limit)
        ended = sandbox.run_limited(cmd, cwd=scratch, env=env, stdout=stdout, stderr=stderr, timeout=req.timeout,
                                    memory=limit, forker=forker, confine=confine)
        n_out, n_err, outcome.log = sandbox.read_output(stdout, stderr)
        outcome.output_lines = (n_out, n_err)
        data = sandbox.read_result(result)  # a finished result stands, whatever the process did afterwards
        if data is None:
            if ended.cause:
                outcome.cause = ended.cause
            else:
                assert ended.rc is not None
                outcome.cause = sandbox.describe_exit(ended.rc, sandbox.stderr_tail(stderr))
            data = {}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return finish(outcome, data, req, seconds=time.monotonic() - start)


def run_here(req: Request, target: Any = None) -> Outcome:
    """The same audit in this process, for probes only this process registered (a conftest's) or a
    target object that already lives here (the plugin's `paper_target` fixture)."""
    from .worker import audit_request

    start = time.monotonic()
    data = audit_request(req.ref, req.name, spec=req.spec, waivers=req.waivers, fail_on=req.fail_on,
                         strict=req.strict, only=req.only, base=req.base, require_explained=req.require_explained,
                         target=target, check_model=False)
    return finish(Outcome(ref=req.ref, name=req.name), data, req, seconds=time.monotonic() - start)


def finish(outcome: Outcome, data: Mapping[str, Any], req: Request, *, seconds: float = 0.0) -> Outcome:
    """Turn a worker's result dict into a finished Outcome: report data, gate, summary, run notes."""
    from ..report import report_to_dict
    from .codec import gate_from_payload

    outcome.seconds = seconds
    outcome.spec, outcome.stem = req.spec, req.file_stem
    outcome.threads = [str(t) for t in data.get("threads") or []]
    outcome.contained = [str(t) for t in data.get("contained") or []]
    outcome.inferred = data.get("inferred_manifest") or None
    if data.get("ok"):
        outcome.ok = True
        outcome.passed = bool(data.get("passed", True))
        outcome.summary = str(data.get("summary") or "")
        outcome.data = dict(data.get("report") or {})
        outcome.gate = gate_from_payload(data["gate"]) if data.get("gate") else None
        outcome.target_waivers = dict(data.get("target_waivers") or {})
    else:
        if data:
            outcome.cause = str(data.get("cause") or "unknown failure")
            outcome.stage = str(data.get("stage") or "")
            outcome.detail = str(data.get("detail") or outcome.cause)
            outcome.target = data.get("target")
        outcome.data = report_to_dict(error_report(outcome, req.spec, req.base), req.spec, None)
        outcome.summary = f"{outcome.name}: ERROR - {outcome.cause}"
    outcome.notes = [*req.notes, *run_notes(outcome, req.file_stem)]
    if outcome.notes:
        outcome.data = {**outcome.data, "run_notes": outcome.notes}
    return outcome


def failed(ref: str, name: str, cause: str, req: Request) -> Outcome:
    """An Outcome for a target that never reached a worker (capture found no model to audit)."""
    return finish(Outcome(ref=ref, name=name), {"ok": False, "cause": cause}, req)


def run_notes(outcome: Outcome, stem: str) -> list[str]:
    """What the report says about the run itself: the target's own output, threads it left behind."""
    notes = []
    n_out, n_err = outcome.output_lines
    if n_out or n_err:
        notes.append(f"The target wrote {n_out} line(s) to stdout and {n_err} to stderr while it was audited; "
                     f"they are kept in {stem}.log, apart from this report.")
    if outcome.threads:
        notes.append(f"The target left {len(outcome.threads)} thread(s) running after the audit "
                     f"({', '.join(outcome.threads[:5])}); the worker ended without waiting for them.")
    notes += outcome.contained
    return notes


def error_report(outcome: Outcome, spec: Spec, base: Path | None = None) -> Any:
    """A Report where every finding is `error` with the cause (the target could not be audited)."""
    from ..audit.pipeline import scrub_paths
    from ..core.findings import Report
    from ..judge.verdict import errored

    target = dict(outcome.target or {})
    target.setdefault("name", outcome.name)
    target.setdefault("source", outcome.ref)
    target["error"] = outcome.cause
    reason = f"target error: {outcome.cause}"
    report = Report(target=target, spec={"version": spec.version, "sha256": spec.sha256},
                    findings=[errored(item, reason) for item in spec.items])
    return scrub_paths(report, base)


def load_checked_spec(path: str | Path | None) -> Spec:
    """The spec, with every item's probe known (read from source: no torch in the parent)."""
    from ..probes import check_probe_names
    from ..spec.load import load_spec

    spec = load_spec(path)
    check_probe_names(spec)
    return spec
