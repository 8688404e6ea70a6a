"""Feeding synthetic images to a target's transforms and reading the outputs back (data probes).

Transforms come in several shapes: torchvision v1 and v2 (PIL in), custom classes, numpy callables
and albumentations-style callables (`t(image=array)["image"]`, HxWxC uint8 in and out). `Adapted`
finds once, by calling it, which input a transform takes, so every probe feeds it a PIL image
(`recipe_transform`: the recipe's transform so adapted, once per audit). Outputs may be tensors
(CxHxW), PIL images, HxWxC or CxHxW arrays, or a dict with "image".
"""
from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from .context import Context, declared_note

P = ParamSpec("P")
R = TypeVar("R")


def one_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a probe with one torch thread (`trace.one_thread`): many small tensor ops, where threads
    only add contention."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from ..trace import one_thread as single_thread

        with single_thread():
            return fn(*args, **kwargs)

    return wrapper


def recipe_transform(ctx: Context, key: str) -> Adapted:
    """The recipe's transform `key` (train_transform, eval_transform), adapted once per audit."""
    tf = ctx.recipe_value(key)
    if not callable(tf):
        raise TypeError(f"{key} must be a callable taking a PIL image, got {type(tf).__name__}")
    return ctx.cached(f"data.adapted.{key}", lambda: Adapted(tf))


def declared_steps(ctx: Context, key: str) -> str:
    """The start of the evidence when a manifest gives the transform `key` as a literal list of steps."""
    return declared_note(ctx, key, "a literal list of steps")


@contextlib.contextmanager
def _rng_guard() -> Iterator[None]:
    """Restore the global RNGs after seeded calls."""
    import numpy as np
    import torch

    states = (torch.get_rng_state(), random.getstate(), np.random.get_state())
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


def _generators(tf: Any) -> list[Any]:
    """Random generators a transform holds itself (albumentations 2 draws from a per-pipeline numpy
    Generator and random.Random, seeded from the OS): reached through attributes, lists and dicts."""
    import numpy as np
    import torch

    hit = _GENERATORS.get(id(tf))
    if hit is not None and hit[0] is tf:
        return hit[1]
    found: dict[int, Any] = {}
    seen: set[int] = set()
    todo: list[tuple[Any, int]] = [(tf, 0)]
    while todo and len(seen) < 2000:
        obj, depth = todo.pop()
        if id(obj) in seen or depth > 5:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.random.Generator | random.Random | torch.Generator):
            found.setdefault(id(obj), obj)
        elif isinstance(obj, list | tuple):
            todo.extend((o, depth + 1) for o in obj)
        elif isinstance(obj, dict):
            todo.extend((o, depth + 1) for o in obj.values())
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            if type(obj).__module__.split(".")[0] not in ("torch", "numpy", "builtins"):
                todo.extend((o, depth + 1) for o in vars(obj).values())
    gens = list(found.values())
    if len(_GENERATORS) > 64:
        _GENERATORS.clear()
    _GENERATORS[id(tf)] = (tf, gens)
    return gens


_GENERATORS: dict[int, tuple[Any, list[Any]]] = {}


def _seeded(tf: Callable[[Any], Any], img: Any, seed: int) -> Any:
    import numpy as np
    import torch

    torch.default_generator.manual_seed(seed)  # CPU transforms; cheaper than torch.manual_seed
    random.seed(seed)
    np.random.seed(seed % (2**32))
    for i, g in enumerate(_generators(tf)):  # a transform's own generators, each its own stream
        stream = (seed * 1009 + i + 1) % (2**32)
        if isinstance(g, np.random.Generator):
            g.bit_generator.state = type(g.bit_generator)(stream).state
        elif isinstance(g, random.Random):
            g.seed(stream)
        else:
            g.manual_seed(stream)
    return tf(img)


