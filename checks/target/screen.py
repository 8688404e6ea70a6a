"""Screening a candidate network: does it build, at which input size does it classify, what is its shape.

A candidate is built and run on the `meta` device first (shapes only: no memory for weights, no
time spent initialising them), inside a forked random state, so screening every class of a large
repository costs little and leaves the audit's random state as a plain import would. A model that
cannot run on `meta` (it calls `.item()`, builds CPU tensors in `forward`) is built and run for real.

While it runs, a `TorchFunctionMode` counts, along the data path, how many convolutions and how
many dense layers (a linear map or matrix product with one of the model's parameters) lie before
each tensor: parallel towers count once, so a two-tower AlexNet has 5 + 3 like a one-tower one.
Nothing is trusted by name.
"""
from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.errors import first_line

CONVS = frozenset({"conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose2d"})
DENSE = frozenset({"linear", "addmm", "matmul", "mm", "einsum", "bilinear", "baddbmm"})
BATCH = 2


@dataclass(frozen=True)
class Shape:
    """What one forward pass showed."""

    convs: int
    dense: int
    output: tuple[int, ...]
    parameters: int
    channels: int

    @property
    def classes(self) -> int | None:
        """The class count, when the output is [N, classes] scores."""
        if len(self.output) == 2 and self.output[0] == BATCH and self.output[1] >= 2:
            return self.output[1]
        return None

    @property
    def layers(self) -> str:
        plural = "s" * (self.dense != 1)
        return f"{self.convs} convolution{'s' * (self.convs != 1)} and {self.dense} dense layer{plural}"


def _counter() -> Any:
    from torch.overrides import TorchFunctionMode

    class Depths(TorchFunctionMode):
        """tensor id -> (convolutions, dense layers) on the longest path from the input."""

        def __init__(self, params: set[int], data: Any) -> None:
            super().__init__()
            self.params = params
            self.derived: set[int] = set()
            self.depth: dict[int, tuple[int, int]] = {id(data): (0, 0)}
            self.keep: list[Any] = [data]

        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            import torch

            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            ins = [t for t in _flat((args, kwargs)) if isinstance(t, torch.Tensor)]
            outs = [t for t in _flat(out) if isinstance(t, torch.Tensor)]
            if not outs:
                return out
            self.keep.append(out)
            data = [self.depth[id(t)] for t in ins if id(t) in self.depth]
            weighted = any(id(t) in self.params or id(t) in self.derived for t in ins)
            if not data:
                if weighted:
                    self.derived.update(id(t) for t in outs)
                return out
            c, d = max(x[0] for x in data), max(x[1] for x in data)
            name = getattr(func, "__name__", "")
            if weighted and name in CONVS:
                c += 1
            elif weighted and name in DENSE:
                d += 1
            for t in outs:
                self.depth[id(t)] = (c, d)
            return out

    return Depths


def _flat(obj: Any) -> Iterator[Any]:
    if isinstance(obj, list | tuple):
        for v in obj:
            yield from _flat(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _flat(v)
    else:
        yield obj


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """torch's, Python's and numpy's random state as they were before (screening draws nothing)."""
    import torch

    state = random.getstate()
    np_random = None
    try:
        import numpy as np

        np_random = np.random.get_state()
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(state)
            if np is not None and np_random is not None:
                np.random.set_state(np_random)


def first_channels(model: Any) -> int:
    """The input channels of the first convolution (3 when there is none)."""
    import torch.nn as nn

    for m in model.modules():
        if isinstance(m, nn.Conv2d) and isinstance(m.in_channels, int):
            return int(m.in_channels)
    return 3


def run_once(model: Any, side: int, channels: int, device: str) -> Shape:
    """One forward pass of a [2, channels, side, side] input, in eval mode, layers counted."""
    import torch

    params = {id(p) for p in model.parameters()} | {id(b) for b in model.buffers()}
    x = torch.zeros(BATCH, channels, side, side, device=device)
    model.eval()
    with torch.no_grad(), _counter()(params, x) as mode:
        y = model(x)
    if isinstance(y, tuple | list) and y and isinstance(y[0], torch.Tensor):
        y = y[0]
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"the forward pass returned {type(y).__name__}, not a tensor")
    c, d = mode.depth.get(id(y), (0, 0))
    n = sum(p.numel() for p in model.parameters())
    return Shape(c, d, tuple(int(s) for s in y.shape), int(n), channels)


@dataclass
class Screened:
    """A candidate's first working size, its shape there, and the sizes that failed (side -> why)."""

    side: int | None
    shape: Shape | None
    failed: dict[int, str]
    on_meta: bool
    error: str = ""  # it did not build at all


def screen(build: Callable[[], Any], sides: list[int]) -> Screened:
    """Build with `build` (meta first), then try each side in order until one gives [N, classes]."""
    import torch

    with kept_random_state():
        for device in ("meta", "cpu"):
            try:
                with torch.device(device):
                    model = build()
            except Exception as exc:
                if device == "cpu":
                    return Screened(None, None, {}, False, first_line(exc))
                continue
            if not isinstance(model, torch.nn.Module):
                why = f"it returned {type(model).__name__}, not an nn.Module"
                return Screened(None, None, {}, device == "meta", why)
            found = _first_side(model, sides, device)
            if found.side is not None or device == "cpu" or not _meta_trouble(found.failed):
                return found
    return Screened(None, None, {}, False, "it could not be built")  # pragma: no cover


def _meta_trouble(failed: dict[int, str]) -> bool:
    return any("meta" in why.lower() or "NotImplementedError" in why for why in failed.values())


def _first_side(model: Any, sides: list[int], device: str) -> Screened:
    channels = first_channels(model)
    failed: dict[int, str] = {}
    last: Shape | None = None
    for side in sides:
        try:
            shape = run_once(model, side, channels, device)
        except Exception as exc:
            failed[side] = first_line(exc)
            continue
        if shape.classes is not None:
            return Screened(side, shape, failed, device == "meta")
        last = shape
        failed[side] = f"its output is {list(shape.output)}, not [N, classes]"
    return Screened(None, last, failed, device == "meta")
