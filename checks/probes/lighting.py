"""PCA lighting measured, not guessed (§4.1; data.pca_lighting).

Present means: an additive RGB offset, constant over the pixels of an image whatever their colour,
redrawn per presentation. It is measured on an eight-colour block image under the same seeds as a
coordinate image (where each output pixel came from) and two constant colours (each pixel's affine
map): every output pixel's expected colour is known, so geometric steps (crops, padding, flips,
rotations) drop out, and what is left of each pixel is the colour step (read on the output grids of
the shared sweep, `draws`). A per-image offset shared by all pixels and colours is PCA lighting; one
that changes with the colour (ColorJitter, TrivialAugment, auto-contrast) or across pixels (noise)
is not; normalisation is the part shared by every draw and is taken out first.

The offset's basis is the training set's when a constant-colour image (no colour variance of its
own) gets the same offset under the same seed; it is the image's own (albumentations' FancyPCA)
when only the multi-colour image gets one. The scope of the alpha draw: per image when the offset
changes from call to call; per batch when a batch tensor's images share one offset; per epoch when
it stays fixed across calls and changes only when a method with "epoch" in its name is called; per
run when it changes only when the transform is built again (`builds`). An offset that is a brightness
or contrast change is told apart in `brightness`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from .draws import C1, C2, affine, seeded_grids
from .imaging import Adapted, _coord_image, _flat_image, _rng_guard

BLOCK = 40  # source px per palette block
# Mid-range colours spanning RGB space (no clipping by an offset of a few percent).
PALETTE = ((70, 110, 160), (180, 90, 60), (90, 170, 80), (160, 150, 190), (120, 70, 120), (200, 180, 90),
           (60, 140, 170), (150, 120, 100))
EPOCHS = 6  # epoch-hook calls tried


def palette_index(width: int, height: int) -> Any:
    import numpy as np

    bx, by = np.arange(width) // BLOCK, np.arange(height) // BLOCK
    return (bx[None, :] * 3 + by[:, None] * 5) % len(PALETTE)


def palette_image(width: int, height: int, palette: tuple[tuple[int, int, int], ...] = PALETTE) -> Any:
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.asarray(palette, dtype=np.uint8)[palette_index(width, height)])


def palette_covariance(width: int, height: int) -> Any:
    """The block image's own RGB covariance ([0, 1] units): the basis of a per-image PCA."""
    import torch

    idx = torch.from_numpy(palette_index(width, height)).flatten()
    px = torch.tensor(PALETTE, dtype=torch.float64)[idx] / 255
    d = px - px.mean(dim=0)
    return d.T @ d / (len(d) - 1)


def _draw(out: dict[str, Any], colour: dict[str, Any], size: tuple[int, int], image: str = "palette",
          palette: tuple[tuple[int, int, int], ...] = PALETTE) -> dict[str, Any]:
    """One seeded draw, read on the grids of its outputs (`draws.grid`): the block image's per-pixel
    offset (in [0, 1] input units), its median and spread; per block colour, the median offset
    (`blocks`, NaN where no pixel of that colour was read) and how many pixels of it were read."""
    import torch

    width, height = size
    slope, zero = affine(out)  # per pixel, from the two constant colours of the same draw
    med = slope.flatten(1).median(dim=1).values.view(-1, 1, 1)
    ok = ((slope / med - 1).abs() < 0.1).all(dim=0)
    # Source positions from the coordinate image: at 300x256 one 8-bit level is at most 1.2 px, well
    # inside the margin below (the geometry probes, on a 600x300 source, refine it with a fine image).
    u = (out["coord"] - zero) / med
    x, y = u[0] * width - 0.5, u[1] * height - 0.5
    margin = 3.0
    inside = (x > margin) & (x < width - 1 - margin) & (y > margin) & (y < height - 1 - margin)
    fx, fy = torch.remainder(x, BLOCK), torch.remainder(y, BLOCK)
    interior = (fx > margin) & (fx < BLOCK - margin) & (fy > margin) & (fy < BLOCK - margin)
    valid = ok & inside & interior
    xi = torch.nan_to_num(x).round().clamp(0, width - 1).long()
    yi = torch.nan_to_num(y).round().clamp(0, height - 1).long()
    idx = torch.from_numpy(palette_index(width, height))[yi, xi]
    expect = (torch.tensor(palette, dtype=torch.float64)[idx] / 255).permute(2, 0, 1)  # 3 x h x w
    a = colour["a"].view(3, 1, 1)
    fixed = colour["fixed"]  # the normalisation's offset per sampled pixel, [0, 1] units
    got = out[image]
    if got.shape != expect.shape or fixed.shape != expect.shape:
        raise ValueError(f"train_transform output shapes vary: {tuple(got.shape)} vs {tuple(expect.shape)}")
    delta = (got - a * expect) / a - fixed
    vals = delta[:, valid]  # 3 x n
    if vals.shape[1] < 8:
        return {"n": int(vals.shape[1])}
    centre = vals.median(dim=1).values
    spread = float((vals - centre.view(3, 1)).abs().median(dim=1).values.max())
    cols = idx[valid]
    blocks = torch.full((len(palette), 3), float("nan"), dtype=torch.float64)
    counts = torch.bincount(cols, minlength=len(palette))
    for c in range(len(palette)):
        if int(counts[c]) >= 3:
            blocks[c] = vals[:, cols == c].median(dim=1).values
    return {"n": int(vals.shape[1]), "delta": centre, "spread": spread, "blocks": blocks, "counts": counts}