def _chw(out: Any) -> Any:
    """A float64 CxHxW tensor from a transform's output (tensor, PIL image or HxWxC array)."""
    import numpy as np
    import torch

    if isinstance(out, dict) and "image" in out:  # albumentations-style result
        out = out["image"]
    if isinstance(out, torch.Tensor):
        t = out.detach().to(torch.float64)
        if t.dim() == 2:
            t = t.unsqueeze(0)
        if t.dim() != 3:
            raise ValueError(f"the transform returned a tensor of shape {tuple(out.shape)}, not CxHxW")
        return t
    if hasattr(out, "mode") and hasattr(out, "size"):  # PIL image: raw 0-255 values
        a = np.asarray(out.convert("RGB"), dtype=np.float64)
        return torch.from_numpy(a).permute(2, 0, 1).contiguous()
    if isinstance(out, np.ndarray) and out.ndim == 3:
        a = out.astype(np.float64)
        t = torch.from_numpy(a)
        return t if a.shape[0] in (1, 3) else t.permute(2, 0, 1).contiguous()
    raise ValueError(f"the transform returned {type(out).__name__}, not an image or a CxHxW tensor")


def _crops(out: Any) -> list[Any]:
    """The views an eval transform produced: a NxCxHxW tensor, a CxHxW tensor, or a sequence of images."""
    import torch

    if isinstance(out, dict) and "image" in out:
        out = out["image"]
    if isinstance(out, torch.Tensor):
        if out.dim() == 4:
            return [t.to(torch.float64) for t in out.detach()]
        if out.dim() == 5 and out.shape[0] == 1:
            return [t.to(torch.float64) for t in out.detach()[0]]
        return [_chw(out)]
    if isinstance(out, list | tuple):
        return [_chw(o) for o in out]
    if getattr(out, "ndim", 0) == 4 and hasattr(out, "astype"):  # an N x (C x H x W | H x W x C) array
        return [_chw(o) for o in out]
    return [_chw(out)]


def _coord_image(width: int, height: int) -> Any:
    """R = (x + 0.5) / width and G = (y + 0.5) / height (as 0-255 values); B constant."""
    import numpy as np
    from PIL import Image

    a = np.zeros((height, width, 3), dtype=np.uint8)
    a[..., 0] = np.round(255 * (np.arange(width) + 0.5) / width)[None, :]
    a[..., 1] = np.round(255 * (np.arange(height) + 0.5) / height)[:, None]
    a[..., 2] = 128
    return Image.fromarray(a)


def _flat_image(width: int, height: int, rgb: tuple[int, int, int]) -> Any:
    from PIL import Image

    return Image.new("RGB", (width, height), rgb)


def _line(values: Any) -> tuple[float, float]:
    """Robust (slope, intercept) of values over their index: a Theil-Sen fit on pairs half the run
    apart, so padding or filled borders (up to a quarter of the run) do not bend it."""
    import torch

    n = values.numel()
    if n < 4:
        x = torch.arange(n, dtype=torch.float64)
        slope = float((values[-1] - values[0]) / max(n - 1, 1))
        return slope, float(values[0])
    lag = n // 2
    slope = float(((values[lag:] - values[:-lag]) / lag).median())
    x = torch.arange(n, dtype=torch.float64)
    return slope, float((values - slope * x).median())


FINE_PERIOD = 64  # source px per cycle of the fine coordinate image: 255 levels give ~0.25 px


def _fine_image(width: int, height: int, period: int = FINE_PERIOD) -> Any:
    """R = frac((x + 0.5) / period), G = frac((y + 0.5) / period) (as 0-255 values); B constant."""
    import numpy as np
    from PIL import Image

    a = np.zeros((height, width, 3), dtype=np.uint8)
    a[..., 0] = np.round(255 * (((np.arange(width) + 0.5) / period) % 1.0))[None, :]
    a[..., 1] = np.round(255 * (((np.arange(height) + 0.5) / period) % 1.0))[:, None]
    a[..., 2] = 128
    return Image.fromarray(a)


def _unwrap(coarse: Any, phase: Any, period: int) -> Any:
    """Source positions (px + 0.5) from a coarse estimate and the fine phase (both per pixel)."""
    return period * (phase + ((coarse / period) - phase).round())


