"""A smoke run's worker process: one DistributedDataParallel rank of `alexnet-audit smoke --ddp`
(started by torchrun), or with `--single` the whole plain run (started by `smoke.isolated`).

`smoke.run_ddp` runs `python -m torch.distributed.run --standalone --nproc_per_node N
-m <package>.ddp_worker TARGET <smoke options> --result FILE`, the options being the flags of
`smoke.options.add_arguments`. Every rank resolves the target, joins the process group (nccl on
CUDA, one GPU per local rank; gloo on CPU) and runs `run_smoke(..., ddp=True)` on its own fixed
batch (seeded by rank); rank 0 writes the JSON result, or {"error", "kind"}.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..core.errors import UsageError, first_line
from .options import SmokeOptions, add_arguments


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{__package__}.ddp_worker")
    p.add_argument("target")
    add_arguments(p)
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("--single", action="store_true", help="one process, no process group (plain smoke)")
    p.add_argument("--base", default=None, help="the user's working directory (for module:attr imports)")
    return p


def _run(args: argparse.Namespace, rank: int, local_rank: int, use_cuda: bool) -> dict[str, Any]:
    from ..spec.load import load_spec
    from ..target.resolve import load_target
    from . import run_smoke

    options = SmokeOptions.from_args(args)
    if not args.single:
        options = dataclasses.replace(options, device=f"cuda:{local_rank}" if use_cuda else "cpu",
                                      progress=options.progress and rank == 0)
    spec = load_spec(options.spec)
    return run_smoke(load_target(args.target), options, spec=spec, ddp=not args.single)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    import torch
    import torch.distributed as dist

    from ..spec.load import SpecError
    from ..target.record import TargetError
    from . import SmokeFailure, write_json

    if args.base and args.base not in sys.path:
        sys.path.append(args.base)
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    if use_cuda and not args.single:
        torch.cuda.set_device(local_rank)
    if not args.single:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    error: dict[str, str] | None = None
    try:
        result = _run(args, rank, local_rank, use_cuda)
    except (UsageError, SpecError) as exc:
        error = {"error": str(exc), "kind": "usage"}
    except TargetError as exc:
        error = {"error": str(exc), "kind": "target"}
    except SmokeFailure as exc:
        error = {"error": str(exc), "kind": "failure"}
    except Exception as exc:
        error = {"error": f"rank {rank}: {first_line(exc)}", "kind": "failure"}
    if rank == 0:
        if error is not None:
            args.result.write_text(json.dumps(error) + "\n")
        else:
            write_json(result, args.result)
    if error is None and not args.single:
        dist.destroy_process_group()  # after a failure the peers may be gone: do not wait for them
    return 0 if error is None else 1


if __name__ == "__main__":
    from ..isolate.worker import exit_now

    exit_now(main())
