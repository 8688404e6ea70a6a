"""One DistributedDataParallel rank of `alexnet-audit smoke --ddp` (started by torchrun).

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

from .errors import UsageError, first_line
from .smoke.options import SmokeOptions, add_arguments


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{__package__}.ddp_worker")
    p.add_argument("target")
    add_arguments(p)
    p.add_argument("--result", type=Path, required=True)
    return p


def _run(args: argparse.Namespace, rank: int, local_rank: int, use_cuda: bool) -> dict[str, Any]:
    from .resolve import load_target
    from .smoke import run_smoke
    from .spec import load_spec

    options = SmokeOptions.from_args(args)
    options = dataclasses.replace(options, device=f"cuda:{local_rank}" if use_cuda else "cpu",
                                  progress=options.progress and rank == 0)
    spec = load_spec(options.spec)
    return run_smoke(load_target(args.target), options, spec=spec, ddp=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    import torch
    import torch.distributed as dist

    from .smoke import SmokeFailure, write_json
    from .spec import SpecError
    from .target import TargetError

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank)
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
    if error is None:
        dist.destroy_process_group()  # after a failure the peers may be gone: do not wait for them
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
