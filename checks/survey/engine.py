"""The one multi-target engine: audits as Dask tasks, on this machine or on a cluster.

`Engine(jobs)` starts a `distributed.LocalCluster` and stops it again; `Engine(scheduler=ADDRESS)`
sends the same tasks to a running scheduler. `processes=False` keeps the workers as threads of this
process (what `compare` uses: one zygote, one torch import, and the client's functions as they are
here); `processes=True` (what `survey` uses) gives each of `jobs` Dask worker processes its own
zygote, so that a crash or the OOM killer takes one worker, not the run.

`Engine.stream(requests)` submits a bounded window of tasks at a time (memory stays flat however
long the corpus is), yields each `Done` as it finishes, in completion order, and keeps the window
full. A task whose Dask worker died under it (`KilledWorker`: out of memory, node lost) is
submitted once more, elsewhere; lost a second time it becomes an error Outcome with the cause.
Ctrl-C (KeyboardInterrupt in the consuming loop) cancels what is queued and kills what is running.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed

from ..isolate import client as audit_client
from ..isolate import sandbox
from . import warm

RETRIES = 1  # a task whose worker was lost is run once more, elsewhere, then recorded as an error
ENV_SCHEDULER = "DASK_SCHEDULER_ADDRESS"


@dataclass
class Done:
    """One finished target: its position in the input, its Outcome, how many times it ran."""

    index: int
    outcome: audit_client.Outcome
    attempts: int = 1
    lost: bool = False  # the infrastructure, not the target, ended it (lost twice, or the task itself failed)


class WarmPlugin(WorkerPlugin):
    """Close a Dask worker's zygotes when the worker closes."""

    name = "alexnet-audit-warm"

    def teardown(self, worker: Any) -> None:
        """The worker closes: so do its zygotes and their scratch roots."""
        warm.close_all()


