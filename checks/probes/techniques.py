"""What the paper did not do (§4.1, §5): training techniques beyond plain SGD, augmentation beyond its own.

`extra_techniques` reads the target's `techniques` (what `alexnet-audit capture` saw the run do,
or what a manifest declares) and measures label smoothing from the loss itself.

`extra_augmentation` measures the train transform on synthetic images under fixed seeds (the output
grids of the shared sweep, `draws`), by what the outputs do, never by class names:
- two constant colours under the same seed: their per-channel difference is the same in every
  draw for any fixed affine colour map plus additive noise (mean subtraction, std division, §4.1's
  PCA lighting); a difference that changes from draw to draw is a random colour change
  (ColorJitter, grayscale, posterize, solarize, ...);
- grey ramps along x and along y, minus the output of a black input under the same seed (from the
  two constant colours, `draws.affine`): crops, resizes and flips keep the x ramp constant down
  every output column and the y ramp along every row; a ramp that varies across is a rotation,
  shear or perspective; a y ramp that falls is a vertical flip;
- the two constant colours give the same output under the same seed where the output does not
  depend on the input: an inner axis-aligned rectangle of such pixels is an erased patch (RandomErasing); fill at the
  corners (rotations) or strips along a whole edge (padding, translation) is not.
"""
from __future__ import annotations

from typing import Any

from ..core.findings import Observation, Skip
from ..core.numbers import FLOAT32_FLOOR, magnitude, sig
from ..spec.load import Item
from . import draws, probe
from .context import Context
from .imaging import declared_steps, one_thread
from .loss import loss_probe

# Techniques of the paper's list (train.extra_techniques); the others captured are context only.
EXTRA = ("amp", "grad_clip", "ema", "mixup", "cutmix", "label_smoothing")
SEEDS = draws.RAMP_SEEDS  # 48: the sweep's first draws, which include the grey ramps
COLOUR_SPREAD = 0.02  # relative draw-to-draw change of the colour difference that is not rounding
CROSS_RAMP = 2e-3  # ramp variation across the expected direction, as a fraction of its range
MIN_DRAWS = 2  # a random change must show in at least this many of the SEEDS draws


@probe("extra_techniques")
def extra_techniques(ctx: Context, item: Item) -> Observation:
    """Training techniques beyond §5's plain SGD: AMP, clipping, EMA, mixup/cutmix, label smoothing (from the loss)."""
    if "techniques" not in ctx.recipe:
        raise Skip("the target gives no techniques (a manifest's `techniques:` section, or `alexnet-audit capture`)")
    techniques = ctx.recipe["techniques"] or {}
    if not isinstance(techniques, dict):
        raise TypeError(f"techniques must be a mapping, got {type(techniques).__name__}")
    used = {k for k in techniques if k in EXTRA}
    how = [f"{k} {_settings(techniques[k])}" for k in sorted(used)]
    smoothing, unmeasured = _loss_smoothing(ctx, item)
    if smoothing is not None:
        used.add("label_smoothing")
        how.append(f"the loss measures as {smoothing}")
    if unmeasured:
        how.append(f"the loss itself could not be measured ({unmeasured}): label smoothing in it is not seen")
    context = [k for k in sorted(techniques) if k not in EXTRA]
    source = "declared, not measured: " if "techniques" in ctx.target.declared else ""
    evidence = (f"{source}{'; '.join(how) if how else 'none of ' + ', '.join(EXTRA)}"
                + (f"; also recorded: {', '.join(f'{k} {_settings(techniques[k])}' for k in context)}"
                   if context else ""))
    return Observation(sorted(used), evidence)


def _settings(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={sig(v, 6) if isinstance(v, float) else v}" for k, v in value.items()) + ")"
    return f"({value})"


def _loss_smoothing(ctx: Context, item: Item) -> tuple[str | None, str]:
    """The loss probe's reading when it finds label smoothing in the loss's values (else None), and why the
    loss could not be measured ('' when it could): train.loss reports that failure; the techniques stand."""
    from ..core.errors import first_line
    from ..core.findings import Absent

    if "loss" not in ctx.recipe:
        return None, ""
    try:
        value = ctx.cached("techniques.loss", lambda: loss_probe(ctx, item).value)
    except (Skip, Absent):
        return None, ""
    except Exception as exc:  # a loss capture could not name (a hand-written MSE): train.loss says so
        return None, first_line(exc)
    return (value if isinstance(value, str) and "label_smoothing" in value else None), ""


