"""Turn a logical unit into an `Op`'s kind and attributes: one small function per raw kind.

Geometry is read from the executed calls' arguments; what an op computes (activation curve, §3.3
normalisation constants, pool type, grouping) is measured by re-running it on crafted inputs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, get_args

import torch

from ..core.errors import first_line
from .elementwise import Response, classify_elementwise
from .footprint import signature
from .fused import decompose, is_lrn, lrn_attrs, odd, splittable
from .graph import Unit, is_random
from .groups import measure_groups
from .kinds import OpKind, PoolKind, RawKind, is_activation
from .layout import channels_first, shape_first
from .lrn_fit import LrnFit, fit_lrn
from .ops import Detail
from .pooling import PoolType, adaptive_geometry, pool_type
from .record import Rec, dropout_info, flat, shape_of, unique
from .signatures import bind


@dataclass
class _Subject:
    """One unit being described; handlers fill `attrs` and `detail`."""

    unit: Unit
    measure: bool
    dtype: torch.dtype
    pnames: dict[int, str]  # parameter id -> registered name
    detail: Detail
    members: list[Unit]  # the towers of a merged unit, else [unit]
    attrs: dict[str, Any]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


class Described(NamedTuple):
    kind: OpKind
    attrs: dict[str, Any]
    detail: Detail


def describe(u: Unit, measure: bool, dtype: torch.dtype, pnames: dict[int, str]) -> Described:
    """The kind, attributes and measurement handles of unit u (measured when `measure`)."""
    det = Detail(fn=u.fn, recs=list(u.recs), inp=u.inp, out=u.out)
    members = u.members or [u]
    det.members = [Detail(fn=m.fn, recs=list(m.recs), inp=m.inp, out=m.out) for m in members] if u.members else []
    s = _Subject(u, measure, dtype, pnames, det, members, dict(u.attrs), tuple(u.in_shape or ()), shape_of(u.out))
    kind = _HANDLERS[u.kind](s)
    return Described(kind, s.attrs, det)


def _pair(v: Any) -> Any:
    """(3, 3) -> 3, (3, 5) -> [3, 5]: the form the reports print."""
    if isinstance(v, (tuple, list)):
        v = tuple(int(x) for x in v)
        return v[0] if len(set(v)) == 1 else list(v)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _hw(pad: Any) -> tuple[Any, ...]:
    """A conv's numeric padding as (height, width)."""
    return (pad, pad) if isinstance(pad, int) else tuple(pad)


# ------------------------------------------------------------------ weight layers --------------

def _weights(s: _Subject) -> None:
    """Collect the parameters the layer's calls used (shared ones once) and name them."""
    for m in s.members:
        for r in m.recs:  # the layer call, and a bias added to its output (fold_bias)
            s.detail.weights.extend(r.wparams)
            s.detail.biases.extend(r.bparams)
    for r in s.unit.bias_recs:  # added after the towers' concatenation or after layout steps
        s.detail.biases.extend(r.bparams)
    s.detail.weights, s.detail.biases = unique(s.detail.weights), unique(s.detail.biases)
    s.attrs["weight_name"] = ", ".join(s.pnames.get(id(w), "<unregistered>") for w in s.detail.weights)


def layer_rec(u: Unit) -> Rec:
    """The weight call of a layer unit (its last conv/linear record; a folded bias add comes after)."""
    return next(r for r in reversed(u.recs) if r.kind in ("conv", "linear"))


def _linear(s: _Subject) -> OpKind:
    _weights(s)
    s.attrs["in_features"] = s.in_shape[-1] if s.in_shape else None
    s.attrs["out_features"] = s.out_shape[-1] if s.out_shape else None
    return "linear"


