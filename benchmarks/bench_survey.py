"""Survey throughput on a generated corpus (benchmarks/corpus.py): targets per hour at each -j, the
scaling efficiency, the same targets through `compare`, the peak memory as the corpus grows, and where
the CPU time went. One command, one table at the end:

    .venv/bin/python benchmarks/bench_survey.py [--n 200] [--jobs 1,2] [--spec FILE] [--no-compare]
                                                [--quiet-load 0.5] [--wait 600]

Each run is the real command in a subprocess (`alexnet-audit survey LIST --out DIR --force -j J`, then
`alexnet-audit compare REFS... -j J`), timed from start to exit: cluster start, the zygotes' torch
import, every audit, every report, the corpus report.

How -j is configured (nothing here overrides it; it is what a user gets): each -j worker's audits get
`cpu_count // J` torch/OpenMP threads (`client.worker_env`), so -j 1 on 2 cores audits with 2 threads,
exactly as `alexnet-audit audit` does, and -j 2 with 1 thread per worker. The efficiency
rate(-j2) / (2 x rate(-j1)) therefore compares -j 2 with the best a single worker does on the machine.

Honesty about the machine: before each run the bench waits (up to --wait seconds) for the 1-minute
load average to fall below --quiet-load, and quotes the load before and after each run. During the
run it also measures what *other* processes took: all CPU time the kernel counted (/proc/stat) minus
the CPU time of the benchmarked process tree; a figure taken while others used a sizeable share of
the cores is marked in the table and must be redone on a quiet machine.

Measured every 0.25 s over the whole process tree (the survey or compare process with the Dask
client and, for a LocalCluster, its scheduler; the Dask worker processes; the zygotes; the audits
forked from them): the sum of RSS (an upper bound: pages an audit shares with its zygote count
twice), its peak when 50 targets are done and at the end; and each process's CPU seconds, by role.
Goal (issue 24): >= 1,000 targets/h at -j 2 on a 2-core machine, efficiency >= 0.8, memory flat.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.corpus import write_corpus  # noqa: E402

EXE = Path(sys.executable).parent / "alexnet-audit"
MIB = 2.0**20
ROLES = ("command", "dask workers", "zygotes", "audits", "sandbox launchers")
BUSY_SHARE = 0.15  # others took more than this share of the cores during a run: not a quiet machine


def _cpu_busy() -> float:
    """Seconds of CPU time the kernel counted as busy, all cores (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / tick


def _is_zygote(cmd: list[str]) -> bool:
    return len(cmd) >= 3 and cmd[1] == "-m" and cmd[2].endswith("isolate.zygote")


def _role(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "command"
    cmd = proc.cmdline()
    if not cmd:
        return ""  # a zombie (an audit its zygote has not reaped yet): its CPU counts once reaped
    if _is_zygote(cmd):  # an audit is forked from its zygote: the same command line, the zygote its parent
        parent = proc.parent()
        return "audits" if parent is not None and _is_zygote(parent.cmdline()) else "zygotes"
    text = " ".join(cmd)
    if "isolate.worker" in text and "unshare" not in cmd[0]:
        return "audits"  # a fresh interpreter (no zygote)
    if "multiprocessing" in text or "dask" in text or "distributed" in text:
        return "dask workers"
    return "sandbox launchers"


@dataclass
class Sample:
    """What the sampler saw of one run."""

    peak_tree: int = 0
    peak_own: int = 0
    marks: dict[int, tuple[int, int]] = field(default_factory=dict)  # done -> (own, tree) peaks so far
    steady: dict[int, dict[str, float]] = field(default_factory=dict)  # done -> CPU s by role then
    cpu: dict[int, tuple[str, float, float]] = field(default_factory=dict)  # pid -> role, own s, reaped s

    def by_role(self) -> dict[str, float]:
        out = dict.fromkeys(ROLES, 0.0)
        for role, own, reaped in self.cpu.values():
            if role == "audits":
                continue  # counted when the zygote reaps them (its children's times), not twice
            out[role] += own
            if role == "zygotes":
                out["audits"] += reaped
        return out


def _sample(ps: psutil.Process, s: Sample) -> None:
    try:
        procs = [ps, *ps.children(recursive=True)]
    except psutil.Error:
        return
    own = tree = 0
    for proc in procs:
        try:
            with proc.oneshot():
                rss = proc.memory_info().rss
                t = proc.cpu_times()
                role = _role(proc, ps.pid)  # every time: a launcher execs into the sandbox, then the zygote
        except psutil.Error:
            continue
        if not role:
            continue
        tree += rss
        if proc.pid == ps.pid:
            own = rss
        s.cpu[proc.pid] = (role, t.user + t.system, t.children_user + t.children_system)
    s.peak_own, s.peak_tree = max(s.peak_own, own), max(s.peak_tree, tree)


def _wait_quiet(limit: float, wait: float) -> float:
    """Wait up to `wait` seconds for the 1-minute load to fall below `limit`; the load then."""
    deadline = time.monotonic() + wait
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


@dataclass
class Run:
    """One timed command and what it cost."""

    label: str
    n: int
    seconds: float
    rc: int
    load_before: float
    load_after: float
    others: float  # share of all cores that other processes used meanwhile (0..1)
    sample: Sample

    @property
    def rate(self) -> float:
        return 3600.0 * self.n / self.seconds


def timed(label: str, cmd: list[str], out: Path, n: int, quiet: float, wait: float) -> Run:
    """Run `cmd` once the machine is quiet; its wall time, memory and CPU by role."""
    load_before = _wait_quiet(quiet, wait)
    busy0, start = _cpu_busy(), time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    s = Sample()
    state = out / "state"
    while proc.poll() is None:
        _sample(ps, s)
        done = sum(1 for _ in state.glob("*.done")) if state.is_dir() else 0
        for mark in (50,):
            if done >= mark and mark not in s.marks:
                s.marks[mark] = (s.peak_own, s.peak_tree)
        for mark in (max(1, n // 10), n - max(1, n // 10)):  # the steady state: startup and the end left out
            if done >= mark and mark not in s.steady:
                s.steady[mark] = s.by_role()
        time.sleep(0.25)
    seconds = time.monotonic() - start
    ours = sum(s.by_role().values())
    others = max(0.0, (_cpu_busy() - busy0 - ours) / (seconds * (os.cpu_count() or 1)))
    return Run(label, n, seconds, proc.returncode, load_before, os.getloadavg()[0], others, s)


def table(runs: list[Run], n: int) -> str:
    """The figures as one markdown table, and the efficiency and CPU lines under it."""
    lines = ["| run | targets | wall s | targets/h | peak RSS command @50 / end MiB | peak RSS tree @50 / end MiB "
             "| load before / after | others' CPU share |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        own50, tree50 = (f"{v / MIB:.0f}" for v in r.sample.marks[50]) if 50 in r.sample.marks else ("-", "-")
        flag = " (busy: redo)" if r.others > BUSY_SHARE or r.load_before >= 0.5 else ""
        lines.append(f"| {r.label} | {r.n} | {r.seconds:.0f} | {r.rate:.0f} | {own50} / "
                     f"{r.sample.peak_own / MIB:.0f} | {tree50} / {r.sample.peak_tree / MIB:.0f} | "
                     f"{r.load_before:.2f} / {r.load_after:.2f} | {100 * r.others:.0f}%{flag} |")
    by = {r.label: r for r in runs}
    if "survey -j 1" in by:
        for r in runs:
            if r.label.startswith("survey -j ") and r.label != "survey -j 1":
                jobs = int(r.label.rsplit(" ", 1)[1])
                lines.append(f"\nscaling efficiency {r.label}: {r.rate / (jobs * by['survey -j 1'].rate):.2f}")
    lines.append("\nCPU seconds per target, by role, whole run (startup included) | steady state (the "
                 "targets between the first and last tenth done):")
    for r in runs:
        roles = r.sample.by_role()
        text = ", ".join(f"{k} {v / n:.2f}" for k, v in roles.items()) + f"; total {sum(roles.values()) / n:.2f}"
        if len(r.sample.steady) == 2:
            (a, first), (b, last) = sorted(r.sample.steady.items())
            steady = {k: (last[k] - first[k]) / max(1, b - a) for k in ROLES}
            text += " | " + ", ".join(f"{k} {v:.2f}" for k, v in steady.items()) + \
                f"; total {sum(steady.values()):.2f}"
        lines.append(f"- {r.label}: {text} (wall {r.seconds / n:.2f} s per target)")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--jobs", default="1,2")
    p.add_argument("--spec", default=None)
    p.add_argument("--no-compare", action="store_true")
    p.add_argument("--dir", type=Path, default=None)
    p.add_argument("--quiet-load", type=float, default=0.5, help="wait for the 1-minute load to fall below this")
    p.add_argument("--wait", type=float, default=600.0, help="at most this many seconds of waiting, per run")
    args = p.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-survey-"))
    targets = write_corpus(root / "corpus", args.n)
    listing = root / "corpus" / "targets.txt"
    spec = ["--spec", args.spec] if args.spec else []
    print(f"corpus: {args.n} targets in {root / 'corpus'}; {os.cpu_count()} cores; load {os.getloadavg()}",
          flush=True)
    runs: list[Run] = []
    jobs_list = [int(j) for j in args.jobs.split(",")]
    for jobs in jobs_list:
        out = root / f"survey-j{jobs}"
        cmd = [str(EXE), "survey", str(listing), "--out", str(out), "--force", "-j", str(jobs), *spec]
        runs.append(timed(f"survey -j {jobs}", cmd, out, args.n, args.quiet_load, args.wait))
        print(f"{runs[-1].label}: {runs[-1].seconds:.0f} s, {runs[-1].rate:.0f} targets/h, exit {runs[-1].rc}",
              flush=True)
    if not args.no_compare:
        jobs = max(jobs_list)
        out = root / "compare"
        refs = [str(root / "corpus" / t.ref) for t in targets]
        runs.append(timed(f"compare -j {jobs}", [str(EXE), "compare", *refs, "--out", str(out), "-j", str(jobs),
                                                 *spec], out, args.n, args.quiet_load, args.wait))
        print(f"{runs[-1].label}: {runs[-1].seconds:.0f} s, {runs[-1].rate:.0f} targets/h, exit {runs[-1].rc}",
              flush=True)
    print("\n" + table(runs, args.n), flush=True)


if __name__ == "__main__":
    main()
