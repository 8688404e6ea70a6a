"""Classify a function as an elementwise activation by MEASURING its response (§3.1: the paper's
ReLU is judged by the curve it computes, not by a class name)."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from ..core.numbers import sig
from .kinds import Activation, ElementwiseKind


class Probe(NamedTuple):
    dtype: torch.dtype
    shape: tuple[int, ...]


def probe_dtype(fn: Callable[[torch.Tensor], Any], shape: tuple[int, ...], preferred: torch.dtype) -> Probe:
    """(dtype, shape) to re-run fn with: float64 when it accepts one (exact fits), else the model's
    dtype; a small shape (batch 1, at most 8x8 positions) when fn accepts it, else `shape`."""
    shape = tuple(shape)
    small = (1, shape[1], *[min(s, 8) for s in shape[2:]]) if len(shape) > 2 else (1, *shape[1:])
    for dt in (torch.float64, preferred):
        for shp in dict.fromkeys([small, shape]):
            try:
                y = fn(torch.zeros(shp, dtype=dt))
            except Exception:
                continue
            if isinstance(y, torch.Tensor) and (shp == shape or tuple(y.shape) == shp):
                return Probe(dt, shp)
    raise RuntimeError("the op could not be re-run on a crafted input")


class _Candidate(NamedTuple):
    kind: Activation
    fn: Callable[[torch.Tensor], torch.Tensor]
    attrs: dict[str, Any]


# Tried in this order; the first whose curve matches names the function.
_CANDIDATES = (
    _Candidate("relu", lambda x: x.clamp(min=0), {}),
    _Candidate("relu6", lambda x: x.clamp(0, 6), {}),
    _Candidate("hardtanh", lambda x: x.clamp(-1, 1), {}),
    _Candidate("tanh", torch.tanh, {}),
    _Candidate("sigmoid", torch.sigmoid, {}),
    _Candidate("gelu", F.gelu, {}),
    _Candidate("gelu", lambda x: F.gelu(x, approximate="tanh"), {"approximate": "tanh"}),
    _Candidate("silu", F.silu, {}),
    _Candidate("mish", F.mish, {}),
    _Candidate("softplus", F.softplus, {}),
    _Candidate("elu", F.elu, {}),
    _Candidate("selu", F.selu, {}),
    _Candidate("celu", F.celu, {}),
    _Candidate("hardswish", F.hardswish, {}),
    _Candidate("hardsigmoid", F.hardsigmoid, {}),
    _Candidate("softsign", F.softsign, {}),
)


class Response(NamedTuple):
    kind: ElementwiseKind | None  # None: not elementwise
    attrs: dict[str, Any]


def classify_elementwise(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...],
                         dtype: torch.dtype = torch.float32) -> Response:
    """Classify fn by its measured response on a probe vector in [-8, 8] spread over a tensor of `shape`.

    Returns (kind, attrs); kind None when fn is not elementwise (an output depends on more than its
    own input element). Kinds: an activation name, 'identity', 'scale', or 'elementwise' (unknown).
    """
    dt, shape = probe_dtype(fn, shape, dtype)
    n = math.prod(shape)
    npts = max(2, min(1601, n // 4))  # each probe value at >= 4 random places
    probe = torch.linspace(-8.0, 8.0, npts, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    slot = torch.randperm(n, generator=gen) % npts
    x = probe[slot].to(dt).reshape(shape)
    with torch.no_grad():
        y = fn(x.clone())
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != tuple(shape):
        return Response(None, {})
    y = y.detach().to(torch.float64).flatten()
    if not torch.isfinite(y).all():
        return Response(None, {})
    lo = torch.full((npts,), math.inf, dtype=torch.float64).scatter_reduce(0, slot, y, "amin")
    hi = torch.full((npts,), -math.inf, dtype=torch.float64).scatter_reduce(0, slot, y, "amax")
    if ((hi - lo).abs() > 1e-6 * (1 + lo.abs())).any():
        return Response(None, {})  # the same input value gives different outputs: not elementwise
    spots = torch.tensor([0, n // 3, (2 * n) // 3, n - 1]).unique()
    x2 = x.clone().reshape(-1)
    x2[spots] += 1.0
    with torch.no_grad():
        y2 = fn(x2.reshape(shape)).detach().to(torch.float64).flatten()
    keep = torch.ones(n, dtype=torch.bool)
    keep[spots] = False
    if ((y2 - y)[keep].abs() > 1e-9 * (1 + y[keep].abs())).any():
        return Response(None, {})  # moving one element moves others: not elementwise
    return _name_curve(probe, lo)


def _name_curve(xv: torch.Tensor, yv: torch.Tensor) -> Response:
    """Name the measured curve yv = f(xv) of an elementwise function."""
    tol = 1e-5 + 1e-4 * yv.abs()
    pos, neg = xv > 0, xv < 0

    def fits(ref: torch.Tensor) -> bool:
        return bool(((yv - ref).abs() <= tol + 1e-4 * ref.abs()).all())

    if fits(xv):
        return Response("identity", {})
    nz = xv.abs() > 1e-3
    c = float((yv[nz] / xv[nz]).median()) if nz.any() else 0.0
    if c != 0 and fits(c * xv):
        return Response("scale", {"factor": sig(c, 6)})  # significant digits: 1/255 keeps its precision
    for cand in _CANDIDATES:
        if fits(cand.fn(xv)):
            return Response(cand.kind, dict(cand.attrs))
    if neg.any() and pos.any() and fits(torch.where(pos, xv, yv)):  # identity on x > 0
        s = float((yv[neg] / xv[neg]).median())
        if 0 < s < 1 and fits(torch.where(xv >= 0, xv, s * xv)):
            return Response("leaky_relu", {"negative_slope": round(s, 6)})
        e = torch.expm1(xv[neg])
        a = float((yv[neg] / e).median())
        if a > 0 and fits(torch.where(xv > 0, xv, a * torch.expm1(xv))):
            return Response("elu", {"alpha": round(a, 6)})
    return Response("elementwise", {"probe_min": round(float(yv.min()), 6), "probe_max": round(float(yv.max()), 6)})
