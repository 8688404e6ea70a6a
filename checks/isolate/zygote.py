"""A warm parent for audit workers: torch is imported once, each target's worker is forked from it.

Importing torch and torchvision costs seconds per process; `compare` of several targets pays it once
this way (`python -m alexnet_audit.isolate.zygote`). The zygote imports the audit's modules, then waits for
requests on stdin (one JSON line each: the worker's arguments, its scratch directory, output files
and environment). For each it forks a child that becomes its own session (so its process group can
be measured and killed), moves into the scratch directory, points fds 0/1/2 at /dev/null and the
output files, and runs `worker.main`; the zygote reports the child's pid and, once it has reaped
it, its exit status (one JSON line each on stdout). No torch kernel runs in the zygote before a fork
(one allocation, to fix the allocator's settings), so no thread pool is copied into a child. The
target's code only ever runs in a child. When stdin closes (the parent closed it, died, or the pipe
broke) every child still running is killed before the zygote ends: no audit outlives its supervisor.
The zygote freezes what it imported out of the garbage collector's reach (`gc.freeze`), so a child's
collections do not copy the shared pages, and asks torch for huge pages for large tensors (`_THP`).
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

_TOP = (__package__ or "alexnet_audit").rpartition(".")[0]
# everything a worker imports (measured: the modules a forked worker added to sys.modules), so that no
# child imports anything of ours or theirs again
_PRELOAD = ("torch", "torchvision", "alexnet_ref", "yaml", "faulthandler", "torch.utils.flop_counter",
            "torch.utils.module_tracker")
_OWN = ("isolate.worker", "audit.pipeline", "target.resolve", "audit.verify", "trace", "report", "probes.layers",
        "probes", "isolate.codec", "isolate.offline", "isolate.attempts", "spec.load", "spec.waivers")
# torch's CPU allocator backs each allocation of 2 MiB or more with transparent huge pages (where the
# kernel allows them, `madvise` mode): an audit builds the full-size net three times and faults in about
# 1.5 GB, and 2 MiB pages cut its page faults from ~370k to ~60k. torch reads the variable once, at its
# first allocation, which happens here in the zygote; a child's environment is the request's own again.
_THP = "THP_MEM_ALLOC_ENABLE"


# ------------------------------------------------------------------------------- the zygote ---

def _child(req: dict[str, Any]) -> None:
    """In the forked child: become the worker; never returns."""
    code = 70
    try:
        os.setsid()
        os.chdir(req["cwd"])
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            new = os.open(path, flags, 0o600)
            os.dup2(new, fd)
            os.close(new)
        os.environ.clear()
        os.environ.update(req["env"])
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the scratch directory now
        sys.dont_write_bytecode = True
        from . import worker

        code = worker.main(list(req["argv"]))
    except BaseException:  # the worker already turns the target's exceptions into its result
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _kill(pid: int) -> None:
    """SIGKILL a forked worker's process group (its own session), and the worker itself in case it has
    not yet called setsid."""
    import signal

    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def serve(inp: IO[str], out: IO[str]) -> None:
    """Fork a worker per request line until stdin closes; report pids and exit statuses.

    When stdin closes, whatever still runs is killed, then reaped: the parent closes it only once its
    audits are done (`Zygote.close`), so a worker still running then has lost the one that waits for it
    (the parent died, or the pipe broke), and must not run on unsupervised, without limits."""
    children: dict[int, Any] = {}
    replies = [True]  # False once the parent stops reading: it is gone

    def say(msg: dict[str, Any]) -> None:
        if not replies[0]:
            return
        try:
            out.write(json.dumps(msg) + "\n")
            out.flush()
        except (OSError, ValueError):  # a broken pipe: the parent is gone, as when stdin closes
            replies[0] = False

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            rid = children.pop(pid, None)  # PID 1 of a sandbox also reaps orphans that are not ours
            if rid is not None:
                say({"id": rid, "pid": pid, "status": os.waitstatus_to_exitcode(status)})

    open_ = True
    while open_ or children:
        ready = select.select([inp], [], [], 0.05)[0] if open_ else []
        if ready:
            line = inp.readline()
            if not line:
                open_ = False
            else:
                req = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(req)
                children[pid] = req["id"]
                say({"id": req["id"], "pid": pid})
        if (not open_ or not replies[0]) and children:
            open_ = False
            for pid in list(children):
                _kill(pid)
        reap()
        if not open_ and children:
            select.select([], [], [], 0.05)


def main() -> int:
    import gc
    import importlib

    os.environ.setdefault(_THP, "1")
    for mod in _PRELOAD:
        importlib.import_module(mod)
    for mod in _OWN:
        importlib.import_module(f"{_TOP}.{mod}")
    from ..probes import all_probes

    all_probes()  # every probe module, imported once here instead of in each worker
    import torch

    torch.empty(1)  # the allocator's first call: it reads _THP now (an allocation, no kernel, no thread pool)
    gc.collect()
    gc.freeze()  # what is imported stays out of the children's collections: their pages stay shared
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    serve(sys.stdin, sys.stdout)
    return 0


# -------------------------------------------------------------------------------- the client ---

class _Forked:
    """A worker forked by the zygote (sandbox.Handle): its exit status arrives from the zygote."""

    def __init__(self, zygote: Zygote, pid: int, done: threading.Event) -> None:
        self.zygote, self.pid, self.done = zygote, pid, done
        self.status: int | None = None

    def wait_for(self, timeout: float) -> int | None:
        if self.done.wait(timeout):
            return self.status if self.status is not None else -9
        if not self.zygote.alive():  # the zygote died: nobody will reap this worker or report its status
            self.kill()
            return self.status if self.status is not None else -9
        return None

    def kill(self) -> None:
        import signal

        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.done.wait(10)  # the zygote reaps it and reports


class Zygote:
    """The parent's side: start the zygote, ask it for workers, route its replies to them."""

    def __init__(self, env: dict[str, str], cwd: Path, confine: Any = None) -> None:
        cmd = [sys.executable, "-m", f"{__package__}.zygote"]
        self.confined = confine is not None  # in its own PID namespace: its pids are not ours
        self.proc = subprocess.Popen(confine.wrap(cmd) if confine is not None else cmd, env=env, cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        self.lock = threading.Lock()
        self.next_id = 0
        self.pending: dict[int, tuple[threading.Event, list[_Forked]]] = {}  # request id -> (started, [worker])
        self.workers: dict[int, _Forked] = {}  # request id -> worker
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, name="alexnet-audit-zygote", daemon=True)
        self.reader.start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("ready"):
                self.ready.set()
                continue
            with self.lock:
                if "status" in msg:
                    worker = self.workers.pop(int(msg["id"]), None)
                    if worker is not None:
                        worker.status = int(msg["status"])
                        worker.done.set()
                else:  # registered here, before its status can arrive (both come through this thread)
                    event, box = self.pending.pop(int(msg["id"]))
                    worker = _Forked(self, self.host_pid(int(msg["pid"])), threading.Event())
                    self.workers[int(msg["id"])] = worker
                    box.append(worker)
                    event.set()
        self.ready.set()  # the zygote is gone: nobody waits for it any more
        with self.lock:
            for event, _ in self.pending.values():
                event.set()
            for worker in self.workers.values():
                worker.done.set()

    def host_pid(self, pid: int) -> int:
        """The pid a worker forked in the sandbox has here (the one to measure and kill)."""
        if not self.confined:
            return pid
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children", encoding="ascii") as fh:
                zygote = int(fh.read().split()[0])  # unshare's one child: the zygote, PID 1 inside
            with open(f"/proc/{zygote}/task/{zygote}/children", encoding="ascii") as fh:
                forked = [int(c) for c in fh.read().split()]
            for host in forked:
                with open(f"/proc/{host}/status", encoding="ascii") as fh:
                    ns = next(line.split()[1:] for line in fh if line.startswith("NSpid:"))
                if int(ns[-1]) == pid:
                    return host
        except (OSError, ValueError, IndexError, StopIteration):
            pass
        return pid  # not found (gone already): a kill then reaches nothing of ours

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path) -> _Forked | None:
        """Fork one worker (argv: `python -m <package>.worker ARGS`); None if the zygote cannot."""
        if not self.ready.wait(120) or not self.alive():
            return None
        args = argv[argv.index(f"{__package__}.worker") + 1:]
        event, box = threading.Event(), list[_Forked]()
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            self.pending[rid] = (event, box)
        req = {"id": rid, "argv": args, "cwd": str(cwd), "env": env, "stdout": str(stdout), "stderr": str(stderr)}
        try:
            assert self.proc.stdin is not None
            with self.lock:
                self.proc.stdin.write(json.dumps(req) + "\n")
                self.proc.stdin.flush()
        except (OSError, ValueError):
            return None
        if not event.wait(30) or not box:
            return None
        return box[0]

    def close(self) -> None:
        """Let the zygote end (it reaps what is left), then make sure it has."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            import signal

            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()


if __name__ == "__main__":
    sys.exit(main())
