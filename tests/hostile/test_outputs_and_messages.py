"""Outputs the audit cannot read, and messages that must name the user's file, not our internals.

A model whose output is empty, has extra dimensions, is integer, is a dict, or contradicts the
declared class count used to get confident verdicts (an `[N, 0]` output scored 100). Each is now an
error report whose cause says what the output is; `audit` and `compare` agree.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from alexnet_audit.cli.compare import compare
from alexnet_audit.cli.main import EXIT_GATE, EXIT_USAGE, main

MODELS = '''\
import torch
import torch.nn as nn


class Out(nn.Module):
    def __init__(self, make):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.make = make

    def forward(self, x):
        return self.make(x)


empty = lambda: Out(lambda x: x.new_zeros(x.shape[0], 0))
extra_dims = lambda: Out(lambda x: x.new_zeros(x.shape[0], 10, 2))
integers = lambda: Out(lambda x: torch.zeros(x.shape[0], 10, dtype=torch.long))
as_dict = lambda: Out(lambda x: {"logits": x.new_zeros(x.shape[0], 10), "aux": x.new_zeros(x.shape[0], 10)})
ten_way = {"model": lambda: Out(lambda x: x.new_zeros(x.shape[0], 1000)), "num_classes": 10, "input_size": 32}
'''

CASES = {  # attr -> words the one-line cause must contain
    "empty": "no class scores (shape [2, 0])",
    "extra_dims": "shape [2, 10, 2], not [N, C] class scores",
    "integers": "torch.int64 values of shape [2, 10], not floating-point class scores",
    "as_dict": "returned dict, not a tensor",
}
CONTRADICTS = "models.ten_way: the target declares num_classes 10 but the model outputs 1000 scores per image"


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models.py").write_text(MODELS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("attr", list(CASES))
def test_unreadable_output_is_an_error_report(models: Path, capsys: pytest.CaptureFixture[str], attr: str) -> None:
    rc = main(["audit", f"models.py:{attr}", "--out", "out", "--format", "json"])
    first = capsys.readouterr().out.splitlines()[0]
    assert rc == EXIT_GATE
    assert first.startswith(f"models.{attr}: ERROR - ") and CASES[attr] in first, first
    report = json.loads((models / "out" / f"models.{attr}.json").read_text(encoding="utf-8"))
    assert report["summary"]["fidelity_score"] is None  # nothing was measured: no score, never 100
    assert all(f["status"] == "error" for f in report["findings"])


def test_a_class_count_the_model_contradicts_is_a_usage_error(models: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`num_classes: 10` declared for a model that outputs 1000 used to pass with no warning."""
    assert main(["audit", "models.py:ten_way", "--out", "out", "--format", "json"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().splitlines() == [f"alexnet-audit: error: {CONTRADICTS}; fix "
                                                                        "num_classes or the model's last layer"]
    assert not (models / "out" / "models.ten_way.json").exists()


def test_compare_says_the_same_as_audit(models: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        rc = compare(["models.py:as_dict", "models.py:empty"], out=models / "cmp", timeout=120)
    assert rc == 1
    for attr in ("as_dict", "empty"):
        report = json.loads((models / "cmp" / f"models.{attr}.json").read_text(encoding="utf-8"))
        assert CASES[attr] in report["target"]["error"]


@pytest.mark.parametrize("stub", ["torch", "torch.nn", "torchvision", "alexnet_audit", "alexnet_ref.model"])
def test_stub_modules_refuses_what_the_audit_runs_on(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     stub: str) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"model: torch.nn:Identity\nstub_modules: [{stub}]\n", encoding="utf-8")
    assert main(["audit", str(manifest), "--out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"'{stub}' cannot be stubbed" in err and str(manifest) in err


def test_a_manifest_path_that_is_a_directory_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "configs.yaml"
    folder.mkdir()
    assert main(["audit", str(folder), "--out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "is a directory, not a manifest file" in err and "no such" not in err


def test_a_missing_attribute_names_the_file_not_our_module(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "models.py:AlexNat", "--out", "out"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "'models.py' has no attribute 'AlexNat'" in err
    assert "_alexnet_audit_target" not in err


NOISY = '''\
import torch
import torch.nn as nn

import alexnet_ref


class Noisy(nn.Module):
    """Gaussian noise on the input at every call, eval mode included: random, but not dropout."""

    def __init__(self):
        super().__init__()
        self.net = alexnet_ref.alexnet(1000)

    def forward(self, x):
        return self.net(x + 0.01 * torch.randn_like(x))


def build():
    return Noisy()
'''


def test_a_nondeterministic_model_is_not_blamed_on_dropout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Its eval output changing between seeds used to read as `dropout.eval: active` with a dropout fix."""
    (tmp_path / "noisy.py").write_text(NOISY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    main(["audit", "noisy.py:build", "--out", "out", "--format", "json", "--fail-on", "never"])
    capsys.readouterr()
    report = json.loads((tmp_path / "out" / "noisy.build.json").read_text(encoding="utf-8"))
    finding = next(f for f in report["findings"] if f["id"] == "dropout.eval")
    assert finding["status"] == "error"
    assert "no dropout site is random" in finding["message"] and "randn_like in forward" in finding["message"]
