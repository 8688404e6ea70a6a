"""A region computed by one function, split into its stages by measurement.

A block between two weight layers is sometimes one opaque function: a module whose own forward
does the ReLU (`clamp`), the §3.3 normalisation (a cumulative sum) and the max-pooling (`unfold`
then `amax`), none of them a call the trace can name. Such a region is measured as a function of
its input and split into the stages that reproduce it, each found by what it computes:

- the channel part, on spatially uniform maps (a max or average pooling returns a constant map
  unchanged, so only the per-position steps act): it is elementwise (an activation named by its
  curve), or it mixes channels, and then a §3.3 normalisation is fitted on non-negative inputs
  (where a ReLU is the identity) and the ReLU placed by the sign response: g(x) = g(relu(x)) on a
  mixed-sign input is a ReLU before the normalisation, relu(LRN(x)) a ReLU after it;
- the pooling, from the input and output map sizes: every max or average pooling whose window,
  stride, padding and rounding give those sizes, placed after (or before) the channel steps;
- the whole chain is accepted only when, built from those measurements alone, it reproduces the
  region on a random spatially varying mixed-sign input (the rebuild's tolerance). The first chain
  that does, in the paper's order first, is the region's stages.

When no chain of those steps reproduces the region, nothing is guessed: the region stays `other`
with its measured signature and the reason (`unsplit`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from ..core.errors import first_line
from .elementwise import classify_elementwise, probe_dtype
from .kinds import ACTIVATIONS
from .lrn_fit import LrnFit, fit_lrn
from .ops import Detail
from .rebuild.ops import activation_function, lrn_function, rel_error
from .window import describe as window_text

Fn = Callable[[torch.Tensor], torch.Tensor]
RTOL = 1e-4  # the rebuild's tolerance (max |chain - region| / max |region|)
_ROWS, _SIDE = 8, 9  # maps per call, and their size, while the channel part is measured
_CHECK = 15  # the size of the map a candidate chain is checked on


class Stage(NamedTuple):
    """One step of a split region: its kind, attributes, and the function the measurements say it is."""

    kind: str
    attrs: dict[str, Any]
    fn: Fn


class Probe(NamedTuple):
    dtype: torch.dtype
    shape: tuple[int, ...]


def _probe(fn: Fn, shape: tuple[int, ...], dtype: torch.dtype, rows: int, side: int) -> Probe:
    """A (dtype, NCHW shape) fn accepts and maps to the same channels: float64, `rows` maps of at most side x side
    when it can."""
    n, c, h, w = shape
    small = (min(h, side), min(w, side))
    for dt in (torch.float64, dtype):
        for shp in dict.fromkeys([(rows, c, *small), (1, c, *small), tuple(shape)]):
            try:
                with torch.no_grad():
                    y = fn(torch.zeros(shp, dtype=dt))
            except Exception:
                continue
            if isinstance(y, torch.Tensor) and y.dim() == 4 and y.shape[:2] == shp[:2] and min(y.shape[2:]) >= 1:
                return Probe(dt, shp)
    raise RuntimeError("the region could not be re-run on a crafted input")


def _lifted(fn: Fn, probe: Probe) -> Fn:
    """The channel part of fn: every position of its input (N, C, ...) a channel vector, spread over a whole
    map of the probe, and the centre output position read back. A pooling returns a constant map unchanged,
    so only the per-position steps act on it."""
    b0, c, h, w = probe.shape

    def g(z: torch.Tensor) -> torch.Tensor:
        rows = z.movedim(1, -1).reshape(-1, c).to(probe.dtype)
        outs = []
        for i in range(0, rows.shape[0], b0):
            chunk = rows[i:i + b0]
            full = torch.cat([chunk, chunk.new_zeros(b0 - chunk.shape[0], c)]) if chunk.shape[0] < b0 else chunk
            with torch.no_grad():
                y = fn(full[:, :, None, None].expand(b0, c, h, w).contiguous())
            outs.append(y[:chunk.shape[0], :, y.shape[2] // 2, y.shape[3] // 2])
        return torch.cat(outs).reshape(z.movedim(1, -1).shape).movedim(-1, 1).to(z.dtype)
    return g


def is_lrn(fit: LrnFit) -> bool:
    """Whether a fit is a §3.3 normalisation: per position, a window of several maps, a tight fit."""
    return bool(fit["per_position"] and fit["residual"] < 1e-3 and (fit["alpha"] or 0) > 0 and fit["n"] > 1)


def lrn_attrs(fit: LrnFit) -> dict[str, Any]:
    """A fit as an op's attributes (constants to 6 significant digits, the window, measured irregularities)."""
    def r(v: float | None) -> float | None:
        return None if v is None else float(f"{v:.6g}")
    out: dict[str, Any] = {"n": fit["n"], "k": r(fit["k"]), "alpha": r(fit["alpha"]), "beta": r(fit["beta"]),
                           "window": fit["window"], "local": fit["local"], "channels": fit["channels"],
                           "fit_residual": float(f"{fit['residual']:.3g}")}
    if fit.get("irregular"):  # channels whose measured sources are not the window's
        out["irregular"] = fit["irregular"]
        out["window_text"] = window_text(fit["irregular"], fit["n"])
    return out