# ------------------------------------------------------------------------------ augmentation ---

def _cross(d: Any, valid: Any, along: int) -> float:
    """Median over lines (columns for along=0, rows for 1) of a ramp output's median |variation| along
    each line, as a fraction of the ramp's span: robust to odd pixels (padding strips, a patch)."""
    import torch

    x = d.masked_fill(~valid, float("nan"))
    centre = x.nanmedian(dim=along, keepdim=True).values
    per_line = (x - centre).abs().nanmedian(dim=along).values
    per_line = per_line[~torch.isnan(per_line)]
    if per_line.numel() == 0:
        return 0.0
    vals = d[valid]
    span = float(vals.max() - vals.min()) if vals.numel() else 0.0
    return float(torch.median(per_line)) / span if span > 0 else 0.0


def _falls(dy: Any, valid: Any, slope: float) -> bool:
    """Whether a y ramp falls from the top to the bottom of the output (row medians, first vs last quarter)."""
    import torch

    rows = dy.masked_fill(~valid, float("nan")).nanmedian(dim=1).values
    rows = rows[~torch.isnan(rows)]
    if rows.numel() < 4:
        return False
    q = max(1, rows.numel() // 4)
    return float(rows[-q:].mean() - rows[:q].mean()) * slope < 0


def _patch(dead: Any) -> str | None:
    """What the input-independent pixels are: 'erased' (an inner rectangle), 'fill' (edges, corners)."""
    if not bool(dead.any()):
        return None
    rows, cols = dead.any(dim=1).nonzero().flatten(), dead.any(dim=0).nonzero().flatten()
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    box = (r1 - r0 + 1) * (c1 - c0 + 1)
    full_span = (r1 - r0 + 1) == dead.shape[0] or (c1 - c0 + 1) == dead.shape[1]
    return "erased" if float(dead.sum()) / box > 0.9 and not full_span else "fill"


def _augmentation(ctx: Context) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        import torch

        diffs, counts = [], {"rotation_or_shear": 0, "vertical_flip": 0, "random_erasing": 0}
        worst = 0.0
        # The shared sweep's output grids (draws.py): the ramps were drawn under the first SEEDS seeds,
        # with the two constant-colour images of the same seeds (each pixel's affine map).
        for out in draws.sweep(ctx)[:SEEDS]:
            s, b = draws.affine(out)  # slope, and the output of a black input
            slope = s.mean(dim=0)
            gap = (out["c2"] - out["c1"]).abs().amax(dim=0)  # 0 where the output ignores the input
            live = gap > 1e-6 * float(gap.max() or 1.0)
            if _patch(~live) == "erased":
                counts["random_erasing"] += 1
            dx = (out["xramp"] - b).mean(dim=0)
            dy = (out["yramp"] - b).mean(dim=0)
            cross = max(_cross(dx, live, 0), _cross(dy, live, 1))
            worst = max(worst, cross)
            if cross > CROSS_RAMP:
                counts["rotation_or_shear"] += 1
            if _falls(dy, live, float(slope.mean())):
                counts["vertical_flip"] += 1
            d = out["c1"] - out["c2"]
            diffs.append(d.flatten(1).median(dim=1).values)
        stack = torch.stack(diffs)  # SEEDS x C
        scale = float(stack.abs().mean()) or 1.0
        moved = ((stack - stack.median(dim=0).values).abs().amax(dim=1) / scale > COLOUR_SPREAD)
        counts["colour_jitter"] = int(moved.sum())
        return {"counts": counts, "worst_cross": worst}

    return ctx.cached("techniques.augmentation", build)


@probe("extra_augmentation")
@one_thread
def extra_augmentation(ctx: Context, item: Item) -> Observation:
    """Augmentation beyond §4.1's crops, flips and PCA lighting, by behaviour: colour jitter, rotation, erasing."""
    got = _augmentation(ctx)
    counts = got["counts"]
    found = sorted(k for k, n in counts.items() if n >= MIN_DRAWS)
    shown = ", ".join(f"{k} in {n}" for k, n in sorted(counts.items()))
    decl = declared_steps(ctx, "train_transform")
    evidence = (f"{decl}{SEEDS} seeded draws of grey x/y ramps and two constant colours: draws showing "
                f"{shown} (counted from {MIN_DRAWS}); largest ramp variation across its axis "
                f"{magnitude(got['worst_cross'], 2, FLOAT32_FLOOR)} of its range "
                f"(over {CROSS_RAMP:g}: rotated or sheared)")
    return Observation(found, evidence)
