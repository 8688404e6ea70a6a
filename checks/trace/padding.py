"""A pad right before a convolution is that convolution's padding, in whatever mode it pads.

`nn.Conv2d(..., padding_mode='reflect')` pads with `F.pad(mode='reflect')` and convolves unpadded;
pix2pix-style code writes `nn.ReflectionPad2d(1)` before an unpadded conv; Caffe ports write
`nn.ZeroPad2d((0, 3, 0, 3))`. Each is the convolution's padding, never a layer of its own. The
mode is MEASURED, by comparing what the pad computes on a random input with zero, reflect,
replicate and circular padding of the same amounts; the conv records it as `padding_mode` when
it is not zeros. The paper states no padding mode (only the sizes it implies), so any mode is a
reading the paper allows; arch.layer_sequence names it in its evidence.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .graph import Unit
from .record import shape_of
from .signatures import bind

# torch's F.pad mode -> the name nn.Conv2d's padding_mode gives it
MODES: dict[str, str] = {"constant": "zeros", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def pad_mode(fn: Callable[[torch.Tensor], torch.Tensor], in_shape: tuple[int, ...], pads: list[int],
             dtype: torch.dtype = torch.float32) -> str:
    """'zeros', 'reflect', 'replicate' or 'circular' by what fn computes on a random input; 'other' when none."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn((1, *in_shape[1:]), generator=gen, dtype=torch.float64).to(dtype)
    with torch.no_grad():
        y = fn(x.clone())
        for mode, name in MODES.items():
            try:
                ref = F.pad(x, pads, mode=mode)
            except (RuntimeError, ValueError, NotImplementedError):
                continue
            if isinstance(y, torch.Tensor) and ref.shape == y.shape and torch.equal(ref, y):
                return name
    return "other"


def _pads(p: Unit) -> tuple[list[int], dict[str, Any]] | None:
    sig = bind(p.name, p.recs[0].args, p.recs[0].kwargs)
    pads = [int(v) for v in (sig.get("pad") or [])]
    if len(pads) not in (2, 4) or any(v < 0 for v in pads):
        return None
    return pads + [0, 0] * ((4 - len(pads)) // 2), sig


def fold_pads(units: list[Unit]) -> list[Unit]:
    """A pad that feeds a conv becomes part of that conv's padding (a non-zero mode is recorded)."""
    out: list[Unit] = []
    for u in units:
        if u.kind == "conv" and out and out[-1].kind == "pad" and out[-1].out_ids and out[-1].out_ids[0] in u.data_in:
            p = out[-1]
            got = _pads(p)
            if got is not None:
                pads, sig = got
                mode = sig.get("mode", "constant")
                zero = mode == "constant" and not (sig.get("value") or 0)
                measured = "zeros" if zero else pad_mode(p.fn, shape_of(p.inp), pads) if p.fn is not None else "other"
                if measured != "other":
                    left, right, top, bottom = pads[:4]
                    u.pad = (left, right, top, bottom)
                    u.in_shape = shape_of(p.inp)
                    u.attrs["pad_op"] = p.path or "F.pad"
                    if measured != "zeros":
                        u.attrs["padding_mode"] = measured
                    out.pop()
        out.append(u)
    return out
