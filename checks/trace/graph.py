"""Passes over the recorded calls that turn them into logical units.

- a module whose own `forward` does arithmetic and holds no conv/linear becomes one opaque region;
- calls that do not reach the output (control-flow probes such as `if x.mean() > 0`) are dropped;
- a run of arithmetic in a parent's forward becomes one region per function of one tensor;
- a `pad` right before a conv is folded into that conv's effective padding (padding.py).
Regions are classified later, by measuring them (an activation, a §3.3 normalisation, or other).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .kinds import ADDS, RANDOMS, RawKind
from .record import Call, Rec, flat, shape_of
from .replay import replay, replayer
from .signatures import bind


@dataclass(eq=False)
class Unit:
    """One logical step before measurement: a single call, a region of calls, or merged towers."""

    kind: RawKind
    path: str
    pos: int
    recs: list[Rec]
    data_in: list[int]
    out_ids: list[int]
    inp: Any
    out: Any
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    name: str = ""  # raw function name (regions: the module class, or the joined call names)
    attrs: dict[str, Any] = field(default_factory=dict)
    members: list[Unit] = field(default_factory=list)  # per-tower units of a merged layer
    pad: tuple[int, int, int, int] | None = None  # folded zero pad: (left, right, top, bottom)
    in_shape: tuple[int, ...] | None = None
    bias_recs: list[Rec] = field(default_factory=list)  # a bias added after the layer (bias.fold_late_bias)


def _opaque_calls(recs: list[Rec], calls: list[Call], data_ids: set[int]) -> list[Call]:
    """Outermost module calls on data whose own forward does arithmetic and holds no conv/linear (nor a
    pooling that changes the shape: such a module is a block of several steps)."""
    opaque: list[Call] = []
    for c in sorted(calls, key=lambda c: (c.start, -c.end)):
        if c.path == "" or c.end < 0 or not isinstance(c.inp, torch.Tensor) or id(c.inp) not in data_ids:
            continue
        if not isinstance(c.out, torch.Tensor):
            continue
        if c.out.shape != c.inp.shape and any(r.kind == "pool" for r in recs[c.start:c.end]):
            continue  # a whole block (activation, normalisation, pooling) in one module: read call by call
        if opaque and c.start < opaque[-1].end:
            continue  # nested in a region already taken
        inner = recs[c.start:c.end]
        if any(r.kind in ("conv", "linear") for r in inner):
            continue
        if any(r.path == c.path and r.kind == "math" for r in inner):
            opaque.append(c)
    return opaque


def _module_fn(mod: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return mod(x.clone())
    return fn


def units_of(recs: list[Rec], calls: list[Call], data_ids: set[int], tensors: dict[int, torch.Tensor]) -> list[Unit]:
    """One unit per record, except opaque module calls, which become one region each."""
    by_start = {c.start: c for c in _opaque_calls(recs, calls, data_ids)}
    units: list[Unit] = []
    i = 0
    while i < len(recs):
        call = by_start.get(i)
        if call is not None and call.end > call.start:
            mod = call.module
            units.append(Unit("region", call.path, i, recs[call.start:call.end], [id(call.inp)], [id(call.out)],
                              call.inp, call.out, _module_fn(mod), type(mod).__name__))
            i = call.end
            continue
        r = recs[i]
        inp = tensors.get(r.data_in[0]) if r.data_in else None
        units.append(Unit(r.kind, r.path, i, [r], r.data_in, r.out_ids, inp, r.out, None, r.name))
        i += 1
    return units


def main_path(units: list[Unit], out_ids: list[int]) -> list[Unit]:
    """The units the output depends on (backward reachability), in order."""
    need = set(out_ids)
    keep: list[Unit] = []
    for u in reversed(units):
        if need.intersection(u.out_ids):
            keep.append(u)
            need.update(u.data_in)
    return list(reversed(keep))


def fold_bias(units: list[Unit]) -> list[Unit]:
    """A parameter added to a weight layer's output (x @ W.t() + b, conv2d(x, w) + b.view(1, -1, 1, 1),
    y + b.view(1, -1, 1, 1).expand_as(y)) is that layer's bias: one logical layer of the calls."""
    out: list[Unit] = []
    for u in units:
        prev = out[-1] if out else None
        if len(out) > 1 and _expanded_bias(out[-2], out[-1], u):  # y + b.expand_as(y): the template step too
            layer, template = out[-2], out.pop()
            layer.recs = layer.recs + template.recs + u.recs
            layer.out_ids, layer.out = u.out_ids, u.out
            layer.fn = replayer(layer.recs, layer.data_in[0], u.out_ids[0]) if layer.data_in and u.out_ids else None
            continue
        if prev is not None and prev.kind in ("conv", "linear") and u.kind == "math" and len(u.recs) == 1 and \
                u.recs[0].bparams and u.data_in == prev.out_ids[:1] and not prev.recs[-1].bparams and \
                shape_of(u.out) == shape_of(prev.out):
            prev.recs = prev.recs + u.recs
            prev.out_ids, prev.out = u.out_ids, u.out
            prev.fn = replayer(prev.recs, prev.data_in[0], u.out_ids[0]) if prev.data_in and u.out_ids else None
            continue
        out.append(u)
    return out