def images(width: int, height: int) -> dict[str, Any]:
    return {"c1": _flat_image(width, height, C1), "c2": _flat_image(width, height, C2),
            "coord": _coord_image(width, height), "palette": palette_image(width, height)}


IMAGES = ("c1", "c2", "coord", "palette")


def measure(sweep: list[dict[str, Any]], colour: dict[str, Any], size: tuple[int, int]) -> list[dict]:
    """The draws of the shared sweep (`draws.sweep`: the output grids per seed), read for lighting."""
    return [_draw(d, colour, size) for d in sweep]


# Attributes through which a step holds the callable it runs: T.Lambda's lambd, functools.partial's
# func, a bound method's object, a wrapper's transform.
_HOLDS = ("lambd", "func", "__self__", "transform")


def transform_steps(tf: Any, modules: bool = False) -> Iterator[Any]:
    """The transform (unwrapped from `Adapted`) and its steps, depth first through `transforms` lists
    and the callables steps hold (`_HOLDS`; with `modules`, an nn.Module's children too); each object
    once, at most about 200."""
    seen: set[int] = set()
    stack = [getattr(tf, "tf", tf)]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or len(seen) > 200:
            continue
        seen.add(id(obj))
        yield obj
        stack.extend(getattr(obj, "transforms", None) or [])
        stack.extend(h for h in (getattr(obj, a, None) for a in _HOLDS) if h is not None and callable(h))
        if modules:
            import torch.nn as nn

            if isinstance(obj, nn.Module):
                stack.extend(obj.children())


def epoch_hooks(tf: Any) -> list[tuple[str, Callable[..., Any]]]:
    """How a training loop tells the transform or its steps a new epoch, as (what it does, a call taking the
    epoch): a method with "epoch" in its name (set_epoch, new_epoch, ...), else a public integer attribute
    with "epoch" in its name that the loop sets (`tf.epoch = epoch`)."""
    found: list[tuple[str, Callable[..., Any]]] = []
    attrs: list[tuple[str, Callable[..., Any]]] = []
    for obj in transform_steps(tf):
        if isinstance(obj, type):
            continue
        for name in dir(type(obj)):
            if "epoch" in name.lower() and not name.startswith("_"):
                fn = getattr(obj, name, None)
                if callable(fn):
                    found.append((f"calling {type(obj).__name__}.{name}()", fn))
        for name, v in getattr(obj, "__dict__", {}).items():
            if "epoch" in name.lower() and not name.startswith("_") and isinstance(v, int) and not isinstance(v, bool):
                attrs.append((f"setting {type(obj).__name__}.{name} = epoch", _setter(obj, name)))
    return found + attrs


def _setter(obj: Any, name: str) -> Callable[[int], None]:
    def put(epoch: int) -> None:
        setattr(obj, name, epoch)
    return put


