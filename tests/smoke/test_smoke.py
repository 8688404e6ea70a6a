"""Training smoke run: alexnet_audit.smoke, `alexnet-audit smoke`, DDP on CPU with gloo.

The reference runs at batch 4 for 8 steps (a few seconds a step on a busy 2-core CPU); the
other runs use a tiny CNN target so that they stay fast.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from alexnet_audit import smoke
from alexnet_audit.cli.main import main
from alexnet_audit.core.errors import UsageError
from alexnet_audit.smoke import SmokeOptions
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object

SPEC = load_spec()

TINY = textwrap.dedent(
    """
    import torch
    import torch.nn as nn

    def _model():
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 10))

    def target():
        return {
            "model": _model,
            "input_size": (3, 16, 16),
            "num_classes": 10,
            "optimizer": lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
            "batch_size": 16,
        }
    """
)

ZERO_WEIGHTS = textwrap.dedent(
    """
    import torch
    import alexnet_ref

    def zero_weights():
        \"\"\"Mutant: every weight initialised to 0 (biases as in §5); no gradient reaches conv1..fc7.\"\"\"
        m = alexnet_ref.alexnet(num_classes=1000)
        with torch.no_grad():
            for layer in m.weight_layers().values():
                layer.weight.zero_()
        return m
    """
)


def _tiny_target():
    ns: dict = {}
    exec(TINY, ns)  # noqa: S102 - our own test source
    return from_object("tiny", ns["target"], "test:tiny")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The reference through the CLI: batch 4, 8 steps, JSON and markdown written."""
    out = tmp_path_factory.mktemp("smoke")
    code = main(["smoke", "reference", "--device", "cpu", "--steps", "8", "--batch-size", "4",
                 "--json", str(out / "smoke.json"), "--out", str(out)])
    return code, json.loads((out / "smoke.json").read_text()), out


# ------------------------------------------------------------------------------ the reference ---

def test_reference_trains_on_cpu(reference_run):
    code, r, _ = reference_run
    assert code == 0, r["problems"]
    assert r["verdict"] == "ok" and r["problems"] == []
    assert math.isfinite(r["initial_loss"]) and abs(r["initial_loss"] - math.log(1000)) < 2
    assert r["loss_falls"] is True
    assert r["params_without_grad"] == 0
    assert r["nonfinite"] is False
    assert r["steps"] == 8 and r["batch_size"] == 4 and len(r["loss_curve"]) == 8
    assert r["final_loss"] == r["loss_curve"][-1] and r["initial_loss"] == r["loss_curve"][0]
    assert r["images_per_second"] > 0
    assert r["flops_per_image"] == 1_448_813_632  # one forward of the grouped net at 224 (flop_counter)
    assert r["achieved_tflops"] > 0 and r["peak_share"] is None  # no peak table for CPUs
    assert r["device"].startswith("cpu") and r["dtype"] == "float32"
    assert r["recipe"]["optimizer"] == "target: PaperSGD" and r["recipe"]["lr_scale"] == pytest.approx(4 / 128)
    assert set(r["versions"]) == {"torch", "torchvision", "cuda"}


def test_json_has_exactly_the_fields(reference_run):
    _, r, _ = reference_run
    assert tuple(r) == smoke.FIELDS
    measured_fields = {"initial_loss", "ln_num_classes", "final_loss", "loss_curve", "loss_falls",
                    "params_without_grad", "nonfinite", "images_per_second", "peak_memory_bytes",
                    "flops_per_image", "achieved_tflops", "peak_share", "device", "steps", "batch_size",
                    "dtype", "versions"}
    assert measured_fields <= set(r)
    assert set(r) - measured_fields == {"target", "recipe", "options", "notes", "problems", "verdict"}


def test_markdown_and_loss_curve_written(reference_run):
    _, _, out = reference_run
    md = (out / "smoke-reference.md").read_text()
    assert "## Smoke run: reference" in md and "![loss curve](smoke-reference.png)" in md
    assert (out / "smoke-reference.png").read_bytes()[:4] == b"\x89PNG"


# -------------------------------------------------------------------------------- failures ---

