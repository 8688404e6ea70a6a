"""PCA lighting present, but as a colour map of each image's own principal axes (§4.1; data.pca_lighting).

The paper adds one RGB offset per image, along the training set's principal axes. albumentations'
FancyPCA (2.x) computes the principal axes of each image's OWN pixels and adds a change that is
linear in each pixel's centred colour, eigvecs @ diag(alpha * eigvals) @ (x - mean) (the textbook
per-image form is eigvecs @ diag(alpha * eigvals) @ eigvecs.T @ (x - mean)); it is applied with
probability 0.5 by default. Neither is an offset shared by every pixel, so `lighting` reads no
lighting, and on the low-contrast block image its change is under one 8-bit level.

This reading runs when no offset was found: a HIGH-contrast eight-colour block image (its colours
spread over most of the 8-bit range, so that eigenvalue times centred colour is several levels)
goes through the transform under the same seeds as the coordinate and constant-colour images, each
output pixel's source colour is known, and per draw the change of every block colour is fitted to
both per-image forms (the image's axes from the colours the draw kept, weighted by their pixels). A
draw whose change is such a map is a per-image PCA draw; alpha per component is its coefficient
over the eigenvalue. Draws that change nothing are the ones a probability left alone. A few seeds
are screened first: a transform that changes none of them is not read further.
"""
from __future__ import annotations

import math
from typing import Any

from . import lighting
from .draws import seeded_grids
from .imaging import _rng_guard

# Colours in pairs across mid-grey, spread over most of the 8-bit range along the grey axis (a large
# first eigenvalue: a change of several levels) and unequally across it (distinct eigenvalues).
CONTRAST = ((20, 25, 30), (235, 230, 225), (30, 70, 20), (225, 185, 235), (60, 20, 40), (195, 235, 215),
            (40, 45, 110), (215, 210, 145))
SCREEN = 8  # seeds screened before the full reading
SEEDS = 48  # draws of the full reading
NAMES = ("c1", "c2", "coord", "contrast")
OFF = 0.6 / 255  # a block colour moved by less than this (in [0, 1] units) did not move
FIT = 0.3  # a form fits a draw when its residual is under this fraction of the change


def _images(size: tuple[int, int]) -> dict[str, Any]:
    imgs = lighting.images(*size)
    return {"c1": imgs["c1"], "c2": imgs["c2"], "coord": imgs["coord"],
            "contrast": lighting.palette_image(*size, CONTRAST)}


def _fit(draw: dict[str, Any]) -> dict[str, Any] | None:
    """Per draw: 'off' (nothing moved), or the best per-image form with its coefficients and the axes'
    eigenvalues; None when too few block colours were read or no form fits."""
    import torch

    blocks, counts = draw.get("blocks"), draw.get("counts")
    if blocks is None or counts is None:
        return None
    keep = ~torch.isnan(blocks).any(dim=1)
    if int(keep.sum()) < 5:
        return None
    d = blocks[keep]
    w = counts[keep].to(torch.float64)
    x = torch.tensor(CONTRAST, dtype=torch.float64)[keep] / 255
    if float(d.abs().max()) < OFF:
        return {"off": True}
    xc = x - (w[:, None] * x).sum(0) / w.sum()
    cov = (w[:, None, None] * xc[:, :, None] * xc[:, None, :]).sum(0) / w.sum()
    vals, vecs = torch.linalg.eigh(cov)
    vals, vecs = vals.flip(0), vecs.flip(1)
    dv = d @ vecs
    best: dict[str, Any] | None = None
    for form, basis in (("albumentations", xc), ("textbook", xc @ vecs)):
        coef = (w[:, None] * dv * basis).sum(0) / (w[:, None] * basis * basis).sum(0).clamp(min=1e-12)
        err = (w[:, None] * (dv - basis * coef) ** 2).sum()
        resid = float((err / (w[:, None] * dv ** 2).sum()).sqrt())
        within = float((err / (3 * w.sum())).sqrt()) < 0.5 / 255  # a small change, fitted to its 8-bit rounding
        if (resid < FIT or within) and (best is None or resid < best["resid"]):
            # the smallest |alpha| on the first axis that moves some block colour by half a level
            reach = float((vecs[:, 0][None, :] * basis[:, :1] * vals[0]).abs().max())
            best = {"off": False, "form": form, "coef": coef, "eigval": vals, "resid": resid,
                    "threshold": 0.5 / 255 / max(reach, 1e-12)}
    return best


