"""Rebuild one measured op from its measurements alone (trace/rebuild): a weight layer from its
geometry and the weight its call used, an activation from its measured curve, the §3.3
normalisation from its fit, a pool from its measured type; observed calls (reshapes, slices, pads,
concatenations, calls named by their function) are replayed; a region the audit could only call
`other` is replayed too, and flagged opaque."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

_OBSERVED = frozenset({"flatten", "reshape", "slice", "cat", "pad", "softmax", "log_softmax", "batchnorm", "norm"})
_OPAQUE = frozenset({"other", "elementwise", "pool", "adaptive_pool"})


class Unexplained(Exception):
    """The measurements of one op are not enough to rebuild it; str() says why."""



def rel_error(a: Any, b: Any) -> float:
    """max |a - b| / max |b|; inf when the shapes differ."""
    import torch

    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
        return math.inf
    a64, b64 = a.detach().to(torch.float64), b.detach().to(torch.float64)
    scale = float(b64.abs().max()) if b64.numel() else 0.0
    diff = float((a64 - b64).abs().max()) if b64.numel() else 0.0
    if not math.isfinite(diff):
        return math.inf
    return diff / scale if scale > 0 else diff


# ------------------------------------------------------------------ rebuilding one op ----------

def _weight_rec(det: Any) -> Any:
    """The recorded call of a weight layer that carries its weight (the last with parameters)."""
    for r in reversed(det.recs):
        if r.kind in ("conv", "linear") or r.wparams:
            return r
    raise Unexplained("no recorded call carries the layer's weights")


def _folded_bias(det: Any, n: int) -> Any:
    """A bias added after the layer call (`x @ W.t() + b`): the one bias parameter of n values."""
    bs = [b for b in det.biases if b.dim() == 1 and b.shape[0] == n]
    return bs[0].detach() if len(bs) == 1 else None


def _tower_bias(member: Any, det: Any, n: int) -> Any:
    """The bias parameter (of n values) that one tower's recorded calls add, matched by storage:
    the towers' biases are recorded on the merged layer, the calls that use them on each tower."""
    import torch

    for r in member.recs:
        for arg in (*r.args, *r.kwargs.values()):
            if not isinstance(arg, torch.Tensor):
                continue
            for b in det.biases:
                if b.dim() == 1 and b.shape[0] == n and arg.numel() == n and arg.data_ptr() == b.data_ptr():
                    return b.detach()
    return None


def _conv_weight(op: Any, det: Any) -> tuple[Any, Any]:
    """(weight, bias) of a conv layer, towers concatenated along the output channels: the kernel
    the recorded call used, or (a hand-written unfold + matmul) its one parameter in kernel form."""
    import torch

    from ..signatures import bind

    a = op.attrs
    members = det.members or [det]
    ws, bs = [], []
    for m in members:
        r = _weight_rec(m)
        sig = bind(r.name, r.args, r.kwargs)
        w, b = sig.get("weight"), sig.get("bias")
        if not isinstance(w, torch.Tensor) or w.dim() != 4:
            ps = {id(p): p for p in r.wparams}
            kh, kw = _pair(a.get("kernel_size"))
            if len(ps) != 1 or not isinstance(a.get("out_channels"), int) or len(members) != 1:
                raise Unexplained(f"the weight of {op.name} is not a 4-d kernel")
            p = next(iter(ps.values())).detach()
            c_out = int(a["out_channels"])
            w = p.reshape(c_out, -1, kh, kw) if p.numel() % (c_out * kh * kw) == 0 else p
            b = None
        if not isinstance(b, torch.Tensor) and len(members) > 1:  # a tower's bias added after its call
            b = _tower_bias(m, det, int(w.shape[0]))
        ws.append(w.detach())
        bs.append(b.detach() if isinstance(b, torch.Tensor) else None)
    w = torch.cat(ws, 0)
    given = [b for b in bs if b is not None]
    bias = torch.cat(given, 0) if given and len(given) == len(bs) else None
    if given and bias is None:
        raise Unexplained(f"only some towers of {op.name} carry a bias")
    if bias is None:  # added after the call (or after the towers' concatenation)
        bias = _folded_bias(det, int(w.shape[0]))
    return w, bias


