"""A target that calls sys.exit in forward cannot make an in-process audit pass silently.

`sys.exit(0)` in a model's forward used to end `alexnet-audit audit` with exit 0, no output and no
report: a CI gate built on the audit passed. Target code's SystemExit is the target's failure; the
items that needed the forward pass are errors, the gate fails and the report is written.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from alexnet_audit.cli import EXIT_GATE, main

EXITING = '''\
import sys

import torch.nn as nn

import alexnet_ref


class Exits(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = alexnet_ref.alexnet(10)

    def forward(self, x):
        sys.exit(CODE)


def build():
    return Exits()
'''


@pytest.mark.parametrize("code", [0, 3])
def test_sys_exit_in_forward_is_an_error_not_a_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str], code: int) -> None:
    (tmp_path / "exits.py").write_text(EXITING.replace("CODE", str(code)), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    rc = main(["audit", "exits.py:build", "--out", "out", "--format", "json"])
    out = capsys.readouterr().out
    assert rc == EXIT_GATE
    assert "FAIL" in out
    report = json.loads((tmp_path / "out" / "exits.build.json").read_text(encoding="utf-8"))
    errors = [f for f in report["findings"] if f["status"] == "error"]
    assert errors and all(f"SystemExit: {code}" in f["message"] or "SystemExit" in f["message"] for f in errors)
    assert any(f["id"] == "arch.conv1.out_channels" for f in errors)


def test_audit_checks_out_before_auditing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`audit --out FILE` is a one-line usage error before any measurement, not a traceback after it."""
    from alexnet_audit.cli import EXIT_USAGE

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    assert main(["audit", "reference", "--out", str(blocker)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""  # no summary line: nothing was audited
    assert len(captured.err.strip().splitlines()) == 1 and "--out" in captured.err
