"""Fit the §3.3 response normalisation b = a / (k + alpha * sum a^2)^beta to a function, numerically.

An LRN is recognised and its parameters read by what it computes on crafted inputs, so a library
call, a hand-written module and inline arithmetic are measured the same way.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple, TypedDict

import torch

from .elementwise import probe_dtype
from .window import Diff, band, differences, influence


class LrnFit(TypedDict):
    n: int  # window width, measured with a channel impulse
    window: list[int]  # [-lo, hi]: channel offsets the window reaches
    per_position: bool  # False when the op mixes spatial positions (an LRN never does)
    local: bool  # False when the sum runs over every channel (an edge impulse reaches the far edge too)
    channels: int  # channels of the probe tensor
    k: float | None
    alpha: float | None  # coefficient of the PLAIN sum of squares
    beta: float | None
    residual: float  # rms of the log error of the fit
    irregular: list[Diff]  # outputs whose measured sources differ from the window: [out, extra, missing]


class PowerFit(NamedTuple):
    k: float
    alpha: float
    beta: float
    residual: float


def _positions(shape: tuple[int, ...]) -> int:
    return shape[0] * (math.prod(shape[2:]) if len(shape) > 2 else 1)


def _set(x: torch.Tensor, p: int, c: int, v: float) -> None:
    """x[position p, channel c] = v, positions counted over (batch, *spatial)."""
    rest = x.shape[2:]
    b, r = divmod(p, math.prod(rest) if rest else 1)
    idx = [b, c]
    for s in reversed(rest):
        idx.insert(2, r % s)
        r //= s
    x[tuple(idx)] = v


def _rows(y: torch.Tensor) -> torch.Tensor:
    """(positions, channels) view of y."""
    return y.movedim(1, -1).reshape(-1, y.shape[1])


def fit_lrn(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...],
            dtype: torch.dtype = torch.float32) -> LrnFit:
    """Fit b_i = a_i / (k + alpha * sum_{j in window(i)} a_j^2)^beta to fn on crafted inputs.

    alpha is the coefficient of the PLAIN sum of squares (the paper's convention, so PyTorch
    `LocalResponseNorm(5, alpha=5e-4)` measures 1e-4). Returns n (window width, measured with a
    channel impulse), k, alpha, beta, the window offsets, the fit residual (rms of log error) and
    'per_position' (whether the op mixes spatial positions, which an LRN never does).
    """
    if len(shape) < 2 or shape[1] < 2:
        raise ValueError("not a channel tensor")
    dt, shape = probe_dtype(fn, shape, dtype)
    C = shape[1]
    m = C // 2
    P = _positions(shape)
    ones = torch.ones(shape, dtype=dt)
    with torch.no_grad():
        base = fn(ones.clone()).to(torch.float64)
        # impulses of growing size at different positions reveal the window
        x = ones.clone()
        amps = [1e2, 1e3, 1e4]
        used = list(range(min(len(amps), P)))
        for p in used:
            _set(x, p, m, amps[p])
        y = fn(x).to(torch.float64)
    per_position = True
    if P > len(used):
        rest_y = y.movedim(1, -1).reshape(P, C)[len(used):]
        rest_b = base.movedim(1, -1).reshape(P, C)[len(used):]
        per_position = bool(((rest_y - rest_b).abs() <= 1e-6 * rest_b.abs() + 1e-12).all())
    n, lo, hi = 0, 0, 0
    yr, br = _rows(y), _rows(base)
    for p in used:
        d = (yr[p] - br[p]).abs() > 1e-5 * br[p].abs() + 1e-12
        d[m] = False
        idx = torch.nonzero(d).flatten().tolist()
        lo_p = m - min(idx + [m])
        hi_p = max(idx + [m]) - m
        if lo_p + hi_p + 1 > n:
            n, lo, hi = lo_p + hi_p + 1, lo_p, hi_p
    local = True
    if n == C:  # the middle channel's window covers every channel: local, or a sum over all of them?
        local = _edge_reach(fn, ones, base) < C - 1
        n = n if local else C
    # the window of every channel, not only the middle one's (a running sum may keep a map it should drop)
    irregular = differences(influence(fn, shape, dt), band(C, lo, hi, local)) if per_position else []
    a = torch.logspace(-2, 4, 49, dtype=torch.float64)
    b = _sweep(fn, shape, dt, m, P, a)
    if not (b > 0).all() or not torch.isfinite(b).all():
        return LrnFit(n=n, window=[-lo, hi], per_position=per_position, local=local, channels=C, k=None,
                      alpha=None, beta=None, residual=math.inf, irregular=irregular)
    fit = _fit_power(a ** 2, a / b)
    return LrnFit(n=n, window=[-lo, hi], per_position=per_position, local=local, channels=C, k=fit.k,
                  alpha=fit.alpha, beta=fit.beta, residual=fit.residual, irregular=irregular)


def _edge_reach(fn: Callable[[torch.Tensor], torch.Tensor], ones: torch.Tensor, base: torch.Tensor) -> int:
    """The last channel that an impulse on channel 0 moves: C - 1 when the window spans every channel
    (a local window of width n reaches only n // 2 channels from the edge)."""
    x = ones.clone()
    _set(x, 0, 0, 1e3)
    with torch.no_grad():
        y = fn(x).to(torch.float64)
    d = (_rows(y)[0] - _rows(base)[0]).abs() > 1e-5 * _rows(base)[0].abs() + 1e-12
    idx = torch.nonzero(d).flatten().tolist()
    return max(idx + [0])


def _sweep(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...], dt: torch.dtype, m: int, P: int,
           a: torch.Tensor) -> torch.Tensor:
    """Magnitude sweep on channel m with silent neighbours, len(a) values spread over P positions per
    call: the outputs b, so that a / b = (k + alpha a^2)^beta."""
    gs: list[float] = []
    done = 0
    while done < len(a):
        x = torch.zeros(shape, dtype=dt)
        cnt = min(P, len(a) - done)
        for p in range(cnt):
            _set(x, p, m, float(a[done + p]))
        with torch.no_grad():
            y = fn(x).to(torch.float64)
        yr = _rows(y)
        gs.extend(float(yr[p, m]) for p in range(cnt))
        done += cnt
    return torch.tensor(gs, dtype=torch.float64)


