"""What pointing at a folder costs over naming the model: `audit <folder>` vs `audit <file.py:attr>`.

    .venv/bin/python benchmarks/bench_folder.py [--runs N]

Each pair is the same model in a fixture repository (tests/target/repos), audited end to end by
the CLI (a fresh process, the isolated worker, the reports written), the two forms alternated so
that a change in the machine's load hits both. Prints the best and the median of each and the
difference of the bests (the goal: at most 2 s).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOS = Path(__file__).resolve().parents[1] / "tests" / "target" / "repos"
# (the other fixtures' models need constructor arguments that only the folder form finds)
PAIRS = [("readme_train", "lib/model.py:AlexNet"), ("multi_net", "models/alexnet.py:AlexNet")]


def _audit(ref: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "audit", ref, "--out", out,
                               "--fail-on", "never"], capture_output=True, text=True, env=dict(os.environ))
        took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{ref}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return took


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}")
    for repo, attr in PAIRS:
        folder, file_ref = str(REPOS / repo), str(REPOS / repo / attr)
        times: dict[str, list[float]] = {"folder": [], "file": []}
        for _ in range(args.runs):
            times["folder"].append(_audit(folder))
            times["file"].append(_audit(file_ref))
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{repo:14} folder best {best['folder']:.2f} s (median {med['folder']:.2f}), {attr} best "
              f"{best['file']:.2f} s (median {med['file']:.2f}): +{best['folder'] - best['file']:.2f} s")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
