"""`alexnet-audit smoke`: run, print the summary, write the files, turn the verdict into an exit code."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .ddp import run_ddp
from .failure import SmokeFailure
from .options import CommandOptions
from .output import summary_line, write_json, write_markdown


def smoke_command(args: argparse.Namespace) -> int:
    """0 the target trains, 1 problems found or the run failed; usage, spec and target errors propagate (2)."""
    from ..spec.load import load_spec

    cmd = CommandOptions.from_args(args)
    load_spec(cmd.run.spec)  # before the (slow) run: a bad spec is a usage error
    run = dataclasses.replace(cmd.run, progress=False,  # a bar would be the worker's output, not ours
                              spec=cmd.run.spec.resolve() if cmd.run.spec is not None else None)
    log = _log_path(cmd)
    try:
        if cmd.ddp:
            result = run_ddp(cmd.target, run, nproc=cmd.nproc, timeout=cmd.timeout, log=log)
        else:  # the target trains in an isolated worker (smoke.isolated), never in this process
            from ..isolate.client import memory_limit
            from ..target.refs import absolutize
            from .isolated import base_env, run_worker, single_command

            base = Path.cwd()
            result = run_worker(single_command(absolutize(cmd.target, base), run.to_argv(), base), env=base_env(),
                                timeout=cmd.timeout, memory=memory_limit(), log=log)
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


def _log_path(cmd: CommandOptions) -> Path | None:
    """Where the target's output of the run is kept: beside the markdown or the JSON result."""
    from ..target.refs import default_name, report_stem

    if cmd.out is not None:
        return cmd.out / f"{report_stem(default_name(cmd.target))}.smoke.log"
    if cmd.json is not None:
        return cmd.json.with_suffix(".log")
    return None
