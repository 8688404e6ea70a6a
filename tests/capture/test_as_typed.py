"""`alexnet-audit capture` runs the command exactly as the user typed it, from the user's folder.

Each fixture is a repository written the way real ones are (a `src/` package on `PYTHONPATH=.`, a
`utils/` folder of bare-name imports, `python -m`, a data set shipped in `./data`, an uninstalled
logger, a script broken on current PyTorch, a script that writes everywhere). Each is captured with
one command from its own folder, and every file of the fixture is byte-identical afterwards.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from alexnet_audit.isolate import jail

HERE = Path(__file__).resolve().parent


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its checksum (what "the user's tree is untouched" means)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def capture_as_typed(tmp_path: Path, fixture: str, *command: str, env: dict[str, str] | None = None,
                     options: tuple[str, ...] = (), folder: Path | None = None) -> dict[str, Any]:
    """Capture `command` from the fixture's folder (or a copy of it) and check that folder is unchanged."""
    where = folder or HERE / fixture
    before = _tree(where)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "alexnet_audit.cli.main", "capture", "--out", str(out), "--steps", "2",
           "--name", fixture, *options, "--", *command]
    proc = subprocess.run(cmd, cwd=where, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads((out / f"{fixture}.json").read_text(encoding="utf-8"))
    path = out / f"{fixture}.yaml"
    manifest = path.read_text(encoding="utf-8") if path.exists() else ""  # none: the run built no model
    data = yaml.safe_load(manifest) if manifest else {}
    return {"status": {f["id"]: f["status"] for f in report["findings"]}, "manifest": manifest, "data": data,
            "stdout": proc.stdout, "out": out, "before": before, "after": _tree(where),
            "log": (out / f"{fixture}.log").read_text(encoding="utf-8"), "notes": data.get("notes") or []}


@pytest.mark.slow
def test_a_src_package_on_pythonpath_dot_with_a_yaml_config_of_relative_paths(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "src_layout", "python", "src/train.py", "--config", "configs/alexnet.yaml",
                           env={"PYTHONPATH": "."})
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]  # runs/alexnet/train.log and last.pth went to the scratch directory
    assert data["model"] == "src.models.alexnet:AlexNet" and data["batch_size"] == 64
    assert data["optimizer"] == {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005}
    assert data["epochs"] == 90 and "# config key epochs at configs/alexnet.yaml" in got["manifest"]
    assert data["scheduler"] == {"type": "ReduceLROnPlateau", "mode": "max"}
    assert s["train.batch_size"] == "deviation" and s["train.optimizer"] == s["train.momentum"] == "pass"
    assert s["data.hflip"] == s["train.epochs"] == "pass"
    assert s["train.lr_schedule"] == "deviation"  # ReduceLROnPlateau's default patience: six drops in 90 epochs
    assert any("ImageFolder('./data/imagenet/train') served" in n for n in got["notes"])


@pytest.mark.slow
def test_a_utils_folder_of_bare_imports_typed_with_its_pythonpath_prefix(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "utils_path", "PYTHONPATH=utils", "python", "main.py", "alexnet",
                           "--dataset", "CIFAR10")
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]
    assert data["model"] == "models:AlexNetCifar" and data["input_size"] == [3, 32, 32]
    assert data["epochs"] == 100 and data["scheduler"] == {"type": "CosineAnnealingLR", "T_max": 100}
    assert data["train_transform"][0] == {"type": "RandomCrop", "size": 32, "padding": 4}
    assert s["arch.input_size"] == s["train.lr_schedule"] == "deviation"  # 32 x 32 inputs, a cosine schedule
    assert s["train.batch_size"] == s["train.optimizer"] == s["train.epochs"] == "pass"


@pytest.mark.slow
def test_a_package_run_with_python_dash_m(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "pkg_module", "python", "-m", "alexnet_pkg.train")
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]
    assert data["model"] == "alexnet_pkg.model:AlexNet" and data["batch_size"] == 128 and data["epochs"] == 90
    assert s["train.optimizer"] == s["train.batch_size"] == s["train.epochs"] == "pass"
    assert data["scheduler"] == "none" and s["train.lr_schedule"] == "deviation"


@pytest.mark.slow
def test_a_data_set_shipped_in_the_repository_is_read_with_its_hard_coded_split(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "shipped_data", "python", "train.py")
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]
    assert "ImageFolder('./data/flowers') read the 10 images on disk" in got["notes"]
    assert not any("synthetic" in n or "failed" in n for n in got["notes"]), got["notes"]
    assert data["batch_size"] == 4 and data["kwargs"] == {"num_classes": 2}
    assert data["train_transform"][1] == {"type": "RandomCrop", "size": 224}
    assert data["eval_transform"][0] == {"type": "Resize", "size": 256}  # a one-batch validation loader
    assert s["train.optimizer"] == "pass" and s["train.batch_size"] == s["train.weight_decay"] == "deviation"


