"""`alexnet-audit compare`: audit several targets, each in its own subprocess (docs/ARCHITECTURE.md, "CLI exit codes").

Isolation per target:
- its own Python process (`python -m checks.worker`), so an import-time side effect, a crash or
  an abort (os.abort, a segfault in an extension) cannot take the comparison down;
- a time limit (`--timeout`, default 120 s): the whole process group is killed when it runs over;
- a scratch temporary working directory, removed afterwards, so files a target writes at import
  (logs, checkpoints, downloaded data) stay out of the user's tree;
- a limit on resident memory (default three quarters of the machine's, shared by the parallel jobs;
  environment ALEXNET_AUDIT_MEMORY_LIMIT in bytes, 0 for none), enforced by `sandbox`;
- the target's stdout and stderr kept apart from ours: a report note counts the lines and
  `<stem>.log` holds them;
- OMP/MKL threads split between the parallel jobs.

Every report is written by the parent, atomically, under the file stem `refs.report_stems` gives
the run (bounded, unique, never `comparison`); workers write only into their scratch directory.
`--out` is checked before any audit starts.

A target that cannot be audited (import error, factory raises, not a model, forward raises or
returns NaN/inf, hang, abort/signal, out of memory) gets an error report - every finding `error`
with the cause - and an error row in the comparison; the others complete. Exit code: 1 if any
target errored, else the gate per `fail_on` (default never: 0).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sandbox
from .inputs import parse_memory_limit

DEFAULT_TIMEOUT = 120.0
FORMATS = ("md", "json")


@dataclass
class Outcome:
    ref: str
    name: str
    ok: bool = False
    passed: bool = True
    cause: str = ""
    stage: str = ""  # where a failed audit stopped: load, spec, model, audit (or "" for the process itself)
    detail: str = ""  # the full text of a load error (a manifest can list several problems)
    summary: str = ""
    seconds: float = 0.0
    report: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None  # remote.gate_payload: every item's verdict
    target_waivers: dict[str, Any] = field(default_factory=dict)  # the target's own (a manifest's)
    target: dict[str, Any] | None = None
    paths: list[str] = field(default_factory=list)
    output_lines: tuple[int, int] = (0, 0)  # lines the target wrote to stdout, stderr
    log: str = ""  # that output, for <stem>.log
    threads: list[str] = field(default_factory=list)  # threads the target left running


def memory_limit(jobs: int = 1) -> int:
    """Bytes of resident memory allowed to each worker's process group (0: unlimited)."""
    env = os.environ.get("ALEXNET_AUDIT_MEMORY_LIMIT", "").strip()
    if env:
        return parse_memory_limit(env)  # garbage is a one-line usage error, not a silent default
    return sandbox.default_memory_limit(jobs)


def _env(jobs: int) -> dict[str, str]:
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


def _audit_one(ref: str, name: str, spec_path: Path | None, timeout: float, fail_on: str,
               env: dict[str, str], base: Path, limit: int, extra: Sequence[str] = (), forker: Any = None) -> Outcome:
    """Audit one target in a worker process; whatever happens, an Outcome (never an exception)."""
    from .refs import absolutize

    outcome = Outcome(ref=ref, name=name)
    scratch = Path(tempfile.mkdtemp(prefix="alexnet-audit-"))
    result = scratch / ".alexnet-audit-result.json"
    stdout, stderr = scratch / ".stdout.txt", scratch / ".stderr.txt"
    cmd = [sys.executable, "-m", f"{__package__}.worker", "--ref", absolutize(ref, base), "--name", name,
           "--result", str(result), "--fail-on", fail_on,
           "--memory-limit", str(limit), "--base", str(base)]
    if spec_path is not None:
        cmd += ["--spec", str(Path(spec_path).resolve())]
    cmd += list(extra)
    start = time.monotonic()
    try:
        ended = sandbox.run_limited(cmd, cwd=scratch, env={**env, "TMPDIR": str(scratch)}, stdout=stdout,
                                    stderr=stderr, timeout=timeout, memory=limit, forker=forker)
        n_out, n_err, outcome.log = sandbox.read_output(stdout, stderr)
        outcome.output_lines = (n_out, n_err)
        data = sandbox.read_result(result)  # a finished result stands, whatever the process did afterwards
        if data is None:
            if ended.cause:
                outcome.cause = ended.cause
            else:
                assert ended.rc is not None
                outcome.cause = sandbox.describe_exit(ended.rc, sandbox.stderr_tail(stderr))
            return outcome
        outcome.threads = [str(t) for t in data.get("threads") or []]
        if not data.get("ok"):
            outcome.cause = str(data.get("cause") or "unknown failure")
            outcome.stage = str(data.get("stage") or "")
            outcome.detail = str(data.get("detail") or outcome.cause)
            outcome.target = data.get("target")
            return outcome
        outcome.ok = True
        outcome.passed = bool(data.get("passed", True))
        outcome.summary = str(data.get("summary") or "")
        outcome.report = data.get("report")
        outcome.gate = data.get("gate")
        outcome.target_waivers = dict(data.get("target_waivers") or {})
        return outcome
    finally:
        outcome.seconds = time.monotonic() - start
        shutil.rmtree(scratch, ignore_errors=True)


