"""`alexnet-audit capture` on fixture repositories: one command, no manifest, the expected verdicts.

Each fixture folder holds a train.py written the way real repositories write them; the test runs
`alexnet-audit capture -- python train.py ...` from that folder, as a user would, and reads the
report and the manifest it wrote.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

HERE = Path(__file__).resolve().parent
# The fixtures hard-coded for GPUs are asserted as they run here, redirected to the CPU.
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="asserts how a GPU-only script runs without a GPU")


def capture(tmp_path: Path, fixture: str, *args: str, options: tuple[str, ...] = ()) -> dict[str, Any]:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "alexnet_audit.cli.main", "capture", "--out", str(out), "--steps", "2", *options,
           "--", "python", "train.py", *args]
    proc = subprocess.run(cmd, cwd=HERE / fixture, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads((out / f"{fixture}.json").read_text(encoding="utf-8"))
    manifest_path = out / f"{fixture}.yaml"
    manifest = manifest_path.read_text(encoding="utf-8") if manifest_path.exists() else ""
    return {"report": report, "status": {f["id"]: f["status"] for f in report["findings"]},
            "found": {f["id"]: f for f in report["findings"]}, "manifest": manifest,
            "data": yaml.safe_load(manifest) if manifest else {}, "stdout": proc.stdout, "out": out,
            "log": (out / f"{fixture}.log").read_text(encoding="utf-8")}


@pytest.mark.slow
def test_plain_loop_over_imagefolder_is_captured_and_audits_the_same_from_its_manifest(tmp_path: Path) -> None:
    got = capture(tmp_path, "plain_loop")
    s, data = got["status"], got["data"]
    assert data["optimizer"] == {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005}
    assert data["scheduler"] == {"type": "StepLR", "step_size": 30} and data["batch_size"] == 128
    assert data["input_size"] == [3, 224, 224] and data["model"] == "model:AlexNet"
    assert "# train.py:36" in got["manifest"]  # every value says where it came from
    assert s["train.loss"] == s["train.optimizer"] == s["train.momentum"] == s["train.batch_size"] == "pass"
    assert s["train.lr_schedule"] == "deviation"  # StepLR(30): two drops in 90 epochs
    assert s["data.resize"] == "deviation" and s["eval.ten_crop"] == "deviation"
    assert s["data.extra_augmentation"] == s["train.extra_techniques"] == "pass"
    assert "val acc" in got["log"] and "val acc" not in got["stdout"]  # the script's output is kept apart
    # The manifest is an ordinary one: audited again, the same report bytes.
    again = tmp_path / "again"
    subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "audit", str(got["out"] / "plain_loop.yaml"),
                    "--out", str(again)], cwd=HERE / "plain_loop", capture_output=True, timeout=600)
    for ext in ("json", "md"):
        assert (again / f"plain_loop.{ext}").read_bytes() == (got["out"] / f"plain_loop.{ext}").read_bytes()


@pytest.mark.slow
def test_cifar_with_argparse(tmp_path: Path) -> None:
    got = capture(tmp_path, "cifar_argparse", "--lr", "0.05")
    s, data = got["status"], got["data"]
    assert data["epochs"] == 200 and data["batch_size"] == 64 and data["input_size"] == [3, 32, 32]
    assert data["optimizer"]["lr"] == 0.05  # the value the command gave, not the default
    assert "--epochs at train.py:" in got["manifest"]
    assert s["train.epochs"] == s["train.batch_size"] == s["train.lr"] == s["train.lr_schedule"] == "deviation"
    assert got["found"]["data.extra_augmentation"]["observed"] == ["colour_jitter"]  # padding is not rotation
    assert data["model"].endswith("_defs.py:LeNet")  # the unguarded script is not imported by the audit


@cpu_only
@pytest.mark.slow
def test_hard_coded_cuda_and_a_stream_prefetcher_run_on_the_cpu(tmp_path: Path) -> None:
    got = capture(tmp_path, "hardcoded_cuda")
    s = got["status"]
    assert "no GPU here: cuda() calls ran on the CPU" in got["manifest"]
    assert s["train.optimizer"] == s["train.loss"] == s["data.hflip"] == "pass"
    assert got["data"]["scheduler"] == "none" and s["train.lr_schedule"] == "deviation"
    assert got["found"]["train.lr_schedule"]["observed"] == "none"


@pytest.mark.slow
def test_yaml_config_with_adam_and_steplr_per_epoch(tmp_path: Path) -> None:
    got = capture(tmp_path, "yaml_config", "config.yaml")
    data, s = got["data"], got["status"]
    assert data["epochs"] == 30 and data["batch_size"] == 256 and "config key epochs at config.yaml" in got["manifest"]
    assert data["optimizer"] == {"type": "Adam", "lr": 0.001}
    assert data["techniques"]["scheduler_step"] == {"every": "epoch", "order": "after_optimizer"}
    assert s["train.optimizer"] == s["train.lr_schedule"] == "deviation"
    assert data["eval_transform"] == "none" and s["eval.ten_crop"] == "deviation"


@pytest.mark.slow
def test_onecycle_stepped_every_iteration(tmp_path: Path) -> None:
    got = capture(tmp_path, "onecycle")
    step = got["data"]["techniques"]["scheduler_step"]
    assert step["every"] == "iteration" and step["per_epoch"] == 100  # 12,800 images / 128
    assert got["data"]["scheduler"]["type"] == "OneCycleLR"
    assert got["status"]["train.lr_schedule"] == "deviation"


@pytest.mark.slow
def test_plateau_scheduler_on_the_validation_loss(tmp_path: Path) -> None:
    got = capture(tmp_path, "plateau")
    assert got["data"]["techniques"]["scheduler_step"]["metric"] == "val_loss"
    assert got["status"]["train.lr_schedule"] == "pass"


@pytest.mark.slow
def test_amp_gradscaler_and_gradient_clipping(tmp_path: Path) -> None:
    got = capture(tmp_path, "amp_clip")
    t = got["data"]["techniques"]
    assert t["grad_clip"] == {"max_norm": 5.0, "norm_type": 2.0}
    assert t["amp"] == {"dtype": "float16", "grad_scaler": True}
    assert got["found"]["train.extra_techniques"]["observed"] == ["amp", "grad_clip"]
    assert got["status"]["train.extra_techniques"] == "deviation"


@pytest.mark.slow
def test_label_smoothing(tmp_path: Path) -> None:
    got = capture(tmp_path, "label_smoothing")
    assert got["data"]["loss"] == {"type": "CrossEntropyLoss", "label_smoothing": 0.1}
    assert got["status"]["train.loss"] == got["status"]["train.extra_techniques"] == "deviation"
    assert got["found"]["train.extra_techniques"]["observed"] == ["label_smoothing"]


@pytest.mark.slow
def test_averaged_model_used_for_evaluation(tmp_path: Path) -> None:
    got = capture(tmp_path, "ema_eval")
    ema = got["data"]["techniques"]["ema"]
    assert ema == {"decay": 0.999, "eval": True}
    assert got["found"]["train.extra_techniques"]["observed"] == ["ema"]


@pytest.mark.slow
def test_ten_crop_done_in_the_evaluation_loop(tmp_path: Path) -> None:
    got = capture(tmp_path, "tencrop_loop")
    assert got["data"]["eval_transform"][-1] == {"type": "TenCrop", "size": 224, "vertical_flip": False}
    assert "done by the evaluation loop at train.py:" in got["manifest"]
    assert got["status"]["eval.ten_crop"] == "pass"


@pytest.mark.slow
def test_softmax_in_the_model_then_cross_entropy(tmp_path: Path) -> None:
    got = capture(tmp_path, "softmax_model")
    assert got["data"]["loss"] == {"type": "CrossEntropyLoss"}  # the audit sees the softmax in the model itself
    assert "fed the model's output" in got["manifest"]
    assert got["found"]["train.loss"]["observed"] == "softmax_cross_entropy_mean_on_probabilities"


@pytest.mark.slow
def test_custom_dataset_reading_fake_data_files(tmp_path: Path) -> None:
    data = tmp_path / "fake"
    got = capture(tmp_path, "custom_dataset", "--data", str(data / "imagenet"), options=("--data", str(data)))
    assert (data / "imagenet" / "train").is_dir() and (data / "cifar-10-batches-py" / "data_batch_1").is_file()
    assert got["data"]["epochs"] == 90 and got["data"]["batch_size"] == 128
    assert got["status"]["data.hflip"] == got["status"]["train.optimizer"] == "pass"
    assert got["data"]["eval_transform"][0] == {"type": "Resize", "size": 256}


@pytest.mark.slow
def test_a_script_that_fails_before_its_first_step_still_gets_a_report(tmp_path: Path) -> None:
    got = capture(tmp_path, "crash_early")
    s, found = got["status"], got["found"]
    assert "the script failed: KeyError: 'dataset_root'" in got["stdout"]
    assert s["train.optimizer"] == "pass"  # built before the failure
    for fid in ("train.loss", "data.hflip", "eval.ten_crop"):
        assert s[fid] == "error" and "not reached: the script failed before it: KeyError" in found[fid]["message"]


@pytest.mark.slow
def test_mixup_one_output_scored_against_two_targets(tmp_path: Path) -> None:
    got = capture(tmp_path, "mixup")
    assert got["data"]["techniques"]["mixup"] is True
    assert "one output scored against two targets at train.py:32" in got["manifest"]
    assert got["found"]["train.extra_techniques"]["observed"] == ["mixup"]


@cpu_only
@pytest.mark.slow
def test_mp_spawn_ddp_launcher_hard_coded_for_gpus_runs_as_one_process(tmp_path: Path) -> None:
    got = capture(tmp_path, "ddp_spawn")
    data = got["data"]
    assert data["batch_size"] == 256 and "32 per process x 8 processes" in got["manifest"]
    assert data["techniques"]["parallel"] == "ddp" and data["optimizer"]["lr"] == 0.1
    assert "mp.spawn of 8 processes ran as one (rank 0)" in got["manifest"]
    assert got["status"]["train.optimizer"] == "pass" and got["status"]["train.batch_size"] == "deviation"


@pytest.mark.slow
def test_a_hanging_script_is_stopped_at_the_timeout_and_what_it_reached_is_audited(tmp_path: Path) -> None:
    before = sorted(p.name for p in (HERE / "hangs").iterdir())
    got = capture(tmp_path, "hangs", options=("--timeout", "20"))
    assert "did not finish within 20 s" in got["stdout"]
    assert got["status"]["train.momentum"] == "pass"  # the optimizer was built before the hang
    assert got["status"]["train.loss"] == "error" and "not reached" in got["found"]["train.loss"]["message"]
    assert sorted(p.name for p in (HERE / "hangs").iterdir()) == before  # nothing written beside the script


@pytest.mark.slow
def test_log_softmax_in_the_loop_then_nll_loss(tmp_path: Path) -> None:
    got = capture(tmp_path, "logsoftmax_loop")
    assert got["data"]["loss"] == {"function": "torch.nn.functional:nll_loss", "input": "log_probabilities"}
    assert got["status"]["train.loss"] == "pass"


@pytest.mark.slow
def test_notebook_script_with_an_inline_sequential_model(tmp_path: Path) -> None:
    got = capture(tmp_path, "notebook_sequential")
    assert got["data"]["model"] == "notebook_sequential_defs.py:captured_model"
    defs = (got["out"] / "notebook_sequential_defs.py").read_text(encoding="utf-8")
    assert "nn.Conv2d(3, 96, kernel_size=(11, 11), stride=(4, 4))" in defs
    assert got["data"]["epochs"] == 10 and got["data"]["input_size"] == [3, 227, 227]
    s = got["status"]
    assert s["arch.conv1.out_channels"] == s["train.optimizer"] == "pass"


@pytest.mark.slow
def test_albumentations_style_pipeline_of_the_repositorys_own_classes(tmp_path: Path) -> None:
    import os

    data = tmp_path / "fake"
    env_before = os.environ.get("DATA")
    os.environ["DATA"] = str(data / "imagenet" / "train")
    try:
        got = capture(tmp_path, "albumentations_style", options=("--data", str(data)))
    finally:
        if env_before is None:
            os.environ.pop("DATA")
        else:
            os.environ["DATA"] = env_before
    step = got["data"]["train_transform"][0]
    assert step["type"] == "albumentations_style_defs.py:ComposeNp"
    assert [s["type"].split(":")[1] for s in step["transforms"]] == ["RandomCropNp", "VerticalFlipNp", "ToTensorNp"]
    assert got["status"]["data.random_crop"] == "pass"  # measured through `t(image=...)["image"]`
    assert got["found"]["data.extra_augmentation"]["observed"] == ["vertical_flip"]


@pytest.mark.slow
def test_ten_crop_loop_that_averages_is_measured_as_averaging(tmp_path: Path) -> None:
    got = capture(tmp_path, "tencrop_loop")
    assert got["data"]["techniques"]["eval_crops"] == {"views": 10, "combine": "average"}
    assert "40 model-output rows behind 4 predictions at train.py:45" in got["manifest"]
    assert got["status"]["eval.ten_crop"] == "pass"


@pytest.mark.slow
def test_ten_crop_loop_that_scores_each_crop_separately_is_a_deviation(tmp_path: Path) -> None:
    got = capture(tmp_path, "tencrop_separate")
    assert got["data"]["techniques"]["eval_crops"] == {"views": 10, "combine": "separate"}
    assert "40 model-output rows behind 40 predictions at train.py:46" in got["manifest"]
    finding = got["found"]["eval.ten_crop"]
    assert finding["status"] == "deviation" and finding["observed"]["combine"] == "separate"
    assert "each view scored on its own" in finding["evidence"]


@pytest.mark.slow
def test_hand_written_cross_entropy_is_measured_from_its_gradient(tmp_path: Path) -> None:
    got = capture(tmp_path, "handwritten_loss")
    assert got["data"]["loss"] == {"type": "CrossEntropyLoss"}
    assert "a hand-written loss, measured from its gradient at backward()" in got["manifest"]
    assert "towards one-hot targets" in got["manifest"] and "averaged over the batch" in got["manifest"]
    assert got["status"]["train.loss"] == got["status"]["train.extra_techniques"] == "pass"


@pytest.mark.slow
def test_hand_written_label_smoothing_is_measured_from_its_gradient(tmp_path: Path) -> None:
    got = capture(tmp_path, "handwritten_smoothing")
    assert got["data"]["loss"] == {"type": "CrossEntropyLoss", "label_smoothing": 0.1}
    assert "(1 - 0.1)·onehot + 0.1/10 targets" in got["manifest"]
    assert got["status"]["train.loss"] == got["status"]["train.extra_techniques"] == "deviation"
    assert got["found"]["train.extra_techniques"]["observed"] == ["label_smoothing"]


@pytest.mark.slow
def test_hand_written_ema_copy_used_for_evaluation(tmp_path: Path) -> None:
    got = capture(tmp_path, "ema_handwritten")
    assert got["data"]["techniques"]["ema"] == {"decay": 0.999, "eval": True}
    assert "measured: this copy of the model moved by e <- d*e + (1-d)*p" in got["manifest"]
    assert got["found"]["train.extra_techniques"]["observed"] == ["ema"]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts)


def _audits_the_same(got: dict[str, Any], fixture: str, tmp_path: Path) -> None:
    again = tmp_path / "again"
    subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "audit", str(got["out"] / f"{fixture}.yaml"),
                    "--out", str(again)], cwd=HERE / fixture, capture_output=True, timeout=600)
    for ext in ("json", "md"):
        assert (again / f"{fixture}.{ext}").read_bytes() == (got["out"] / f"{fixture}.{ext}").read_bytes()


@cpu_only
@pytest.mark.slow
def test_lightning_trainer_on_two_gpus_runs_here_and_its_recipe_is_read_from_what_executes(tmp_path: Path) -> None:
    before = _files(HERE / "lightning_trainer")
    got = capture(tmp_path, "lightning_trainer")
    data, s, manifest = got["data"], got["status"], got["manifest"]
    # the network the LightningModule wraps (self.model), not the wrapper; built where the wrapper builds it
    assert data["model"] == "alexnet:AlexNet" and data["kwargs"] == {"num_classes": 1000}
    assert "built at lit_module.py:18" in manifest and data["input_size"] == [3, 224, 224]
    assert data["optimizer"] == {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005}
    assert data["scheduler"] == {"type": "ReduceLROnPlateau", "patience": 5}
    assert data["techniques"]["scheduler_step"] == {"every": "epoch", "order": "after_optimizer", "metric": "val_loss"}
    assert data["loss"] == {"function": "torch.nn.functional:cross_entropy"}  # F.cross_entropy in training_step
    assert data["batch_size"] == 128 and "64 per process x 2 processes" in manifest  # devices=2
    assert data["epochs"] == 90 and "Trainer(max_epochs=...) at train.py:21" in manifest
    assert data["train_transform"][:2] == [{"type": "RandomResizedCrop", "size": 224}, {"type": "RandomHorizontalFlip"}]
    assert data["eval_transform"][:2] == [{"type": "Resize", "size": 256}, {"type": "CenterCrop", "size": 224}]
    assert data["techniques"]["amp"] == {"dtype": "float16", "grad_scaler": True}  # precision="16-mixed"
    assert data["techniques"]["parallel"] == "ddp"
    assert "no GPU here: Trainer(accelerator='gpu') ran on the CPU" in data["notes"]
    assert "Trainer(devices=2, num_nodes=1, strategy='ddp') ran as one process" in data["notes"]
    for fid in ("train.optimizer", "train.momentum", "train.lr", "train.lr_schedule", "train.batch_size",
                "train.epochs", "train.loss", "data.hflip", "arch.layer_sequence"):
        assert s[fid] == "pass", fid
    assert s["train.extra_techniques"] == "variant" and got["found"]["train.extra_techniques"]["observed"] == ["amp"]
    assert s["data.resize"] == s["eval.ten_crop"] == "deviation"
    # validation ran after the captured steps (the plateau scheduler stepped on val_loss, above); Lightning's
    # own output (its progress bar, tqdm's or rich's, whichever is installed) is in the log, not ours
    assert "GPU available: False" in got["log"]
    assert "Validation" not in got["stdout"] and "GPU available" not in got["stdout"]
    assert _files(HERE / "lightning_trainer") == before  # logs/, checkpoints/ went to the scratch directory
    _audits_the_same(got, "lightning_trainer", tmp_path)


@pytest.mark.slow
def test_lightning_scheduler_dict_with_interval_step(tmp_path: Path) -> None:
    got = capture(tmp_path, "lightning_trainer", "--lr_scheduler", "onecycle")
    data = got["data"]
    assert data["techniques"]["scheduler_step"] == {"every": "iteration", "per_epoch": 200, "order": "after_optimizer"}
    # sized by trainer.estimated_stepping_batches as in the real run: 90 epochs x 12,800 images / 64
    assert data["scheduler"] == {"type": "OneCycleLR", "max_lr": 0.01, "total_steps": 18000}
    assert got["status"]["train.lr_schedule"] == "deviation"


@pytest.mark.slow
def test_hydra_composed_config_and_a_constructor_taking_the_config_object(tmp_path: Path) -> None:
    before = _files(HERE / "hydra_config")
    absolute = tmp_path / "hydra_runs"
    got = capture(tmp_path, "hydra_config", "optimizer=adam", f"hydra.run.dir={absolute}")
    data, s, manifest = got["data"], got["status"], got["manifest"]
    notes = " ".join(data["notes"])
    assert data["model"] == "models:AlexNet"
    cfg = data["kwargs"]["cfg"]  # AlexNet(cfg.model): rebuilt by the audit from the composed values
    assert cfg["call"] == "omegaconf:OmegaConf.create" and cfg["args"][0]["channels"] == [96, 256, 384, 384, 256]
    assert "the composed config's `model` (conf/model/alexnet.yaml)" in notes
    assert data["optimizer"] == {"type": "Adam", "lr": 0.0003}  # the override chose conf/optimizer/adam.yaml
    assert ("torch.optim.Adam instantiated from the composed config's `optimizer` (conf/optimizer/adam.yaml, chosen by "
            "the command-line override optimizer=adam)") in notes
    assert "optimizer=adam," in notes and "command-line overrides: optimizer=adam" in notes
    assert data["epochs"] == 90 and "config key epochs at conf/config.yaml" in manifest
    assert data["batch_size"] == 128 and data["train_transform"][-1]["mean"] == [0.485, 0.456, 0.406]
    for fid in ("arch.layer_sequence", "arch.conv1.out_channels", "lrn.k", "train.epochs", "train.batch_size"):
        assert s[fid] == "pass", fid
    assert s["train.optimizer"] == s["train.lr_schedule"] == "deviation"
    assert "epoch 0: val acc" in got["log"] and "val acc" not in got["stdout"]
    assert _files(HERE / "hydra_config") == before  # Hydra's outputs/ went to the scratch directory
    assert not absolute.exists() and f"Hydra's hydra.run.dir ({absolute}) went to the scratch directory" in notes
    _audits_the_same(got, "hydra_config", tmp_path)



@pytest.mark.slow
def test_hand_written_squared_error_is_reported_as_not_cross_entropy_without_a_guess(tmp_path: Path) -> None:
    got = capture(tmp_path, "handwritten_mse")
    assert got["data"]["loss"]["type"] == "alexnet_audit.capture.unreached:Unreached"
    finding = got["found"]["train.loss"]
    assert finding["status"] == "error" and "not that of softmax cross-entropy" in finding["message"]
    assert got["status"]["train.extra_techniques"] == "pass"  # the techniques are judged all the same
    assert "the loss itself could not be measured" in got["found"]["train.extra_techniques"]["evidence"]


@pytest.mark.slow
def test_a_hydra_task_that_fails_is_reported_with_its_error_although_hydra_catches_it(tmp_path: Path) -> None:
    got = capture(tmp_path, "hydra_config", "data.batch_size=abc")
    assert "the script failed: ValueError: batch_size should be a positive integer value" in got["stdout"]
    assert "(at train.py:30)" in got["stdout"]  # the script's line, not Hydra's exit
