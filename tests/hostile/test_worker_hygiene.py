"""What a target does to its process stays in the worker: threads, prints, memory.

- A target that leaves a non-daemon thread running used to make `audit` print PASS and never exit;
  in `compare` its finished report was then replaced by an all-error one at the timeout. A daemon
  thread running torch ops aborted the process (exit 134) at interpreter shutdown.
- The target's prints were interleaved with the audit's own output.
- The memory limit was on address space, so `ALEXNET_AUDIT_MEMORY_LIMIT=4e9` failed the reference,
  which holds about 1.2 GB.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alexnet_audit.cli.main import EXIT_GATE, EXIT_OK, main
from alexnet_audit.isolate.sandbox import group_rss

THREADS = '''\
import threading
import time

import torch
import torch.nn as nn

import alexnet_ref

print("THe initial weight is", 0.01)


def _spin():
    while True:
        time.sleep(0.01)


def _torch_ops():
    a = torch.randn(64, 64)
    while True:
        a = (a @ a).tanh()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = alexnet_ref.alexnet(10)
        threading.Thread(target=_spin, name="spin").start()  # non-daemon, never joined
        threading.Thread(target=_torch_ops, name="torch-ops", daemon=True).start()

    def forward(self, x):
        return self.net(x)


def build():
    return Net()
'''


@pytest.fixture()
def threads_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "threads.py").write_text(THREADS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_leftover_threads_neither_hang_nor_lose_the_report(threads_target: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    rc = main(["audit", "threads.py:build", "--out", "out", "--timeout", "120"])
    seconds = time.monotonic() - start
    out = capsys.readouterr().out
    assert seconds < 100, "the audit waited for the target's thread"
    assert rc in (EXIT_OK, EXIT_GATE)
    assert out.splitlines()[0].startswith("threads.build: ") and "ERROR" not in out.splitlines()[0]
    assert "THe initial weight" not in out  # the target's print is in the log, not in our output
    report = json.loads((threads_target / "out" / "threads.build.json").read_text(encoding="utf-8"))
    assert not any(f["status"] == "error" for f in report["findings"])
    notes = " ".join(report["run_notes"])
    assert "thread(s) running" in notes and "spin" in notes and "torch-ops (daemon)" in notes
    assert "1 line(s) to stdout" in notes
    log = (threads_target / "out" / "threads.build.log").read_text(encoding="utf-8")
    assert "THe initial weight is 0.01" in log
    md = (threads_target / "out" / "threads.build.md").read_text(encoding="utf-8")
    assert "## Notes on this run" in md and "threads.build.log" in md


def test_a_silent_target_writes_no_log_and_no_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "quiet.py").write_text("import alexnet_ref\n\ndef build():\n    return alexnet_ref.alexnet(10)\n",
                                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    main(["audit", "quiet.py:build", "--out", "out", "--format", "json"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["quiet.build.json"]
    assert "run_notes" not in json.loads((tmp_path / "out" / "quiet.build.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_memory_limit_is_on_resident_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """4e9 bytes is ample for the reference (about 1.2 GB resident); an address-space cap failed it."""
    monkeypatch.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", "4e9")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "reference", "--out", "out", "--format", "json"]) == EXIT_OK
    assert "ERROR" not in capsys.readouterr().out


def test_group_rss_reads_this_process_group() -> None:
    import os

    assert group_rss(os.getpgrp()) > 10 * 2**20  # this pytest process alone holds more than 10 MiB
    assert group_rss(2**22 + 12345) == 0  # no such group
