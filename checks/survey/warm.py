"""The Dask worker's side: one audit per task through the single-target client, forked from a warm zygote.

`audit_task(req, setup)` is what the scheduler runs. It calls `isolate.client.run` exactly as `audit`
does (same worker, same sandbox, same limits, same report data), with one difference: the worker
process is forked from a zygote (`isolate.zygote`) that this Dask worker process started once and
keeps, so a task does not pay the torch import. The zygotes live in a module-level cache keyed by the
run's `Setup`; `engine.WarmPlugin` (registered on every worker) closes them when the Dask worker closes.

A zygote started here inside the OS sandbox dies with this process (PR_SET_PDEATHSIG on the
sandbox's `unshare`, whose `--kill-child` takes the whole PID namespace along): a Dask worker that is
killed (out of memory, node lost, Ctrl-C) leaves no audit running behind it.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..isolate.client import Outcome, Request


@dataclass(frozen=True)
class Setup:
    """What every task of one run shares: the warm pool on each worker is built from it (and keyed by it)."""

    jobs: int = 1  # parallel audits per machine: OMP/MKL threads and the default memory limit are split by it
    env: tuple[tuple[str, str], ...] | None = None  # the workers' environment; None: each worker's own (a cluster)
    limit: int | None = None  # bytes of resident memory per audit; None: the worker machine's default
    keep: tuple[str, ...] = ()  # what the sandbox keeps readable in a hidden home (every target's folder)
    warm: bool = True  # fork each audit from the zygote (False: a fresh interpreter per audit)
    settings: tuple[tuple[str, str], ...] = ()  # the run's sandbox settings (`SETTINGS`); (): the worker's own

    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.jobs, self.env, self.limit, self.keep, self.warm,
                                          self.settings]).encode()).hexdigest()


# --sandbox, --pass-env and --no-stub, as the command line leaves them in the survey's environment. They
# travel inside every task (`Setup.settings`), so a worker on another machine, started without them,
# audits as `audit` would with the same flags; `applied` holds them in the worker process while it runs.
SETTINGS = ("ALEXNET_AUDIT_SANDBOX", "ALEXNET_AUDIT_PASS_ENV", "ALEXNET_AUDIT_NO_STUB")


def settings_here() -> tuple[tuple[str, str], ...]:
    """This process's sandbox settings, to carry to the workers ("": not set)."""
    return tuple((name, os.environ.get(name, "")) for name in SETTINGS)


_SETTLED = threading.Condition()
_APPLIED: list[Any] = [None, 0, {}]  # the settings in force here, the tasks running under them, the values before


@contextlib.contextmanager
def applied(settings: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """Run a task under `settings` in this worker process's environment, which the isolation reads
    (`jail.requested`, `jail.prepare_env`) and the audit's worker inherits (`ALEXNET_AUDIT_NO_STUB`).
    Tasks of runs with other settings wait until the running ones are done; once none runs, the
    worker's own values come back. () changes nothing (an in-process worker: `compare`)."""
    if not settings:
        yield
        return
    with _SETTLED:
        while _APPLIED[1] and _APPLIED[0] != settings:
            _SETTLED.wait()
        if not _APPLIED[1]:
            _APPLIED[2] = {name: os.environ.get(name) for name, _ in settings}
            _set_environ(dict(settings))
            _APPLIED[0] = settings
        _APPLIED[1] += 1
    try:
        yield
    finally:
        with _SETTLED:
            _APPLIED[1] -= 1
            if not _APPLIED[1]:
                _set_environ({name: value or "" for name, value in _APPLIED[2].items()})
                _APPLIED[0] = None
            _SETTLED.notify_all()


def _set_environ(values: dict[str, str]) -> None:
    for name, value in values.items():
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


# ------------------------------------------------------------------------- dying with us ---

_LAUNCHER = ("import ctypes, os, sys\n"
             "ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n"  # PR_SET_PDEATHSIG, SIGKILL
             "os.getppid() == int(sys.argv[1]) or os._exit(1)\n"  # the parent died before prctl
             "os.execvp(sys.argv[2], sys.argv[2:])\n")


@dataclass(frozen=True)
class DiesWithParent:
    """A `jail.Confinement` whose process is killed when the thread that started it ends."""

    inner: Any

    def wrap(self, cmd: Sequence[str]) -> list[str]:
        return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *self.inner.wrap(cmd)]