class Engine:
    """A Dask client on a LocalCluster it owns, or on an existing scheduler; use as a context manager."""

    def __init__(self, jobs: int = 1, *, scheduler: str | None = None, processes: bool = True) -> None:
        self.jobs, self.scheduler, self.processes = max(1, jobs), scheduler, processes
        self.cluster: LocalCluster | None = None
        self.client: Client | None = None
        self.retried = 0

    @property
    def local(self) -> bool:
        return self.scheduler is None

    def __enter__(self) -> Engine:
        import dask

        logging.getLogger("distributed").setLevel(logging.ERROR)  # its INFO lines are not ours to print
        if self.scheduler is None:
            sandbox.STOP.clear()
            os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # the same in the worker processes
            # the retry is ours (RETRIES); a worker holds only the task it runs, so a lost worker loses one
            # and a worker's statistical profiler (a stack sample every 10 ms) costs CPU the audits need
            with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                  "distributed.scheduler.worker-saturation": 1.0,
                                  "distributed.worker.profile.enabled": False}):
                if self.processes:  # -j N worker processes, one audit at a time each
                    with kept_environ():
                        self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                                    memory_limit=0, dashboard_address=":0")
                else:  # one worker in this process, -j N threads sharing one zygote
                    self.cluster = LocalCluster(n_workers=1, threads_per_worker=self.jobs, processes=False,
                                                memory_limit=0, dashboard_address=":0")
            self.client = Client(self.cluster, set_as_default=False)
        else:
            self.client = Client(self.scheduler, set_as_default=False, timeout=30)
        self.client.register_plugin(WarmPlugin())
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, KeyboardInterrupt):
            self.stop_running()
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self._try(lambda c: c.run(warm.close_all))  # every worker's zygotes, at once (a cluster's stay up)
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if not self.processes:
            warm.close_all()  # the in-process worker's zygote

    def stop_running(self) -> None:
        """Kill every audit running now, on every worker (the user pressed Ctrl-C)."""
        audit_client.stop_all_workers()  # in this process (an in-process worker's audits)
        self._try(lambda c: c.run(warm.stop_running))

    def _try(self, call: Any) -> Any:
        if self.client is None:
            return None
        try:
            return call(self.client)
        except Exception:  # a worker already gone, a closing cluster: nothing more to do there
            return None

    def workers(self) -> int:
        """How many Dask workers (threads, in-process) audit at once."""
        if self.client is None:
            return 0
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return sum(int(w.get("nthreads", 1)) for w in info.values()) or 1

    def per_host(self) -> int:
        """The most audits that run at once on one machine (to split its threads and memory)."""
        if self.local or self.client is None:
            return self.jobs
        hosts: dict[str, int] = {}
        for address, w in self.client.scheduler_info(n_workers=-1)["workers"].items():
            host = address.split("://")[-1].rsplit(":", 1)[0]
            hosts[host] = hosts.get(host, 0) + int(w.get("nthreads", 1))
        return max(hosts.values(), default=1)

    def stream(self, requests: Iterable[tuple[int, audit_client.Request]], setup: warm.Setup,
               window: int | None = None) -> Iterator[Done]:
        """Audit every request; yield each `Done` as it finishes (completion order)."""
        assert self.client is not None, "use Engine as a context manager"
        window = window or max(2, 2 * self.workers())
        pending = iter(requests)
        by_key: dict[str, tuple[int, audit_client.Request, int]] = {}
        serial = itertools.count()

        def submit(index: int, req: audit_client.Request, attempt: int) -> Any:
            assert self.client is not None
            key = f"alexnet-audit-{os.getpid()}-{next(serial)}-{index}-{attempt}"
            by_key[key] = (index, req, attempt)
            return self.client.submit(warm.audit_task, req, setup, key=key, pure=False, retries=0)

        first = [submit(index, req, 1) for index, req in itertools.islice(pending, window)]
        if not first:
            return
        running = as_completed(first, loop=self.client.loop)
        for future in running:
            index, req, attempt = by_key.pop(future.key)
            done = self._finished(future, index, req, attempt)
            future.release()
            if done is None:  # lost its worker: once more, elsewhere
                self.retried += 1
                running.add(submit(index, req, attempt + 1))
                continue
            for nxt in itertools.islice(pending, 1):
                running.add(submit(*nxt, 1))
            yield done

    def _finished(self, future: Any, index: int, req: audit_client.Request, attempt: int) -> Done | None:
        try:
            outcome = future.result()
        except KilledWorker as exc:
            if attempt <= RETRIES:
                return None
            where = getattr(getattr(exc, "last_worker", None), "address", "?")
            cause = (f"the Dask worker running this audit was lost {attempt} times (out of memory, killed or its "
                     f"node lost; last on {where})")
            return Done(index, audit_client.failed(req.ref, req.name, cause, req), attempt, lost=True)
        except Exception as exc:  # the task itself could not run (a pickling or communication failure)
            from ..core.errors import first_line

            cause = f"the survey task failed: {first_line(exc)}"
            return Done(index, audit_client.failed(req.ref, req.name, cause, req), attempt, lost=True)
        outcome = warm.with_spec(outcome, req)
        lost = not outcome.ok and outcome.cause.startswith("stopped")  # interrupted: not the target's doing
        return Done(index, outcome, attempt, lost=lost)


@contextlib.contextmanager
def kept_environ() -> Iterator[None]:
    """Undo what starting Dask's nannies writes into this process's environment.

    A nanny sets `distributed.nanny.pre-spawn-environ` (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1,
    MALLOC_TRIM_THRESHOLD_ ...) in *our* os.environ before it spawns its worker. The audits' environment
    is computed from ours afterwards (`client.worker_env`: cpu_count // jobs threads), so without this a
    survey at -j 1 would audit with one thread where `audit` uses every core."""
    before = dict(os.environ)
    try:
        yield
    finally:
        for name in [n for n in os.environ if n not in before]:
            del os.environ[name]
        os.environ.update(before)


def scheduler_address(given: str | None) -> str | None:
    """--scheduler, else DASK_SCHEDULER_ADDRESS, else None (a LocalCluster)."""
    return (given or os.environ.get(ENV_SCHEDULER, "") or "").strip() or None