def _conv(s: _Subject) -> OpKind:
    _weights(s)
    a = s.attrs
    a["in_channels"] = s.in_shape[1] if len(s.in_shape) > 1 else None
    a["out_channels"] = s.out_shape[1] if len(s.out_shape) > 1 else None
    if "unfold" in a:
        return _unfold_conv(s, a.pop("unfold"))
    calls = [layer_rec(m) for m in s.members]  # one call per tower
    sigs = [bind(r.name, r.args, r.kwargs) for r in calls]
    sig = sigs[0]
    ks = {tuple(flat(g.get("weight"))[0].shape[2:]) for g in sigs}
    a["kernel_size"] = _pair(sorted(ks)[0]) if len(ks) == 1 else [list(k) for k in sorted(ks)]
    st = {str(g.get("stride")) for g in sigs}
    a["stride"] = _pair(sig.get("stride", 1)) if len(st) == 1 else sorted(st)
    pad = sig.get("padding", 0)
    if isinstance(pad, str):
        a["padding"] = pad
    else:
        ph, pw = _hw(pad)
        left, right, top, bottom = s.unit.pad or (0, 0, 0, 0)  # a folded F.pad adds to the conv's own
        eff = (left + pw, right + pw, top + ph, bottom + ph)
        a["padding"] = eff[0] if len(set(eff)) == 1 else list(eff)  # (left, right, top, bottom)
        if "padding_mode" in a and s.unit.pad:  # the amounts padded in that mode (the rest are the conv's zeros)
            a["mode_padding"] = list(s.unit.pad)
    a["dilation"] = _pair(sig.get("dilation", 1))
    a["groups_declared"] = sum(int(g.get("groups", 1)) for g in sigs)
    if len(calls) == 1 and _dense_form(s.in_shape, s.out_shape, ks, a):
        return _dense(s)
    if s.measure and s.unit.fn is not None and a["in_channels"]:
        _measure_groups(s, s.unit.fn, sig.get("weight"), pad)
    else:
        a["groups"] = a["groups_declared"]
    return "conv"


def _dense_form(in_shape: tuple[int, ...], out_shape: tuple[int, ...], kernels: set[tuple[int, ...]],
                a: dict[str, Any]) -> bool:
    """A convolution that is a dense layer: one output position whose kernel covers the whole input map
    (fc6 as a 6x6 conv over pool5's 6x6 map, fc7 as a 1x1 conv on a 1x1 map), unpadded and ungrouped.
    Every output then reads every input, each through its own weight: a fully-connected layer."""
    if len(in_shape) != 4 or len(out_shape) != 4 or len(kernels) != 1 or a.get("groups_declared") != 1:
        return False
    k = next(iter(kernels))
    return tuple(out_shape[2:]) == (1, 1) and tuple(k) == tuple(in_shape[2:]) and a.get("padding") in (0, "valid") \
        and a.get("dilation") == 1


def _dense(s: _Subject) -> OpKind:
    """A dense layer written as a convolution: in_features over the whole map, as nn.Linear would read them."""
    a = s.attrs
    c, h, w = s.in_shape[1:]
    s.attrs = {"in_features": int(c * h * w), "out_features": int(s.out_shape[1]),
               "written_as": f"conv2d {h}x{w} over a {c}x{h}x{w} map", "weight_name": a.get("weight_name", "")}
    return "linear"


def _unfold_conv(s: _Subject, sig: dict[str, Any]) -> OpKind:
    """A convolution written as F.unfold + a product with the weight: geometry from the unfold."""
    a = s.attrs
    k = sig.get("kernel_size")
    a["kernel_size"], a["stride"], a["dilation"] = _pair(k), _pair(sig.get("stride", 1)), _pair(sig.get("dilation", 1))
    pad = sig.get("padding", 0)
    ph, pw = _hw(pad)
    left, right, top, bottom = s.unit.pad or (0, 0, 0, 0)
    eff = (left + pw, right + pw, top + ph, bottom + ph)
    a["padding"] = eff[0] if len(set(eff)) == 1 else list(eff)
    a["groups_declared"] = 1
    if s.measure and s.unit.fn is not None and a["in_channels"]:
        kh, kw = _hw(k)
        _measure_groups(s, s.unit.fn, torch.empty(0, 0, kh, kw), pad)
    else:
        a["groups"] = 1
    return "conv"


def _measure_groups(s: _Subject, fn: Callable[[torch.Tensor], torch.Tensor], weight: Any, pad: Any) -> None:
    """Groups from connectivity, on the smallest input whose output still has a position."""
    kh, kw = weight.shape[2:] if isinstance(weight, torch.Tensor) else (1, 1)
    if isinstance(pad, str):
        spatial = (int(kh), int(kw))
    else:
        ph, pw = _hw(pad)
        spatial = (max(1, int(kh) - 2 * int(ph)), max(1, int(kw) - 2 * int(pw)))
    c_in = s.attrs["in_channels"]
    try:
        g, blocks = measure_groups(fn, c_in, spatial, s.dtype)
    except Exception:
        g, blocks = measure_groups(fn, c_in, tuple(s.in_shape[2:]), s.dtype)
    s.attrs["groups"] = g
    if g == "irregular":
        s.attrs["connectivity"] = blocks[:8]