def call_hook(fn: Callable[..., Any], epoch: int) -> None:
    """hook(epoch), or hook() when it takes no argument."""
    import inspect

    try:
        takes = any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                    for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # no signature (a builtin): pass the epoch
        takes = True
    if takes:
        fn(epoch)
    else:
        fn()


def per_epoch(tf: Any, colour: dict[str, Any], seed: int, size: tuple[int, int]) -> tuple[list[dict], str, str]:
    """Draws after each call of an epoch hook (read when the draws of one epoch do not move: only the hook's
    redraw can move them), what the hook does, and a note when it could not be tried."""
    import copy

    if not epoch_hooks(tf):
        return [], "", ""
    try:  # a copy: the hook must not change the transform the other probes read
        mine = copy.deepcopy(tf)
    except (TypeError, copy.Error, RuntimeError) as exc:
        return [], "", f"; its epoch hook was not tried (copying the transform failed: {type(exc).__name__})"
    name, fn = epoch_hooks(mine)[0]
    run = mine if isinstance(mine, Adapted) else tf
    imgs = images(*size)
    out = []
    with _rng_guard():
        for e in range(1, EPOCHS + 1):
            # a hook that draws from the global generators, or a step that draws lazily on the first call of an
            # epoch, draws anew each epoch: the generators move on between epochs, as in training (the draws
            # themselves change nothing across seeds, or this reading would not run)
            _reseed(seed * 7919 + e)
            call_hook(fn, e)
            try:
                out.append(_draw(seeded_grids(run, imgs, IMAGES, seed + 7919 * e), colour, size))
            except ValueError:  # the hook changed the output's shape (progressive resizing): no lighting read
                return [], "", f"; {name} changes the output's shape, so no lighting was read across epochs"
    return out, name, ""


def _reseed(seed: int) -> None:
    import random

    import numpy as np
    import torch

    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))


def batch_shared(tf: Any, colour: dict[str, Any], seed: int, n: int = 6) -> bool | None:
    """Whether one call on a batch tensor gives every image the same offset (None: the transform does
    not take a batch). Constant-colour images: no geometry to undo."""
    import numpy as np
    import torch

    raw = tf.tf if isinstance(tf, Adapted) else tf
    if not (isinstance(tf, Adapted) and tf.mode == "tensor"):
        return None
    img = torch.tensor(PALETTE[0], dtype=torch.float32).view(1, 3, 1, 1).expand(n, 3, 64, 64) / 255
    with _rng_guard():
        torch.default_generator.manual_seed(seed)
        np.random.seed(seed)
        try:
            out = raw(img.clone())
        except (RuntimeError, TypeError, ValueError):
            return None
    if not isinstance(out, torch.Tensor) or out.shape != img.shape:
        return None
    a = colour["a"].view(1, 3, 1, 1).to(torch.float64)
    off = (out.to(torch.float64) / a).flatten(2).median(dim=2).values  # n x 3
    spread = float((off - off.mean(dim=0)).norm(dim=1).max())
    return spread < 1e-6