def _fit_power(u: torch.Tensor, g: torch.Tensor) -> PowerFit:
    """Least squares for log g = beta * log(k + alpha u): grid on beta, linear solve for k, alpha."""
    lg = torch.log(g)

    def solve(beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.exp(lg[None, :] / beta[:, None])  # (B, N): k + alpha u when beta is right
        w = 1.0 / h
        A0, A1 = w, u[None, :] * w  # weighted rows; target 1
        s00, s01, s11 = (A0 * A0).sum(1), (A0 * A1).sum(1), (A1 * A1).sum(1)
        t0, t1 = A0.sum(1), A1.sum(1)
        det = s00 * s11 - s01 * s01
        k = (t0 * s11 - t1 * s01) / det
        al = (s00 * t1 - s01 * t0) / det
        pred = k[:, None] + al[:, None] * u[None, :]
        ok = (pred > 0).all(1)
        res = torch.where(ok, ((beta[:, None] * torch.log(pred.clamp(min=1e-300)) - lg[None, :]) ** 2).mean(1).sqrt(),
                          torch.full_like(beta, math.inf))
        return k, al, res

    betas = torch.arange(0.1, 3.0, 0.005, dtype=torch.float64)
    _, _, res = solve(betas)
    best = float(betas[int(torch.argmin(res))])
    lo, hi = best - 0.01, best + 0.01
    for _ in range(3):  # zoom in
        fine = torch.linspace(lo, hi, 201, dtype=torch.float64)
        _, _, res = solve(fine)
        j = int(torch.argmin(res))
        step = float(fine[1] - fine[0])
        best = float(fine[j])
        lo, hi = best - 2 * step, best + 2 * step
    k, al, res = solve(torch.tensor([best], dtype=torch.float64))
    return PowerFit(float(k[0]), float(al[0]), best, float(res[0]))