# ------------------------------------------------------------------ measured functions ---------

def _classify(s: _Subject, fn: Callable[[torch.Tensor], torch.Tensor]) -> Response:
    try:
        return classify_elementwise(fn, s.in_shape, s.dtype)
    except Exception:
        return Response(None, {})


def _activation(s: _Subject) -> OpKind:
    name = s.unit.name
    s.attrs["function"] = name
    if not s.measure or s.unit.fn is None:
        return name if is_activation(name) else "elementwise"
    got, extra = _classify(s, s.unit.fn)
    s.attrs.update(extra)
    return got or "other"


def _region(s: _Subject) -> OpKind:
    """Arithmetic with no library name: an elementwise curve, a fitted §3.3 LRN, the stages of a fused block
    split by measurement (`fused`: attrs["stages"], made ops by the build), or other."""
    s.attrs["function"] = s.unit.name
    fn = s.unit.fn
    if is_random(s.unit.recs):
        return _random_region(s)
    if fn is None:
        return "other"
    got, extra = _classify(s, fn)  # cheap, and the train-mode trace needs activations to place dropout
    if got is not None:
        s.attrs.update(extra)
        return got
    if not s.measure:
        return "other"
    shape, out_shape, axis = s.in_shape, s.out_shape, s.attrs.get("channel_axis")
    if isinstance(axis, int) and len(shape) == 4 and len(out_shape) == 4:  # channels-last: measured channels-first
        fn, shape, out_shape = channels_first(fn, axis), shape_first(shape, axis), shape_first(out_shape, axis)
    if len(shape) >= 3 and shape == out_shape:
        try:
            fit: LrnFit | None = fit_lrn(fn, shape, s.dtype)
        except Exception:
            fit = None
        if fit and is_lrn(fit) and odd(fn, shape, s.dtype):  # a ReLU in it makes it not odd: a fused block
            s.attrs.update(_lrn_attrs(fit))
            return "lrn"
    if not isinstance(axis, int) and splittable(shape, out_shape):  # one function of several steps, split
        split = decompose(fn, shape, out_shape, s.dtype)
        if not isinstance(split, str):
            s.attrs["stages"] = split
            return "other"
        s.attrs["unsplit"] = split
    try:  # unnamed: what it reads and how it scales, measured
        s.attrs["signature"] = signature(fn, shape, s.dtype)
    except Exception as exc:
        s.attrs["signature_error"] = first_line(exc)
    return "other"


def _random_region(s: _Subject) -> OpKind:
    """A computation that draws random numbers is a dropout when, in the real pass, it zeroed units and
    scaled every survivor by one factor (a hand-written mask, inverted or not); else other."""
    x, y = s.unit.inp, flat(s.unit.out)
    s.attrs["random"] = True
    if len(s.unit.data_in) != 1 or not isinstance(x, torch.Tensor) or not y or y[0].shape != x.shape:
        return "other"
    out = y[0]
    surv = (x != 0) & (out != 0)
    ratio = out[surv] / x[surv]
    if not bool(surv.any()) or not torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-5, atol=0):
        return "other"  # random, but not a mask with one scale: noise, not dropout
    info = dropout_info(x, out)
    s.attrs.update(p=None, training=None, identity=bool(torch.equal(x, out)), hand_written=True, **info,
                   survivor_scale=float(ratio[0]))
    return "dropout"


def _absent(x: torch.Tensor) -> torch.Tensor:
    raise TypeError("the op has no replayable function")


def _lrn(s: _Subject) -> OpKind:
    r = s.unit.recs[0]
    sig = bind(s.unit.name, r.args, r.kwargs)
    s.attrs["declared"] = {k: sig.get(k) for k in ("size", "alpha", "beta", "k")}
    if s.measure:
        fits: list[LrnFit | str] = []  # per tower: the fit, or why it failed
        for m in s.members:
            try:
                fits.append(fit_lrn(m.fn if m.fn is not None else _absent, tuple(shape_of(m.inp)), s.dtype))
            except Exception as exc:
                fits.append(f"{type(exc).__name__}: {exc}")
        s.attrs.update(_lrn_attrs(fits[0]))
        if len(fits) > 1:
            s.attrs["towers"] = [_lrn_attrs(f) for f in fits]
    return "lrn"