@pytest.mark.slow
def test_an_uninstalled_logger_is_stubbed_and_named(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "missing_logger", "python", "train.py")
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]  # tensorboardX's runs/ never existed: the stub writes nothing
    assert data["stub_modules"] == ["visdom", "tensorboardX"]
    assert "visdom is not installed: imported as an empty stub (train.py:4); values the run took from it were not " \
           "measured" in got["notes"]
    assert s["train.optimizer"] == s["train.loss"] == s["data.hflip"] == "pass"
    assert "failed" not in got["stdout"]


@pytest.mark.slow
def test_without_stubs_the_missing_module_is_the_scripts_error(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "missing_logger", "python", "train.py", options=("--no-stub",))
    assert "the script failed: ModuleNotFoundError: No module named 'visdom' (at train.py:4)" in got["stdout"]


@pytest.mark.slow
def test_a_script_broken_on_current_pytorch_names_the_cause_and_keeps_what_it_built(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "inplace_dropout", "python", "train.py")
    data, s = got["data"], got["status"]
    assert got["after"] == got["before"]
    line = next(n for n in got["notes"] if n.startswith("The script failed"))
    assert "modified by an inplace operation" in line and "(at train.py:23)" in line
    assert line.endswith("(an in-place operation overwrote a tensor autograd needs (older PyTorch let it pass))")
    assert "the script failed: RuntimeError" in got["stdout"] and "instrumentation" not in got["stdout"]
    # built before the failure, so recorded: the loaders' transforms and batch size, the optimizer
    assert data["train_transform"][0] == {"type": "RandomResizedCrop", "size": 224}
    assert data["eval_transform"][0] == {"type": "Resize", "size": 256} and data["batch_size"] == 128
    assert s["data.hflip"] == s["train.optimizer"] == "pass" and s["data.resize"] == "deviation"
    assert s["train.loss"] == "pass"  # fed the model's output before the backward pass failed


@pytest.mark.slow
def test_writes_of_every_kind_stay_out_of_the_tree(tmp_path: Path) -> None:
    got = capture_as_typed(tmp_path, "writes_everywhere", "python", "train.py")
    assert got["after"] == got["before"]
    assert "start {'ok': True}" in got["log"]  # what it wrote reads back
    assert got["status"]["train.optimizer"] == "pass"


@pytest.mark.slow
def test_without_the_sandbox_python_level_writes_are_redirected_and_the_rest_is_said(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(HERE / "writes_everywhere", copy, ignore=shutil.ignore_patterns("__pycache__"))
    got = capture_as_typed(tmp_path, "writes_everywhere", "python", "train.py", options=("--sandbox", "off"),
                           folder=copy)
    added = sorted(set(got["after"]) - set(got["before"]))
    assert added == ["outputs/x", "shell.txt"]  # written by `sh -c`, below Python: not redirectable
    assert all(got["after"][f] == got["before"][f] for f in got["before"])
    assert any(n.startswith("no OS sandbox: writes below Python") for n in got["notes"])
    assert "start {'ok': True}" in got["log"]


def test_leading_assignments_are_the_commands_environment() -> None:
    from alexnet_audit.capture.run import split_command

    env, argv = split_command(["PYTHONPATH=.", "CUDA_VISIBLE_DEVICES=0", "python", "-m", "pkg.train", "A=b"])
    assert env == {"PYTHONPATH": ".", "CUDA_VISIBLE_DEVICES": "0"}
    assert argv == [sys.executable, "-m", "pkg.train", "A=b"]


@pytest.mark.skipif(not jail.available(), reason="needs the OS sandbox")
def test_the_overlay_keeps_the_folder_and_lets_the_scratch_directory_through(tmp_path: Path) -> None:
    tree, scratch = tmp_path / "tree", tmp_path / "tree" / "scratch"
    scratch.mkdir(parents=True)
    (tree / "a.txt").write_text("a", encoding="utf-8")
    script = "echo b > b.txt; echo more >> a.txt; cat a.txt; echo kept > scratch/rec.txt"
    cmd = jail.wrap(["sh", "-c", script], writable=[scratch], overlay=[tree])
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=60)
    assert done.stdout == "amore\n", done.stderr
    assert sorted(p.name for p in tree.iterdir()) == ["a.txt", "scratch"]
    assert (tree / "a.txt").read_text(encoding="utf-8") == "a"
    assert (scratch / "rec.txt").read_text(encoding="utf-8") == "kept\n"
