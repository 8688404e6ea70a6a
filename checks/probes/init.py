"""Initialisation probes (§5): statistics of the freshly built parameters of each conv/fc layer.

The audit's model is a fresh build from the target's factory (seeded), traced once; the weights and
biases each executed layer actually used are read from it, so functional models with their own
Parameters and explicit towers (weights concatenated) are covered.

The moments are accumulated in float64 (a float32 sum over 37M weights carries ~1e-7 relative error
that depends on the CPU's vector width), so they are exact statistics of the drawn tensors. The std
is reported to 3 significant digits: its sampling error is 0.4% at conv1's 34,848 weights, the spec's
tolerance is 5e-4 absolute, and a 4th digit can sit within 1e-7 of a rounding boundary (the reference's
conv4: 0.0099965035), where the last bit of a weight drawn by another CPU's kernel would decide it. The
mean is reported to 1e-6 (its sampling error is >= 1.6e-6, at fc6).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from ..core.findings import Observation
from ..core.numbers import quantise, sig
from ..spec.load import Item
from ..trace import Trace, get_trace, one_thread
from . import probe
from .context import Context

_KURT_SAMPLE = 1 << 20
_CHUNK = 1 << 22  # elements converted to float64 at a time
STD_DIGITS = 3
MEAN_STEP = 1e-6


def moments(ts: list[torch.Tensor]) -> tuple[int, float, float, float, int]:
    """(n, mean, std, excess kurtosis, m): mean and std over all n elements; the kurtosis over an
    evenly strided sample of m <= 2^20 of them (its standard error sqrt(24/m) sets the shape test)."""
    flats = [t.detach().reshape(-1) for t in ts]
    n = sum(f.numel() for f in flats)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, 0

    def chunks() -> Iterator[torch.Tensor]:  # a slice at a time: no copy of fc6's 37M weights
        for f in flats:
            for i in range(0, f.numel(), _CHUNK):
                yield f[i:i + _CHUNK]

    # two passes (the mean, then squared deviations from it), each summed in float64: float32
    # elementwise arithmetic is exact IEEE everywhere, only the order of a float32 sum is not
    mean = sum(float(torch.sum(c, dtype=torch.float64)) for c in chunks()) / n
    ss = sum(float(torch.sum((c - mean) ** 2, dtype=torch.float64)) for c in chunks())
    std = math.sqrt(ss / (n - 1)) if n > 1 else 0.0
    step = max(1, n // _KURT_SAMPLE)
    flat = torch.cat(flats) if len(flats) > 1 else flats[0]
    sample = flat[::step].to(torch.float64)
    d = sample - sample.mean()
    var = float((d * d).mean())
    kurt = float((d ** 4).mean()) / (var * var) - 3.0 if var > 0 else math.nan
    return n, mean, std, kurt, sample.numel()


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
def init_weights(ctx: Context, item: Item) -> Observation:
    """Per conv/fc layer: mean, std and shape (normal/uniform/other by excess kurtosis) of the fresh weights."""
    tr = get_trace(ctx)
    value: dict[str, Any] = {}
    notes = []
    for i, op in _layers(tr):
        ws = tr.details[i].weights
        with one_thread():
            n, mean, std, kurt, m = moments(ws)
        shape, tol = shape_of(m, kurt)
        value[op.name] = {"mean": quantise(mean, MEAN_STEP), "std": sig(std, STD_DIGITS), "shape": shape}
        notes.append(f"{op.name}: n={n:,} mean={sig(mean, 2):g} std={sig(std, STD_DIGITS):g} "
                     f"excess kurtosis={quantise(kurt, 0.001):.3f} (on {m:,} samples; normal within +-{tol:.3f})")
    return Observation(value, "; ".join(notes), ", ".join(op.attrs.get("weight_name", "") for _, op in _layers(tr)))


@probe("init_biases")
def init_biases(ctx: Context, item: Item) -> Observation:
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
            value[op.name] = quantise(lo, MEAN_STEP)
        else:
            value[op.name] = (f"non-constant: mean {sig(float(flat.mean()), 3):g}, std {sig(float(flat.std()), 3):g}, "
                              f"range [{sig(lo, 3):g}, {sig(hi, 3):g}]")
    ev = ", ".join(f"{k}: {v}" for k, v in value.items())
    return Observation(value, ev, "")
