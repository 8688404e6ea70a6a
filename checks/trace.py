"""Run the model once on a concrete input and record what executes (DESIGN.md, 'Probes measure
behaviour, not declarations').

One forward pass (batch 2, fixed seed, eval mode) runs under module forward hooks plus a
`torch.overrides.TorchFunctionMode`, so functional calls (`F.relu`, `F.conv2d`, ...), tensor
methods (`x.relu()`), hand-written modules and data-dependent control flow are all seen as they
run; nothing is traced symbolically and no class name is trusted.

The raw op log is turned into a list of logical ops:
- ops that do not contribute to the output (control-flow probes such as `if x.mean() > 0`) are
  dropped by backward reachability from the output;
- a module whose own `forward` does arithmetic (pow, sum, div, ...) and has no conv/linear inside,
  and a run of such arithmetic in a parent's forward, becomes one region that is classified by
  MEASURING its input/output relation: an elementwise activation (curve matched), a §3.3 response
  normalisation (fitted), or `other`;
- two conv (or linear) calls on slices of one tensor whose outputs are `torch.cat`ed become one
  logical layer (explicit two-tower form) whose groups are measured from channel connectivity;
- a zero `pad` right before a conv is folded into that conv's effective padding;
- activations are classified by their measured response, pools by their outputs (max vs average),
  LRN parameters by a numerical fit of b = a / (k + alpha * sum a^2)^beta (alpha on the plain sum).

Layers are named in execution order: conv1, conv2, ... and fc6, fc7, ... (extra ones continue).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

__all__ = ["Op", "Trace", "get_trace", "get_train_trace", "build_trace", "classify_elementwise", "fit_lrn",
           "measure_groups", "make_input", "nonfinite_reason", "replay", "one_thread", "ACTIVATIONS", "POOLS"]

# Measured elementwise non-linearities (Op.kind values).
ACTIVATIONS = frozenset({
    "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "mish", "softplus", "elu", "selu",
    "celu", "hardtanh", "hardswish", "hardsigmoid", "softsign", "elementwise",
})
POOLS = frozenset({"maxpool", "avgpool", "adaptive_maxpool", "adaptive_avgpool", "pool"})
DROPOUTS = frozenset({"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"})

_ACT_NAMES = {
    "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "gelu", "elu", "selu", "celu", "silu", "mish", "softplus",
    "hardtanh", "hardswish", "hardsigmoid", "prelu", "rrelu", "threshold", "softsign", "logsigmoid",
}
_RESHAPE_NAMES = {
    "view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous", "clone", "to", "float", "double",
    "detach", "type", "cpu", "permute", "transpose", "t", "__get__", "view_as", "reshape_as", "expand",
    "expand_as",
}
_SLICE_NAMES = {"__getitem__", "chunk", "split", "narrow", "tensor_split", "unbind", "select", "split_with_sizes"}


# ------------------------------------------------------------------ public records -------------

@dataclass(frozen=True)
class Op:
    """One logical step of the forward pass, as it executed."""

    kind: str  # conv, linear, relu, lrn, maxpool, avgpool, dropout, pad, flatten, tanh, ... (measured)
    name: str  # conv1..conv5, fc6..fc8 (extras continue) for weight layers; "" otherwise
    module_path: str  # module that ran it ("" root); merged towers: the parts joined by "+"
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    attrs: dict = field(default_factory=dict)
    parts: tuple[str, ...] = ()  # module paths of the calls merged into this logical layer
    params: int = 0  # unique parameters (weights + biases) used by this logical layer


@dataclass
class Trace:
    ops: list[Op]
    input_shape: tuple
    output_shape: tuple
    # measurement handles aligned with `ops` (callables, tensors); not part of the public record
    details: list[Any] = field(default_factory=list, repr=False, compare=False)
    output: Any = field(default=None, repr=False, compare=False)
    param_count: int = 0  # unique parameters used by the forward pass
    registered_params: int = 0  # unique parameters registered on the model
    training: bool = False

    def layers(self) -> dict[str, Op]:
        """Paper name -> logical conv/linear layer, in execution order."""
        return {op.name: op for op in self.ops if op.name}

    def index(self, name: str) -> int:
        for i, op in enumerate(self.ops):
            if op.name == name:
                return i
        raise KeyError(name)

    def block_of(self, i: int) -> str:
        """The weight layer that precedes op i ('input' when none)."""
        for j in range(i - 1, -1, -1):
            if self.ops[j].name:
                return self.ops[j].name
        return "input"

    def labels(self) -> list[str]:
        """A readable label per op: layer names, and pool5 / lrn1 / relu3 after their conv block."""
        out: list[str] = []
        seen: dict[str, int] = {}
        for i, op in enumerate(self.ops):
            if op.name:
                out.append(op.name)
                continue
            block = self.block_of(i)
            role = "pool" if op.kind in POOLS else ("relu" if op.kind in ACTIVATIONS else op.kind)
            num = block[4:] if block.startswith("conv") else block[2:] if block.startswith("fc") else "0"
            base = f"{role}{num}" if block.startswith("conv") else f"{role}_{block}"
            seen[base] = seen.get(base, 0) + 1
            out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
        return out

    def where(self, i: int) -> str:
        op = self.ops[i]
        return op.module_path or op.attrs.get("weight_name", "") or "<forward>"


@dataclass
class Detail:
    """Measurement handles of one logical op."""

    fn: Callable[[torch.Tensor], torch.Tensor] | None = None  # input -> output of this op, replayable
    members: list[Any] = field(default_factory=list)  # per-tower Details of a merged op
    weights: list[torch.Tensor] = field(default_factory=list)
    biases: list[torch.Tensor] = field(default_factory=list)
    recs: list[Any] = field(default_factory=list)  # raw records (dropout checks)
    inp: Any = None
    out: Any = None


# ------------------------------------------------------------------ recording ------------------

@dataclass(eq=False)
class _Rec:
    i: int
    func: Any
    name: str
    path: str
    args: tuple
    kwargs: dict
    out: Any
    data_in: list[int]
    out_ids: list[int]
    kind: str
    wparams: list[torch.Tensor] = field(default_factory=list)
    bparams: list[torch.Tensor] = field(default_factory=list)
    info: dict = field(default_factory=dict)


@dataclass(eq=False)
class _Call:
    path: str
    module: nn.Module
    start: int
    inp: Any
    end: int = -1
    out: Any = None


def _flat(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _flat(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _flat(o)]
    return []


def _fname(func: Any) -> str:
    name = getattr(func, "__name__", str(func))
    if name.endswith("_") and not name.startswith("__"):
        name = name[:-1]
    return name


def _raw_kind(name: str, args: tuple) -> str:
    x = next((a for a in args if isinstance(a, torch.Tensor)), None)
    nd = x.dim() if x is not None else -1
    if name == "conv2d":
        return "conv"
    if name in ("linear", "addmm"):
        return "linear"
    if name in _ACT_NAMES:
        return "act"
    if name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
                "lp_pool2d", "fractional_max_pool2d"):
        return "pool" if nd in (3, 4) else "math"
    if name == "local_response_norm":
        return "lrn"
    if name in DROPOUTS:
        return "dropout"
    if name in ("pad", "constant_pad_nd"):
        return "pad" if nd == 4 else "math"
    if name in ("cat", "concat", "concatenate"):
        return "cat"
    if name in _SLICE_NAMES:
        return "slice"
    if name in _RESHAPE_NAMES:
        return "reshape"
    if name == "batch_norm":
        return "batchnorm"
    if name in ("layer_norm", "group_norm", "instance_norm"):
        return "norm"
    if name in ("softmax", "log_softmax"):
        return name
    return "math"


def _bind(names: tuple[str, ...], defaults: dict, args: tuple, kwargs: dict) -> dict:
    out = dict(defaults)
    out.update(zip(names, args))
    out.update({k: v for k, v in kwargs.items() if k in names})
    return out


_SIGS = {
    "conv2d": (("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
               {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}),
    "linear": (("input", "weight", "bias"), {"bias": None}),
    "addmm": (("bias", "input", "weight"), {}),
    "max_pool2d": (("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                   {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}),
    "avg_pool2d": (("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
                   {"stride": None, "padding": 0, "ceil_mode": False}),
    "adaptive_avg_pool2d": (("input", "output_size"), {}),
    "adaptive_max_pool2d": (("input", "output_size", "return_indices"), {}),
    "local_response_norm": (("input", "size", "alpha", "beta", "k"), {"alpha": 1e-4, "beta": 0.75, "k": 1.0}),
    "dropout": (("input", "p", "training", "inplace"), {"p": 0.5, "training": True, "inplace": False}),
    "pad": (("input", "pad", "mode", "value"), {"mode": "constant", "value": None}),
    "constant_pad_nd": (("input", "pad", "value"), {"value": 0}),
    "cat": (("tensors", "dim"), {"dim": 0}),
}


def _sig(name: str, args: tuple, kwargs: dict) -> dict:
    key = "max_pool2d" if name == "max_pool2d_with_indices" else name
    key = "dropout" if key in DROPOUTS else key
    key = "cat" if key in ("concat", "concatenate") else key
    if key not in _SIGS:
        return {}
    names, defaults = _SIGS[key]
    return _bind(names, defaults, args, kwargs)


class _Recorder(TorchFunctionMode):
    def __init__(self, data_ids: set[int]):
        super().__init__()
        self.recs: list[_Rec] = []
        self.stack: list[str] = []
        self.data = data_ids
        self.psrc: dict[int, list[torch.Tensor]] = {}
        self.keep: list[Any] = []

    def _params_of(self, obj: Any) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for t in _flat(obj):
            if isinstance(t, nn.Parameter):
                out.append(t)
            else:
                out.extend(self.psrc.get(id(t), []))
        return out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # An in-place dropout (nn.Dropout(inplace=True), F.dropout_) overwrites its input: keep a
        # copy so the mask it applied can still be seen by comparing input and output.
        before = None
        if _raw_kind(_fname(func), args) == "dropout":
            first = next((t for t in _flat(args) + _flat(kwargs) if id(t) in self.data), None)
            before = first.detach().clone() if isinstance(first, torch.Tensor) else None
        out = func(*args, **kwargs)
        outs = _flat(out)
        if not outs:
            return out  # size(), dim(), __bool__, ...: not a tensor op
        ins = _flat(args) + _flat(kwargs)
        data_in = list(dict.fromkeys(id(t) for t in ins if id(t) in self.data))
        if not data_in:  # a weight-side computation (w.t(), torch.zeros, ...): remember its parameters
            ps = self._params_of((args, kwargs))
            for t in outs:
                self.psrc[id(t)] = ps
            self.keep.append(out)
            return out
        for t in outs:
            self.data.add(id(t))
        name = _fname(func)
        rec = _Rec(len(self.recs), func, name, self.stack[-1] if self.stack else "", args, kwargs, out,
                   data_in, [id(t) for t in outs], _raw_kind(name, args))
        if rec.kind in ("conv", "linear"):
            sig = _sig(name, args, kwargs)
            rec.wparams = self._params_of(sig.get("weight"))
            rec.bparams = self._params_of(sig.get("bias"))
        elif rec.kind in ("pool", "dropout", "pad"):
            x = before if before is not None else (ins[0] if ins else None)
            y = outs[0]
            if isinstance(x, torch.Tensor) and x.shape == y.shape:
                rec.info["identity"] = bool(y is x or torch.equal(x, y))
                if rec.kind == "dropout":
                    nz = x != 0
                    rec.info["nonzero_in"] = int(nz.sum())
                    rec.info["zeroed"] = int((nz & (y == 0)).sum())
                    ratio = (y[nz] / x[nz]) if int(nz.sum()) else torch.ones(1)
                    rec.info["const_scale"] = bool(int(nz.sum()) == 0 or
                                                   torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio),
                                                                  rtol=1e-5, atol=0))
                    rec.info["scale"] = float(ratio.flatten()[0]) if ratio.numel() else 1.0
        self.recs.append(rec)
        return out


# ------------------------------------------------------------------ replay ---------------------

def _sub(obj: Any, env: dict[int, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        return env.get(id(obj), obj)
    if isinstance(obj, torch.Size):
        return obj
    if isinstance(obj, list):
        return [_sub(o, env) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_sub(o, env) for o in obj)
    if isinstance(obj, dict):
        return {k: _sub(v, env) for k, v in obj.items()}
    return obj


def _replay(recs: list[_Rec], env: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    env = dict(env)
    for r in recs:
        out = r.func(*_sub(r.args, env), **_sub(r.kwargs, env))
        for old, new in zip(_flat(r.out), _flat(out)):
            env[id(old)] = new
    return env


replay = _replay


def _replayer(recs: list[_Rec], in_id: int, out_id: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return _replay(recs, {in_id: x.clone()})[out_id]
    return fn


# ------------------------------------------------------------------ measurements ---------------

def _probe_dtype(fn: Callable, shape: tuple[int, ...], preferred: torch.dtype) -> tuple[torch.dtype, tuple[int, ...]]:
    """(dtype, shape) to re-run fn with: float64 when it accepts one (exact fits), else the model's
    dtype; a small shape (batch 1, at most 8x8 positions) when fn accepts it, else `shape`."""
    shape = tuple(shape)
    small = (1, shape[1], *[min(s, 8) for s in shape[2:]]) if len(shape) > 2 else (1, *shape[1:])
    for dt in (torch.float64, preferred):
        for shp in dict.fromkeys([small, shape]):
            try:
                y = fn(torch.zeros(shp, dtype=dt))
            except Exception:
                continue
            if isinstance(y, torch.Tensor) and (shp == shape or tuple(y.shape) == shp):
                return dt, shp
    raise RuntimeError("the op could not be re-run on a crafted input")


def _candidates(x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "relu": x.clamp(min=0), "relu6": x.clamp(0, 6), "hardtanh": x.clamp(-1, 1), "tanh": torch.tanh(x),
        "sigmoid": torch.sigmoid(x), "gelu": F.gelu(x), "gelu_tanh": F.gelu(x, approximate="tanh"),
        "silu": F.silu(x), "mish": F.mish(x), "softplus": F.softplus(x), "elu": F.elu(x), "selu": F.selu(x),
        "celu": F.celu(x), "hardswish": F.hardswish(x), "hardsigmoid": F.hardsigmoid(x), "softsign": F.softsign(x),
    }


def classify_elementwise(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...],
                         dtype: torch.dtype = torch.float32) -> tuple[str | None, dict]:
    """Classify fn by its measured response on a probe vector in [-8, 8] spread over a tensor of `shape`.

    Returns (kind, attrs); kind None when fn is not elementwise (an output depends on more than its
    own input element). Kinds: an activation name, 'identity', 'scale', or 'elementwise' (unknown).
    """
    dt, shape = _probe_dtype(fn, shape, dtype)
    n = math.prod(shape)
    npts = max(2, min(1601, n // 4))  # each probe value at >= 4 random places
    probe = torch.linspace(-8.0, 8.0, npts, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    slot = torch.randperm(n, generator=gen) % npts
    x = probe[slot].to(dt).reshape(shape)
    with torch.no_grad():
        y = fn(x.clone())
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != tuple(shape):
        return None, {}
    y = y.detach().to(torch.float64).flatten()
    if not torch.isfinite(y).all():
        return None, {}
    lo = torch.full((npts,), math.inf, dtype=torch.float64).scatter_reduce(0, slot, y, "amin")
    hi = torch.full((npts,), -math.inf, dtype=torch.float64).scatter_reduce(0, slot, y, "amax")
    if ((hi - lo).abs() > 1e-6 * (1 + lo.abs())).any():
        return None, {}  # the same input value gives different outputs: not elementwise
    spots = torch.tensor([0, n // 3, (2 * n) // 3, n - 1]).unique()
    x2 = x.clone().reshape(-1)
    x2[spots] += 1.0
    with torch.no_grad():
        y2 = fn(x2.reshape(shape)).detach().to(torch.float64).flatten()
    keep = torch.ones(n, dtype=torch.bool)
    keep[spots] = False
    if ((y2 - y)[keep].abs() > 1e-9 * (1 + y[keep].abs())).any():
        return None, {}  # moving one element moves others: not elementwise
    xv, yv = probe, lo
    tol = 1e-5 + 1e-4 * yv.abs()
    pos, neg = xv > 0, xv < 0

    def fits(ref: torch.Tensor) -> bool:
        return bool(((yv - ref).abs() <= tol + 1e-4 * ref.abs()).all())

    if fits(xv):
        return "identity", {}
    nz = xv.abs() > 1e-3
    c = float((yv[nz] / xv[nz]).median()) if nz.any() else 0.0
    if c != 0 and fits(c * xv):
        return "scale", {"factor": round(c, 6)}
    for name, ref in _candidates(xv).items():
        if fits(ref):
            return ("gelu" if name.startswith("gelu") else name), ({"approximate": "tanh"} if name == "gelu_tanh" else {})
    if neg.any() and pos.any() and fits(torch.where(pos, xv, yv)):  # identity on x > 0
        s = float((yv[neg] / xv[neg]).median())
        if 0 < s < 1 and fits(torch.where(xv >= 0, xv, s * xv)):
            return "leaky_relu", {"negative_slope": round(s, 6)}
        e = torch.expm1(xv[neg])
        a = float((yv[neg] / e).median())
        if a > 0 and fits(torch.where(xv > 0, xv, a * torch.expm1(xv))):
            return "elu", {"alpha": round(a, 6)}
    return "elementwise", {"probe_min": round(float(yv.min()), 6), "probe_max": round(float(yv.max()), 6)}


def _positions(shape: tuple[int, ...]) -> int:
    return shape[0] * (math.prod(shape[2:]) if len(shape) > 2 else 1)


def _set(x: torch.Tensor, p: int, c: int, v: float) -> None:
    rest = x.shape[2:]
    b, r = divmod(p, math.prod(rest) if rest else 1)
    idx = [b, c]
    for s in reversed(rest):
        idx.insert(2, r % s)
        r //= s
    x[tuple(idx)] = v


def _rows(y: torch.Tensor) -> torch.Tensor:
    """(positions, channels) view of y."""
    return y.movedim(1, -1).reshape(-1, y.shape[1])


def fit_lrn(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...],
            dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """Fit b_i = a_i / (k + alpha * sum_{j in window(i)} a_j^2)^beta to fn on crafted inputs.

    alpha is the coefficient of the PLAIN sum of squares (the paper's convention, so PyTorch
    `LocalResponseNorm(5, alpha=5e-4)` measures 1e-4). Returns n (window width, measured with a
    channel impulse), k, alpha, beta, the window offsets, the fit residual (rms of log error) and
    'per_position' (whether the op mixes spatial positions, which an LRN never does).
    """
    if len(shape) < 2 or shape[1] < 2:
        raise ValueError("not a channel tensor")
    dt, shape = _probe_dtype(fn, shape, dtype)
    C = shape[1]
    m = C // 2
    P = _positions(shape)
    ones = torch.ones(shape, dtype=dt)
    with torch.no_grad():
        base = fn(ones.clone()).to(torch.float64)
        # impulses of growing size at different positions reveal the window
        x = ones.clone()
        amps = [1e2, 1e3, 1e4]
        used = list(range(min(len(amps), P)))
        for p in used:
            _set(x, p, m, amps[p])
        y = fn(x).to(torch.float64)
    per_position = True
    if P > len(used):
        rest_y = y.movedim(1, -1).reshape(P, C)[len(used):]
        rest_b = base.movedim(1, -1).reshape(P, C)[len(used):]
        per_position = bool(((rest_y - rest_b).abs() <= 1e-6 * rest_b.abs() + 1e-12).all())
    n, lo, hi = 0, 0, 0
    yr, br = _rows(y), _rows(base)
    for p in used:
        d = (yr[p] - br[p]).abs() > 1e-5 * br[p].abs() + 1e-12
        d[m] = False
        idx = torch.nonzero(d).flatten().tolist()
        lo_p = m - min(idx + [m])
        hi_p = max(idx + [m]) - m
        if lo_p + hi_p + 1 > n:
            n, lo, hi = lo_p + hi_p + 1, lo_p, hi_p
    # magnitude sweep on one channel with silent neighbours: g = a / b = (k + alpha a^2)^beta
    a = torch.logspace(-2, 4, 49, dtype=torch.float64)
    gs: list[float] = []
    done = 0
    while done < len(a):
        x = torch.zeros(shape, dtype=dt)
        cnt = min(P, len(a) - done)
        for p in range(cnt):
            _set(x, p, m, float(a[done + p]))
        with torch.no_grad():
            y = fn(x).to(torch.float64)
        yr = _rows(y)
        gs.extend(float(yr[p, m]) for p in range(cnt))
        done += cnt
    b = torch.tensor(gs, dtype=torch.float64)
    out: dict[str, Any] = {"n": n, "window": [-lo, hi], "per_position": per_position}
    if not (b > 0).all() or not torch.isfinite(b).all():
        out.update(k=None, alpha=None, beta=None, residual=math.inf)
        return out
    g = a / b
    k, alpha, beta, res = _fit_power(a ** 2, g)
    out.update(k=k, alpha=alpha, beta=beta, residual=res)
    return out


def _fit_power(u: torch.Tensor, g: torch.Tensor) -> tuple[float, float, float, float]:
    """Least squares for log g = beta * log(k + alpha u): grid on beta, linear solve for k, alpha."""
    lg = torch.log(g)

    def solve(beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.exp(lg[None, :] / beta[:, None])  # (B, N): k + alpha u when beta is right
        w = 1.0 / h
        A0, A1 = w, u[None, :] * w  # weighted rows; target 1
        s00, s01, s11 = (A0 * A0).sum(1), (A0 * A1).sum(1), (A1 * A1).sum(1)
        t0, t1 = A0.sum(1), A1.sum(1)
        det = s00 * s11 - s01 * s01
        k = (t0 * s11 - t1 * s01) / det
        al = (s00 * t1 - s01 * t0) / det
        pred = k[:, None] + al[:, None] * u[None, :]
        ok = (pred > 0).all(1)
        res = torch.where(ok, ((beta[:, None] * torch.log(pred.clamp(min=1e-300)) - lg[None, :]) ** 2).mean(1).sqrt(),
                          torch.full_like(beta, math.inf))
        return k, al, res

    betas = torch.arange(0.1, 3.0, 0.005, dtype=torch.float64)
    _, _, res = solve(betas)
    best = float(betas[int(torch.argmin(res))])
    lo, hi = best - 0.01, best + 0.01
    for _ in range(3):  # zoom in
        fine = torch.linspace(lo, hi, 201, dtype=torch.float64)
        _, _, res = solve(fine)
        j = int(torch.argmin(res))
        step = float(fine[1] - fine[0])
        best = float(fine[j])
        lo, hi = best - 2 * step, best + 2 * step
    k, al, res = solve(torch.tensor([best], dtype=torch.float64))
    return float(k[0]), float(al[0]), best, float(res[0])


def measure_groups(fn: Callable[[torch.Tensor], torch.Tensor], c_in: int, spatial: tuple[int, int],
                   dtype: torch.dtype = torch.float32) -> tuple[int | str, list[list[int]]]:
    """Which input channels influence which output channels: perturb one input channel per sample.

    Returns (groups, blocks): groups is g when the connectivity is g equal diagonal blocks, else
    'irregular'; blocks lists, per distinct input pattern, [first_in, last_in, first_out, last_out].
    """
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        x = torch.zeros((c_in, c_in, *spatial), dtype=dtype)
        pattern = 1e3 * torch.randn((c_in, *spatial), generator=gen, dtype=dtype)
        x[torch.arange(c_in), torch.arange(c_in)] = pattern
        y = fn(x)
        y0 = fn(torch.zeros((1, c_in, *spatial), dtype=dtype))
    d = (y - y0).abs().flatten(2).amax(2)  # (c_in, c_out)
    # unconnected pairs give exactly 0 (the computation never touches them); the large input keeps
    # every connected product far above the rounding of the bias
    conn = (d > 0).T  # (c_out, c_in)
    c_out = conn.shape[0]
    # the largest g whose block-diagonal holds every connection (pairs outside the blocks are exactly
    # unconnected) and is itself densely connected (an exactly-zero weight may leave a hole)
    o_idx, i_idx = torch.arange(c_out), torch.arange(c_in)
    for g in sorted((d for d in range(1, math.gcd(c_in, c_out) + 1) if c_in % d == 0 and c_out % d == 0),
                    reverse=True):
        mask = (o_idx // (c_out // g))[:, None] == (i_idx // (c_in // g))[None, :]
        if not bool((conn & ~mask).any()) and float(conn[mask].float().mean()) >= 0.9:
            return g, []
    uniq, inverse = torch.unique(conn, dim=0, return_inverse=True)
    blocks = []
    for j in range(min(len(uniq), 16)):
        ins = torch.nonzero(uniq[j]).flatten()
        outs = torch.nonzero(inverse == j).flatten()
        blocks.append([int(ins[0]) if len(ins) else -1, int(ins[-1]) if len(ins) else -1, int(outs[0]), int(outs[-1])])
    return "irregular", sorted(blocks, key=lambda b: b[2])


def _pool_type(fn: Callable, in_shape: tuple[int, ...], out_shape: tuple[int, ...], sig: dict, name: str,
               dtype: torch.dtype) -> str:
    """'max' or 'avg' by comparing the op's output with both on a random input, else 'other'."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn((1, *in_shape[1:]), generator=gen, dtype=dtype)
    with torch.no_grad():
        y = fn(x)
        if isinstance(y, (tuple, list)):
            y = y[0]
        if name.startswith("adaptive"):
            refs = {"max": F.adaptive_max_pool2d(x, out_shape[-2:]), "avg": F.adaptive_avg_pool2d(x, out_shape[-2:])}
        else:
            k, s, p = sig.get("kernel_size"), sig.get("stride") or sig.get("kernel_size"), sig.get("padding", 0)
            cm = bool(sig.get("ceil_mode", False))
            refs = {"max": F.max_pool2d(x, k, s, p, ceil_mode=cm),
                    "avg": F.avg_pool2d(x, k, s, p, ceil_mode=cm,
                                        count_include_pad=sig.get("count_include_pad", True))}
    if y.shape == x.shape and torch.equal(y, x):
        return "identity"
    for kind, ref in refs.items():
        if ref.shape == y.shape and torch.allclose(ref, y, rtol=1e-5, atol=1e-6):
            return kind
    return "other"


