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

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

POLL_S = 0.1  # how often the memory of a running worker is read
MAX_PROCESSES = 512  # processes in a worker's group before it is stopped (a fork bomb)

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
    return group_stats(pgid)[0]


def group_stats(pgid: int) -> tuple[int, int]:
    """Bytes resident in, and the number of, the processes of process group `pgid` ((0, 0) where
    /proc is not available)."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total = count = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 21 and int(fields[2]) == pgid:  # field 5 is the process group, 24 the rss in pages
            total += int(fields[21]) * page
            count += 1
    return total, count


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


class Handle(Protocol):
    """A started worker: the process group to measure and kill, and a wait with a timeout."""

    pid: int

    def wait_for(self, timeout: float) -> int | None:
        """The exit status once it ended within `timeout` seconds (negative: killed by a signal), else None."""

    def kill(self) -> None:
        """Kill the whole process group now and reap it."""


class _Popened:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc, self.pid = proc, proc.pid

    def wait_for(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        kill_group(self.proc)


_LIVE: set[Handle] = set()  # running workers, so that Ctrl-C can stop every one at once


def stop_all() -> None:
    """Kill the process group of every running worker (the user pressed Ctrl-C)."""
    STOP.set()
    with _LIVE_LOCK:
        live = list(_LIVE)
    for handle in live:
        handle.kill()


def run_limited(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path,
                timeout: float, memory: int, what: str = "the audit", forker: Any = None,
                confine: Any = None) -> Finished:
    """Run `cmd` to its end or to a limit; never raises but for the user's KeyboardInterrupt.

    With a `forker` (a `zygote.Zygote`), `cmd` must be a worker command and runs in a process forked
    from it (torch already imported, inside the zygote's sandbox) instead of a fresh interpreter.
    With `confine` (a `jail.Confinement`), a fresh interpreter runs inside the OS sandbox.
    """
    if STOP.is_set():
        return Finished(cause="stopped before it started (interrupted)")
    if forker is not None:
        handle = forker.start(list(cmd), cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        if handle is None:  # the forker is gone: a fresh interpreter after all
            return run_limited(cmd, cwd=cwd, env=env, stdout=stdout, stderr=stderr, timeout=timeout, memory=memory,
                               what=what, confine=confine)
        return _supervise(handle, timeout, memory, what)
    with open(stdout, "wb") as so, open(stderr, "wb") as se:
        try:
            argv = confine.wrap(cmd) if confine is not None else list(cmd)
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                    start_new_session=True)
        except OSError as exc:  # e.g. a reference longer than the system allows on a command line
            return Finished(cause=f"{what} process could not be started: {exc.strerror or exc}")
        return _supervise(_Popened(proc), timeout, memory, what)


def _supervise(handle: Handle, timeout: float, memory: int, what: str) -> Finished:
    with _LIVE_LOCK:
        _LIVE.add(handle)
    try:
        return _watch(handle, timeout, memory, what)
    except BaseException:  # Ctrl-C in the waiting thread: the worker goes with us
        handle.kill()
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(handle)


def _watch(handle: Handle, timeout: float, memory: int, what: str) -> Finished:
    deadline = time.monotonic() + timeout
    peak = 0
    while True:
        rc = handle.wait_for(POLL_S)
        if rc is not None:
            return Finished(rc=rc, peak_rss=peak)
        rss, procs = group_stats(handle.pid)
        if procs > MAX_PROCESSES:
            handle.kill()
            return Finished(cause=f"the target started more than {MAX_PROCESSES} processes and was stopped",
                            peak_rss=peak)
        if memory > 0:
            peak = max(peak, rss)
            if peak > memory:
                handle.kill()
                return Finished(cause=f"the target used more memory than allowed ({gib(peak)} resident, limit "
                                      f"{gib(memory)}; set ALEXNET_AUDIT_MEMORY_LIMIT)", peak_rss=peak)
        if STOP.is_set():
            handle.kill()
            return Finished(cause="stopped (interrupted)", peak_rss=peak)
        if time.monotonic() > deadline:
            handle.kill()
            return Finished(cause=f"{what} did not finish within {timeout:g} s and was stopped (a hang, or a model "
                                  f"too slow to audit here; raise --timeout)", peak_rss=peak)


def read_output(stdout: Path, stderr: Path) -> tuple[int, int, str]:
    """Line counts of a worker's stdout and stderr, and the two as one log text."""
    texts = []
    for path in (stdout, stderr):
        try:
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        except OSError:
            texts.append("")
    log = ""
    for title, text in zip(("stdout", "stderr"), texts, strict=True):
        if text:
            log += f"----- {title} -----\n{text}" + ("" if text.endswith("\n") else "\n")
    return len(texts[0].splitlines()), len(texts[1].splitlines()), log


def read_result(path: Path) -> dict[str, Any] | None:
    """A worker's result JSON, or None when it wrote none (or not a whole one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
