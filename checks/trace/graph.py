"""Passes over the recorded calls that turn them into logical units.

- a module whose own `forward` does arithmetic and holds no conv/linear becomes one opaque region;
- calls that do not reach the output (control-flow probes such as `if x.mean() > 0`) are dropped;
- a run of arithmetic in a parent's forward becomes one region per function of one tensor;
- a zero `pad` right before a conv is folded into that conv's effective padding.
Regions are classified later, by measuring them (an activation, a §3.3 normalisation, or other).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .kinds import RawKind
from .record import Call, Rec, shape_of
from .replay import replayer
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


def _opaque_calls(recs: list[Rec], calls: list[Call], data_ids: set[int]) -> list[Call]:
    """Outermost module calls on data whose own forward does arithmetic and holds no conv/linear."""
    opaque: list[Call] = []
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


def _cut(run: list[Unit]) -> list[list[Unit]]:
    segs: list[list[Unit]] = []
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


def _region(run: list[Unit]) -> Unit:
    produced = {t for u in run for t in u.out_ids}
    ext = list(dict.fromkeys(t for u in run for t in u.data_in if t not in produced))
    recs = [r for u in run for r in u.recs]
    reg = Unit("region", run[0].path, run[0].pos, recs, ext, run[-1].out_ids, run[0].inp, run[-1].out,
               None, "+".join(u.name for u in run))
    if len(ext) == 1:
        reg.fn = replayer(recs, ext[0], run[-1].out_ids[0])
    return reg


def fold_pads(units: list[Unit]) -> list[Unit]:
    """A constant zero pad that feeds a conv becomes part of that conv's padding."""
    out: list[Unit] = []
    for u in units:
        if u.kind == "conv" and out and out[-1].kind == "pad":
            p = out[-1]
            sig = bind(p.name, p.recs[0].args, p.recs[0].kwargs)
            pads = list(sig.get("pad") or [])
            value = sig.get("value") or 0
            if sig.get("mode", "constant") == "constant" and value == 0 and len(pads) in (2, 4) and \
                    p.out_ids and p.out_ids[0] in u.data_in:
                pads = pads + [0, 0] * ((4 - len(pads)) // 2)
                left, right, top, bottom = (int(v) for v in pads[:4])
                u.pad = (left, right, top, bottom)
                u.in_shape = shape_of(p.inp)
                u.attrs["pad_op"] = p.path or "F.pad"
                out.pop()
        out.append(u)
    return out
