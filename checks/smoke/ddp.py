"""A smoke run under DistributedDataParallel: torchrun starts the ranks, rank 0 writes the result.

Each rank runs `ddp_worker` in its own process (nccl on CUDA, one GPU per local rank; gloo on
CPU); the options travel as the same flags the CLI takes (`SmokeOptions.to_argv`).
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from .options import SmokeOptions


def _project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def worker_command(ref: str, options: SmokeOptions, nproc: int, base: Path) -> list[str]:
    """The torchrun command line that runs `nproc` ranks of the worker (`--result` is added by run_worker)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", f"{__package__}.ddp_worker", ref, *options.to_argv(), "--base", str(base)]


def _worker_env(use_cuda: bool, nproc: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_project_root()), *filter(None, [env.get("PYTHONPATH")])])
    if not use_cuda and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))  # the ranks share the cores
    return env


def run_ddp(ref: str, options: SmokeOptions | None = None, *, nproc: int = 2,
            timeout: float | None = None, log: Path | None = None) -> dict[str, Any]:
    """Run the smoke of target `ref` under torchrun with `nproc` DDP processes; rank 0's result."""
    import torch

    options = options or SmokeOptions()
    if nproc < 1:
        raise UsageError(f"--nproc must be positive (got {nproc})")
    if options.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("CUDA is not available on this machine (use --device cpu or auto)")
    use_cuda = options.device.startswith("cuda") or (options.device == "auto" and torch.cuda.is_available())
    if use_cuda and nproc > torch.cuda.device_count():
        raise UsageError(f"--nproc {nproc} exceeds the {torch.cuda.device_count()} visible CUDA device(s)")
    options = dataclasses.replace(options, device="cuda" if use_cuda else "cpu")  # each rank picks its GPU
    from ..isolate.client import memory_limit
    from ..target.refs import absolutize
    from .isolated import DEFAULT_TIMEOUT, run_worker

    base = Path.cwd()
    return run_worker(worker_command(absolutize(ref, base), options, nproc, base), env=_worker_env(use_cuda, nproc),
                      timeout=timeout or DEFAULT_TIMEOUT, memory=memory_limit(), log=log)
