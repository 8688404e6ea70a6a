"""`alexnet-audit smoke`: run, print the summary, write the files, turn the verdict into an exit code."""
from __future__ import annotations

import argparse
import sys

from .ddp import run_ddp
from .devices import resolve_device
from .failure import SmokeFailure
from .loop import run_smoke
from .options import CommandOptions
from .output import summary_line, write_json, write_markdown


def smoke_command(args: argparse.Namespace) -> int:
    """0 the target trains, 1 problems found or the run failed; usage, spec and target errors propagate (2)."""
    from ..spec import load_spec

    cmd = CommandOptions.from_args(args)
    spec = load_spec(cmd.run.spec)  # once, before the (slow) target load: a bad spec is a usage error
    try:
        if cmd.ddp:
            result = run_ddp(cmd.target, cmd.run, nproc=cmd.nproc)
        else:
            from ..resolve import load_target

            resolve_device(cmd.run.device)  # usage errors before the (slow) target load
            result = run_smoke(load_target(cmd.target), cmd.run, spec=spec)
    except SmokeFailure as exc:
        print(f"alexnet-audit: smoke failed: {exc}", file=sys.stderr)
        return 1
    print(summary_line(result))
    for p in result["problems"]:
        print(f"  problem: {p}")
    for n in result["notes"]:
        print(f"  note: {n}")
    if cmd.json is not None:
        write_json(result, cmd.json)
        print(f"wrote {cmd.json}")
    if cmd.out is not None:
        for path in write_markdown(result, cmd.out):
            print(f"wrote {path}")
    return 0 if result["verdict"] == "ok" else 1
