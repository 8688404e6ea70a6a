"""Data probes (§2, §4.1): how train images are resized and cropped, mirrored, and the eval views (ten-crop).

The target's transforms (torchvision v1/v2, custom classes, numpy or albumentations-style callables:
`imaging.Adapted`) are applied to synthetic images and their outputs read back:
- coordinate images (R = column, G = row, as fractions of the image) and a fine one (their phase
  over 64 px) tell, for every output pixel, where in the source it came from: scale, aspect ratio,
  crop window and mirroring, fitted robustly so padded borders do not bend them; draws that are
  no crop-and-resize (a colour step scrambled the coordinates) are left out and counted;
- each transform is called under a fixed seed (torch, random and numpy), and the same seed is
  reused for a coordinate image and a black (and a white) image, so that random crops, flips and
  colour noise are the same in both calls and any per-channel affine step after ToTensor
  (mean subtraction, std division, an additive colour offset) cancels out of the ratio
  (coord - black) / (white - black);
- the flip probe starts from the seeded sweep it shares with the colour probes (`draws`).
The global RNG states are restored afterwards. The colour probes (mean subtraction, PCA lighting)
are in `colour`.

Reported numbers are rounded to what these measurements support (see `alexnet_audit.core.numbers`):
sizes and positions to whole pixels, ratios of fitted pitches to a 0.005 grid (each pitch is good
to about a quarter pixel over half the output; the extremes of random-resized draws to 2 digits).
"""
from __future__ import annotations

from typing import Any

from ..core.findings import Observation
from ..core.numbers import quantise, sig
from ..spec.load import Item
from . import draws, probe
from .context import Context
from .imaging import (
    FINE_PERIOD,
    _chw,
    _coord_image,
    _crops,
    _decode,
    _fine_image,
    _flat_image,
    _rng_guard,
    _seeded,
    _window,
    declared_steps,
    one_thread,
    recipe_transform,
)

# Precision of what is reported (see the module docstring).
SCALE_STEP = 0.005  # ratios of fitted pitches: ~10x their error, 4x finer than the spec's tolerance 0.02
EXTREME_DIGITS = 2  # the extremes of random-resized draws (area and aspect ratio of the windows)

# Sample counts: enough for the measurement, small enough that the whole data audit of the
# reference takes about a second (the 256-px transforms are the cost).
GEOMETRY_SEEDS = 24
HFLIP_DRAWS = 400


# ------------------------------------------------------------------------- train geometry ---

SRC_W, SRC_H = 600, 300  # a 2:1 source: the shorter side is not 256, the long axis has room to roam


def _geometry(ctx: Context) -> dict[str, Any]:
    tf = recipe_transform(ctx, "train_transform")

    def build() -> dict[str, Any]:
        coord, fine = _coord_image(SRC_W, SRC_H), _fine_image(SRC_W, SRC_H)
        black = _flat_image(SRC_W, SRC_H, (0, 0, 0))
        white = _flat_image(SRC_W, SRC_H, (255, 255, 255))
        windows = []
        with _rng_guard():
            slope_white = _chw(_seeded(tf, white, 0))
            slope_black = _chw(_seeded(tf, black, 0))
            # the median slope: padded or filled pixels (slope 0) do not bias it
            slope = (slope_white - slope_black).flatten(1).median(dim=1).values.view(-1, 1, 1)
            for s in range(GEOMETRY_SEEDS):
                c = _chw(_seeded(tf, coord, 1000 + s))
                b = _chw(_seeded(tf, black, 1000 + s))
                f = _chw(_seeded(tf, fine, 1000 + s))
                if c.shape != slope_white.shape:
                    raise ValueError(f"train_transform output shapes vary: {tuple(c.shape)} vs "
                                     f"{tuple(slope_white.shape)}")
                windows.append(_window((c - b) / slope, SRC_W, SRC_H, (f - b) / slope))
        plain = [w for w in windows if w["linear"]]
        if not plain:
            raise ValueError(f"none of {len(windows)} seeded draws maps the source to the output as a crop and "
                             "resize (a colour or geometric step scrambles the coordinate image in every draw)")
        return {"windows": plain, "unread": len(windows) - len(plain)}

    return ctx.cached("data.train_geometry", build)


