"""One seeded sweep of the train transform, shared by the colour, lighting, augmentation and flip probes.

mean_subtraction, pca_lighting, extra_augmentation and hflip read the same transform on synthetic
images under the same seeds (SEED + 0 .. SEEDS - 1). The sweep calls the transform once per image
and seed and keeps a grid of about 28x28 pixels of each output (`imaging.grid_step`), which is all
any of them reads, so no image is transformed twice for two probes and nothing large is kept.

The images are SRC_W x SRC_H = 300 x 256 (the flip probe's size): none of these readings depends on
the geometry, and a short side of 256 (§2's S) makes a §2 pipeline's resize the identity, so a draw
costs the crop and the tensor steps only (PIL's resize of the geometry's 600 x 300 source triples it).
Pipelines that resize anyway (random-resized crops, warps) are read the same way.
"""
from __future__ import annotations

from typing import Any

from .context import Context
from .imaging import _chw, _rng_guard, _seeded, grid_step, recipe_transform

SRC_W, SRC_H = 300, 256
LARGE = (600, 512)  # for pipelines whose crop needs more than 256 px (one coordinate level <= 2.4 px)
SEED = 9000  # seeds SEED + 0 .. SEEDS - 1
SEEDS = 64  # the colour and lighting draws (statistics to 2 digits: standard error ~ 1/sqrt(2 * 64) ~ 9%)
RAMP_SEEDS = 48  # the first RAMP_SEEDS of them also draw the augmentation probe's grey ramps
C1 = (40, 90, 200)  # two mid-range constant colours (no clipping by a colour step of a few percent)
C2 = (200, 150, 60)
COLOUR_IMAGES = ("c1", "c2")  # the affine map of every pixel (`affine`): every reader uses them
LIGHTING_IMAGES = ("coord", "palette")
RAMP_IMAGES = ("xramp", "yramp")


def ramp(axis: str, width: int = SRC_W, height: int = SRC_H) -> Any:
    """A grey ramp from 30 to 225 along x or y: constant down every column (x) or along every row (y)."""
    import numpy as np
    from PIL import Image

    a = np.zeros((height, width, 3), dtype=np.uint8)
    if axis == "x":
        a[...] = np.round(30 + 195 * (np.arange(width) + 0.5) / width)[None, :, None]
    else:
        a[...] = np.round(30 + 195 * (np.arange(height) + 0.5) / height)[:, None, None]
    return Image.fromarray(a)


def images(width: int = SRC_W, height: int = SRC_H) -> dict[str, Any]:
    from .lighting import images as lighting_images

    return {**lighting_images(width, height), "xramp": ramp("x", width, height), "yramp": ramp("y", width, height)}


def affine(out: dict[str, Any]) -> tuple[Any, Any]:
    """Per pixel and channel of one draw's grids: the output's slope (per [0, 1] input unit) and its
    value at a black input, from the two constant colours of that draw. Exact for any per-channel
    affine step; unlike a black and a white image, neither colour is clipped by a step of a few percent."""
    import torch

    o1, o2 = out["c1"], out["c2"]
    if o1.shape[0] != 3:
        raise ValueError(f"train_transform gave {o1.shape[0]} channels, not 3")
    c1 = torch.tensor(C1, dtype=torch.float64).view(3, 1, 1) / 255
    c2 = torch.tensor(C2, dtype=torch.float64).view(3, 1, 1) / 255
    slope = (o2 - o1) / (c2 - c1)
    return slope, o1 - slope * c1


def grid(out: Any) -> Any:
    """Every k-th pixel (about 28 per side) of a transform's output, as a float64 CxHxW tensor.
    A tensor output is sliced before it is converted (the same values, a tenth of the copying)."""
    import torch

    if isinstance(out, torch.Tensor) and out.dim() == 3:
        step = grid_step(out)
        return _chw(out[:, ::step, ::step])
    full = _chw(out)
    step = grid_step(full)
    return full[:, ::step, ::step].contiguous()


def seeded_grids(tf: Any, imgs: dict[str, Any], names: tuple[str, ...], seed: int) -> dict[str, Any]:
    """The grids of the outputs of `names` under one seed (the same random draw for every image)."""
    return {k: grid(_seeded(tf, imgs[k], seed)) for k in names}


def sweep(ctx: Context) -> list[dict[str, Any]]:
    """Per seed (SEED + i), the output grid of each image; the ramps for the first RAMP_SEEDS seeds."""
    return _swept(ctx)[1]


def size(ctx: Context) -> tuple[int, int]:
    """The (width, height) of the sweep's images: SRC_W x SRC_H, or LARGE for a pipeline that needs more."""
    return _swept(ctx)[0]


def _swept(ctx: Context) -> tuple[tuple[int, int], list[dict[str, Any]]]:
    tf = recipe_transform(ctx, "train_transform")

    def at(width: int, height: int) -> list[dict[str, Any]]:
        imgs = images(width, height)
        every = COLOUR_IMAGES + LIGHTING_IMAGES
        with _rng_guard():
            return [seeded_grids(tf, imgs, every + RAMP_IMAGES if i < RAMP_SEEDS else every, SEED + i)
                    for i in range(SEEDS)]

    def build() -> tuple[tuple[int, int], list[dict[str, Any]]]:
        try:
            return (SRC_W, SRC_H), at(SRC_W, SRC_H)
        except Exception as small:  # a crop larger than 256 px and no resize (RandomCrop(280) alone)
            try:
                return LARGE, at(*LARGE)
            except Exception:
                raise small from None  # the transform's own error at the usual size, not a second one

    return ctx.cached("data.draws", build)
