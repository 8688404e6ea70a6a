"""A bias is the parameter added right after the product, however it is written.

`graph.fold_bias` takes the plain forms (`x @ W.t() + b`, `conv2d(x, w) + b.view(1, -1, 1, 1)`).
This pass, run after the towers are merged, takes the rest: a bias added after the concatenation of
a grouped convolution written as split-convolve-concatenate, and a bias added after layout-only
steps (a TensorFlow port that keeps activations channels-last: `conv2d(...).permute(0, 2, 3, 1) + b`).
The addition is checked by value: the layout steps applied to the layer's output plus the parameter
(one value per output channel) must give exactly what the model computed. The layer then carries
the bias (and its parameters), and the layout steps follow it as one reshape.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from .graph import Unit
from .kinds import ADDS
from .record import Rec, flat
from .replay import replay


def _has_bias(u: Unit) -> bool:
    return any(r.bparams for m in [u, *u.members] for r in m.recs) or bool(u.bias_recs)


def _channels(u: Unit) -> int | None:
    out = flat(u.out)
    if not out or out[0].dim() < 2:
        return None
    return int(out[0].shape[1])


def _bias_add(u: Unit, src: int) -> Rec | None:
    """u, when it is one addition of a parameter to the tensor src (nothing else)."""
    if u.kind not in ("math", "region") or len(u.recs) != 1 or u.data_in != [src]:
        return None
    r = u.recs[0]
    if r.name not in ADDS or len(r.bparams) != 1:
        return None
    return r


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max() or 1.0)))


def _layout_fn(chain: list[Unit], src: int) -> Callable[[torch.Tensor], torch.Tensor]:
    recs = [r for v in chain for r in v.recs]
    end = chain[-1].out_ids[0]

    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return replay(recs, {src: x})[end]
    return fn


def _fold_one(units: list[Unit], i: int) -> tuple[list[Unit], int] | None:
    """(the units that replace units[i:end], end) when a bias added after units[i] is found, else None."""
    layer = units[i]
    if not layer.out_ids or _has_bias(layer):
        return None
    src = layer.out_ids[0]
    chain: list[Unit] = []
    k, cur = i + 1, src
    while k < len(units) and units[k].kind == "reshape" and units[k].data_in == [cur] and units[k].out_ids:
        chain.append(units[k])
        cur = units[k].out_ids[0]
        k += 1
    if k >= len(units):
        return None
    add = _bias_add(units[k], cur)
    n = _channels(layer)
    y, target = flat(layer.out), flat(units[k].out)
    if add is None or n is None or not y or not target or add.bparams[0].numel() != n:
        return None
    layout = _layout_fn(chain, src) if chain else (lambda t: t)
    with torch.no_grad():
        if _same(layout(y[0]), target[0]):  # added in place: the layer's own output already holds it
            biased = y[0]
        else:
            b = add.bparams[0].detach().reshape(1, n, *([1] * (y[0].dim() - 2))).to(y[0].dtype)
            biased = y[0] + b
            if not _same(layout(biased), target[0]):
                return None
    layer.bias_recs = [add]
    if not chain:
        layer.out, layer.out_ids = units[k].out, list(units[k].out_ids)
        return [layer], k + 1
    layer.out, layer.out_ids = biased, [id(biased)]
    moved = Unit("reshape", chain[0].path, chain[0].pos, [r for v in chain for r in v.recs], [id(biased)],
                 list(units[k].out_ids), biased, units[k].out, _layout_fn(chain, src),
                 "+".join(v.name for v in chain))
    return [layer, moved], k + 1


def fold_late_bias(units: list[Unit]) -> list[Unit]:
    """Every weight layer without a bias takes the parameter added right after it (through layout steps)."""
    out: list[Unit] = []
    i = 0
    while i < len(units):
        got = _fold_one(units, i) if units[i].kind in ("conv", "linear") else None
        if got is None:
            out.append(units[i])
            i += 1
            continue
        new, i = got
        out.extend(new)
    return out
