"""Run one worker process under the audit's limits; the one isolation every entry point uses.

A worker is started in its own session (so its whole process group can be killed), in a scratch
working directory, with stdin closed and stdout/stderr going to files (the target's prints never mix
with ours). While it runs, the parent enforces:
- a wall-clock limit (a hang is killed, not waited for);
- a memory limit on what the process group really holds (resident set size, read from /proc), not
  on address space: PyTorch reserves far more address space than it touches, so an RLIMIT_AS cap
  either fails faithful models or limits nothing;
- the user's Ctrl-C: `stop_all` kills every live worker at once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.1  # how often the memory of a running worker is read

_LIVE: set[subprocess.Popen[bytes]] = set()  # running workers, so that Ctrl-C can stop every one at once
_LIVE_LOCK = threading.Lock()
STOP = threading.Event()  # set by stop_all: no new worker starts


@dataclass
class Finished:
    """How a worker process ended: its exit status, or why it was stopped."""

    rc: int | None = None
    cause: str = ""  # set when the parent stopped it (timeout, memory, interrupted) or could not start it
    peak_rss: int = 0


def default_memory_limit(jobs: int = 1) -> int:
    """Three quarters of the machine's memory, shared by the parallel workers (0 where unknown)."""
    try:
        total = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0
    return total * 3 // 4 // max(1, jobs)


def group_rss(pgid: int) -> int:
    """Bytes resident in every process of process group `pgid` (0 where /proc is not available)."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 21 and int(fields[2]) == pgid:  # field 5 is the process group, 24 the rss in pages
            total += int(fields[21]) * page
    return total


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


SIGNAL_HINTS = {
    "SIGABRT": "the target aborted the process (os.abort(), a failed C/C++ assertion)",
    "SIGSEGV": "a segmentation fault in native code",
    "SIGBUS": "a bus error in native code",
    "SIGFPE": "a floating-point exception in native code",
    "SIGILL": "an illegal instruction in native code",
    "SIGKILL": "killed from outside, e.g. by the kernel's out-of-memory killer",
}


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        pass


def stop_all() -> None:
    """Kill the process group of every running worker (the user pressed Ctrl-C)."""
    STOP.set()
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        kill_group(proc)


def run_limited(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path,
                timeout: float, memory: int, what: str = "the audit") -> Finished:
    """Run `cmd` to its end or to a limit; never raises but for the user's KeyboardInterrupt."""
    if STOP.is_set():
        return Finished(cause="stopped before it started (interrupted)")
    with open(stdout, "wb") as so, open(stderr, "wb") as se:
        try:
            proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                    start_new_session=True)
        except OSError as exc:  # e.g. a reference longer than the system allows on a command line
            return Finished(cause=f"{what} process could not be started: {exc.strerror or exc}")
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            return _watch(proc, timeout, memory, what)
        except BaseException:  # Ctrl-C in the waiting thread: the worker goes with us
            kill_group(proc)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)


def _watch(proc: subprocess.Popen[bytes], timeout: float, memory: int, what: str) -> Finished:
    deadline = time.monotonic() + timeout
    peak = 0
    while True:
        try:
            rc = proc.wait(timeout=POLL_S)
            return Finished(rc=rc, peak_rss=peak)
        except subprocess.TimeoutExpired:
            pass
        if memory > 0:
            peak = max(peak, group_rss(proc.pid))
            if peak > memory:
                kill_group(proc)
                return Finished(cause=f"the target used more memory than allowed ({gib(peak)} resident, limit "
                                      f"{gib(memory)}; set ALEXNET_AUDIT_MEMORY_LIMIT)", peak_rss=peak)
        if STOP.is_set():
            kill_group(proc)
            return Finished(cause="stopped (interrupted)", peak_rss=peak)
        if time.monotonic() > deadline:
            kill_group(proc)
            return Finished(cause=f"{what} did not finish within {timeout:g} s and was stopped (a hang, or a model "
                                  f"too slow to audit here; raise --timeout)", peak_rss=peak)


def describe_exit(rc: int, stderr_tail: str, what: str = "the audit") -> str:
    """Why a worker that left no result ended, in one line."""
    if rc < 0:
        sig = signal_name(-rc)
        hint = SIGNAL_HINTS.get(sig)
        return f"{what} process died from {sig}" + (f": {hint}" if hint else "")
    return f"{what} process exited with status {rc} without a result" + (f": {stderr_tail}" if stderr_tail else "")


def stderr_tail(path: Path, lines: int = 1) -> str:
    """The last useful line(s) of a worker's stderr: no traceback frames, no faulthandler banner."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    useful = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("  File", "    "))
              and not ln.startswith(("Fatal Python error", "Current thread", "Thread 0x", "Extension modules"))]
    return " | ".join(useful[-lines:])