def _conv(op: Any, det: Any) -> Callable[[Any], Any]:
    import torch
    import torch.nn.functional as F

    a = op.attrs
    g, c_in, c_out = a.get("groups"), a.get("in_channels"), a.get("out_channels")
    if not isinstance(g, int) or not isinstance(c_in, int) or not isinstance(c_out, int) or g < 1:
        raise Unexplained(f"{op.name}: groups {g!r} cannot be built")
    w, bias = _conv_weight(op, det)
    if w.shape[0] != c_out or c_in % g or c_out % g:
        raise Unexplained(f"{op.name}: measured {c_in}->{c_out} channels in {g} groups do not fit a "
                          f"{list(w.shape)} weight")
    if w.shape[1] == c_in and g > 1:  # a full weight whose measured connectivity is block-diagonal
        ci, co = c_in // g, c_out // g
        w = torch.cat([w[j * co:(j + 1) * co, j * ci:(j + 1) * ci] for j in range(g)], 0)
    elif w.shape[1] * g != c_in:
        raise Unexplained(f"{op.name}: a {list(w.shape)} weight does not take {c_in} channels in {g} groups")
    if _pair(a.get("kernel_size")) != tuple(w.shape[2:]):
        raise Unexplained(f"{op.name}: measured kernel {a.get('kernel_size')} but the weight is {list(w.shape[2:])}")
    stride, dil, pad = a.get("stride", 1), a.get("dilation", 1), a.get("padding", 0)
    if isinstance(stride, list) and stride and isinstance(stride[0], str):
        raise Unexplained(f"{op.name}: the towers use different strides {stride}")
    moded, pad = _mode_padding(a, pad)
    pre: tuple[int, int, int, int] | None = None
    if isinstance(pad, list) and len(pad) == 4:
        pre, pad = (int(pad[0]), int(pad[1]), int(pad[2]), int(pad[3])), 0

    def fn(x: Any) -> Any:
        if moded is not None:  # a reflect / replicate / circular pad before the conv, as measured
            x = F.pad(x, moded[0], mode=moded[1])
        if pre is not None:
            x = F.pad(x, pre)
        return F.conv2d(x, w, bias, _tup(stride), pad if isinstance(pad, str) else _tup(pad), _tup(dil), g)
    return fn


def _mode_padding(a: dict[str, Any], pad: Any) -> tuple[tuple[tuple[int, ...], str] | None, Any]:
    """((amounts, F.pad mode) padded in the measured mode, the zero padding left to the conv)."""
    mode, amounts = a.get("padding_mode"), a.get("mode_padding")
    if not mode or not isinstance(amounts, list) or len(amounts) != 4 or isinstance(pad, str):
        return None, pad
    eff = [int(pad)] * 4 if isinstance(pad, int) else [int(v) for v in pad]
    rest = [e - int(m) for e, m in zip(eff, amounts, strict=True)]
    if any(v < 0 for v in rest):
        raise Unexplained(f"the {mode} padding {amounts} exceeds the measured padding {pad}")
    return (tuple(int(v) for v in amounts), "constant" if mode == "zeros" else str(mode)), \
        (rest[0] if len(set(rest)) == 1 else rest)


def _pair(v: Any) -> tuple[int, int]:
    t = _tup(v)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def _tup(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v)
    return (int(v),)