def _chain(stages: list[Stage]) -> Fn:
    def fn(x: torch.Tensor) -> torch.Tensor:
        for st in stages:
            x = st.fn(x)
        return x
    return fn


def _matches(fn: Fn, ref: torch.Tensor, x: torch.Tensor) -> bool:
    try:
        with torch.no_grad():
            return rel_error(fn(x), ref) <= RTOL
    except Exception:  # a chain that does not run on this input does not reproduce the region
        return False


def channel_stages(g: Fn, channels: int, dtype: torch.dtype) -> list[Stage] | str:
    """The per-position steps of a region from its lifted channel function g: [] (none), an activation,
    or a §3.3 normalisation with a ReLU before or after it; a reason when none of those reproduces g."""
    shape = (1, channels, 8, 8)  # 64 channel vectors per measurement
    got = classify_elementwise(g, shape, dtype)
    if got.kind is not None:  # no channel mixing: one elementwise step (or none)
        if got.kind == "identity":
            return []
        if got.kind not in ACTIVATIONS - {"elementwise"} and got.kind != "scale":
            return "its per-position part is an elementwise curve no activation names"
        return [Stage(got.kind, dict(got.attrs), activation_function(got.kind, got.attrs))]
    fit = fit_lrn(g, shape, dtype)
    if not is_lrn(fit):
        return "its per-position part mixes channels but fits no §3.3 normalisation on non-negative inputs"
    lrn = lrn_attrs(fit)
    norm = Stage("lrn", lrn, lrn_function(lrn))
    relu = Stage("relu", {}, F.relu)
    z = torch.randn((1, channels, 4, 4), generator=torch.Generator().manual_seed(11), dtype=torch.float64) * 4
    with torch.no_grad():
        ref = g(z)
    for cand in ([relu, norm], [norm, relu], [norm]):  # the paper's order first
        if _matches(_chain(cand), ref, z):
            return cand
    return "its per-position part is a §3.3 normalisation on non-negative inputs, but neither it alone nor " \
           "with a ReLU before or after it reproduces the part on mixed-sign inputs"