def _pitch_tolerance(windows: list[dict[str, Any]]) -> float:
    """Relative error of a fitted pitch: one fine coordinate level (FINE_PERIOD/255 source px) over
    the fit's lag of half the output (times 3), at least 1%. Small crops read more coarsely."""
    out_h, out_w = windows[0]["out"]
    qx = max((FINE_PERIOD / 255) / (max(out_w // 2, 1) * w["pitch_x"]) for w in windows)
    qy = max((FINE_PERIOD / 255) / (max(out_h // 2, 1) * w["pitch_y"]) for w in windows)
    return max(0.01, 3 * max(qx, qy))


def _resize_rule(windows: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    import statistics

    px = [w["pitch_x"] for w in windows]
    py = [w["pitch_y"] for w in windows]
    tol = _pitch_tolerance(windows)
    spread = max(max(px) / min(px), max(py) / min(py)) - 1
    if spread > tol:
        mags = sorted(1 / p for p in py)
        aspects = sorted(a / b for a, b in zip(px, py, strict=True))
        # the extremes of random draws: one decimal (they are not the transform's bounds anyway)
        return ({"rule": "random_resized_crop", "size": None, "center_crop": None},
                f"the source-pixel pitch changes from draw to draw (magnification about {mags[0]:.1f}..{mags[-1]:.1f} "
                f"output px per source px; aspect x/y about {aspects[0]:.1f}..{aspects[-1]:.1f}): a random-scale "
                "crop, no fixed resize")
    mx, my = statistics.median(px), statistics.median(py)
    if abs(mx - 1) < tol and abs(my - 1) < tol:
        mx = my = 1.0  # not resized: the pitch is one source pixel to within what the fit resolves
    res_w, res_h = SRC_W / mx, SRC_H / my  # the resized image the crops are taken from
    size_h = round(res_h)
    if abs(mx / my - 1) < tol:
        rule = "none" if abs(my - 1) < tol else "shorter_side"
        size: Any = None if rule == "none" else size_h
    else:
        rule = "warp"
        size = size_h  # the short side's new length; the long side's is in the evidence
    # Where do the windows sit? Offsets of their centres from the resized image's centre.
    half_x = max(abs((w["x0"] + w["x1"]) / 2 / mx - res_w / 2) + (w["x1"] - w["x0"]) / mx / 2 for w in windows)
    half_y = max(abs((w["y0"] + w["y1"]) / 2 / my - res_h / 2) + (w["y1"] - w["y0"]) / my / 2 for w in windows)
    extent = 2 * max(half_x, half_y)
    short = res_h if res_h <= res_w + 2 else res_w  # y is encoded more finely (300 px in 256 levels)
    fixed = all(abs(w[k] - windows[0][k]) < 0.5 for w in windows for k in ("x0", "y0", "x1", "y1"))
    out_h, out_w = windows[0]["out"]
    if fixed and out_h == out_w and extent <= out_h + 2 and extent < short - 4:
        # one deterministic window, centred to within a pixel: a CenterCrop of the output size
        # (an odd crop of an even side sits half a pixel off-centre, so `extent` reads one more)
        center = out_h
        where = f"every draw takes the same {out_w}x{out_h} window at the centre of the resized image"
    elif extent <= short + 3:
        center = round(short) if extent >= short - 4 else int(round(extent))
        where = (f"all {len(windows)} crop windows lie in the central {extent:.0f}x{extent:.0f} px of the "
                 f"{res_w:.0f}x{res_h:.0f} resized image, i.e. a central {center}x{center} crop")
    else:
        center = None
        where = (f"crop windows range over {2 * half_x:.0f} x {2 * half_y:.0f} px of the {res_w:.0f}x{res_h:.0f} "
                 "resized image: no central square crop")
    aspect = " (aspect kept)" if rule != "warp" else " (aspect changed: a warp)"
    resized = "not resized" if rule == "none" else f"resized to {res_w:.0f}x{res_h:.0f}{aspect}"
    how = (f"a {SRC_W}x{SRC_H} coordinate image is sampled at the same pitch in every draw (to within "
           f"{quantise(100 * tol, 1):g}%), i.e. {resized}; {where}")
    return {"rule": rule, "size": size, "center_crop": center}, how


@probe("data_resize")
@one_thread
def data_resize(ctx: Context, item: Item) -> Observation:
    """How train images are resized: shorter side with aspect kept, warp or random-resized crop; the central crop."""
    geo = _geometry(ctx)
    value, how = _resize_rule(geo["windows"])
    return Observation(value, f"{declared_steps(ctx, 'train_transform')}{how}{_unread(geo)}")


@probe("random_crop")
@one_thread
def random_crop(ctx: Context, item: Item) -> Observation:
    """The training crop: output size, whether it moves between calls, whether it rescales (scale 1.0 = no)."""
    geo = _geometry(ctx)
    windows = geo["windows"]
    h, w = windows[0]["out"]
    size: Any = h if h == w else [h, w]
    px = [w_["pitch_x"] for w_ in windows]
    py = [w_["pitch_y"] for w_ in windows]
    xs = [w_["x0"] / p for w_, p in zip(windows, px, strict=True)]  # window positions in output pixels
    ys = [w_["y0"] / p for w_, p in zip(windows, py, strict=True)]
    moves = max(max(xs) - min(xs), max(ys) - min(ys))
    random_ = moves > 1.0
    ratio = min(min(px) / max(px), min(py) / max(py))
    fixed = 1 - ratio <= _pitch_tolerance(windows)  # within what the fitted pitches resolve
    scale = 1.0 if fixed else quantise(ratio, SCALE_STEP)
    value: dict[str, Any] = {"size": size, "random": random_, "scale": scale}
    evidence = (f"{declared_steps(ctx, 'train_transform')}{len(windows)} seeded draws on a {SRC_W}x{SRC_H} coordinate "
                f"image: {h}x{w} outputs whose windows move over {moves:.0f} output px; scale = smallest/largest "
                f"magnification over the draws (per axis) = {scale:g} (1.0: every crop is a plain window of one "
                "resized image)")
    if not fixed:
        # A random-resized crop: the share of the source each window covers and its aspect ratio, as
        # drawn (the extremes of the draws, 2 digits; RandomResizedCrop's defaults are 0.08-1 and 3/4-4/3).
        area = sorted((w_["x1"] - w_["x0"]) * (w_["y1"] - w_["y0"]) / (SRC_W * SRC_H) for w_ in windows)
        aspect = sorted((w_["x1"] - w_["x0"]) / (w_["y1"] - w_["y0"]) for w_ in windows)
        value["area"] = [sig(area[0], EXTREME_DIGITS), sig(area[-1], EXTREME_DIGITS)]
        value["ratio"] = [sig(aspect[0], EXTREME_DIGITS), sig(aspect[-1], EXTREME_DIGITS)]
        evidence += (f"; each window covers {value['area'][0]:g}..{value['area'][1]:g} of the source's area with "
                     f"aspect ratio {value['ratio'][0]:g}..{value['ratio'][1]:g} (w/h) over the draws")
    return Observation(value, evidence + _unread(geo))


def _unread(geo: dict[str, Any]) -> str:
    n = geo["unread"]
    if not n:
        return ""
    return (f"; {n} of {n + len(geo['windows'])} draws were not a plain crop and resize (a colour or geometric "
            "step such as TrivialAugment changed the coordinate image) and are left out")


@probe("hflip")
@one_thread
def hflip(ctx: Context, item: Item) -> Observation:
    """Fraction of training outputs that are mirrored left-right, over 400 draws of an asymmetric image."""
    tf = recipe_transform(ctx, "train_transform")

    def build() -> dict[str, Any]:
        # The first draws are the shared sweep's (same image, same seeds); the rest are drawn here.
        shared = [d["coord"] for d in draws.sweep(ctx)][:HFLIP_DRAWS]
        imgs = {"coord": _coord_image(*draws.size(ctx))}
        with _rng_guard():
            own = [draws.seeded_grids(tf, imgs, ("coord",), draws.SEED + s)["coord"]
                   for s in range(len(shared), HFLIP_DRAWS)]
        mirrored = vflips = 0
        for out in shared + own:
            h, w = out.shape[-2:]
            r, g = out[0], out[1]
            if float(r[:, w // 2:].mean() - r[:, : w // 2].mean()) < 0:
                mirrored += 1
            if float(g[h // 2:].mean() - g[: h // 2].mean()) < 0:
                vflips += 1
        return {"mirrored": mirrored, "vflips": vflips}

    got = ctx.cached("data.hflip", build)
    frac = got["mirrored"] / HFLIP_DRAWS
    note = f"; {got['vflips']} were upside down" if got["vflips"] else ""
    return Observation(sig(frac, 4), f"{declared_steps(ctx, 'train_transform')}{got['mirrored']} of "
                                    f"{HFLIP_DRAWS} seeded draws of a left-to-right ramp came out mirrored{note}")


# ------------------------------------------------------------------------------- ten-crop ---

@probe("ten_crop")
@one_thread
def ten_crop(ctx: Context, item: Item) -> Observation:
    """The eval views of one image: how many, and where (corners + centre + mirrors, centre only, ...)."""
    tf = recipe_transform(ctx, "eval_transform")
    coord = _coord_image(SRC_W, SRC_H)
    black = _flat_image(SRC_W, SRC_H, (0, 0, 0))
    white = _flat_image(SRC_W, SRC_H, (255, 255, 255))
    with _rng_guard():
        cs = _crops(_seeded(tf, coord, 7))
        bs = _crops(_seeded(tf, black, 7))
        ws = _crops(_seeded(tf, white, 7))
    if not (len(cs) == len(bs) == len(ws)):
        raise ValueError("eval_transform gives a different number of views for different images")
    wins = [_window(_decode(c, b, w), SRC_W, SRC_H) for c, b, w in zip(cs, bs, ws, strict=True)]
    X0, X1 = min(w["x0"] for w in wins), max(w["x1"] for w in wins)
    Y0, Y1 = min(w["y0"] for w in wins), max(w["y1"] for w in wins)
    tol = 2.0 * max(max(w["pitch_x"], w["pitch_y"]) for w in wins)
    names = []
    for w in wins:
        cx, cy = (w["x0"] + w["x1"]) / 2, (w["y0"] + w["y1"]) / 2
        if abs(cx - SRC_W / 2) < tol and abs(cy - SRC_H / 2) < tol:
            pos = "center"
        else:
            h = "l" if abs(w["x0"] - X0) < tol else "r" if abs(w["x1"] - X1) < tol else "?"
            v = "t" if abs(w["y0"] - Y0) < tol else "b" if abs(w["y1"] - Y1) < tol else "?"
            pos = v + h if "?" not in v + h else "other"
        names.append((pos, bool(w["flipped"])))
    five = {"tl", "tr", "bl", "br", "center"}
    got = sorted(names)
    if got == sorted((p, f) for p in five for f in (False, True)):
        layout = "corners+center+mirrors"
    elif got == sorted((p, False) for p in five):
        layout = "corners+center"
    elif got == [("center", False)]:
        layout = "center"
    elif got == [("center", False), ("center", True)]:
        layout = "center+mirror"
    else:
        layout = "other"
    h, w = wins[0]["out"]
    show = ", ".join(f"{p}{' mirrored' if f else ''}" for p, f in names)
    evidence = (f"{declared_steps(ctx, 'eval_transform')}eval_transform on a {SRC_W}x{SRC_H} coordinate image gave "
                f"{len(wins)} view(s) of {h}x{w}: {show}; together they cover source x {round(X0) + 0}..{round(X1)}, "
                f"y {round(Y0) + 0}..{round(Y1)}")
    value: dict[str, Any] = {"crops": len(wins), "layout": layout}
    combine, said = _combine(ctx, len(wins))
    if combine not in (None, "average"):  # §4.1 averages the softmax of the views; anything else is told
        value["combine"] = combine
    return Observation(value, evidence + said)


def _combine(ctx: Context, views: int) -> tuple[str | None, str]:
    """How the evaluation loop combines the views (`techniques.eval_crops.combine`), with a clause saying so."""
    crops = (ctx.recipe.get("techniques") or {}).get("eval_crops") if isinstance(
        ctx.recipe.get("techniques"), dict) else None
    combine = crops.get("combine") if isinstance(crops, dict) else None
    if combine is None or views < 2:
        return None, ""
    decl = "declared" if "techniques" in ctx.target.declared else "recorded"
    how = {"average": "averaged over the views, as §4.1 does",
           "separate": "each view scored on its own (per-view predictions, not §4.1's averaged softmax)",
           "max": "combined by a maximum over the views, not §4.1's average"}.get(str(combine), str(combine))
    return str(combine), f"; the evaluation loop's predictions are {how} ({decl}: techniques.eval_crops)"
