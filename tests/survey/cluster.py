"""A `dask scheduler` and `dask worker` processes on 127.0.0.1, started and stopped by the test that uses them."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

DASK = Path(sys.executable).parent / "dask"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cluster(tmp: Path, workers: int = 2,
            env: dict[str, str] | None = None) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A `dask scheduler` and `workers` single-threaded `dask worker` processes on 127.0.0.1 (`env`: what
    the workers' environment adds to ours)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, **(env or {}),
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",  # the survey retries, once
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}  # a worker holds only the task it runs
    log = open(tmp / "cluster.log", "wb")  # noqa: SIM115 - closed below
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], env=env, stdout=log, stderr=log, cwd=tmp)]
    try:
        procs += [subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                                    "--memory-limit", "0", "--dashboard-address", ":0", "--name", f"w{i}"],
                                   env=env, stdout=log, stderr=log, cwd=tmp) for i in range(workers)]
        from distributed import Client

        with Client(address, timeout=60) as c:
            c.wait_for_workers(workers, timeout=120)
        yield address, procs
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
