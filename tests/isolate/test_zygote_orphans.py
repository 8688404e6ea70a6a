"""The warm zygote kills the workers it forked when its input closes (its parent closed it, died, or
the pipe broke): no audit runs on without the parent that enforces its time and memory limits.

The no-sandbox case (a sandboxed zygote dies with its PID namespace anyway): the zygote runs in its
own session, so nothing but its closed stdin tells it that the parent is gone. The target hangs at
import, so the worker would otherwise run for the 600 s it sleeps.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from alexnet_audit.isolate import client
from alexnet_audit.isolate.zygote import Zygote

pytestmark = pytest.mark.slow
HANG = "import time\ntime.sleep(600)\n\ndef build():\n    return None\n"
PARENT = '''
import sys, time
from pathlib import Path
from alexnet_audit.isolate import client
from alexnet_audit.isolate.zygote import Zygote

tmp = Path(sys.argv[1])
zygote = Zygote(client.worker_env(1), tmp)  # confine=None: no sandbox
assert zygote.ready.wait(120) and zygote.alive()
worker = zygote.start(WORKER_ARGV, cwd=tmp, env=client.worker_env(1), stdout=tmp / "out.txt", stderr=tmp / "err.txt")
print(zygote.proc.pid, worker.pid, flush=True)
time.sleep(600)
'''


def _worker_argv(tmp: Path) -> list[str]:
    (tmp / "hang.py").write_text(HANG, encoding="utf-8")
    return [sys.executable, "-m", client.WORKER, "--ref", f"{tmp / 'hang.py'}:build", "--name", "hang",
            "--result", str(tmp / "result.json")]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _hanging(pid: int) -> None:
    time.sleep(1.5)  # long enough to be importing the target, which sleeps
    assert _running(pid), "the worker should still be running (its target sleeps)"


def test_closing_the_zygotes_input_kills_a_hanging_worker(tmp_path: Path) -> None:
    zygote = Zygote(client.worker_env(1), tmp_path)
    try:
        assert zygote.ready.wait(120) and zygote.alive()
        worker = zygote.start(_worker_argv(tmp_path), cwd=tmp_path, env=client.worker_env(1),
                              stdout=tmp_path / "out.txt", stderr=tmp_path / "err.txt")
        assert worker is not None
        _hanging(worker.pid)
        assert zygote.proc.stdin is not None
        zygote.proc.stdin.close()  # the parent's side, closed while the worker runs
        assert _gone_within([worker.pid, zygote.proc.pid], 5)
        assert worker.done.wait(5) and worker.status == -signal.SIGKILL  # killed, reaped and reported
    finally:
        zygote.close()


def test_a_parent_killed_outright_takes_the_zygote_and_its_workers_along(tmp_path: Path) -> None:
    script = PARENT.replace("WORKER_ARGV", repr(_worker_argv(tmp_path)))
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]  # the zygote, the worker
        _hanging(pids[1])
        parent.kill()  # SIGKILL: no close(), no atexit; the kernel closes its end of the pipe
        parent.wait()
        assert _gone_within(pids, 5)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in pids:  # what a failed assertion leaves behind
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