def _window(u: Any, width: int, height: int, fine: Any = None) -> dict[str, Any]:
    """Where a view came from, from its decoded coordinate fractions u (3xHxW, channels R=x, G=y),
    refined by the decoded fine coordinate image when given (each axis to about a quarter pixel)."""
    h, w = u.shape[-2:]
    px, py = u[0] * width, u[1] * height  # source position + 0.5, per output pixel
    if fine is not None:
        px, py = _unwrap(px, fine[0], FINE_PERIOD), _unwrap(py, fine[1], FINE_PERIOD)
    cols, rows = px.median(dim=0).values, py.median(dim=1).values
    sx, ix = _line(cols)  # source x along the output columns (median over rows)
    sy, iy = _line(rows)
    import torch

    # how far the columns and rows sit from their lines (source px; padding is the outlying part)
    rx = float((cols - (ix + sx * torch.arange(w, dtype=torch.float64))).abs().median())
    ry = float((rows - (iy + sy * torch.arange(h, dtype=torch.float64))).abs().median())
    xa, xb = ix - 0.5 * sx, ix + (w - 0.5) * sx
    ya, yb = iy - 0.5 * sy, iy + (h - 0.5) * sy
    return {
        "flipped": sx < 0,
        "vflipped": sy < 0,
        "pitch_x": abs(sx),  # source pixels per output pixel
        "pitch_y": abs(sy),
        "x0": min(xa, xb), "x1": max(xa, xb), "y0": min(ya, yb), "y1": max(ya, yb),
        "out": (h, w),
        # a plain crop-and-resize: rows and columns on their lines, to about a pixel
        "linear": max(rx, ry) <= 1.0 + 0.5 * max(abs(sx), abs(sy)) and abs(sx) > 1e-3 and abs(sy) > 1e-3,
    }


def _decode(coord: Any, black: Any, white: Any) -> Any:
    """(coord - black) / (white - black), with the per-channel slope taken over the view (its median:
    padded or filled pixels, whose slope is 0, do not bias it)."""
    slope = (white - black).flatten(1).median(dim=1).values.view(-1, 1, 1)
    if bool((slope.abs() < 1e-9).any()):
        raise ValueError("the transform's output does not depend on the input colour")
    return (coord - black) / slope




class Adapted:
    """A transform called with a PIL image whatever input it takes: PIL (torchvision v1/v2, most
    custom classes), keyword `image=` HxWxC uint8 array (albumentations style), a positional array,
    or a CxHxW float tensor in [0, 1]. The first form that runs is kept for every later call."""

    MODES = ("pil", "albumentations", "array", "tensor")

    def __init__(self, tf: Callable[..., Any]) -> None:
        self.tf = tf
        self.mode: str | None = None

    def _call(self, mode: str, img: Any) -> Any:
        import numpy as np
        import torch

        if mode == "pil":
            return self.tf(img)
        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
        if mode == "albumentations":
            return self.tf(image=arr)
        if mode == "array":
            return self.tf(arr)
        return self.tf(torch.from_numpy(arr.copy()).permute(2, 0, 1).to(torch.float32) / 255)

    def __call__(self, img: Any) -> Any:
        if self.mode is not None:
            return self._call(self.mode, img)
        first: Exception | None = None
        for mode in self.MODES:
            try:
                out = self._call(mode, img)
            except Exception as exc:  # this input form is not the transform's; the first error is reported
                first = first or exc
                continue
            self.mode = mode
            return out
        assert first is not None
        raise first

    @property
    def takes(self) -> str:
        return {"pil": "a PIL image", "albumentations": "image= an HxWxC uint8 array",
                "array": "an HxWxC uint8 array", "tensor": "a CxHxW float tensor"}.get(self.mode or "", "?")


def grid_step(out: Any) -> int:
    """Every k-th output pixel, k such that about 28 remain per side (8 for 224, 1 for 32)."""
    return max(1, min(out.shape[-2:]) // 28)
