"""Record what one forward pass executes, call by call, with a `TorchFunctionMode`.

Functional calls, tensor methods and hand-written modules all pass through `__torch_function__`, so
they are seen as they run, whatever the model's form; nothing is traced symbolically and no class
name is trusted. A call is recorded when it consumes data (the input or anything computed from it);
weight-side computations (`w.t()`, `torch.zeros`) are only remembered for the parameters they carry.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from .kinds import ADDS, MATMULS, RANDOMS, RawKind, raw_kind
from .signatures import bind


@dataclass(eq=False)
class Rec:
    """One recorded call that consumed data."""

    i: int
    func: Callable[..., Any]
    name: str  # function name, trailing "_" of in-place variants dropped
    path: str  # module whose forward made the call ("" root)
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    out: Any
    data_in: list[int]  # ids of the data tensors it read
    out_ids: list[int]  # ids of the tensors it returned
    kind: RawKind
    wparams: list[torch.Tensor] = field(default_factory=list)
    bparams: list[torch.Tensor] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # identity / dropout mask facts seen in the real pass


@dataclass(eq=False)
class Call:
    """One module call, as the records [start, end) it spans."""

    path: str
    module: nn.Module
    start: int
    inp: Any
    end: int = -1
    out: Any = None


def flat(obj: Any) -> list[torch.Tensor]:
    """The tensors in obj, depth first (lists, tuples, dict values)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in flat(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in flat(o)]
    return []


def shape_of(t: Any) -> tuple[int, ...]:
    """Shape of the first tensor in t; () when there is none."""
    ts = flat(t)
    return tuple(ts[0].shape) if ts else ()


def unique(ts: list[torch.Tensor]) -> list[torch.Tensor]:
    """ts without repeats (by identity), first occurrence kept: shared weights count once."""
    seen: dict[int, torch.Tensor] = {}
    for t in ts:
        seen.setdefault(id(t), t)
    return list(seen.values())


def fname(func: Any) -> str:
    name = getattr(func, "__name__", str(func))
    if name.endswith("_") and not name.startswith("__"):
        name = name[:-1]
    return name


def dropout_info(x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """What the mask did in the real pass: units zeroed and whether survivors share one scale."""
    nz = x != 0
    ratio = (y[nz] / x[nz]) if int(nz.sum()) else torch.ones(1)
    return {
        "nonzero_in": int(nz.sum()),
        "zeroed": int((nz & (y == 0)).sum()),
        "const_scale": bool(int(nz.sum()) == 0 or
                            torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-5, atol=0)),
        "scale": float(ratio.flatten()[0]) if ratio.numel() else 1.0,
    }


# Methods that read their other tensor only for its shape or dtype (`self` carries the values).
_AS_TEMPLATE = frozenset({"expand_as", "view_as", "reshape_as", "type_as"})


class Recorder(TorchFunctionMode):
    def __init__(self, data_ids: set[int], params: list[torch.Tensor] | None = None):
        super().__init__()
        # the model's parameters by identity: a deep-copied TorchScript module returns plain tensors,
        # whose Python objects are held here so that their ids stay theirs for the whole pass
        self.held = list(params or [])
        self.params = {id(p) for p in self.held}
        self.recs: list[Rec] = []
        self.stack: list[str] = []  # module paths of the calls in progress
        self.data = data_ids
        self.psrc: dict[int, list[torch.Tensor]] = {}  # weight-side tensor id -> parameters it came from
        self.keep: list[Any] = []  # keeps weight-side tensors alive so their ids stay unique
        # With a TorchScript submodule the dispatcher-level recorder runs inside this one: `depth` > 0
        # while a Python-level call runs (its aten ops are not recorded twice), and `in_dispatch` while the
        # dispatcher-level recorder runs an op it records (that op is not recorded again here).
        self.depth = 0
        self.in_dispatch = False

    def _params_of(self, obj: Any) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for t in flat(obj):
            if isinstance(t, nn.Parameter) or id(t) in self.params:
                out.append(t)
            else:
                out.extend(self.psrc.get(id(t), []))
        return out

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        if self.in_dispatch:
            return func(*args, **(kwargs or {}))
        self.depth += 1
        try:
            return self.call(func, fname(func), args, kwargs or {})
        finally:
            self.depth -= 1

    def call(self, func: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run func(*args, **kwargs) and record it under `name` when it consumed data."""
        # An in-place dropout (nn.Dropout(inplace=True), F.dropout_) overwrites its input: keep a
        # copy so the mask it applied can still be seen by comparing input and output.
        before = None
        if raw_kind(name, args) == "dropout":
            first = next((t for t in flat(args) + flat(kwargs) if id(t) in self.data), None)
            before = first.detach().clone() if isinstance(first, torch.Tensor) else None
        out = func(*args, **kwargs)
        outs = flat(out)
        if not outs:
            return out  # size(), dim(), __bool__, ...: not a tensor op
        ins = flat(args) + flat(kwargs)
        data_in = list(dict.fromkeys(id(t) for t in ins if id(t) in self.data))
        # a weight-side computation (w.t(), torch.zeros, ...): remember its parameters; a random draw is data
        if not data_in and name not in RANDOMS:
            ps = self._params_of((args, kwargs))
            for t in outs:
                self.psrc[id(t)] = ps
            self.keep.append(out)
            return out
        for t in outs:
            self.data.add(id(t))
        rec = Rec(len(self.recs), func, name, self.stack[-1] if self.stack else "", args, kwargs, out,
                  data_in, [id(t) for t in outs], raw_kind(name, args))
        if rec.kind in ("conv", "linear"):
            sig = bind(name, args, kwargs)
            rec.wparams = self._params_of(sig.get("weight"))
            rec.bparams = self._params_of(sig.get("bias"))
            if not rec.wparams:  # a constant kernel (made in forward, or a buffer): arithmetic, not a layer
                rec.kind = "math"
        elif name in _AS_TEMPLATE and args and isinstance(args[0], torch.Tensor) and id(args[0]) not in self.data:
            # b.view(1, -1, 1, 1).expand_as(y): the parameter laid out like the data it will be added to
            rec.bparams = self._params_of(args[0])
        elif name in ADDS:  # a hand-written layer's bias: the parameters added to its output
            rec.bparams = self._params_of([t for t in ins if id(t) not in self.data])
        elif name in MATMULS:
            rec.wparams = self._params_of([t for t in ins if id(t) not in self.data])
            if rec.wparams:  # x @ W.t(), torch.einsum("bi,oi->bo", x, W), x.mm(W): a hand-written layer
                rec.kind = "linear"
        elif rec.kind in ("pool", "dropout", "pad"):
            x = before if before is not None else (ins[0] if ins else None)
            y = outs[0]
            if isinstance(x, torch.Tensor) and x.shape == y.shape:
                rec.info["identity"] = bool(y is x or torch.equal(x, y))
                if rec.kind == "dropout":
                    rec.info.update(dropout_info(x, y))
        self.recs.append(rec)
        return out