def _lrn_attrs(fit: LrnFit | str) -> dict[str, Any]:
    return {"fit_error": fit} if isinstance(fit, str) else lrn_attrs(fit)


# ------------------------------------------------------------------ pools and the rest ---------

_POOL_KINDS: dict[tuple[bool, PoolType], PoolKind] = {
    (False, "max"): "maxpool", (False, "avg"): "avgpool",
    (True, "max"): "adaptive_maxpool", (True, "avg"): "adaptive_avgpool",
}


def _pool(s: _Subject) -> OpKind:
    """Geometry from the call; max or average by measurement (an identity keeps its declared type)."""
    r = s.unit.recs[0]
    sig = bind(r.name, r.args, r.kwargs)
    adaptive = r.name.startswith("adaptive")
    a = s.attrs
    a["identity"] = all(m.recs[0].info.get("identity", False) for m in s.members)
    if adaptive:
        a["output_size"] = _pair(sig.get("output_size"))
        geo = [adaptive_geometry(i, o) for i, o in zip(s.in_shape[-2:], s.out_shape[-2:], strict=False)]
        a["kernel_size"] = _pair([g.kernel for g in geo])
        a["stride"] = _pair([g.stride if g.stride is not None else -1 for g in geo])
        a["padding"] = 0
    else:
        a["kernel_size"] = _pair(sig.get("kernel_size"))
        a["stride"] = _pair(sig.get("stride") or sig.get("kernel_size"))
        a["padding"] = _pair(sig.get("padding", 0))
        a["ceil_mode"] = bool(sig.get("ceil_mode", False))
    declared: PoolType = "max" if "max" in r.name else "avg" if "avg" in r.name else "other"
    typ = declared
    if s.measure and s.unit.fn is not None and s.in_shape:
        try:
            typ = pool_type(s.unit.fn, s.in_shape, s.out_shape, sig, r.name, s.dtype)
        except Exception as exc:  # the layer is still placed by its call; pool.type errors with this
            a["type_unmeasured"] = first_line(exc)
    a["type"] = typ
    return _POOL_KINDS.get((adaptive, typ if typ != "identity" else declared), "adaptive_pool" if adaptive else "pool")


def _dropout(s: _Subject) -> OpKind:
    r = s.unit.recs[0]
    sig = bind(r.name, r.args, r.kwargs)
    s.attrs.update(function=r.name, p=sig.get("p"), training=sig.get("training"))
    s.attrs.update(r.info)  # what the mask did in the real pass
    return "dropout"


def _pad(s: _Subject) -> OpKind:
    r = s.unit.recs[0]
    sig = bind(r.name, r.args, r.kwargs)
    s.attrs.update(pad=list(sig.get("pad") or []), mode=sig.get("mode", "constant"))
    return "pad"


def _other(s: _Subject) -> OpKind:
    return "other"


def _shaping(kind: Literal["reshape", "slice"]) -> Callable[[_Subject], OpKind]:
    """Reshapes and slices; one that drops dimensions is a flatten."""
    def handle(s: _Subject) -> OpKind:
        return "flatten" if len(s.out_shape) < len(s.in_shape) else kind
    return handle


def _same(kind: OpKind) -> Callable[[_Subject], OpKind]:
    """Kinds reported as they were recorded."""
    def handle(s: _Subject) -> OpKind:
        return kind
    return handle


_HANDLERS: dict[RawKind, Callable[[_Subject], OpKind]] = {
    "conv": _conv, "linear": _linear, "act": _activation, "region": _region, "lrn": _lrn, "pool": _pool,
    "dropout": _dropout, "pad": _pad, "math": _other, "reshape": _shaping("reshape"), "slice": _shaping("slice"),
    "cat": _same("cat"), "batchnorm": _same("batchnorm"), "norm": _same("norm"), "softmax": _same("softmax"),
    "log_softmax": _same("log_softmax"),
}
assert set(_HANDLERS) == set(get_args(RawKind)), "every raw kind needs a handler"