def _linear(op: Any, det: Any) -> Callable[[Any], Any]:
    """F.linear with the (out, in) matrix the recorded call used, whichever way it was written."""
    import torch
    import torch.nn.functional as F

    from ..signatures import bind

    r = _weight_rec(det)
    n_in, n_out = op.attrs.get("in_features"), op.attrs.get("out_features")
    sig = bind(r.name, r.args, r.kwargs)
    w, bias = sig.get("weight"), sig.get("bias") if r.name == "linear" else sig.get("bias")
    if r.name == "linear" and isinstance(w, torch.Tensor):
        mat = w.detach()
    elif r.name == "conv2d" and isinstance(w, torch.Tensor):  # a dense layer written as a whole-map convolution
        mat = w.detach().reshape(w.shape[0], -1)
        b = bias.detach() if isinstance(bias, torch.Tensor) else _folded_bias(det, int(n_out or 0))
        if tuple(mat.shape) != (n_out, n_in):
            raise Unexplained(f"{op.name}: measured {n_in}->{n_out} features do not fit a {list(w.shape)} kernel")
        return lambda x: F.linear(x.flatten(1), mat, b).reshape(x.shape[0], -1, *([1] * (x.dim() - 2)))
    else:  # addmm(b, x, W.t()), x @ W.t(), matmul(x, W): the operand that is not data is (in, out)
        consts = [t for t in r.args if isinstance(t, torch.Tensor) and id(t) not in set(r.data_in) and t.dim() == 2]
        if r.name != "addmm" and len(consts) != 1:
            raise Unexplained(f"{op.name}: no single weight matrix in the recorded {r.name} call")
        rhs = w if r.name == "addmm" else consts[0]
        if not isinstance(rhs, torch.Tensor) or rhs.dim() != 2:
            raise Unexplained(f"{op.name}: no weight matrix in the recorded {r.name} call")
        mat = rhs.detach().t()
        if r.name != "addmm":
            bias = None
    if tuple(mat.shape) != (n_out, n_in):
        raise Unexplained(f"{op.name}: measured {n_in}->{n_out} features do not fit a {list(mat.shape)} weight")
    b = bias.detach() if isinstance(bias, torch.Tensor) else _folded_bias(det, int(n_out or 0))
    return lambda x: F.linear(x, mat, b)


def activation_function(kind: str, a: dict[str, Any]) -> Callable[[Any], Any]:
    """The function of a measured activation (relu, tanh, leaky_relu with its slope, a scale, ...)."""
    import torch
    import torch.nn.functional as F

    named: dict[str, Callable[[Any], Any]] = {
        "relu": F.relu, "relu6": F.relu6, "hardtanh": F.hardtanh, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "silu": F.silu, "mish": F.mish, "softplus": F.softplus, "selu": F.selu, "celu": F.celu,
        "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "softsign": F.softsign,
        "identity": lambda x: x,
        "gelu": lambda x: F.gelu(x, approximate=a.get("approximate", "none")),
        "leaky_relu": lambda x: F.leaky_relu(x, float(a.get("negative_slope", 0.01))),
        "elu": lambda x: F.elu(x, float(a.get("alpha", 1.0))),
        "scale": lambda x: x * float(a.get("factor", 1.0)),
    }
    if kind not in named:
        raise Unexplained(f"no rebuild for a measured {kind}")
    return named[kind]


def lrn_function(fit: dict[str, Any]) -> Callable[[Any], Any]:
    """b = a / (k + alpha * sum_{window} a^2)^beta, alpha on the plain sum (the paper's §3.3 form)."""
    import torch

    if fit.get("fit_error") or fit.get("alpha") is None or not fit.get("window"):
        raise Unexplained(f"the normalisation was not fitted ({fit.get('fit_error') or 'no constants'})")
    lo, hi = -int(fit["window"][0]), int(fit["window"][1])
    k, alpha, beta = float(fit["k"]), float(fit["alpha"]), float(fit["beta"])
    if fit.get("irregular"):
        return _lrn_matrix(fit, lo, hi)

    def fn(x: Any) -> Any:
        sq = x * x
        c = x.shape[1]
        m = c // 2  # the fit's impulse channel: a window reaching every channel from it is a sum over all
        if lo >= m and hi >= c - 1 - m:
            s = sq.sum(1, keepdim=True).expand_as(sq)
        else:
            zeros = [sq.new_zeros((sq.shape[0], n, *sq.shape[2:])) for n in (lo, hi)]
            s = torch.cat([zeros[0], sq, zeros[1]], 1).unfold(1, lo + hi + 1, 1).sum(-1)
        return x / (k + alpha * s) ** beta
    return fn


