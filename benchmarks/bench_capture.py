"""Benchmark: wall time of `alexnet-audit capture` on the plain-loop fixture (issue 20: under 20 s here).

    python benchmarks/bench_capture.py [--runs 3] [--steps 4]

Runs the capture the way a user does (from the fixture's folder, `-- python train.py`) and prints
each run's seconds and the best. Not a test: the machine's load decides the figure.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "capture" / "plain_loop"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--steps", type=int, default=4)
    args = p.parse_args()
    times = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "capture", "--out", out,
                                   "--steps", str(args.steps), "--", "python", "train.py"], cwd=FIXTURE,
                                  capture_output=True, text=True)
            times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            print(done.stderr[-2000:], file=sys.stderr)
            return 2
    print("runs: " + ", ".join(f"{t:.1f} s" for t in times))
    print(f"best {min(times):.1f} s, median {statistics.median(times):.1f} s (limit 20 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
