"""One DistributedDataParallel rank of `alexnet-audit smoke --ddp` (started by torchrun).

`checks.smoke.run_ddp` runs `python -m torch.distributed.run --standalone --nproc_per_node N
-m checks.ddp_worker TARGET ... --result FILE`. Every rank resolves the target, joins the process
group (nccl on CUDA, one GPU per local rank; gloo on CPU) and runs `run_smoke(..., ddp=True)`
on its own fixed batch (seeded by rank); rank 0 writes the JSON result, or {"error", "kind"}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"{__package__}.ddp_worker")
    p.add_argument("target")
    p.add_argument("--device", choices=["cuda", "cpu"], required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--recipe", choices=["target", "paper"], default="target")
    p.add_argument("--amp", choices=["bf16", "off"], default="off")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--result", type=Path, required=True)
    args = p.parse_args(argv)

    import torch
    import torch.distributed as dist

    from .errors import UsageError
    from .smoke import SmokeFailure, run_smoke, write_json
    from .target import TargetError

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = "cpu"
    if args.device == "cuda":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group(backend="nccl" if args.device == "cuda" else "gloo")
    error: dict[str, str] | None = None
    try:
        from .resolve import load_target

        target = load_target(args.target)
        result = run_smoke(target, device=device, steps=args.steps, batch_size=args.batch_size,
                           recipe=args.recipe, amp=args.amp, channels_last=args.channels_last,
                           compile=args.compile, progress=rank == 0 and not args.no_progress, ddp=True)
    except UsageError as exc:
        error = {"error": str(exc), "kind": "usage"}
    except TargetError as exc:
        error = {"error": str(exc), "kind": "target"}
    except SmokeFailure as exc:
        error = {"error": str(exc), "kind": "failure"}
    except Exception as exc:
        error = {"error": f"rank {rank}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                 "kind": "failure"}
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