_SPAWNS: queue.Queue[tuple[Callable[[], Any], list[Any], threading.Event]] = queue.Queue()
_SPAWNER: list[threading.Thread] = []
_SPAWNER_LOCK = threading.Lock()


def _spawner() -> None:
    while True:
        make, box, done = _SPAWNS.get()
        try:
            box.append(make())
        except BaseException as exc:  # handed to the caller
            box.append(exc)
        done.set()


def _in_spawner(make: Callable[[], Any]) -> Any:
    """Run `make` in one long-lived thread: PR_SET_PDEATHSIG fires when the *thread* that forked ends."""
    with _SPAWNER_LOCK:
        if not _SPAWNER:
            _SPAWNER.append(threading.Thread(target=_spawner, name="alexnet-audit-spawner", daemon=True))
            _SPAWNER[0].start()
    box: list[Any] = []
    done = threading.Event()
    _SPAWNS.put((make, box, done))
    done.wait()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


# ------------------------------------------------------------------------- the warm pool ---

@dataclass
class Warm:
    """One run's warm state in this process: the zygote, the scratch root, the environment, the limit."""

    root: Path
    env: dict[str, str]
    limit: int
    forker: Any = None

    def close(self) -> None:
        if self.forker is not None:
            self.forker.close()
        shutil.rmtree(self.root, ignore_errors=True)


_LOCK = threading.Lock()
_POOLS: dict[str, Warm] = {}


def _start(setup: Setup) -> Warm:
    from ..isolate import client, jail
    from ..isolate.zygote import Zygote

    env = dict(setup.env) if setup.env is not None else client.worker_env(setup.jobs)
    limit = setup.limit if setup.limit is not None else client.memory_limit(setup.jobs)
    root = Path(tempfile.mkdtemp(prefix="alexnet-audit-run-"))  # every audit's scratch directory is in here
    warm = Warm(root, env, limit)
    if setup.warm:
        zygote_env, _ = jail.prepare_env(env, root, keep=setup.keep)
        confine = jail.confinement([root], setup.keep)
        guarded = DiesWithParent(confine) if confine is not None else None
        warm.forker = _in_spawner(lambda: Zygote(zygote_env, root, guarded))
    return warm


def pool(setup: Setup) -> Warm:
    """This process's warm state for `setup`, started on first use (one zygote per Dask worker and run)."""
    key = setup.key()
    with _LOCK:
        warm = _POOLS.get(key)
        if warm is None:
            warm = _POOLS[key] = _start(setup)
        return warm


def close_all() -> None:
    """Close every zygote this process started and remove their scratch roots."""
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for warm in pools:
        warm.close()


atexit.register(close_all)


def audit_task(req: Request, setup: Setup) -> Outcome:
    """One target's audit on this worker: `client.run`, forked from the warm zygote. The Outcome goes
    back without its spec (the caller has it)."""
    from ..isolate import client, jail

    with applied(setup.settings):
        jail.require()  # --sandbox required: this worker's machine must have the sandbox too
        warm = pool(setup)
        outcome = client.run(req, jobs=setup.jobs, env=warm.env, limit=warm.limit, forker=warm.forker,
                             scratch_root=warm.root)
    outcome.spec = None
    return outcome


def stop_running() -> int:
    """Kill every audit running in this process now (Ctrl-C); the number of pools touched."""
    from ..isolate import sandbox

    sandbox.stop_all()
    return len(_POOLS)


def with_spec(outcome: Outcome, req: Request) -> Outcome:
    """The Outcome as `client.run` returns it here: with the spec it was written for."""
    return replace(outcome, spec=req.spec) if outcome.spec is None else outcome