def _expanded_bias(layer: Unit, template: Unit, add: Unit) -> bool:
    """layer, then a parameter laid out like its output (b.expand_as(y)), then their sum."""
    if layer.kind not in ("conv", "linear") or layer.recs[-1].bparams or not layer.out_ids:
        return False
    if template.kind != "reshape" or len(template.recs) != 1 or not template.recs[0].bparams or \
            template.data_in != layer.out_ids[:1]:
        return False
    return add.kind == "math" and len(add.recs) == 1 and add.recs[0].name in ADDS and \
        set(add.data_in) == {layer.out_ids[0], *template.out_ids[:1]} and shape_of(add.out) == shape_of(layer.out)


def fold_unfold(units: list[Unit]) -> list[Unit]:
    """F.unfold followed by a product with a parameter (and reshapes back to maps) is a convolution
    written by hand: one logical conv layer whose geometry is the unfold's."""
    out: list[Unit] = []
    i = 0
    while i < len(units):
        u = units[i]
        end = _unfold_end(units, i) if u.kind == "math" and u.recs[0].func is F.unfold else None
        if end is None:
            out.append(u)
            i += 1
            continue
        run = units[i:end]
        recs = [r for v in run for r in v.recs]
        sig = bind("unfold", u.recs[0].args, u.recs[0].kwargs)
        lin = max(j for j, v in enumerate(run) if v.kind == "linear")
        core = [r for v in run[:lin + 1] for r in v.recs]
        conv = Unit("conv", u.path, u.pos, recs, list(u.data_in), list(run[-1].out_ids), u.inp, run[-1].out,
                    _unfold_fn(core, u.data_in[0], run[lin].out_ids[0], sig), "unfold", attrs={"unfold": sig})
        out.append(conv)
        i = end
    return out