def summarise(draws: list[dict[str, Any]]) -> dict[str, Any]:
    """present / varies / size of the offsets over the draws, and why not when not."""
    import statistics

    import torch

    from ..core.numbers import FLOAT32_FLOOR, magnitude, sig

    good = [d for d in draws if "delta" in d]
    if len(good) < max(4, len(draws) // 4):
        return {"present": False, "varies": False, "size": 0.0, "spread": 0.0, "deltas": None,
                "why": "too few pixels of the block image could be traced through the transform to read an offset"}
    probability, applied = applied_draws(torch.stack([d["delta"] for d in good]))
    good = [d for d, on in zip(good, applied, strict=True) if on]
    deltas = torch.stack([d["delta"] for d in good])
    norms = (deltas - deltas.mean(dim=0, keepdim=True)).norm(dim=1)
    size = float(norms.mean())
    varies = size > 1e-3  # a third of one 8-bit level: below it, the offset is rounding
    active = [(d["spread"], float(n)) for d, n in zip(good, norms, strict=True) if float(n) > 0.5 * size]
    ratio = statistics.median(sp / n for sp, n in active) if active and varies else 0.0
    spread = statistics.median(sp for sp, _ in active) if active else 0.0
    out = {"present": varies and ratio < 0.2, "varies": varies, "size": size, "spread": spread, "deltas": deltas,
           "probability": probability}
    if not varies:
        out["why"] = (f"the colours get the same offset in every draw (spread {magnitude(size, 2, FLOAT32_FLOOR)} "
                      "in [0, 1] units): no per-presentation colour noise")
    elif ratio >= 0.2:
        out["why"] = (f"the draws move the colours (by {sig(size, 2):g} on average), but not by one offset shared by "
                      f"every pixel and colour (within an image they spread by {sig(ratio, 2):g} of it): a colour "
                      "step that is not additive (ColorJitter, TrivialAugment, auto-contrast) or per-pixel noise, "
                      "not PCA lighting")
    return out


def applied_draws(deltas: Any) -> tuple[float | None, list[bool]]:
    """(the fraction of draws a step applied with a probability changed, which draws it changed): the
    draws it left alone share one and the same offset, the draws it changed each get their own. A
    group of identical draws counts as "left alone" when it holds at least a quarter of them (an
    offset rounded to 8-bit levels repeats, but not that often); None and all draws otherwise."""
    n = len(deltas)
    same = (deltas[:, None, :] - deltas[None, :, :]).abs().amax(dim=2) < 1e-4
    sizes = same.sum(dim=1)
    big = int(sizes.argmax())
    if int(sizes[big]) < max(8, n // 4) or int(sizes[big]) == n:
        return None, [True] * n
    off = same[big]
    return 1.0 - float(off.double().mean()), [not bool(x) for x in off]


def find_eigval(tf: Any) -> tuple[Any, Any, str] | None:
    """(eigval, eigvec or None, where) if some step of the transform carries 3 PCA eigenvalues."""
    import torch

    def as3(v: Any, shape: tuple[int, ...]) -> Any:
        try:
            t = torch.as_tensor(v, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return None
        return t.reshape(shape) if t.numel() == math.prod(shape) else None

    for obj in transform_steps(tf, modules=True):
        for name in ("eigval", "eigvals", "eigenvalues", "eig_val"):
            t = as3(getattr(obj, name, None), (3,)) if getattr(obj, name, None) is not None else None
            if t is not None:
                vec = next((as3(getattr(obj, v), (3, 3)) for v in ("eigvec", "eigvecs", "eigenvectors", "eig_vec")
                            if getattr(obj, v, None) is not None), None)
                return t, vec, f"{type(obj).__name__}.{name}"
    return None


def principal_axes_of(vecs: Any) -> Any:
    """Columns with a fixed sign (largest component positive): LAPACK builds may return either sign."""
    import torch

    idx = vecs.abs().argmax(dim=0)
    signs = torch.sign(vecs[idx, torch.arange(vecs.shape[1])])
    return vecs * torch.where(signs == 0, torch.ones_like(signs), signs)


def principal_axes(cov: Any) -> Any:
    """Eigenvectors of a 3x3 covariance as columns, largest eigenvalue first, signs fixed."""
    import torch

    _, vecs = torch.linalg.eigh(cov)
    return principal_axes_of(vecs.flip(1))


def basis(tf: Any, cov: Any, a: Any, imagenet: tuple[float, ...]) -> tuple[Any, Any, float, str]:
    """(eigval, eigvec, pixel scale, source text) of a training-set basis: read off the transform when it
    carries eigenvalues, else the usual ImageNet ones with eigenvectors from the offsets' covariance."""
    import torch

    from ..core.numbers import sig

    found = find_eigval(tf)
    if found is not None:
        eigval, eigvec, where = found
        src = f"eigenvalues {[sig(x, 4) for x in eigval.tolist()]} read from {where}"
        if eigvec is None:
            eigvec = principal_axes(cov)
            src += "; eigenvectors from the offsets' covariance"
        scale = 255.0 if float(a.mean()) > 50 and float(eigval.max()) > 1 else 1.0
        return eigval, eigvec, scale, src
    return (torch.tensor(imagenet, dtype=torch.float64), principal_axes(cov), 1.0,
            f"no eigenvalues found on the transform: assumed the usual ImageNet ones {list(imagenet)} at [0, 1] "
            "scale, eigenvectors from the offsets' covariance")
