"""A notebook's training run and a repository's own training command, captured with nothing to write.

`alexnet-audit capture nb.ipynb` runs the notebook's cells top to bottom (magics, shell escapes and
`%%bash` cells left out and named); `alexnet-audit audit <folder> --train` finds the repository's
training command (its README's code block here) and runs it from the repository's root. Both are
run the way a user runs them, from another folder or the notebook's own, and leave the tree as it
was.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_as_typed import _tree, capture_as_typed

REPOS = Path(__file__).resolve().parents[1] / "target" / "repos"
README_REPO = REPOS / "readme_train"
README_COMMAND = "PYTHONPATH=. python tools/train.py --config configs/alexnet.yaml --workers 8"


def _audit(tmp_path: Path, *args: str) -> dict[str, Any]:
    """`alexnet-audit audit ARGS --out tmp/out`, run from tmp_path (not the repository's folder)."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "audit", *args, "--out", str(out)],
                          cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    got: dict[str, Any] = {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "out": out}
    reports = sorted(out.glob("*.json")) if out.is_dir() else []
    if reports:
        data = json.loads(reports[0].read_text(encoding="utf-8"))
        got["status"] = {f["id"]: f["status"] for f in data["findings"]}
        got["location"] = {f["id"]: f.get("location") for f in data["findings"]}
        got["notes"] = list(data["target"].get("notes") or []) + list(data.get("run_notes") or [])
        got["manifest"] = yaml.safe_load(reports[0].with_suffix(".yaml").read_text(encoding="utf-8"))
    return got


@pytest.mark.slow
def test_a_notebook_is_captured_cell_by_cell_with_its_magics_left_out(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "notebook_cells", "AlexNet_CIFAR10.ipynb")
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]  # loss.png, the checkpoint and ./data stayed out of the folder
    assert data["optimizer"] == {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005}
    assert data["scheduler"] == {"type": "StepLR", "step_size": 30} and data["epochs"] == 90
    assert data["batch_size"] == 128 and data["input_size"] == [3, 224, 224]
    assert "# AlexNet_CIFAR10.ipynb#cell8:3" in got["manifest"]  # the %%time cell ran; its line, in its cell
    magics = next(n for n in got["notes"] if "magics and shell escapes not run" in n)
    assert "!pip install -q torchsummary" in magics and "%%bash (the whole cell)" in magics
    assert s["train.optimizer"] == s["train.lr"] == s["train.batch_size"] == s["train.epochs"] == "pass"
    assert s["train.lr_schedule"] == "deviation" and s["data.random_crop"] == "pass"
    assert s["lrn.k"] == s["lrn.alpha"] == "pass"  # F.local_response_norm(x, 5, 1e-4 * 5, ...) in the cell
    report = json.loads((got["out"] / "notebook_cells.json").read_text(encoding="utf-8"))
    where = {f["id"]: f.get("location") for f in report["findings"]}
    assert where["train.optimizer"] == {"path": "AlexNet_CIFAR10.ipynb#cell8", "line": 3}
    assert where["arch.fc8.out_features"] == {"path": "AlexNet_CIFAR10.ipynb#cell6", "line": 11}  # not a copy's line
    assert "(conv1): Conv2d(3, 96" in got["log"]  # display(model) printed into the run's log


@pytest.mark.slow
def test_the_seed_style_notebook_is_audited_with_its_training_run(tmp_path: Path) -> None:
    nb = REPOS / "seed_001" / "AlexNet_from_Scratch.ipynb"
    before = _tree(nb.parent)
    got = _audit(tmp_path, str(nb), "--train")
    assert got["rc"] == 1, got["stderr"][-2000:]
    assert _tree(nb.parent) == before
    assert got["manifest"]["optimizer"] == {"type": "Adam", "lr": 0.0001}  # seed 001 trains with Adam
    assert got["status"]["train.optimizer"] == "deviation" and got["status"]["arch.input_size"] == "deviation"
    assert got["location"]["train.optimizer"]["path"] == "AlexNet_from_Scratch.ipynb#cell9"
    assert got["location"]["arch.fc8.out_features"]["path"] == "AlexNet_from_Scratch.ipynb#cell7"
    assert any("the notebook, run top to bottom" in n for n in got["notes"])


@pytest.mark.slow
def test_train_runs_the_command_the_readme_shows_from_the_repository_root(tmp_path: Path) -> None:
    before = _tree(README_REPO)
    got = _audit(tmp_path, str(README_REPO), "--train")
    assert got["rc"] == 1, got["stderr"][-2000:]
    assert _tree(README_REPO) == before  # runs/alexnet/epoch*.pth went to the scratch directory
    m, s = got["manifest"], got["status"]
    assert m["model"] == "lib.model:AlexNet" and m["epochs"] == 90
    assert m["scheduler"] == {"type": "StepLR", "step_size": 30}
    assert s["train.optimizer"] == s["train.momentum"] == s["train.weight_decay"] == s["train.lr"] == "pass"
    assert s["train.batch_size"] == s["train.epochs"] == s["data.random_crop"] == s["data.hflip"] == "pass"
    assert s["train.lr_schedule"] == s["data.resize"] == "deviation"  # a fixed step; no 256 centre crop
    assert s["lrn.k"] == "pass" and s["dropout.placement"] == "deviation"
    assert f"Recipe from the training command `{README_COMMAND}` (shown in README.md line 16)" in got["notes"][0]
    assert got["location"]["train.optimizer"] == {"path": "tools/train.py", "line": 33}


@pytest.mark.slow
def test_without_train_the_folder_report_names_the_command_that_would_measure_the_recipe(tmp_path: Path) -> None:
    got = _audit(tmp_path, str(README_REPO))
    assert got["rc"] == 1, got["stderr"][-2000:]
    assert {got["status"][i] for i in ("train.optimizer", "train.lr", "data.random_crop")} == {"skip"}
    assert (f"`--train` runs `{README_COMMAND}` (shown in README.md line 16) under capture to measure them."
            in " ".join(got["notes"]))


@pytest.mark.slow
def test_a_given_command_that_fails_falls_back_to_the_folder_with_the_reason(tmp_path: Path) -> None:
    got = _audit(tmp_path, str(README_REPO), "--train", "python tools/train.py --config configs/alexnet.yaml")
    assert got["rc"] == 1, got["stderr"][-2000:]
    assert "No module named 'lib'" in got["stdout"] and "run it with PYTHONPATH=." in got["stdout"]
    assert got["status"]["train.optimizer"] == "skip" and got["status"]["lrn.k"] == "pass"  # the folder's model
    reason = next(n for n in got["notes"] if "No module named 'lib'" in n)
    assert "not stubbed" not in reason and "the repository's own 'lib'" in reason
    assert "The recipe items are not measured; the model is the one found in the folder." in reason


def test_train_needs_a_folder_or_notebook_and_a_command(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "model.py").write_text("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    pass\n")
    for args, says in (([str(tmp_path / "repo" / "model.py") + ":Net", "--train"], "needs a folder or a notebook"),
                       ([str(tmp_path / "repo"), "--train"], "shows no training command"),
                       ([str(tmp_path / "repo") + "::Net", "--train"], "give the folder alone"),
                       ([str(tmp_path / "repo"), "--train", "python 'x.py"], "not a command line")):
        got = _audit(tmp_path, *args)
        assert got["rc"] == 2 and got["stdout"] == "", got["stderr"]
        lines = got["stderr"].strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in got["stderr"], lines
