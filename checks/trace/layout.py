"""Which axis of each tensor holds the channels: a region is measured in the frame the layers use.

A port from TensorFlow keeps its activations channels-last between the convolutions
(`conv2d(...).permute(0, 2, 3, 1)`) and writes its normalisation over the last axis. The
measurements of a region (an LRN's window across channels, its per-position check) assume the
channels on axis 1, so the channel axis is followed through the data flow: a convolution's output
has it on axis 1, a permute or transpose moves it, a step that keeps the shape keeps it, anything
else loses it. A region whose input carries the channels elsewhere is measured (and rebuilt) with
that axis moved to 1 and back.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .graph import Unit
from .record import Rec, flat, shape_of

_KEEP = frozenset({"contiguous", "clone", "to", "float", "double", "detach", "type", "cpu", "__get__"})


def _dims(r: Rec) -> list[int] | None:
    """The permutation a permute call applies (x.permute(0, 2, 3, 1) or torch.permute(x, (0, 2, 3, 1)))."""
    rest = [a for a in r.args[1:]]
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)):
        rest = list(rest[0])
    dims = r.kwargs.get("dims", rest)
    return [int(d) for d in dims] if all(isinstance(d, int) for d in dims) else None


def _moved(r: Rec, axis: int | None, rank: int) -> int | None:
    """The channel axis after one layout call (None: lost)."""
    if axis is None:
        return None
    axis = axis % rank if rank else axis
    out = shape_of(r.out)
    if r.name in _KEEP:
        return axis
    if r.name == "permute":
        dims = _dims(r)
        return [d % rank for d in dims].index(axis) if dims and len(dims) == rank else None
    if r.name in ("transpose", "swapaxes", "swapdims") and len(r.args) >= 3:
        a, b = int(r.args[1]) % rank, int(r.args[2]) % rank
        return b if axis == a else a if axis == b else axis
    if r.name == "t" and rank == 2:
        return 1 - axis
    ins = flat(r.args[:1])
    return axis if ins and tuple(ins[0].shape) == tuple(out) else None


def channel_axes(units: list[Unit], input_id: int) -> dict[int, int | None]:
    """Tensor id -> the axis that holds its channels (None where the flow loses track), along the units."""
    axes: dict[int, int | None] = {input_id: 1}
    for u in units:
        ax = axes.get(u.data_in[0]) if u.data_in else None
        out = shape_of(u.out)
        if u.kind == "conv":
            ax = 1
        elif u.kind == "linear":
            ax = len(out) - 1 if out else None
        elif u.kind == "reshape":
            for r in u.recs:
                ax = _moved(r, ax, len(shape_of(r.args[:1])))
        elif tuple(shape_of(u.inp)) != tuple(out) and len(shape_of(u.inp)) != len(out):
            ax = None
        for t in u.out_ids:
            axes[t] = ax
    return axes


def mark_channel_axes(units: list[Unit], input_id: int) -> None:
    """Regions whose input holds its channels off axis 1 (on a 4-d tensor) get attrs['channel_axis']."""
    axes = channel_axes(units, input_id)
    for u in units:
        if u.kind != "region" or not u.data_in or len(shape_of(u.inp)) != 4:
            continue
        ax = axes.get(u.data_in[0])
        if ax is not None and ax % 4 != 1:
            u.attrs["channel_axis"] = ax % 4


def channels_first(fn: Callable[[torch.Tensor], Any], axis: int) -> Callable[[torch.Tensor], Any]:
    """fn as a function of a channels-first tensor (its channels moved to `axis` and back)."""
    def g(x: torch.Tensor) -> Any:
        y = fn(x.movedim(1, axis))
        return y.movedim(axis, 1) if isinstance(y, torch.Tensor) else y
    return g


def shape_first(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """A channels-at-`axis` shape with the channels on axis 1."""
    s = list(shape)
    c = s.pop(axis)
    s.insert(1, c)
    return tuple(s)
