"""Pool type and geometry by measurement (§3.4: overlapping max pooling, z=3, s=2)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F

PoolType = Literal["max", "avg", "identity", "other"]


def pool_type(fn: Callable[[torch.Tensor], Any], in_shape: tuple[int, ...], out_shape: tuple[int, ...],
              sig: dict[str, Any], name: str, dtype: torch.dtype) -> PoolType:
    """'max' or 'avg' by comparing the op's output with both on a random input, else 'other'
    ('identity' when it returns its input)."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn((1, *in_shape[1:]), generator=gen, dtype=dtype)
    refs: dict[PoolType, torch.Tensor]
    with torch.no_grad():
        y = fn(x)
        if isinstance(y, (tuple, list)):
            y = y[0]
        if name.startswith("adaptive"):
            size = (out_shape[-2], out_shape[-1])
            refs = {"max": F.adaptive_max_pool2d(x, size), "avg": F.adaptive_avg_pool2d(x, size)}
        else:
            k: Any = sig.get("kernel_size")
            s: Any = sig.get("stride") or sig.get("kernel_size")
            p: Any = sig.get("padding", 0)
            cm = bool(sig.get("ceil_mode", False))
            refs = {"max": F.max_pool2d(x, k, s, p, ceil_mode=cm),
                    "avg": F.avg_pool2d(x, k, s, p, ceil_mode=cm,
                                        count_include_pad=sig.get("count_include_pad", True))}
    if y.shape == x.shape and torch.equal(y, x):
        return "identity"
    for kind, ref in refs.items():
        if ref.shape == y.shape and torch.allclose(ref, y, rtol=1e-5, atol=1e-6):
            return kind
    return "other"


class Geometry(NamedTuple):
    kernel: int
    stride: int | None  # None: the windows do not advance by one constant step


def adaptive_geometry(n_in: int, n_out: int) -> Geometry:
    """The kernel and stride an adaptive pool uses along one axis of n_in -> n_out."""
    starts = [(i * n_in) // n_out for i in range(n_out)]
    ends = [-(-((i + 1) * n_in) // n_out) for i in range(n_out)]
    kern = max(e - s for s, e in zip(starts, ends, strict=False))
    steps = {b - a for a, b in zip(starts, starts[1:], strict=False)}
    return Geometry(kern, steps.pop() if len(steps) == 1 else (n_in if n_out == 1 else None))
