"""Colour probes (§2, §4.1): what follows ToTensor (mean subtraction, std division) and PCA colour noise.

The train transform (any form `imaging.Adapted` takes) is applied to synthetic images under fixed
seeds (torch, random and numpy) and its outputs read back:
- constant-colour images isolate the affine map after ToTensor (pixels off the image, padding or
  fill, left out; medians over the draws, so colour augmentations drop out);
- PCA lighting is read on an eight-colour block image whose geometry is undone pixel by pixel
  (`lighting`);
- these probes share one seeded sweep (`draws`) with the augmentation and flip probes: 300x256
  images read on a grid of about 28x28 pixels per output, each image transformed once per seed.
The global RNG states are restored afterwards. The geometry probes (resize, crops, flips, ten-crop)
are in `geometry`.

Reported numbers are rounded to what these measurements support (see `alexnet_audit.core.numbers`):
colour coefficients to 3 digits and means to 3 decimals, statistics of the 64 colour draws to 2
digits (their standard error is about 9%), and spreads of float32 outputs that are their rounding
as "< 1e-9" / "< 1e-6".
"""
from __future__ import annotations

import math
from typing import Any

from ..core.findings import Observation
from ..core.numbers import FLOAT32_FLOOR, magnitude, quantise, sig
from ..spec.load import Item
from . import brightness, builds, draws, lighting, pca_forms, probe
from .context import Context
from .imaging import declared_steps, one_thread, recipe_transform

# Precision of what is reported (see the module docstring).
COLOUR_DIGITS = 3  # the affine map after ToTensor (float32 outputs of uint8 colours)
DRAW_DIGITS = 2  # statistics over COLOUR_SEEDS draws (standard error ~ 1/sqrt(2 * 64) ~ 9%)

COLOUR_SEEDS = draws.SEEDS  # 64, shared with the lighting and augmentation probes (draws.py)
# The widely used ImageNet RGB PCA eigenvalues for [0, 1] pixels (fb.resnet.torch; paper notes §5.3,
# docs/paper_notes.md).
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)


# -------------------------------------------------------------------------------- colour ---

C1, C2 = draws.C1, draws.C2
COLOUR_SEED = draws.SEED  # the colour probes' seeds: COLOUR_SEED + 0 .. COLOUR_SEEDS - 1


def _colour(ctx: Context) -> dict[str, Any]:
    """Train outputs of two constant-colour images under the same seeds; the affine map and offsets."""
    import torch

    def build() -> dict[str, Any]:
        got = draws.sweep(ctx)  # a grid of about 28x28 pixels per output: a mean image or per-pixel noise still shows
        o1, o2 = [d["c1"] for d in got], [d["c2"] for d in got]
        o1t, o2t = torch.stack(o1), torch.stack(o2)  # N x C x H/8 x W/8
        c1 = torch.tensor(C1, dtype=torch.float64).view(1, 3, 1, 1) / 255
        c2 = torch.tensor(C2, dtype=torch.float64).view(1, 3, 1, 1) / 255
        if o1t.shape[1] != 3:
            raise ValueError(f"train_transform gave {o1t.shape[1]} channels, not 3")
        n = len(o1)
        slopes = (o2t - o1t) / (c2 - c1)  # output units per [0, 1] input unit, per draw and pixel
        # Per draw, the slope most pixels share; pixels off it are padding or fill (slope 0), left out.
        per_draw = slopes.flatten(2).median(dim=2).values  # N x C
        valid = ((slopes / per_draw.view(n, 3, 1, 1) - 1).abs() < 0.1).all(dim=1, keepdim=True)
        # The draws' median: colour augmentations (TrivialAugment, ColorJitter) move single draws only.
        a = per_draw.median(dim=0).values  # per channel
        a_spread = float((per_draw / a.view(1, 3) - 1).abs().max())
        a_se = per_draw.std(dim=0) / math.sqrt(n)  # per channel, from draw-to-draw change
        av = a.view(1, 3, 1, 1)
        nan = torch.full_like(o1t, float("nan"))
        offset = torch.where(valid, (o1t - av * c1) / av, nan)  # in [0, 1] input units; NaN off the image
        offset2 = torch.where(valid, (o2t - av * c2) / av, nan)
        return {"a": a, "a_spread": a_spread, "a_se": a_se, "offset": offset, "offset2": offset2,
                "valid": float(valid.double().mean())}

    return ctx.cached("data.colour", build)


