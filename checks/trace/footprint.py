"""The measured signature of a region the audit could not name (`other`): what it reads and how it scales.

Three measurements on crafted inputs, whatever the region's calls: the channel footprint (an
impulse on the middle channel at the centre position: how many output channels move), the spatial
footprint (an impulse on every channel at the centre pixel: the extent of the output positions that
move) and the response to scale (f(2x) against 2 f(x) on a random positive input: a ReLU, a pooling
and a linear map scale with their input; a normalisation or a squashing does not). The reports
print it beside the op, so that an unnamed step still says what it does.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .elementwise import probe_dtype


def _moved(y: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    return (y - base).abs() > 1e-6 * (base.abs() + 1e-6)


def signature(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...],
              dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """{'channels': output channels one input channel moves, 'spatial': [h, w] extent one input pixel moves
    (on a probe of at most 8x8 positions; absent for a tensor without maps), 'scales': whether f(2x) == 2 f(x)}."""
    dt, shp = probe_dtype(fn, shape, dtype)
    gen = torch.Generator().manual_seed(5)
    ones = torch.ones(shp, dtype=dt)
    with torch.no_grad():
        base = fn(ones.clone())
        out: dict[str, Any] = {}
        if len(shp) >= 2 and shp[1] > 1:
            x = ones.clone()
            centre = tuple(s // 2 for s in shp[2:])
            x[(0, shp[1] // 2, *centre)] = 10.0
            moved = _moved(fn(x), base)
            out["channels"] = int(moved.flatten(2).any(dim=2).any(dim=0).sum()) if moved.dim() >= 3 else \
                int(moved.any(dim=0).sum())
        if len(shp) == 4 and base.dim() == 4:
            x = ones.clone()
            x[0, :, shp[2] // 2, shp[3] // 2] = 10.0
            hit = torch.nonzero(_moved(fn(x), base).any(dim=1).any(dim=0))
            out["spatial"] = [int(hit[:, 0].max() - hit[:, 0].min() + 1), int(hit[:, 1].max() - hit[:, 1].min() + 1)] \
                if len(hit) else [0, 0]
            out["probe"] = [int(shp[2]), int(shp[3])]
        x = torch.rand(shp, generator=gen, dtype=torch.float64).to(dt) + 0.5
        y1, y2 = fn(x.clone()), fn(2 * x)
        out["scales"] = bool(y1.shape == y2.shape and torch.allclose(y2, 2 * y1, rtol=1e-5, atol=1e-8))
    return out


def describe(sig: dict[str, Any], in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    """'[96, 55, 55] -> [96, 27, 27]; one channel moves 5 output channels; one pixel moves a 2x2 patch; ...'."""
    parts = [f"{list(in_shape[1:])} -> {list(out_shape[1:])}"]
    if "channels" in sig:
        parts.append(f"one channel moves {sig['channels']} output channel{'s' if sig['channels'] != 1 else ''}")
    if "spatial" in sig:
        parts.append(f"one pixel moves a {sig['spatial'][0]}x{sig['spatial'][1]} patch (of a "
                     f"{sig['probe'][0]}x{sig['probe'][1]} probe)")
    parts.append("scales with its input" if sig.get("scales") else "does not scale with its input")
    return "; ".join(parts)
