"""From what a run measured to the JSON result: the derived rates, the rounding, the verdict.

`FIELDS` is the exact, ordered set of the result's top-level keys (their meaning: the package
docstring). Importing this module does not import torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.numbers import sig
from ..target.record import Target
from .devices import peak_tflops, versions
from .fallback import RecipeInfo
from .options import SmokeOptions
from .verdict import judge, loss_falls

FIELDS = (
    "target",
    "device",
    "dtype",
    "steps",
    "batch_size",
    "initial_loss",
    "ln_num_classes",
    "final_loss",
    "loss_curve",
    "loss_falls",
    "params_without_grad",
    "nonfinite",
    "images_per_second",
    "peak_memory_bytes",
    "flops_per_image",
    "achieved_tflops",
    "peak_share",
    "versions",
    "recipe",
    "options",
    "notes",
    "problems",
    "verdict",
)

TRAIN_FLOPS_PER_FORWARD = 3.0  # a training step costs ~3 forwards (backward ~2x forward)


@dataclass(frozen=True)
class Measurement:
    """What one run measured, reduced over the DDP ranks where there are several."""

    device_name: str
    is_cuda: bool
    world: int
    ddp: bool
    batch_size: int  # per process
    num_classes: int
    flops_per_image: int
    curve: list[float]
    elapsed: float  # seconds of the timed steps (the slowest rank's)
    nonfinite: bool
    no_grad_names: list[str]
    peak_memory_bytes: int | None
    peak_basis: str
    compiled: bool
    recipe: RecipeInfo
    notes: list[str]


def rounded(x: float | None, nd: int = 5) -> float | None:
    """`x` to `nd` decimals; NaN and inf kept (json writes them, visible on purpose)."""
    if x is None or not math.isfinite(x):
        return x
    return round(float(x), nd)


def _sig(x: float | None) -> float | None:
    return None if x is None else sig(x, 4)


def build_result(target: Target, options: SmokeOptions, m: Measurement) -> dict[str, Any]:
    """The result with `FIELDS`, its `problems` and `verdict` included."""
    warm = options.warmup_steps
    timed = options.steps - warm
    ips = timed * m.batch_size * m.world / m.elapsed if m.elapsed > 0 else None
    achieved = TRAIN_FLOPS_PER_FORWARD * m.flops_per_image * ips / 1e12 if ips and m.flops_per_image else None
    peak = peak_tflops(m.device_name, m.peak_basis) if m.is_cuda else None
    share = achieved / (peak * m.world) if achieved is not None and peak else None
    name = m.device_name
    if m.ddp:
        name = f"{name} x {m.world} processes ({'nccl' if m.is_cuda else 'gloo'})"
    curve = m.curve
    ln_c = math.log(m.num_classes)
    result: dict[str, Any] = {
        "target": target.name,
        "device": name,
        "dtype": "bfloat16-autocast" if options.amp == "bf16" else "float32",
        "steps": options.steps,
        "batch_size": m.batch_size,
        "initial_loss": rounded(curve[0]),
        "ln_num_classes": rounded(ln_c),
        "final_loss": rounded(curve[-1]),
        "loss_curve": [rounded(v) for v in curve],
        "loss_falls": loss_falls(curve, ln_c),
        "params_without_grad": len(m.no_grad_names),
        "nonfinite": m.nonfinite or not all(math.isfinite(v) for v in curve),
        "images_per_second": rounded(ips, 2),
        "peak_memory_bytes": m.peak_memory_bytes,
        "flops_per_image": m.flops_per_image,
        "achieved_tflops": _sig(achieved),
        "peak_share": _sig(share),
        "versions": versions(),
        "recipe": m.recipe.as_json(),
        "options": {
            "amp": options.amp,
            "channels_last": options.channels_last,
            "compile": m.compiled,
            "ddp": m.ddp,
            "world_size": m.world,
            "warmup_steps": warm,
            "seed": options.seed,
            "num_classes": m.num_classes,
            "input_size": list(target.input_size),
            "lr_scaling": options.lr_scaling,
            "peak_basis": m.peak_basis if peak else None,
            "flops": "forward only, batch 1; a training step ~3x",
            "timer": "cuda events" if m.is_cuda else "perf_counter",
        },
        "notes": list(m.notes),
    }
    result["problems"] = judge(result, m.no_grad_names)
    result["verdict"] = "fail" if result["problems"] else "ok"
    assert tuple(result) == FIELDS
    return result
