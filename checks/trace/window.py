"""Which channels a normalisation actually sums: the window measured channel by channel.

The §3.3 window of output map i is the n maps around i. Fitting the formula's constants on one
channel (and reading the window from that channel's impulse) would pass a normalisation whose
window is another shape elsewhere: PyTorch's legacy `nn.CrossMapLRN2d` never drops map 0 from its
running sum, so every map from the fourth on is also normalised by map 0. Here an impulse on each
input channel in turn (at its own spatial position, so that a few calls cover every channel) shows
which output channels it moves; the measured connectivity is compared with the window read from
the middle channel, and every output whose sources differ is listed.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

# One output channel whose measured sources differ from the window's: [output, extra inputs, missing inputs]
Diff = list[Any]

AMP = 3e2  # impulse size: its square moves any window sum, yet stays far from float32 rounding trouble


def _positions(shape: tuple[int, ...]) -> int:
    return shape[0] * (math.prod(shape[2:]) if len(shape) > 2 else 1)


def _index(shape: tuple[int, ...], p: int, c: int) -> tuple[int, ...]:
    rest = shape[2:]
    b, r = divmod(p, math.prod(rest) if rest else 1)
    idx = [b, c]
    for s in reversed(rest):
        idx.insert(2, r % s)
        r //= s
    return tuple(idx)


def influence(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...], dt: torch.dtype) -> torch.Tensor:
    """(C_in, C_out) bool: which output channels an impulse on each input channel moves (on a ones input)."""
    C, P = shape[1], _positions(shape)
    ones = torch.ones(shape, dtype=dt)
    with torch.no_grad():
        base = fn(ones.clone()).to(torch.float64)
    conn = torch.zeros((C, C), dtype=torch.bool)
    base_rows = base.movedim(1, -1).reshape(-1, C)  # (positions, channels), positions as _index counts them
    for start in range(0, C, P):
        chans = list(range(start, min(C, start + P)))
        x = ones.clone()
        for p, c in enumerate(chans):
            x[_index(shape, p, c)] = AMP
        with torch.no_grad():
            rows = fn(x).to(torch.float64).movedim(1, -1).reshape(-1, C)
        for p, c in enumerate(chans):
            d = (rows[p] - base_rows[p]).abs() > 1e-5 * base_rows[p].abs() + 1e-12
            d[c] = True
            conn[c] = d
    return conn


def band(C: int, lo: int, hi: int, local: bool) -> torch.Tensor:
    """The (C_in, C_out) connectivity of a window: input j moves outputs j - lo .. j + hi (every map when not local)."""
    if not local:
        return torch.ones((C, C), dtype=torch.bool)
    j = torch.arange(C)
    off = j[None, :] - j[:, None]  # output - input
    return (off >= -lo) & (off <= hi)


def differences(conn: torch.Tensor, expected: torch.Tensor) -> list[Diff]:
    """Per output channel whose sources differ from the window's: [output, extra inputs, missing inputs]."""
    out: list[Diff] = []
    for o in range(conn.shape[1]):
        got, want = conn[:, o], expected[:, o]
        extra = torch.nonzero(got & ~want).flatten().tolist()
        missing = torch.nonzero(want & ~got).flatten().tolist()
        if extra or missing:
            out.append([o, extra, missing])
    return out


def _runs(xs: list[int]) -> str:
    parts: list[str] = []
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        parts.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ", ".join(parts)


def describe(diffs: list[Diff], n: int) -> str:
    """'maps 3-95 also sum map 0' for each group of outputs with the same extra / missing sources."""
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
    for o, extra, missing in diffs:
        groups.setdefault((tuple(extra), tuple(missing)), []).append(int(o))
    texts = []
    for (extra, missing), outs in groups.items():
        what = []
        if extra:
            what.append(f"also sum map{'s' if len(extra) > 1 else ''} {_runs(list(extra))}")
        if missing:
            what.append(f"leave out map{'s' if len(missing) > 1 else ''} {_runs(list(missing))}")
        texts.append(f"maps {_runs(outs)} {' and '.join(what)}")
    return f"not {n} adjacent maps: " + "; ".join(texts[:4]) + ("; ..." if len(texts) > 4 else "")


def matrix(C: int, lo: int, hi: int, local: bool, diffs: list[Diff]) -> torch.Tensor:
    """The (C_out, C_in) 0/1 window matrix a rebuild sums squares with: the window, corrected by diffs."""
    m = band(C, lo, hi, local).clone()
    for o, extra, missing in diffs:
        for j in extra:
            m[j, o] = True
        for j in missing:
            m[j, o] = False
    return m.T
