"""Survey throughput on a generated corpus (benchmarks/corpus.py): targets per hour at each -j, the
scaling efficiency, the same targets through `compare`, and the survey's peak memory as it goes.

    .venv/bin/python benchmarks/bench_survey.py [--n 200] [--jobs 1,2] [--spec FILE] [--no-compare]

Each run is the real command in a subprocess (`alexnet-audit survey LIST --out DIR --force -j J`),
timed from start to exit: cluster start, the zygotes' torch import, every audit, the corpus report.
Memory is sampled every 0.25 s: the survey process itself (the Dask client, which writes every
report and the corpus table) and its whole process tree (Dask workers, zygotes, audits); the peaks
are quoted when 50 targets are done and at the end, so a growing client shows as a difference.
Goal (issue 24): >= 1,000 targets/h at -j 2 on a 2-core machine, efficiency >= 0.8, memory flat.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.corpus import write_corpus  # noqa: E402

EXE = Path(sys.executable).parent / "alexnet-audit"


def _rss(proc: psutil.Process) -> tuple[int, int]:
    """(the process's RSS, its whole tree's RSS) in bytes."""
    try:
        own = proc.memory_info().rss
        tree = own + sum(c.memory_info().rss for c in proc.children(recursive=True) if c.is_running())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0, 0
    return own, tree


def timed(cmd: list[str], out: Path, marks: tuple[int, ...] = (50,)) -> dict[str, float]:
    """Run `cmd`; wall seconds and the peak RSS (own, tree) when each mark of finished targets passes."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    peak_own = peak_tree = 0
    result: dict[str, float] = {}
    while proc.poll() is None:
        own, tree = _rss(ps)
        peak_own, peak_tree = max(peak_own, own), max(peak_tree, tree)
        done = len(list((out / "state").glob("*.done"))) if (out / "state").is_dir() else 0
        for mark in marks:
            if done >= mark and f"own@{mark}" not in result:
                result[f"own@{mark}"], result[f"tree@{mark}"] = peak_own, peak_tree
        time.sleep(0.25)
    result["seconds"] = time.monotonic() - start
    result["own@end"], result["tree@end"] = peak_own, peak_tree
    result["rc"] = proc.returncode
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--jobs", default="1,2")
    p.add_argument("--spec", default=None)
    p.add_argument("--no-compare", action="store_true")
    p.add_argument("--dir", type=Path, default=None)
    args = p.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-survey-"))
    targets = write_corpus(root / "corpus", args.n)
    listing = root / "corpus" / "targets.txt"
    spec = ["--spec", args.spec] if args.spec else []
    rates: dict[int, float] = {}
    mib = 2.0**20
    for jobs in [int(j) for j in args.jobs.split(",")]:
        out = root / f"survey-j{jobs}"
        r = timed([str(EXE), "survey", str(listing), "--out", str(out), "--force", "-j", str(jobs), *spec], out)
        rates[jobs] = 3600.0 * args.n / r["seconds"]
        print(f"survey -j {jobs}: {args.n} targets in {r['seconds']:.0f} s = {rates[jobs]:.0f} targets/h "
              f"(exit {r['rc']:.0f}); peak RSS of the survey process {r.get('own@50', 0) / mib:.0f} MiB at 50 "
              f"targets, {r['own@end'] / mib:.0f} MiB at {args.n}; whole tree {r.get('tree@50', 0) / mib:.0f} / "
              f"{r['tree@end'] / mib:.0f} MiB", flush=True)
    if 1 in rates:
        for jobs, rate in rates.items():
            if jobs > 1:
                print(f"scaling efficiency -j {jobs}: {rate / (jobs * rates[1]):.2f}", flush=True)
    if not args.no_compare:
        jobs = max(rates) if rates else 2
        out = root / "compare"
        refs = [str(root / "corpus" / t.ref) for t in targets]
        r = timed([str(EXE), "compare", *refs, "--out", str(out), "-j", str(jobs), *spec], out)
        print(f"compare -j {jobs}: {args.n} targets in {r['seconds']:.0f} s = {3600.0 * args.n / r['seconds']:.0f} "
              f"targets/h (exit {r['rc']:.0f}); peak RSS {r['own@end'] / mib:.0f} MiB, tree "
              f"{r['tree@end'] / mib:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
