"""Initialisation probes (§5): statistics of the freshly built parameters of each conv/fc layer.

The audit's model is a fresh build from the target's factory (seeded), traced once; the weights and
biases each executed layer actually used are read from it, so functional models with their own
Parameters and explicit towers (weights concatenated) are covered.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from ..findings import Observation
from . import probe
from ..spec import Item
from ..trace import Trace, get_trace, one_thread

_KURT_SAMPLE = 1 << 20


def moments(ts: list[torch.Tensor]) -> tuple[int, float, float, float, int]:
    """(n, mean, std, excess kurtosis, m): mean and std over all n elements; the kurtosis over an
    evenly strided sample of m <= 2^20 of them (its standard error sqrt(24/m) sets the shape test)."""
    flat = torch.cat([t.detach().reshape(-1) for t in ts]) if len(ts) > 1 else (
        ts[0].detach().reshape(-1) if ts else torch.zeros(0))
    n = flat.numel()
    if n == 0:
        return 0, math.nan, math.nan, math.nan, 0
    std, mean = torch.std_mean(flat) if n > 1 else (torch.zeros(()), flat.mean())
    step = max(1, n // _KURT_SAMPLE)
    sample = flat[::step].to(torch.float64)
    d = sample - sample.mean()
    var = float((d * d).mean())
    kurt = float((d ** 4).mean()) / (var * var) - 3.0 if var > 0 else math.nan
    return n, float(mean), float(std), kurt, sample.numel()


def shape_of(n: int, kurt: float) -> tuple[str, float]:
    """normal / uniform / other from the excess kurtosis, within 5 standard errors sqrt(24/n)."""
    if n < 8 or math.isnan(kurt):
        return "other", math.inf
    tol = 5.0 * math.sqrt(24.0 / n)
    if abs(kurt) <= tol:
        return "normal", tol
    if abs(kurt + 1.2) <= tol:
        return "uniform", tol
    return "other", tol


def _layers(tr: Trace) -> list[tuple[int, Any]]:
    return [(i, op) for i, op in enumerate(tr.ops) if op.name]


@probe("init_weights")
def init_weights(ctx, item: Item) -> Observation:
    """Per conv/fc layer: mean, std and shape (normal/uniform/other by excess kurtosis) of the fresh weights."""
    tr = get_trace(ctx)
    value: dict[str, Any] = {}
    notes = []
    for i, op in _layers(tr):
        ws = tr.details[i].weights
        with one_thread():
            n, mean, std, kurt, m = moments(ws)
        shape, tol = shape_of(m, kurt)
        value[op.name] = {"mean": round(mean, 6), "std": round(std, 6), "shape": shape}
        notes.append(f"{op.name}: n={n:,} mean={mean:.3g} std={std:.4g} excess kurtosis={kurt:.3f} "
                     f"(on {m:,} samples; normal within +-{tol:.3f})")
    return Observation(value, "; ".join(notes), ", ".join(op.attrs.get("weight_name", "") for _, op in _layers(tr)))


@probe("init_biases")
def init_biases(ctx, item: Item) -> Observation:
    """Per conv/fc layer: the constant value of the fresh bias, or a description when it is not constant."""
    tr = get_trace(ctx)
    value: dict[str, Any] = {}
    for i, op in _layers(tr):
        bs = tr.details[i].biases
        if not bs:
            value[op.name] = "none"
            continue
        flat = torch.cat([b.detach().reshape(-1).to(torch.float64) for b in bs])
        lo, hi = float(flat.min()), float(flat.max())
        if hi - lo <= 1e-7 * max(1.0, abs(lo)):
            value[op.name] = round(lo, 6)
        else:
            value[op.name] = (f"non-constant: mean {float(flat.mean()):.3g}, std {float(flat.std()):.3g}, "
                              f"range [{lo:.3g}, {hi:.3g}]")
    ev = ", ".join(f"{k}: {v}" for k, v in value.items())
    return Observation(value, ev, "")
