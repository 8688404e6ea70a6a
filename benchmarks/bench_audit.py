"""Time one audit per probe group (budget: at most 5 s per target after imports).

    .venv/bin/python benchmarks/bench_audit.py [TARGET ...]      (default: reference torchvision)

Prints wall time per report group and the total, for each target, with one shared Context so
the figures include the single traced forward pass and model build that the probes share.
"""
from __future__ import annotations

import sys
import time
from collections import defaultdict

import torch

from alexnet_audit.audit.verify import _one
from alexnet_audit.probes import all_probes
from alexnet_audit.probes.context import Context
from alexnet_audit.probes.layers import layer_table
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.resolve import load_target
from alexnet_audit.trace.rebuild import explain


def bench(ref: str) -> float:
    spec = load_spec()
    probes = all_probes()
    target = load_target(ref)
    ctx = Context(target, spec)
    per_group: dict[str, float] = defaultdict(float)
    start = time.perf_counter()
    for item in spec.items:
        t0 = time.perf_counter()
        _one(item, ctx, probes)
        per_group[item.group] += time.perf_counter() - t0
    t0 = time.perf_counter()
    layer_table(ctx)  # verify builds the report's per-layer table too
    per_group["layer table"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    explain(ctx)  # and the rebuild check (summary.explained)
    per_group["rebuild check"] += time.perf_counter() - t0
    total = time.perf_counter() - start
    print(f"{ref}: {total:.2f} s total (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    for group, secs in per_group.items():
        print(f"  {group:14} {secs:6.2f} s")
    return total


if __name__ == "__main__":
    for name in sys.argv[1:] or ["reference", "torchvision"]:
        bench(name)