def test_zero_weight_mutant_is_flagged(tmp_path, capsys):
    (tmp_path / "mutant.py").write_text(ZERO_WEIGHTS)
    code = main(["smoke", f"{tmp_path / 'mutant.py'}:zero_weights", "--device", "cpu", "--steps", "3",
                 "--batch-size", "2", "--json", str(tmp_path / "m.json")])
    r = json.loads((tmp_path / "m.json").read_text())
    assert code == 1
    assert r["verdict"] == "fail"
    assert r["params_without_grad"] == 14  # all but fc8's weight and bias
    assert any("received no finite non-zero gradient" in p for p in r["problems"])
    assert "problem:" in capsys.readouterr().out


def test_cuda_without_cuda_is_a_usage_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(["smoke", "reference", "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "CUDA is not available" in err


def test_broken_init_and_stuck_loss_are_judged():
    ln_c = math.log(1000)
    r = {"initial_loss": 11.2, "ln_num_classes": ln_c, "nonfinite": False, "params_without_grad": 0,
         "loss_curve": [11.2] * 8, "loss_falls": smoke.loss_falls([11.2] * 8, ln_c)}
    problems = smoke.judge(r)
    assert any("more than 2 above ln(1000)=6.91" in p for p in problems)
    assert any(p.startswith("loss did not fall") for p in problems)
    # Stuck at ln C, the classic failure: not a fall.
    assert not smoke.loss_falls([6.9] * 30, ln_c)
    assert smoke.loss_falls([7.8, 6.0, 4.0, 3.5, 3.0, 3.2, 3.1, 3.4], ln_c)
    assert not smoke.loss_falls([7.8, 3.0, float("nan"), 3.0], ln_c)


def test_peak_table():
    assert smoke.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989
    assert smoke.peak_tflops("NVIDIA H100 80GB HBM3", "tf32") == 494
    assert smoke.peak_tflops("NVIDIA A100-SXM4-80GB", "fp32") == 19.5
    assert smoke.peak_tflops("NVIDIA GeForce GTX 580", "fp32") is None


# ------------------------------------------------------------------------- options, tiny model ---

def test_tiny_bf16_channels_last():
    opts = SmokeOptions(device="cpu", steps=12, batch_size=16, amp="bf16", channels_last=True, progress=False)
    r = smoke.run_smoke(_tiny_target(), opts, spec=SPEC)
    assert r["dtype"] == "bfloat16-autocast" and r["options"]["channels_last"] is True
    assert r["verdict"] == "ok", r["problems"]
    assert r["recipe"]["lr_scale"] == 1.0  # batch 16 = the tiny recipe's batch


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken_compile(module, *a, **k):
        def call(*args, **kwargs):
            raise RuntimeError("no compiler here")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    opts = SmokeOptions(device="cpu", steps=4, batch_size=16, compile=True, progress=False)
    r = smoke.run_smoke(_tiny_target(), opts, spec=SPEC)
    assert r["options"]["compile"] is False
    assert any("torch.compile failed" in n and "ran eager" in n for n in r["notes"])
    assert r["params_without_grad"] == 0


def test_paper_recipe_comes_from_the_spec_passed_in():
    lr_item = SPEC.item("train.lr")
    items = tuple(dataclasses.replace(it, expected={"weights": 0.02, "biases": 0.02}) if it is lr_item else it
                  for it in SPEC.items)
    spec = dataclasses.replace(SPEC, items=items)
    opts = SmokeOptions(device="cpu", steps=2, batch_size=16, recipe="paper", progress=False)
    r = smoke.run_smoke(_tiny_target(), opts, spec=spec)
    assert r["recipe"]["optimizer"] == "paper: SGD(lr=0.02, momentum=0.9, weight_decay=0.0005)"
    assert r["recipe"]["lr"] == pytest.approx(0.02 * 16 / 128)


# ---------------------------------------------------------------------------------- options ---

@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 1}, "--steps must be at least 2 (got 1)"),
    ({"batch_size": 0}, "--batch-size must be positive (got 0)"),
    ({"steps": 4, "warmup": 4}, "--warmup must be in [0, steps) (got 4 for 4 steps)"),
    ({"recipe": "adam"}, "--recipe must be one of target, paper (got 'adam')"),
    ({"device": "tpu"}, "unknown device 'tpu' (auto, cuda or cpu)"),
])
def test_bad_options_are_one_line_usage_errors(kwargs, message):
    with pytest.raises(UsageError) as info:
        SmokeOptions(**kwargs)
    assert str(info.value) == message