def _lrn_matrix(fit: dict[str, Any], lo: int, hi: int) -> Callable[[Any], Any]:
    """The normalisation over the measured sources of each channel (a window of another shape)."""
    import torch

    from ..window import matrix

    k, alpha, beta, c = float(fit["k"]), float(fit["alpha"]), float(fit["beta"]), int(fit["channels"])
    m = matrix(c, lo, hi, bool(fit.get("local", True)), fit["irregular"])

    def fn(x: Any) -> Any:
        if x.shape[1] != c:
            raise Unexplained(f"the normalisation was measured on {c} channels, not {x.shape[1]}")
        s = torch.einsum("oc,nc...->no...", m.to(x.dtype), x * x)
        return x / (k + alpha * s) ** beta
    return fn


def _lrn(op: Any, det: Any) -> Callable[[Any], Any]:
    towers = op.attrs.get("towers")
    axis = op.attrs.get("channel_axis")
    if isinstance(axis, int):  # measured on a channels-last tensor: its channels moved to axis 1 and back
        one = lrn_function(op.attrs)
        return lambda x: one(x.movedim(axis, 1)).movedim(1, axis)
    if not towers:
        return lrn_function(op.attrs)
    fns = [lrn_function(t) for t in towers]
    return _per_member(det, fns)


def _per_member(det: Any, fns: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Apply fns[j] to the channel slice that tower j received, then concatenate."""
    import torch

    from ..record import shape_of

    sizes = [shape_of(m.inp)[1] if len(shape_of(m.inp)) > 1 else 0 for m in det.members]
    if len(sizes) != len(fns) or not all(sizes):
        raise Unexplained("the towers' inputs were not recorded")
    return lambda x: torch.cat([f(p) for f, p in zip(fns, torch.split(x, sizes, 1), strict=True)], 1)


def _pool(op: Any, det: Any) -> Callable[[Any], Any]:
    import torch.nn.functional as F

    from ..signatures import bind

    a = op.attrs
    if op.kind == "adaptive_maxpool":
        size = a.get("output_size")
        return lambda x: F.adaptive_max_pool2d(x, size)
    if op.kind == "adaptive_avgpool":
        size = a.get("output_size")
        return lambda x: F.adaptive_avg_pool2d(x, size)
    k, s, p, cm = _tup(a["kernel_size"]), _tup(a["stride"]), _tup(a.get("padding", 0)), bool(a.get("ceil_mode"))
    if op.kind == "maxpool":
        return lambda x: F.max_pool2d(x, k, s, p, ceil_mode=cm)
    if "count_include_pad" in a:  # measured (a pooling split from a fused region)
        cip = bool(a["count_include_pad"])
    else:
        r = det.recs[0]
        cip = bool(bind(r.name, r.args, r.kwargs).get("count_include_pad", True))
    return lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=cm, count_include_pad=cip)


def _replayed(det: Any) -> Callable[[Any], Any]:
    """The target's own call(s) for this op, on a new input (per tower for merged ops)."""
    if det.members and all(m.fn is not None for m in det.members):
        return _per_member(det, [m.fn for m in det.members])
    if det.fn is None:
        raise Unexplained("the op reads more than one tensor and cannot be replayed on its own")
    return det.fn


def rebuild_op(op: Any, det: Any) -> tuple[Callable[[Any], Any], bool]:
    """(the function the measurements say op computes, whether it is a replay of an opaque region)."""
    from .. import ACTIVATIONS, POOLS

    if op.kind == "conv":
        return _conv(op, det), False
    if op.kind == "linear":
        return _linear(op, det), False
    if op.kind == "lrn":
        return _lrn(op, det), False
    if op.kind in POOLS and op.kind != "pool" or op.kind in ("adaptive_maxpool", "adaptive_avgpool"):
        return _pool(op, det), False
    if op.kind == "dropout":
        if op.attrs.get("identity") is False:
            raise Unexplained("the dropout changes its input in eval mode")
        return (lambda x: x), False
    if op.kind in (ACTIVATIONS | {"identity", "scale"}) - {"elementwise"}:
        return activation_function(op.kind, op.attrs), False
    if op.kind in _OBSERVED:
        return _replayed(det), False
    if op.kind in _OPAQUE:
        return _replayed(det), True
    raise Unexplained(f"no rebuild for a measured {op.kind}")


