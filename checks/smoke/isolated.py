"""Smoke runs in a worker process under the audit's isolation (`sandbox`), never in this one.

A target that exits, hangs, aborts or floods memory cannot make `smoke` report success: the worker
either writes its result JSON or the run is a failure with the cause in one line. The worker works
in a scratch directory (files the target writes stay out of the user's tree) and its output goes to
a log, quoted by a note when there is any.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..isolate import sandbox
from ..target.record import TargetError
from .failure import SmokeFailure

DEFAULT_TIMEOUT = 3600.0


def single_command(ref: str, argv: Sequence[str], base: Path) -> list[str]:
    """The plain (one-process) smoke worker's command line; `--result` is added by `run_worker`."""
    return [sys.executable, "-m", f"{__package__}.ddp_worker", ref, *argv, "--single", "--base", str(base)]


def run_worker(cmd: Sequence[str], *, env: dict[str, str], timeout: float, memory: int,
               log: Path | None = None) -> dict[str, Any]:
    """Run a smoke worker to its result: the result dict, or SmokeFailure / UsageError / TargetError."""
    scratch = Path(tempfile.mkdtemp(prefix="alexnet-audit-smoke-"))
    result_path, stdout, stderr = scratch / ".result.json", scratch / ".stdout.txt", scratch / ".stderr.txt"
    try:
        from ..isolate import jail

        keep = [os.getcwd()]
        env, _ = jail.prepare_env({**env, "PYTHONDONTWRITEBYTECODE": "1"}, scratch, keep=keep)
        env.setdefault("MPLBACKEND", "Agg")
        ended = sandbox.run_limited([*cmd, "--result", str(result_path)], cwd=scratch, env=env, stdout=stdout,
                                    stderr=stderr, timeout=timeout, memory=memory, what="the smoke run",
                                    confine=jail.confinement([scratch], keep, env))
        n_out, n_err, text = sandbox.read_output(stdout, stderr)
        data = sandbox.read_result(result_path)
        if text.strip() and log is not None:
            from ..core.files import write_atomic

            log.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(log, text)
        if data is None:
            if ended.cause:
                raise SmokeFailure(ended.cause)
            assert ended.rc is not None
            raise SmokeFailure(sandbox.describe_exit(ended.rc, sandbox.stderr_tail(stderr), what="the smoke run"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if "error" in data:
        kind = data.get("kind")
        if kind == "usage":
            raise UsageError(data["error"])
        if kind == "target":
            raise TargetError(data["error"])
        raise SmokeFailure(data["error"])
    lines = n_out + n_err
    if lines:
        where = f"; they are in {log}" if log is not None else " (pass --out to keep them)"
        data.setdefault("notes", []).append(f"the target wrote {lines} line(s) of output during the run{where}")
    return data


def base_env() -> dict[str, str]:
    return dict(os.environ)