@probe("mean_subtraction")
@one_thread
def mean_subtraction(ctx: Context, item: Item) -> Observation:
    """What follows ToTensor: a per-pixel mean image, a per-channel mean (and std), one constant for all
    channels (0.5/0.5), a std division, or nothing; the same reading for every library."""
    import torch

    col = _colour(ctx)
    a, off = col["a"], col["offset"]
    # the seed-independent part, per pixel: the draws' median (colour noise and augmentations drop out)
    mean_off = off.nanmedian(dim=0).values  # C x H x W
    per_draw = off - off.nanmean(dim=(2, 3), keepdim=True)  # spatial pattern of every draw
    pattern = mean_off - mean_off.nanmean(dim=(1, 2), keepdim=True)
    spatial = float(torch.nan_to_num(pattern).std(dim=(1, 2)).max())
    if spatial > 1e-4:
        # A mean image if the draws share one pattern (allowing for mirrored draws); noise otherwise.
        def gap(p: Any, q: Any) -> float:
            return float(torch.nan_to_num((p - q).abs()).max())

        resid = [min(gap(p, pattern), gap(p, pattern.flip(-1))) for p in per_draw]
        varying = "image" if sorted(resid)[len(resid) // 2] < 0.5 * float(torch.nan_to_num(pattern).abs().max()) \
            else "noise"
    else:
        varying = None
    chan = -mean_off.nanmean(dim=(1, 2))  # the subtracted per-channel mean, [0, 1] units
    # Thresholds widen with the draw-to-draw noise (colour jitter moves both slope and offset).
    chan_se = off.nanmean(dim=(2, 3)).std(dim=0) / math.sqrt(len(off))
    a_tol = [max(0.02, 3 * float(se) / float(x)) for se, x in zip(col["a_se"], a, strict=True)]
    scale_ok = [abs(float(x) - 1) < t for x, t in zip(a, a_tol, strict=True)]
    raw_ok = [abs(float(x) / 255 - 1) < t for x, t in zip(a, a_tol, strict=True)]
    divided = not (all(scale_ok) or all(raw_ok))
    c_tol = [max(0.02, 3 * float(se)) for se in chan_se]
    subtracted = varying == "image" or any(abs(float(c)) > t for c, t in zip(chan, c_tol, strict=True))
    # one constant for every channel (Normalize(0.5, 0.5), x * 2 - 1): not a mean of the data
    same_a = max(float(x) for x in a) / min(float(x) for x in a) - 1 < max(a_tol)
    same_c = max(float(c) for c in chan) - min(float(c) for c in chan) < max(c_tol)
    if varying == "noise":
        value = "other"
    elif varying == "image":
        value = "per_pixel_mean_std" if divided else "per_pixel_mean"
    elif subtracted and same_a and same_c:
        value = "constant"
    elif subtracted:
        value = "per_channel_mean_std" if divided else "per_channel_mean"
    else:
        value = "std_only" if divided else "none"
    b_is = (f"spatially varying (std {magnitude(spatial, 2, FLOAT32_FLOOR)}, a mean image)" if varying == "image"
            else "spatially constant")
    # a to 3 digits; the mean to 3 decimals (float32 outputs; colour noise averages out to ~1e-3)
    evidence = (f"{declared_steps(ctx, 'train_transform')}two constant colours under the same {COLOUR_SEEDS} seeds: "
                f"output = a * input + b with a = ({', '.join(f'{sig(x, COLOUR_DIGITS):g}' for x in a.tolist())}) "
                f"per channel ({'a std division' if divided else 'no std division'}); b (the draws' median) is "
                f"{b_is}; subtracted per-channel mean ({', '.join(f'{quantise(x, 0.001):g}' for x in chan.tolist())}) "
                "in [0, 1] units")
    if varying == "noise":
        evidence += "; the spatial pattern changes from draw to draw (per-pixel noise, not a mean image)"
    if value == "constant":
        evidence += "; the same scale and shift on every channel: a constant (e.g. Normalize(0.5, 0.5)), not a mean"
    if col["valid"] < 0.999:
        evidence += (f"; {quantise(100 * (1 - col['valid']), 1):g}% of the sampled pixels lie off the image "
                     "(padding or fill) and are left out")
    return Observation(value, evidence)


@probe("pca_lighting")
@one_thread
def pca_lighting(ctx: Context, item: Item) -> Observation:
    """Per-presentation RGB offsets shared by all pixels and colours: present, the alpha draw's scope
    (per image, batch, epoch or run), alpha std in eigenvalue units (`lighting`); a brightness or contrast
    change is not PCA lighting (`brightness`)."""
    import torch

    tf = recipe_transform(ctx, "train_transform")
    col = _colour(ctx)
    decl = declared_steps(ctx, "train_transform")
    fixed = col["offset"].nanmedian(dim=0).values
    fixed = torch.where(torch.isnan(fixed), fixed.nanmean(dim=(1, 2), keepdim=True).expand_as(fixed), fixed)
    colour = {"a": col["a"], "fixed": torch.nan_to_num(fixed)}
    got = ctx.cached("data.lighting", lambda: lighting.measure(draws.sweep(ctx), colour, draws.size(ctx)))
    size = draws.size(ctx)
    read, scope, hook, note, used = _scope(tf, colour, size, got)
    other = brightness.not_lighting(read, used, col["a"], lighting.PALETTE) if read["present"] else None
    if other is not None:  # an offset per image, but a brightness or contrast change
        read = {**read, "present": False, "why": other}
    if not read["present"]:
        fancy = pca_forms.colour_map(tf, colour, COLOUR_SEED, size) if other is None else None
        if fancy is not None:
            return _colour_map(fancy, decl)
        why = read["why"] + (f"; {hook} between draws changes nothing either" if hook and other is None else "") + note
        return Observation({"present": False, "scope": "none", "alpha_std": 0.0},
                           f"{decl}{len(got)} seeded draws of an {len(lighting.PALETTE)}-colour block image: {why}")
    if scope == "per_image" and lighting.batch_shared(tf, colour, COLOUR_SEED) is True:
        scope = "per_batch"
    # the basis: the training set's (a constant-colour image gets the same offset) or the image's own
    const = col["offset"].nanmedian(dim=3).values.nanmedian(dim=2).values - colour["fixed"].mean(dim=(1, 2))
    own = scope == "per_image" and float(const.norm(dim=1).mean()) < 0.2 * read["size"]
    d = read["deltas"] - read["deltas"].mean(dim=0, keepdim=True)
    cov = d.T @ d / max(len(d) - 1, 1)
    if own:
        vals, vecs = torch.linalg.eigh(lighting.palette_covariance(*size))
        eigval, eigvec = vals.flip(0), lighting.principal_axes_of(vecs.flip(1))
        src = ("a constant-colour image gets no offset: the basis is the image's own colours (a per-image PCA, "
               "as albumentations' FancyPCA), not the training set's; eigenvalues of the block image's colours "
               f"{[sig(x, 3) for x in eigval.tolist()]}")
        scale = 1.0
    else:
        eigval, eigvec, scale, src = lighting.basis(tf, cov, col["a"], IMAGENET_EIGVAL)
    proj = (d * scale) @ eigvec  # N x 3: p_i . offset = alpha_i * lambda_i
    per_comp = (proj / eigval.view(1, 3)).std(dim=0)
    # pooled over the offset's energy (var of p_i . offset over sum of lambda_i^2): the small components,
    # within the rounding of 8-bit pixels, do not inflate it
    alpha_std = float((proj.pow(2).sum(dim=0) / max(len(d) - 1, 1)).sum().div(eigval.pow(2).sum()).sqrt())
    value = {"present": True, "scope": scope, "alpha_std": sig(alpha_std, DRAW_DIGITS)}
    different = []  # present, but not the paper's technique: each way it differs is a key the paper has not
    if own:
        value["basis"] = "image"
        different.append("the basis is each image's own colours, not the training set's")
    if read.get("probability") is not None:
        value["probability"] = quantise(read["probability"], 0.1)
        different.append(f"it is applied to {quantise(read['probability'], 0.1):g} of the draws (a step applied with "
                         "a probability), not to every image; alpha std is read on the draws it changed")
    where = {"per_image": "redrawn for every image (it changes from call to call)",
             "per_batch": "drawn once per call and shared by every image of a batch tensor",
             "per_epoch": f"fixed across calls and redrawn only by {hook}: shared by every image of an epoch",
             "per_run": f"fixed across calls and drawn once per run, when {hook} is built (each of "
                        f"{builds.BUILDS} builds under its own seed got its own offset): shared by every image of "
                        "a run"}
    top = eigvec[:, 0].tolist()
    evidence = (f"{decl}{len(read['deltas'])} draws of an {len(lighting.PALETTE)}-colour block image (each output "
                f"pixel's source colour known from a coordinate image under the same seed): an RGB offset of mean "
                f"size {sig(read['size'], DRAW_DIGITS):g} ([0, 1] units), the same for every pixel and colour "
                f"(median deviation {magnitude(read['spread'], 2, FLOAT32_FLOOR)}), {where[scope]}; principal "
                f"direction ({', '.join(f'{quantise(x, 0.01):.2f}' for x in top)}); {src}; alpha std per component "
                f"({', '.join(f'{sig(x, DRAW_DIGITS):g}' for x in per_comp.tolist())}), pooled by eigenvalue "
                f"{sig(alpha_std, DRAW_DIGITS):g}")
    if different:
        evidence += "; present, but not as the paper's: " + "; ".join(different)
    return Observation(value, evidence)


def _scope(tf: Any, colour: dict[str, Any], size: tuple[int, int],
           got: list[dict[str, Any]]) -> tuple[dict[str, Any], str, str, str, list[dict[str, Any]]]:
    """(the reading, the alpha draw's scope, the epoch hook or the steps rebuilt, a note, the draws read): per
    image when the offset moves from call to call; else per epoch when an epoch hook moves it, per run when a
    new build of the transform does."""
    read = lighting.summarise(got)
    if read["varies"]:
        return read, "per_image", "", "", got
    epochs, hook, note = lighting.per_epoch(tf, colour, COLOUR_SEED, size)
    if epochs and lighting.summarise(epochs)["present"]:
        return lighting.summarise(epochs), "per_epoch", hook, note, epochs
    runs, built = builds.per_run(tf, colour, COLOUR_SEED, size)  # fixed across calls: drawn when it is built?
    if runs and lighting.summarise(runs)["present"]:
        return lighting.summarise(runs), "per_run", built, note, runs
    return read, "per_image", hook, note, got


def _colour_map(fancy: dict[str, Any], decl: str) -> Observation:
    """PCA lighting present as a per-image colour map (`pca_forms`): how it differs is in the value's keys."""
    value: dict[str, Any] = {"present": True, "scope": "per_image", "alpha_std": sig(fancy["alpha_std"], DRAW_DIGITS),
                             "basis": "image", "form": "colour_map"}
    how = ("eigvecs @ diag(alpha * eigvals) @ (x - mean), as albumentations' FancyPCA computes it"
           if fancy["form"] == "albumentations" else "eigvecs @ diag(alpha * eigvals) @ eigvecs.T @ (x - mean)")
    evidence = (f"{decl}no offset shared by every pixel was found; on a high-contrast "
                f"{len(pca_forms.CONTRAST)}-colour block image ({fancy['draws']} seeded draws, each output pixel's "
                f"source colour known) {fancy['changed']} draws change each colour by a map linear in its centred "
                f"colour along the principal axes of the image's OWN pixels: {how} (median residual "
                f"{sig(fancy['resid'], 2):g} of the change), redrawn for every image; alpha std on the first axis "
                f"{sig(fancy['alpha_std'], DRAW_DIGITS):g} (maximum likelihood, counting the draws whose change 8-bit "
                f"rounding took away: |alpha| under {sig(fancy['threshold'], 2):g}); present, but not as the paper's: "
                "the basis is each image's own colours, not the training set's, and the change is a colour map, not "
                "one offset per image")
    if fancy["probability"] is not None:
        value["probability"] = quantise(fancy["probability"], 0.1)
        evidence += (f"; applied to {quantise(fancy['probability'], 0.1):g} of the draws (a step applied with a "
                     "probability), not to every image")
    return Observation(value, evidence)
