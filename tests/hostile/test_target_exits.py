"""A target that exits, aborts or raises KeyboardInterrupt cannot make the gate pass.

`sys.exit(0)` or `os._exit(0)` in a model's forward used to end `alexnet-audit audit` with exit 0,
no output and no report: a CI gate built on the audit passed. The audit now runs the target in a
worker; whatever the target does to its process becomes an error report with the cause in one line,
and the exit code is 1.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from alexnet_audit.cli.main import EXIT_GATE, main

EXITING = '''\
import os
import sys

import torch.nn as nn

import alexnet_ref


class Exits(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = alexnet_ref.alexnet(10)

    def forward(self, x):
        CODE


def build():
    return Exits()
'''


CASES = {  # what forward does -> what the error report's cause must say
    "sys.exit(0)": "SystemExit: 0",
    "sys.exit(3)": "SystemExit: 3",
    "raise KeyboardInterrupt": "KeyboardInterrupt",
    "os._exit(0)": "exited with status 0 without a result",
}


@pytest.mark.parametrize("body", [pytest.param(b, marks=() if b == "sys.exit(0)" else pytest.mark.slow) for b in CASES])
def test_a_target_that_exits_is_an_error_report_and_fails_the_gate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], body: str) -> None:
    (tmp_path / "exits.py").write_text(EXITING.replace("CODE", body), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    rc = main(["audit", "exits.py:build", "--out", "out", "--format", "json"])
    out = capsys.readouterr().out
    assert rc == EXIT_GATE
    assert out.splitlines()[0].startswith("exits.build: ERROR - ") and CASES[body] in out.splitlines()[0]
    report = json.loads((tmp_path / "out" / "exits.build.json").read_text(encoding="utf-8"))
    assert report["findings"] and all(f["status"] == "error" for f in report["findings"])
    assert CASES[body] in report["target"]["error"]
    assert sorted(os.listdir(tmp_path)) == ["exits.py", "out"]  # no __pycache__ or files beside the target


def test_audit_checks_out_before_auditing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`audit --out FILE` is a one-line usage error before any measurement, not a traceback after it."""
    from alexnet_audit.cli.main import EXIT_USAGE

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    assert main(["audit", "reference", "--out", str(blocker)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""  # no summary line: nothing was audited
    assert len(captured.err.strip().splitlines()) == 1 and "--out" in captured.err


@pytest.mark.parametrize("body", ["os._exit(0)", pytest.param("sys.exit(0)", marks=pytest.mark.slow)])
def test_smoke_of_a_target_that_exits_fails_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], body: str) -> None:
    """`smoke` used to exit 0 here: the run now trains in an isolated worker that must leave a result."""
    (tmp_path / "exits.py").write_text(EXITING.replace("CODE", body), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    rc = main(["smoke", "exits.py:build", "--device", "cpu", "--steps", "2", "--batch-size", "2",
               "--json", "out/smoke.json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == EXIT_GATE
    assert len(err) == 1 and err[0].startswith("alexnet-audit: smoke failed: the smoke run process exited with "
                                               "status 0 without a result")
    assert not (tmp_path / "out" / "smoke.json").exists()
    assert sorted(os.listdir(tmp_path)) == ["exits.py"]