def censored(alphas: list[float], off: int, threshold: float) -> tuple[float, float]:
    """(probability, sigma) of alpha ~ N(0, sigma) applied with a probability, by maximum likelihood: the
    draws that changed nothing are those left alone plus those whose |alpha| stayed under the threshold
    (an 8-bit image rounds a smaller change away)."""
    import torch

    a = torch.tensor(alphas, dtype=torch.float64)
    sig = torch.logspace(-2.5, 0.5, 301, dtype=torch.float64)[:, None]  # (S, 1)
    p = torch.linspace(0.05, 1.0, 96, dtype=torch.float64)[None, :]  # (1, P)
    dens = (-0.5 * (a[None, :] / sig) ** 2 - torch.log(sig)).sum(dim=1, keepdim=True)  # (S, 1)
    under = torch.erf(threshold / (sig * math.sqrt(2)))  # (S, 1): P(|alpha| < threshold)
    ll = dens + len(alphas) * torch.log(p) + off * torch.log((1 - p) + p * under).clamp(min=-1e300)
    j = int(torch.argmax(ll))
    return float(p.flatten()[j % p.shape[1]]), float(sig.flatten()[j // p.shape[1]])


def _draws(tf: Any, colour: dict[str, Any], seed: int, n: int, size: tuple[int, int]) -> list[dict[str, Any]]:
    imgs = _images(size)
    out = []
    with _rng_guard():
        for i in range(n):
            grids = seeded_grids(tf, imgs, NAMES, seed + i)
            out.append(lighting._draw(grids, colour, size, "contrast", CONTRAST))
    return out


def colour_map(tf: Any, colour: dict[str, Any], seed: int, size: tuple[int, int]) -> dict[str, Any] | None:
    """The per-image PCA colour map's reading, or None when the transform applies none."""
    import torch

    try:
        if not any(f is not None and not f["off"] for f in map(_fit, _draws(tf, colour, seed, SCREEN, size))):
            return None
        fits = [_fit(d) for d in _draws(tf, colour, seed, SEEDS, size)]
    except (ValueError, RuntimeError, TypeError):  # the transform cannot take the block image: no reading
        return None
    read = [f for f in fits if f is not None]
    on = [f for f in read if not f["off"]]
    if len(on) < 4 or len(read) < 0.75 * len(fits):
        return None
    forms = [f["form"] for f in on]
    form = max(set(forms), key=forms.count)
    coef = torch.stack([f["coef"] for f in on if f["form"] == form])
    eig = torch.stack([f["eigval"] for f in on if f["form"] == form])
    if form == "textbook":  # one coefficient for every axis in every draw is a contrast change, not PCA
        spread = ((coef.max(dim=1).values - coef.min(dim=1).values) / coef.abs().max(dim=1).values.clamp(min=1e-12))
        if float(spread.median()) < 0.3:
            return None
    alpha = coef / eig.clamp(min=1e-12)
    threshold = float(torch.tensor([f["threshold"] for f in on if f["form"] == form]).median())
    prob, sigma = censored(alpha[:, 0].tolist(), len(read) - len(on), threshold)
    return {"alpha_std": sigma, "per_component": alpha.std(dim=0).tolist(), "form": form, "draws": len(read),
            "changed": len(on), "probability": prob if prob < 0.85 else None, "threshold": threshold,
            "resid": float(torch.tensor([f["resid"] for f in on]).median())}