def _pair(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        v = tuple(int(x) for x in v)
        return v[0] if len(set(v)) == 1 else list(v)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _adaptive_geometry(n_in: int, n_out: int) -> tuple[int, int | None]:
    starts = [(i * n_in) // n_out for i in range(n_out)]
    ends = [-(-((i + 1) * n_in) // n_out) for i in range(n_out)]
    kern = max(e - s for s, e in zip(starts, ends))
    steps = {b - a for a, b in zip(starts, starts[1:])}
    return kern, (steps.pop() if len(steps) == 1 else (n_in if n_out == 1 else None))


# ------------------------------------------------------------------ units ----------------------

@dataclass(eq=False)
class _Unit:
    kind: str
    path: str
    pos: int
    recs: list[_Rec]
    data_in: list[int]
    out_ids: list[int]
    inp: Any
    out: Any
    fn: Callable | None = None
    name: str = ""  # raw function name
    attrs: dict = field(default_factory=dict)
    members: list[_Unit] = field(default_factory=list)
    pad: tuple[int, int, int, int] | None = None
    in_shape: tuple[int, ...] | None = None


def _shape(t: Any) -> tuple[int, ...]:
    t = _flat(t)
    return tuple(t[0].shape) if t else ()


def _units(recs: list[_Rec], calls: list[_Call], data_ids: set[int], tensors: dict[int, torch.Tensor]) -> list[_Unit]:
    # 1. modules whose own forward does arithmetic (and holds no conv/linear): opaque regions
    opaque: list[_Call] = []
    for c in sorted(calls, key=lambda c: (c.start, -c.end)):
        if c.path == "" or c.end < 0 or not isinstance(c.inp, torch.Tensor) or id(c.inp) not in data_ids:
            continue
        if not isinstance(c.out, torch.Tensor):
            continue
        if opaque and c.start < opaque[-1].end:
            continue  # nested in a region already taken
        inner = recs[c.start:c.end]
        if any(r.kind in ("conv", "linear") for r in inner):
            continue
        if any(r.path == c.path and r.kind == "math" for r in inner):
            opaque.append(c)
    units: list[_Unit] = []
    i = 0
    by_start = {c.start: c for c in opaque}
    while i < len(recs):
        c = by_start.get(i)
        if c is not None and c.end > c.start:
            mod = c.module
            inner = recs[c.start:c.end]

            def fn(x, mod=mod):
                with torch.no_grad():
                    return mod(x.clone())
            units.append(_Unit("region", c.path, i, inner, [id(c.inp)], [id(c.out)], c.inp, c.out, fn,
                               type(mod).__name__))
            i = c.end
            continue
        r = recs[i]
        inp = tensors.get(r.data_in[0]) if r.data_in else None
        units.append(_Unit(r.kind, r.path, i, [r], r.data_in, r.out_ids, inp, r.out, None, r.name))
        i += 1
    return units


def _main_path(units: list[_Unit], out_ids: list[int]) -> list[_Unit]:
    need = set(out_ids)
    keep: list[_Unit] = []
    for u in reversed(units):
        if need.intersection(u.out_ids):
            keep.append(u)
            need.update(u.data_in)
    return list(reversed(keep))


def _math_regions(units: list[_Unit]) -> list[_Unit]:
    """Runs of arithmetic in a parent's forward become regions (with their reshapes and slices).

    A run is cut where everything after a step depends only on that step's output (x.clamp(0)
    then an inline LRN are two regions), so each region is one function of one tensor.
    """
    glue = ("math", "reshape", "slice")
    out: list[_Unit] = []
    i = 0
    while i < len(units):
        if units[i].kind != "math":
            out.append(units[i])
            i += 1
            continue
        j = i
        while j < len(units) and units[j].kind in glue:
            j += 1
        while units[j - 1].kind != "math":
            j -= 1
        for seg in _cut(units[i:j]):
            out.append(_region(seg))
        i = j
    return out


def _cut(run: list[_Unit]) -> list[list[_Unit]]:
    segs: list[list[_Unit]] = []
    start = 0
    for j in range(len(run) - 1):
        if run[j].kind != "math" or not run[j].out_ids:
            continue
        later = {t for u in run[j + 1:] for t in u.data_in}
        earlier = {t for u in run[start:j] for t in u.out_ids} | {t for u in run[start:j + 1] for t in u.data_in}
        if later & earlier - set(run[j].out_ids) == set() and set(run[j].out_ids) & later:
            segs.append(run[start:j + 1])
            start = j + 1
    segs.append(run[start:])
    return [s for s in segs if s]


def _region(run: list[_Unit]) -> _Unit:
    produced = {t for u in run for t in u.out_ids}
    ext = list(dict.fromkeys(t for u in run for t in u.data_in if t not in produced))
    recs = [r for u in run for r in u.recs]
    reg = _Unit("region", run[0].path, run[0].pos, recs, ext, run[-1].out_ids, run[0].inp, run[-1].out,
                None, "+".join(u.name for u in run))
    if len(ext) == 1:
        reg.fn = _replayer(recs, ext[0], run[-1].out_ids[0])
    return reg


_PASSTHROUGH = {"act", "lrn", "pool", "dropout", "pad", "region", "batchnorm", "norm", "math"}


def _merge_towers(units: list[_Unit]) -> list[_Unit]:
    """Explicit two-tower layers: convs (or linears) on slices of one tensor, concatenated."""
    producers: dict[int, list[tuple[int, _Unit]]] = {}
    for pos, u in enumerate(units):
        for t in u.out_ids:
            producers.setdefault(t, []).append((pos, u))

    def prod(t: int, before: int) -> tuple[int, _Unit] | None:
        best = None
        for pos, u in producers.get(t, []):
            if pos < before:
                best = (pos, u)
        return best

    drop: set[int] = set()
    inserts: dict[int, list[_Unit]] = {}
    for pc, cat in enumerate(units):
        if cat.kind != "cat" or len(cat.data_in) < 2:
            continue
        sig = _sig("cat", cat.recs[0].args, cat.recs[0].kwargs)
        tensors = sig.get("tensors") or []
        if len(tensors) != len(cat.data_in) or sig.get("dim") not in (1, -3):
            continue
        towers = []
        for t in tensors:
            chain: list[tuple[int, _Unit]] = []
            hit = prod(id(t), pc)
            while hit is not None and hit[1].kind in _PASSTHROUGH and len(hit[1].data_in) == 1:
                chain.insert(0, hit)
                hit = prod(hit[1].data_in[0], hit[0])
            if hit is not None and hit[1].kind in ("conv", "linear"):
                w: _Unit | None = hit[1]
                pos, src = hit[0], hit[1].data_in[0]
            elif hit is not None and hit[1].kind == "slice" and chain:
                w, pos, src = None, chain[0][0], chain[0][1].data_in[0]  # per-half ops with no weights
            else:
                break
            slices: list[tuple[int, _Unit]] = []
            s = prod(src, pos)
            while s is not None and s[1].kind == "slice":
                slices.insert(0, s)
                src = s[1].data_in[0]
                s = prod(src, s[0])
            towers.append((src, slices, w, chain))
        if len(towers) != len(tensors) or len({t[0] for t in towers}) != 1:
            continue
        if len({t[2].kind if t[2] is not None else None for t in towers}) != 1 or \
                len({tuple(c[1].kind for c in t[3]) for t in towers}) != 1:
            continue
        if towers[0][2] is None and not all(t[1] for t in towers):
            continue
        src_id = towers[0][0]
        first_slice = towers[0][1][0][1] if towers[0][1] else None
        new: list[_Unit] = []
        ws = [t[2] for t in towers]
        if ws[0] is not None:
            recs: list[_Rec] = []
            seen: set[int] = set()
            for _, slices, w, _ in towers:
                for _, su in slices:
                    if id(su) not in seen:
                        seen.add(id(su))
                        recs.extend(su.recs)
                recs.extend(w.recs)
            conv_outs = [w.out_ids[0] for w in ws]

            def fn(x, recs=recs, src_id=src_id, conv_outs=conv_outs):
                with torch.no_grad():
                    env = _replay(recs, {src_id: x.clone()})
                    return torch.cat([env[o] for o in conv_outs], 1)
            src_tensor = first_slice.inp if first_slice is not None else ws[0].inp
            merged = _Unit(ws[0].kind, "+".join(w.path for w in ws), ws[0].pos, recs, [src_id], [], src_tensor,
                           None, fn, ws[0].name, members=ws)
            merged.out = torch.cat([_flat(w.out)[0] for w in ws], 1)
            new.append(merged)
        for j in range(len(towers[0][3])):
            mem = [t[3][j][1] for t in towers]
            mu = _Unit(mem[0].kind, "+".join(m.path for m in mem), mem[0].pos, [r for m in mem for r in m.recs],
                       [], [], None, None, mem[0].fn, mem[0].name, members=mem)
            mu.inp = torch.cat([m.inp for m in mem], 1) if all(isinstance(m.inp, torch.Tensor) for m in mem) else None
            mu.out = torch.cat([_flat(m.out)[0] for m in mem], 1)
            new.append(mu)
        new[0].data_in = [src_id]
        new[-1].out_ids = list(cat.out_ids)
        for _, slices, w, chain in towers:
            drop.update(id(su) for _, su in slices)
            if w is not None:
                drop.add(id(w))
            drop.update(id(c) for _, c in chain)
        drop.add(id(cat))
        inserts[pc] = new
    if not inserts:
        return units
    out: list[_Unit] = []
    for pos, u in enumerate(units):
        out.extend(inserts.get(pos, []))
        if id(u) not in drop:
            out.append(u)
    return out


def _fold_pads(units: list[_Unit]) -> list[_Unit]:
    out: list[_Unit] = []
    for u in units:
        if u.kind == "conv" and out and out[-1].kind == "pad":
            p = out[-1]
            sig = _sig(p.name, p.recs[0].args, p.recs[0].kwargs)
            pads = list(sig.get("pad") or [])
            value = sig.get("value") or 0
            if sig.get("mode", "constant") == "constant" and value == 0 and len(pads) in (2, 4) and \
                    p.out_ids and p.out_ids[0] in u.data_in:
                pads = pads + [0, 0] * ((4 - len(pads)) // 2)
                u.pad = tuple(int(v) for v in pads[:4])  # (left, right, top, bottom)
                u.in_shape = _shape(p.inp)
                u.attrs["pad_op"] = p.path or "F.pad"
                out.pop()
        out.append(u)
    return out


# ------------------------------------------------------------------ build ----------------------

def _param_names(model: nn.Module) -> dict[int, str]:
    return {id(p): n for n, p in model.named_parameters()}


def _unique(ts: list[torch.Tensor]) -> list[torch.Tensor]:
    seen: dict[int, torch.Tensor] = {}
    for t in ts:
        seen.setdefault(id(t), t)
    return list(seen.values())


def make_input(model: nn.Module, input_size: tuple[int, ...], *, seed: int = 0, batch: int = 2) -> torch.Tensor:
    """The audit's input: N(0, 1) of shape (batch, *input_size), seeded, in the model's dtype."""
    try:
        p0 = next(model.parameters())
        dtype = p0.dtype if p0.is_floating_point() else torch.float32
    except StopIteration:
        dtype = torch.float32
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *input_size), generator=gen).to(dtype)


def build_trace(model: nn.Module, input_size: tuple[int, ...], *, train: bool = False, measure: bool = True,
                seed: int = 0, batch: int = 2) -> Trace:
    """Run `model` once on a seeded (batch, *input_size) input and build the logical op list."""
    x = make_input(model, input_size, seed=seed, batch=batch)
    dtype = x.dtype
    names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
    data_ids = {id(x)}
    rec = _Recorder(data_ids)
    calls: list[_Call] = []
    stack_calls: list[_Call] = []

    def pre(mod, args):
        c = _Call(names.get(id(mod), "?"), mod, len(rec.recs), args[0] if args else None)
        calls.append(c)
        stack_calls.append(c)
        rec.stack.append(c.path)

    def post(mod, args, out):
        c = stack_calls.pop()
        rec.stack.pop()
        c.end, c.out = len(rec.recs), out

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    modes = {m: m.training for m in model.modules()}
    buffers = [(b, b.detach().clone()) for b in model.buffers()] if train else []
    model.train(train)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            with torch.no_grad(), rec:
                y = model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
        with torch.no_grad():
            for b, v in buffers:
                b.copy_(v)
    outs = _flat(y)
    if not outs:
        raise RuntimeError(f"the model returned {type(y).__name__}, not a tensor")
    out_t = outs[0]
    bad = nonfinite_reason(out_t, tuple(x.shape))
    if bad:
        raise ValueError(bad)
    tensors: dict[int, torch.Tensor] = {id(x): x}
    for r in rec.recs:
        for t in _flat(r.out):
            tensors[id(t)] = t
    units = _units(rec.recs, calls, data_ids, tensors)
    units = _main_path(units, [id(out_t)])
    units = _math_regions(units)
    for u in units:
        if u.fn is None and len(u.recs) == 1 and u.data_in and u.out_ids:
            u.fn = _replayer(u.recs, u.data_in[0], u.out_ids[0])
    units = _merge_towers(units)
    units = _fold_pads(units)

    pnames = _param_names(model)
    ops: list[Op] = []
    details: list[Detail] = []
    n_conv = n_fc = 0
    used_params: list[torch.Tensor] = []
    for r in rec.recs:
        used_params.extend(r.wparams + r.bparams)
    for u in units:
        for r in u.recs:
            for t in _flat((r.args, r.kwargs)):
                if isinstance(t, nn.Parameter):
                    used_params.append(t)
    for u in units:
        if u.in_shape is None:
            u.in_shape = _shape(u.inp)
    for u in units:
        kind, attrs, det = _describe(u, measure, dtype, pnames)
        if kind is None:
            continue
        name = ""
        params = 0
        parts: tuple[str, ...] = tuple(m.path for m in u.members) if u.members else ()
        if kind == "conv":
            n_conv += 1
            name = f"conv{n_conv}"
        elif kind == "linear":
            n_fc += 1
            name = f"fc{5 + n_fc}"
        if name:
            params = sum(int(t.numel()) for t in _unique(det.weights + det.biases))
        ops.append(Op(kind, name, u.path, tuple(u.in_shape), _shape(u.out), attrs, parts, params))
        details.append(det)
    return Trace(ops=ops, input_shape=tuple(x.shape), output_shape=tuple(out_t.shape), details=details,
                 output=out_t, param_count=sum(int(t.numel()) for t in _unique(used_params)),
                 registered_params=sum(int(p.numel()) for p in model.parameters()), training=train)


def _describe(u: _Unit, measure: bool, dtype: torch.dtype, pnames: dict[int, str]) -> tuple[str | None, dict, Detail]:
    det = Detail(fn=u.fn, recs=[r for r in u.recs], inp=u.inp, out=u.out)
    members = u.members or [u]
    det.members = [Detail(fn=m.fn, recs=list(m.recs), inp=m.inp, out=m.out) for m in members] if u.members else []
    attrs: dict[str, Any] = dict(u.attrs)
    kind = u.kind
    in_shape = tuple(u.in_shape or ())
    out_shape = _shape(u.out)
    if kind in ("reshape", "slice"):
        return ("flatten" if len(out_shape) < len(in_shape) else kind), attrs, det
    if kind in ("conv", "linear"):
        for m in members:
            r = m.recs[-1] if m.recs else None
            if r is not None:
                det.weights.extend(r.wparams)
                det.biases.extend(r.bparams)
        det.weights, det.biases = _unique(det.weights), _unique(det.biases)
        wn = [pnames.get(id(w), "<unregistered>") for w in det.weights]
        attrs["weight_name"] = ", ".join(wn)
        first = members[0].recs[-1]
        sig = _sig(first.name, first.args, first.kwargs)
        if kind == "linear":
            attrs["in_features"] = in_shape[-1] if in_shape else None
            attrs["out_features"] = out_shape[-1] if out_shape else None
            return kind, attrs, det
        weight = sig.get("weight")
        attrs["in_channels"] = in_shape[1] if len(in_shape) > 1 else None
        attrs["out_channels"] = out_shape[1] if len(out_shape) > 1 else None
        ks = {tuple(_flat(_sig(m.recs[-1].name, m.recs[-1].args, m.recs[-1].kwargs).get("weight"))[0].shape[2:])
              for m in members}
        attrs["kernel_size"] = _pair(sorted(ks)[0]) if len(ks) == 1 else [list(k) for k in sorted(ks)]
        st = {str(_sig(m.recs[-1].name, m.recs[-1].args, m.recs[-1].kwargs).get("stride")) for m in members}
        attrs["stride"] = _pair(sig.get("stride", 1)) if len(st) == 1 else sorted(st)
        pad = sig.get("padding", 0)
        if isinstance(pad, str):
            attrs["padding"] = pad
        else:
            ph, pw = (pad, pad) if isinstance(pad, int) else tuple(pad)
            l, r_, t, b = u.pad or (0, 0, 0, 0)
            eff = (l + pw, r_ + pw, t + ph, b + ph)
            attrs["padding"] = eff[0] if len(set(eff)) == 1 else list(eff)  # (left, right, top, bottom)
        attrs["dilation"] = _pair(sig.get("dilation", 1))
        attrs["groups_declared"] = sum(int(_sig(m.recs[-1].name, m.recs[-1].args, m.recs[-1].kwargs).get("groups", 1))
                                       for m in members)
        if measure and u.fn is not None and attrs["in_channels"]:
            kh, kw = weight.shape[2:] if isinstance(weight, torch.Tensor) else (1, 1)
            if isinstance(pad, str):
                spatial = (int(kh), int(kw))
            else:
                ph, pw = (pad, pad) if isinstance(pad, int) else tuple(pad)
                spatial = (max(1, int(kh) - 2 * int(ph)), max(1, int(kw) - 2 * int(pw)))
            try:
                g, blocks = measure_groups(u.fn, attrs["in_channels"], spatial, dtype)
            except Exception:
                g, blocks = measure_groups(u.fn, attrs["in_channels"], tuple(in_shape[2:]), dtype)
            attrs["groups"] = g
            if g == "irregular":
                attrs["connectivity"] = blocks[:8]
        else:
            attrs["groups"] = attrs["groups_declared"]
        return kind, attrs, det
    if kind == "act":
        attrs["function"] = u.name
        if not measure or u.fn is None:
            return (u.name if u.name in ACTIVATIONS else "elementwise"), attrs, det
        try:
            got, extra = classify_elementwise(u.fn, in_shape, dtype)
        except Exception:
            got, extra = None, {}
        attrs.update(extra)
        return (got or "other"), attrs, det
    if kind == "region":
        attrs["function"] = u.name
        if not measure or u.fn is None:
            return "other", attrs, det
        try:
            got, extra = classify_elementwise(u.fn, in_shape, dtype)
        except Exception:
            got, extra = None, {}
        if got is not None:
            attrs.update(extra)
            return got, attrs, det
        if len(in_shape) >= 3 and in_shape == out_shape:
            try:
                fit = fit_lrn(u.fn, in_shape, dtype)
            except Exception:
                fit = None
            if fit and fit["per_position"] and fit["residual"] < 1e-3 and (fit["alpha"] or 0) > 0 and fit["n"] > 1:
                attrs.update(_lrn_attrs(fit))
                return "lrn", attrs, det
        return "other", attrs, det
    if kind == "lrn":
        sig = _sig(u.name, u.recs[0].args, u.recs[0].kwargs)
        attrs["declared"] = {k: sig.get(k) for k in ("size", "alpha", "beta", "k")}
        if measure:
            fits = []
            for m in members:
                try:
                    fits.append(fit_lrn(m.fn, tuple(_shape(m.inp)), dtype))
                except Exception as exc:
                    fits.append({"error": f"{type(exc).__name__}: {exc}"})
            attrs.update(_lrn_attrs(fits[0]))
            if len(fits) > 1:
                attrs["towers"] = [_lrn_attrs(f) for f in fits]
        return kind, attrs, det
    if kind == "pool":
        r = u.recs[0]
        sig = _sig(r.name, r.args, r.kwargs)
        adaptive = r.name.startswith("adaptive")
        attrs["identity"] = all(m.recs[0].info.get("identity", False) for m in members)
        if adaptive:
            attrs["output_size"] = _pair(sig.get("output_size"))
            geo = [_adaptive_geometry(a, b) for a, b in zip(in_shape[-2:], out_shape[-2:])]
            attrs["kernel_size"] = _pair([g[0] for g in geo])
            attrs["stride"] = _pair([g[1] if g[1] is not None else -1 for g in geo])
            attrs["padding"] = 0
        else:
            attrs["kernel_size"] = _pair(sig.get("kernel_size"))
            attrs["stride"] = _pair(sig.get("stride") or sig.get("kernel_size"))
            attrs["padding"] = _pair(sig.get("padding", 0))
            attrs["ceil_mode"] = bool(sig.get("ceil_mode", False))
        typ = "max" if "max" in r.name else "avg" if "avg" in r.name else "other"
        if measure and u.fn is not None and in_shape:
            try:
                typ = _pool_type(u.fn, in_shape, out_shape, sig, r.name, dtype)
            except Exception:
                pass
        attrs["type"] = typ
        declared = "max" if "max" in r.name else "avg" if "avg" in r.name else "other"
        kind = ("adaptive_" if adaptive else "") + ({"max": "maxpool", "avg": "avgpool"}.get(
            typ if typ != "identity" else declared, "pool"))
        return kind, attrs, det
    if kind == "dropout":
        r = u.recs[0]
        sig = _sig(r.name, r.args, r.kwargs)
        attrs.update(function=r.name, p=sig.get("p"), training=sig.get("training"))
        attrs.update({k: v for k, v in r.info.items()})
        return "dropout", attrs, det
    if kind == "pad":
        r = u.recs[0]
        sig = _sig(r.name, r.args, r.kwargs)
        attrs.update(pad=list(sig.get("pad") or []), mode=sig.get("mode", "constant"))
        return "pad", attrs, det
    if kind == "math":
        return "other", attrs, det
    return kind, attrs, det


def _lrn_attrs(fit: dict) -> dict:
    if "error" in fit:
        return {"fit_error": fit["error"]}

    def r(v):
        return None if v is None else float(f"{v:.6g}")
    return {"n": fit["n"], "k": r(fit["k"]), "alpha": r(fit["alpha"]), "beta": r(fit["beta"]),
            "window": fit["window"], "fit_residual": float(f"{fit['residual']:.3g}")}


# ------------------------------------------------------------------ audit entry points ---------

@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the measurements single-threaded: they are many small ops, for which the intra-op thread
    pool costs more than it gains (10x slower on a shared 2-core machine); restored afterwards."""
    n = torch.get_num_threads()
    if n > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n > 1:
            torch.set_num_threads(n)


def nonfinite_reason(y: torch.Tensor, shape: tuple[int, ...]) -> str | None:
    """Why a model output cannot be audited (NaN or inf values), or None when it is finite."""
    if not (y.is_floating_point() or y.is_complex()):
        return None
    bad = int((~torch.isfinite(y)).sum())
    if not bad:
        return None
    kind = "NaN" if bool(torch.isnan(y).any()) else "inf"
    return f"the forward pass returned non-finite outputs ({bad} of {y.numel()} are {kind}) on a {shape} input"


def _build(ctx: Any, train: bool) -> Trace:
    with one_thread():
        return build_trace(ctx.model, tuple(ctx.target.input_size), train=train, measure=not train)


def get_trace(ctx: Any) -> Trace:
    """The audit's structural trace: eval mode, batch 2, seed 0; computed once per audit."""
    return ctx.cached("trace", lambda: _build(ctx, False))


def get_train_trace(ctx: Any) -> Trace:
    """The same input in train mode (dropout sites active); only names and raw dropout records."""
    return ctx.cached("trace_train", lambda: _build(ctx, True))