def audit_in_worker(ref: str, name: str, *, spec_path: Path | None, timeout: float, fail_on: str, base: Path,
                    extra: Sequence[str] = ()) -> Outcome:
    """One target's audit in a worker, as `alexnet-audit audit` runs it (every core, the memory cap)."""
    return _audit_one(ref, name, spec_path, timeout, fail_on, _env(1), base, memory_limit(), extra)


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
    return notes


def write_outcome(outcome: Outcome, data: dict[str, Any], spec: Any, out: Path, formats: Sequence[str],
                  stem: str) -> list[Path]:
    """Write one target's reports (with its run notes) and, if it printed anything, `<stem>.log`."""
    from .files import write_atomic
    from .report import write_report_data

    notes = run_notes(outcome, stem)
    if notes:
        data = {**data, "run_notes": notes}
    paths = write_report_data(data, spec, out, formats, stem=stem)
    if outcome.log:
        log = out / f"{stem}.log"
        write_atomic(log, outcome.log)
        paths.append(log)
    return paths


def error_report(outcome: Outcome, spec: Any, base: Path | None = None) -> Any:
    """A Report where every finding is `error` with the cause (the target could not be audited)."""
    from .audit import scrub_paths
    from .findings import Report
    from .judge import errored

    target = dict(outcome.target or {})
    target.setdefault("name", outcome.name)
    target.setdefault("source", outcome.ref)
    target["error"] = outcome.cause
    reason = f"target error: {outcome.cause}"
    report = Report(target=target, spec={"version": spec.version, "sha256": spec.sha256},
                    findings=[errored(item, reason) for item in spec.items])
    return scrub_paths(report, base)


def _unique_names(refs: list[str]) -> list[str]:
    """The targets' report names, made unique in order (a repeat gets -2, -3, ...)."""
    from .refs import dedupe, default_name

    return dedupe(default_name(ref) for ref in refs)


def compare(targets: list[str], out: Path | str = Path("reports"), spec_path: Path | str | None = None,
            timeout: float = DEFAULT_TIMEOUT, jobs: int = 1, fail_on: str = "never",
            require_explained: bool = False) -> int:
    """Audit each target in its own subprocess; write per-target reports and the comparison into `out`.

    With `require_explained`, a target whose measurements do not rebuild it fails its gate and the
    run's exit code, whatever `fail_on` says.
    """
    from .errors import UsageError
    from .files import check_out_dir
    from .refs import report_stems
    from .report import report_to_dict, write_comparison
    from .report.comparison import COMPARISON_FILES
    from .spec import load_spec

    if not targets:
        from .target import TargetError

        raise TargetError("compare needs at least one target.")
    spec = load_spec(spec_path, check_probes=True)  # a bad spec is a usage error (exit 2) before anything runs
    limit = memory_limit(jobs)
    names = _unique_names(list(targets))
    stems = report_stems(names)
    out = check_out_dir(out, stems, FORMATS, files=COMPARISON_FILES).resolve()  # before minutes of auditing
    base = Path.cwd()
    env = _env(jobs)
    n = len(targets)
    lock = threading.Lock()
    done = [0]

    forker = None
    if n > 1:  # one warm process imports torch once; each target's worker is forked from it
        from .zygote import Zygote

        forker = Zygote(env, Path(tempfile.gettempdir()))

    def one(i: int) -> Outcome:
        outcome = _audit_one(targets[i], names[i], Path(spec_path) if spec_path else None, timeout, fail_on,
                             env, base, limit, extra=["--require-explained"] if require_explained else [],
                             forker=forker)
        with lock:
            done[0] += 1
            status = outcome.summary if outcome.ok else f"{outcome.name}: ERROR - {outcome.cause}"
            print(f"[{done[0]}/{n}] {status} ({outcome.seconds:.1f} s)", flush=True)
        return outcome

    sandbox.STOP.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, n)))
    try:
        outcomes = list(pool.map(one, range(n)))
    except KeyboardInterrupt:  # the user's Ctrl-C: every worker stops now, scratch directories go
        stop_all_workers()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if forker is not None:
            forker.close()
    pool.shutdown()

    results: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.ok and outcome.report is not None:
            results.append(outcome.report)
        else:
            results.append(report_to_dict(error_report(outcome, spec, base), spec, None))
    try:
        for outcome, data, stem in zip(outcomes, results, stems, strict=True):
            outcome.paths = [str(p) for p in write_outcome(outcome, data, spec, out, FORMATS, stem)]
        written = write_comparison(results, out, stems)
    except OSError as exc:  # the disk filled up, or --out changed under us, while the audits ran
        where = f" ({exc.filename})" if exc.filename else ""
        raise UsageError(f"cannot write the reports into {out}: {exc.strerror or exc}{where}") from None
    for path in written:
        print(f"wrote {path}", flush=True)

    errors = [o for o in outcomes if not o.ok]
    if errors:
        print(f"{len(errors)} of {n} target(s) could not be audited: {', '.join(o.name for o in errors)}", flush=True)
        return 1
    if fail_on != "never" and not all(o.passed for o in outcomes):
        return 1
    if require_explained and not all((o.gate or {}).get("passed", o.passed) for o in outcomes):
        return 1  # unexplained fails even under fail-on never
    return 0