def _unfold_fn(core: list[Rec], in_id: int, out_id: int, sig: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The unfold convolution on any input: the recorded calls up to the product, then the maps laid out
    from the geometry (the recorded reshape bakes in the audited batch and map size)."""
    def pair(v: Any) -> tuple[int, int]:
        return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))

    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (pair(sig.get(k, d)) for k, d in
                                              (("kernel_size", 1), ("dilation", 1), ("padding", 0), ("stride", 1)))

    def fn(x: torch.Tensor) -> torch.Tensor:
        oh = (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        with torch.no_grad():
            t = replay(core, {in_id: x.clone()})[out_id]
        if t.dim() == 3 and t.shape[1] == oh * ow and t.shape[2] != oh * ow:
            t = t.transpose(1, 2)  # (N, L, O): the product was written cols^T @ W^T
        return t.reshape(x.shape[0], -1, oh, ow)
    return fn


def _unfold_end(units: list[Unit], i: int) -> int | None:
    """End (exclusive) of unfold -> product -> reshapes, at the first 4-d output; None if not that form."""
    prev, linears = units[i], 0
    for j in range(i + 1, min(len(units), i + 8)):
        u = units[j]
        if u.kind not in ("reshape", "linear") or u.data_in != prev.out_ids[:1]:
            return None
        linears += u.kind == "linear"
        if linears > 1:
            return None
        if linears and len(shape_of(u.out)) == 4:
            return j + 1
        prev = u
    return None


_GLUE: frozenset[RawKind] = frozenset({"math", "reshape", "slice"})
# Steps a region may take in while its computation is still open (a side branch that rejoins, such as
# the window sum of squares of an LRN written with a pool, a pad or a cat); never a weight layer or dropout.
_ABSORB: frozenset[RawKind] = _GLUE | frozenset({"pool", "pad", "act", "cat", "lrn", "region", "batchnorm", "norm"})


def math_regions(units: list[Unit]) -> list[Unit]:
    """Runs of arithmetic in a parent's forward become regions (with their reshapes and slices).

    A run takes in any other non-weight step while more than one of its tensors is still needed
    later (x / (k + alpha * avg_pool(x^2))^beta: the pool sits on a branch that rejoins at the
    division). A run is cut where everything after a step depends only on that step's output
    (x.clamp(0) then an inline LRN are two regions), so each region is one function of one tensor.
    """
    last_read: dict[int, int] = {}
    for pos, u in enumerate(units):
        for t in u.data_in:
            last_read[t] = pos
    out: list[Unit] = []
    i = 0
    while i < len(units):
        if units[i].kind != "math":
            out.append(units[i])
            i += 1
            continue
        j = _run_end(units, i, last_read)
        for seg in _cut(units[i:j]):
            out.append(_region(seg))
        i = j
    return out


def _run_end(units: list[Unit], i: int, last_read: dict[int, int]) -> int:
    """End (exclusive) of the run of arithmetic that starts at units[i]."""
    touched: set[int] = set()

    def open_after(j: int) -> int:  # tensors of units[i:j] still read at or after j
        return sum(1 for t in touched if last_read.get(t, -1) >= j)

    j, glue_end, closed_end, glue_only = i, i + 1, 0, True
    while j < len(units):
        u = units[j]
        if u.kind not in _GLUE:
            if u.kind not in _ABSORB or open_after(j) <= 1:
                break
            glue_only = False
        touched.update(u.data_in)
        touched.update(u.out_ids)
        j += 1
        if u.kind == "math":
            if glue_only:
                glue_end = j
            if open_after(j) <= 1:
                closed_end = j
    return max(glue_end, closed_end)


def is_random(recs: list[Rec]) -> bool:
    """Whether the calls draw random numbers (a mask made in forward)."""
    return any(r.name in RANDOMS for r in recs)


def _rescale(u: Unit) -> bool:
    """One call on one data tensor with no other tensor operand (x / (1 - p), x * 2)."""
    return u.kind == "math" and len(u.recs) == 1 and len(u.data_in) == 1 and \
        all(id(t) in u.data_in for t in flat((u.recs[0].args, u.recs[0].kwargs)))


def _cut(run: list[Unit]) -> list[list[Unit]]:
    segs: list[list[Unit]] = []
    start = 0
    for j in range(len(run) - 1):
        if run[j].kind != "math" or not run[j].out_ids:
            continue
        if isinstance(run[start].inp, torch.Tensor) and len(shape_of(run[j].out)) != run[start].inp.dim():
            continue  # an intermediate of another rank (the windows of a pool by unfold): not a step's output
        if _rescale(run[j + 1]) and is_random([r for u in run[start:j + 1] for r in u.recs]):
            continue  # an inverted dropout's 1 / (1 - p) belongs to its mask
        made = {t for u in run[start:j + 1] for t in u.out_ids}
        if all(t in made for u in run[start:j + 1] for t in u.data_in):
            continue  # a function of no input (a mask drawn from a shape) belongs to what consumes it
        later = {t for u in run[j + 1:] for t in u.data_in}
        earlier = {t for u in run[start:j] for t in u.out_ids} | {t for u in run[start:j + 1] for t in u.data_in}
        if later & earlier - set(run[j].out_ids) == set() and set(run[j].out_ids) & later:
            segs.append(run[start:j + 1])
            start = j + 1
    segs.append(run[start:])
    return [s for s in segs if s]


def _region(run: list[Unit]) -> Unit:
    produced = {t for u in run for t in u.out_ids}
    ext = list(dict.fromkeys(t for u in run for t in u.data_in if t not in produced))
    recs = [r for u in run for r in u.recs]
    # the region's input: the first external tensor as it was passed (run[0] may read none: a mask's draw)
    inp = next((t for r in recs for t in flat((r.args, r.kwargs)) if ext and id(t) == ext[0]), run[0].inp)
    reg = Unit("region", run[0].path, run[0].pos, recs, ext, run[-1].out_ids, inp, run[-1].out,
               None, "+".join(u.name for u in run))
    if len(ext) == 1:
        reg.fn = replayer(recs, ext[0], run[-1].out_ids[0])
    return reg