def test_bad_option_on_the_command_line_exits_2(capsys):
    assert main(["smoke", "reference", "--device", "cpu", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "alexnet-audit: error: --steps must be at least 2 (got 1)\n"


def test_missing_spec_is_a_usage_error(tmp_path, capsys):
    assert main(["smoke", "reference", "--device", "cpu", "--spec", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_options_round_trip_through_the_worker_flags():
    """run_ddp hands the options to its workers as flags: every field must survive the trip."""
    opts = SmokeOptions(device="cpu", steps=7, batch_size=3, recipe="paper", amp="bf16", channels_last=True,
                        compile=True, seed=5, warmup=2, lr_scaling="none", progress=False, spec=Path("s.yaml"))
    parser = argparse.ArgumentParser()
    smoke.add_arguments(parser)
    assert SmokeOptions.from_args(parser.parse_args(opts.to_argv())) == opts
    assert SmokeOptions().to_argv() == []


def test_cli_and_worker_share_the_option_definitions():
    from alexnet_audit.cli.main import _parser
    from alexnet_audit.smoke.ddp_worker import _parser as worker_parser

    cli_sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["smoke"]
    flags = {f.metadata["flag"] for f in dataclasses.fields(SmokeOptions)}
    for parser in (cli_sub, worker_parser()):
        assert flags <= {s for a in parser._actions for s in a.option_strings}


def test_import_has_no_side_effects_and_no_cli():
    code = ("import sys, alexnet_audit.smoke, alexnet_audit.smoke.ddp_worker; "
            "print(sorted(m for m in ('torch', 'alexnet_audit.spec.load', 'alexnet_audit.cli.main') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for path in Path(smoke.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "cli" not in (node.module or "").split("."), f"{path.name} imports the CLI"


@pytest.mark.slow
def test_ddp_on_cpu_with_gloo(tmp_path):
    (tmp_path / "tiny.py").write_text(TINY)
    opts = SmokeOptions(device="cpu", steps=12, batch_size=8, progress=False)
    r = smoke.run_ddp(f"{tmp_path / 'tiny.py'}:target", opts, nproc=2, timeout=240)
    assert tuple(r) == smoke.FIELDS
    assert r["options"]["ddp"] is True and r["options"]["world_size"] == 2
    assert "x 2 processes (gloo)" in r["device"]
    assert r["verdict"] == "ok", r["problems"]
    assert r["recipe"]["lr_scale"] == 1.0  # global batch 2 x 8 = the tiny recipe's 16


# ------------------------------------------------------------------------------------- CUDA ---

@pytest.mark.cuda
def test_reference_on_cuda_bf16_channels_last():
    from alexnet_audit.target.resolve import load_target

    opts = SmokeOptions(device="cuda", steps=12, batch_size=64, amp="bf16", channels_last=True, progress=False)
    r = smoke.run_smoke(load_target("reference"), opts, spec=SPEC)
    assert r["options"]["timer"] == "cuda events"
    assert r["params_without_grad"] == 0 and not r["nonfinite"]
    assert abs(r["initial_loss"] - math.log(1000)) < 2
    assert r["loss_falls"], r["problems"]
    assert r["images_per_second"] > 0 and r["peak_memory_bytes"] > 0
    assert r["device"] == torch.cuda.get_device_name()


@pytest.mark.cuda
def test_ddp_on_cuda_with_nccl(tmp_path):
    (tmp_path / "tiny.py").write_text(TINY)
    opts = SmokeOptions(device="cuda", steps=12, batch_size=16, progress=False)
    r = smoke.run_ddp(f"{tmp_path / 'tiny.py'}:target", opts, nproc=1, timeout=240)
    assert "(nccl)" in r["device"] and r["verdict"] == "ok", r["problems"]