def _pool_out(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """torch's pooled size along one axis."""
    if n + 2 * p < k:
        return -1
    span = n + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def pool_geometries(n_in: tuple[int, int], n_out: tuple[int, int]) -> list[dict[str, Any]]:
    """Every square max/avg window (kernel 1-7, any stride up to 7, padding up to half the kernel, floor or
    ceil rounding) that maps n_in to n_out, plainest first (no rounding up, least padding, smallest kernel)."""
    out = []
    for ceil in (False, True):
        for p in range(0, 4):
            for k in range(max(1, 2 * p), 8):
                for s in range(1, 8):
                    if all(_pool_out(a, k, s, p, ceil) == b for a, b in zip(n_in, n_out, strict=True)):
                        out.append({"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil})
    return out


def _pool_stage(typ: str, geo: dict[str, Any], cip: bool) -> Stage:
    k, s, p, cm = geo["kernel_size"], geo["stride"], geo["padding"], geo["ceil_mode"]
    attrs = {"identity": False, **geo, "type": typ}
    if typ == "max":
        return Stage("maxpool", attrs, lambda x: F.max_pool2d(x, k, s, p, ceil_mode=cm))
    attrs["count_include_pad"] = cip
    return Stage("avgpool", attrs, lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=cm, count_include_pad=cip))


def _pools(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[Stage]:
    geos = pool_geometries((in_shape[2], in_shape[3]), (out_shape[2], out_shape[3]))
    stages = [_pool_stage("max", g, True) for g in geos]
    for g in geos:
        stages += [_pool_stage("avg", g, True)] + ([_pool_stage("avg", g, False)] if g["padding"] else [])
    return stages


def splittable(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    """Whether a region may be a chain of activation, normalisation and pooling: NCHW maps in and out, the
    same channels, maps no larger."""
    return len(in_shape) == 4 and len(out_shape) == 4 and in_shape[:2] == out_shape[:2] and \
        all(o <= i for i, o in zip(in_shape[2:], out_shape[2:], strict=True))


def decompose(fn: Fn, in_shape: tuple[int, ...], out_shape: tuple[int, ...], dtype: torch.dtype) -> list[Stage] | str:
    """The stages (activation, §3.3 normalisation, pooling) whose chain reproduces the region fn, measured;
    a reason (one line) when no such chain does."""
    if not splittable(in_shape, out_shape):
        return "not maps of the same channels (only ReLU, normalisation and pooling regions are split)"
    try:
        lift = _probe(fn, in_shape, dtype, _ROWS, _SIDE)
        chan = channel_stages(_lifted(fn, lift), in_shape[1], lift.dtype)
        probe = _probe(fn, in_shape, dtype, 1, _CHECK)
    except Exception as exc:
        return f"its per-position part could not be measured: {first_line(exc)}"
    if isinstance(chan, str):
        return chan
    x = torch.randn(probe.shape, generator=torch.Generator().manual_seed(13), dtype=torch.float64).to(probe.dtype)
    with torch.no_grad():
        ref = fn(x.clone())
    if tuple(in_shape[2:]) == tuple(out_shape[2:]) and _matches(_chain(chan), ref, x):
        return chan
    for pool in _pools(in_shape, out_shape):
        for at in range(len(chan), -1, -1):  # after the per-position steps first (the paper's order)
            cand = chan[:at] + [pool] + chan[at:]
            if _matches(_chain(cand), ref, x):
                return cand
    what = " > ".join(st.kind for st in chan) or "nothing per position"
    return f"{what}, with no max or average pooling of a window up to 7 before or after it, reproduces the region"


def split_details(det: Detail, n: int) -> list[Detail]:
    """Measurement handles for the n stages of one split region: the region's input on the first, its output
    and recorded calls on the last; a stage has no replayable function of its own."""
    out = [Detail() for _ in range(n)]
    out[0].inp = det.inp
    out[-1].out, out[-1].recs = det.out, list(det.recs)
    return out


def odd(fn: Fn, shape: tuple[int, ...], dtype: torch.dtype) -> bool:
    """Whether fn(-x) = -fn(x) on a random mixed-sign input, as a §3.3 normalisation's is (a ReLU's is not)."""
    try:
        dt, shp = probe_dtype(fn, shape, dtype)
        x = torch.randn(shp, generator=torch.Generator().manual_seed(17), dtype=torch.float64).to(dt)
        with torch.no_grad():
            return rel_error(-fn(-x.clone()), fn(x.clone())) <= RTOL
    except Exception:  # not re-runnable on a crafted input: not shown to be odd
        return False


Split = tuple[str, dict[str, Any], Detail, tuple[int, ...], tuple[int, ...]]


def expand(kind: str, attrs: dict[str, Any], det: Detail, in_shape: tuple[int, ...],
           out_shape: tuple[int, ...]) -> list[Split]:
    """One described unit as its ops: itself, or the stages of a split region, each with its own shapes
    (the pooling makes the region's output shape) and a note naming the region they were measured in."""
    stages: list[Stage] | None = attrs.pop("stages", None)
    if not stages:
        return [(kind, attrs, det, in_shape, out_shape)]
    what = attrs.get("function") or "a region"
    text = f"{' > '.join(st.kind for st in stages)}: one function ({what}), split by measurement" if len(stages) > 1 \
        else f"{stages[0].kind}: measured as one function ({what})"
    out: list[Split] = []
    shape = in_shape
    for st, d in zip(stages, split_details(det, len(stages)), strict=True):
        nxt = out_shape if st.kind in ("maxpool", "avgpool") else shape
        out.append((st.kind, {"function": attrs.get("function"), **st.attrs, "fused": text}, d, shape, nxt))
        shape = nxt
    return out
