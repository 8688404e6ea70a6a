"""Ctrl-C during `compare` stops every worker at once and cleans up.

Before, one SIGINT with a hanging target left the parent silent until the target's timeout (55 s
measured); two SIGINTs ended the parent but left the worker running and its scratch directory in
the temporary directory.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HANGS = '''\
import time

import torch.nn as nn


class Hangs(nn.Module):
    def forward(self, x):
        while True:
            time.sleep(0.05)


def build():
    return Hangs()
'''


def _workers(tmp: Path) -> list[Path]:
    """Each worker's scratch directory (inside the run's own folder, which the sandbox lets it write)."""
    return sorted(p for p in tmp.rglob("alexnet-audit-*") if p.is_dir() and not p.name.startswith("alexnet-audit-run-"))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_one_ctrl_c_stops_compare_and_its_workers_now(tmp_path: Path) -> None:
    (tmp_path / "hangs.py").write_text(HANGS, encoding="utf-8")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "alexnet_audit.cli.main", "compare", "hangs.py:build",
                             "hangs.py:build", "-j", "2", "--timeout", "300", "--out", "out"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(_workers(tmp)) < 2 or not all((w / ".stderr.txt").exists() for w in _workers(tmp)):
            assert time.monotonic() < deadline, "the workers never started"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(3)  # the workers are inside the target's forward by now (or importing torch)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert took < 10, f"the parent waited {took:.0f} s after Ctrl-C"
    assert err.strip().splitlines() == ["alexnet-audit: interrupted"]
    assert list(tmp.rglob("alexnet-audit-*")) == [], "a worker's scratch directory was left behind"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "hangs.py:build" not in ps, "a worker outlived the interrupted compare"
