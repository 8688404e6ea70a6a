"""An offset per image that is not PCA lighting: brightness and contrast, told apart by measurement (§4.1).

PCA lighting adds, per image, sum_i alpha_i lambda_i p_i: three independent draws along the RGB
principal axes, so the offsets of many images spread in three dimensions (the second axis carries
about a tenth of the first's size with the ImageNet eigenvalues) and each is the same for every
colour of the image. A brightness change (albumentations' RandomBrightnessContrast, `x + b`) adds
one random number times one fixed colour: the offsets of all draws lie on one line, equal on every
channel (in input units, or in output units when it runs after the normalisation). A contrast
change multiplies: within one image the offset grows with the colour. Both are read off the draws
`lighting` already traced:

- `one_line`: the offsets' spread off their principal line, relative to along it, and whether that
  line is the grey axis (in input or output units);
- `colour_slope`: per draw that moved, the slope of the block colours' offsets on the colours
  themselves (0 for an added offset; alpha - 1 for a contrast change).
"""
from __future__ import annotations

from typing import Any

from ..core.numbers import sig

FLAT = 0.02  # off-line spread under this fraction of the on-line one: the offsets lie on one line
GREY = 0.995  # |cos| of that line with the grey axis
SLOPE = 0.03  # median |offset slope on the colour| over the draws that moved: a contrast change


def one_line(deltas: Any, a: Any) -> tuple[bool, float]:
    """(whether the offsets lie on one line along the grey axis, in input or output units; their off-line
    spread relative to the on-line one)."""
    import torch

    d = deltas - deltas.mean(dim=0, keepdim=True)
    if len(d) < 3:
        return False, 1.0
    s = torch.linalg.svdvals(d)
    ratio = float(s[1] / s[0]) if float(s[0]) > 0 else 1.0
    line = torch.linalg.svd(d, full_matrices=False).Vh[0]
    grey = torch.ones(3, dtype=line.dtype) / 3 ** 0.5
    out = line * a.to(line.dtype)  # the same line in output units
    cos = max(float((line @ grey).abs()), float((out / out.norm() @ grey).abs()))
    return ratio < FLAT and cos > GREY, ratio


def colour_slope(draws: list[dict[str, Any]], palette: tuple[tuple[int, int, int], ...]) -> float | None:
    """The median |slope| of the block colours' offsets on the colours, over the draws whose offset moved
    (one slope per draw, shared by the channels, each channel around its own mean); None when too few."""
    import torch

    good = [d for d in draws if "delta" in d and d.get("blocks") is not None]
    if len(good) < 4:
        return None
    centre = torch.stack([d["delta"] for d in good]).median(dim=0).values
    moved = [d for d in good if float((d["delta"] - centre).norm()) > 1e-3]
    x_all = torch.tensor(palette, dtype=torch.float64) / 255
    slopes = []
    for d in moved:
        keep = ~torch.isnan(d["blocks"]).any(dim=1)
        if int(keep.sum()) < 4:
            continue
        x, y = x_all[keep], d["blocks"][keep]
        xc, yc = x - x.mean(dim=0), y - y.mean(dim=0)
        slopes.append(float((xc * yc).sum() / (xc * xc).sum().clamp(min=1e-12)))
    if len(slopes) < 4:
        return None
    return float(torch.tensor(slopes).abs().median())


def not_lighting(read: dict[str, Any], draws: list[dict[str, Any]], a: Any,
                 palette: tuple[tuple[int, int, int], ...]) -> str | None:
    """Why offsets read as present are a brightness or contrast change and not PCA lighting, or None."""
    slope = colour_slope(draws, palette)
    if slope is not None and slope > SLOPE:
        return (f"the draws move the colours, but within an image the offset grows with the colour (median slope "
                f"{sig(slope, 2):g} of the offset on the colour over the draws that moved): a contrast "
                "(multiplicative) change such as RandomBrightnessContrast, not an added PCA offset")
    flat, ratio = one_line(read["deltas"], a)
    if flat:
        return (f"the draws add one offset per image, but every offset lies on one line, the grey axis (spread off "
                f"it {sig(ratio, 2):g} of the spread along it): one random brightness equal on every channel, "
                "not PCA lighting's three independent draws along the RGB principal axes")
    return None
