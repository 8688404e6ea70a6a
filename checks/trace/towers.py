"""Merge explicit two-tower layers (§3.2, Figure 2): convs (or linears) on slices of one tensor whose
outputs are concatenated become one logical layer; the per-tower ops after them (ReLU, LRN, pool)
become one logical op each. The groups of the merged layer are measured later, from connectivity."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from .graph import Unit
from .kinds import RawKind
from .record import Rec, flat
from .replay import replay
from .signatures import bind

# Per-tower ops that may sit between a tower's weight layer and the concatenation.
_PASSTHROUGH: frozenset[RawKind] = frozenset(
    {"act", "lrn", "pool", "dropout", "pad", "region", "batchnorm", "norm", "math"})


class _At(NamedTuple):
    """A unit and its position in the unit list."""

    pos: int
    unit: Unit


@dataclass
class _Tower:
    src: int  # id of the tensor the tower's slices are cut from
    slices: list[_At]  # slicing steps from src, in order
    weight: Unit | None  # the tower's conv/linear; None for per-half ops with no weights
    chain: list[_At]  # pass-through ops between the weight layer (or the slice) and the cat, in order


class _Producers:
    """Which unit produced a tensor, as of a position in the list."""

    def __init__(self, units: list[Unit]):
        self._by_id: dict[int, list[_At]] = {}
        for pos, u in enumerate(units):
            for t in u.out_ids:
                self._by_id.setdefault(t, []).append(_At(pos, u))

    def before(self, t: int, pos: int) -> _At | None:
        """The last producer of tensor t that comes before position pos."""
        best = None
        for at in self._by_id.get(t, []):
            if at.pos < pos:
                best = at
        return best


def _tower(prod: _Producers, t: torch.Tensor, pc: int) -> _Tower | None:
    """Walk back from one concatenated tensor: pass-through chain, weight layer, slices."""
    chain: list[_At] = []
    hit = prod.before(id(t), pc)
    while hit is not None and hit.unit.kind in _PASSTHROUGH and len(hit.unit.data_in) == 1:
        chain.insert(0, hit)
        hit = prod.before(hit.unit.data_in[0], hit.pos)
    weight: Unit | None
    if hit is not None and hit.unit.kind in ("conv", "linear"):
        weight, pos, src = hit.unit, hit.pos, hit.unit.data_in[0]
    elif hit is not None and hit.unit.kind == "slice" and chain:
        weight, pos, src = None, chain[0].pos, chain[0].unit.data_in[0]  # per-half ops with no weights
    else:
        return None
    slices: list[_At] = []
    s = prod.before(src, pos)
    while s is not None and s.unit.kind == "slice":
        slices.insert(0, s)
        src = s.unit.data_in[0]
        s = prod.before(src, s.pos)
    return _Tower(src, slices, weight, chain)


def _towers(prod: _Producers, cat: Unit, pc: int) -> list[_Tower] | None:
    """The towers a channel concatenation joins, when they are alike and cut from one tensor."""
    if cat.kind != "cat" or len(cat.data_in) < 2:
        return None
    sig = bind("cat", cat.recs[0].args, cat.recs[0].kwargs)
    tensors = sig.get("tensors") or []
    if len(tensors) != len(cat.data_in) or sig.get("dim") not in (1, -3):
        return None
    towers: list[_Tower] = []
    for t in tensors:
        tower = _tower(prod, t, pc)
        if tower is None:
            break
        towers.append(tower)
    if len(towers) != len(tensors) or len({t.src for t in towers}) != 1:
        return None
    if len({t.weight.kind if t.weight is not None else None for t in towers}) != 1 or \
            len({tuple(c.unit.kind for c in t.chain) for t in towers}) != 1:
        return None
    if towers[0].weight is None and not all(t.slices for t in towers):
        return None
    return towers


def _merged_weights(towers: list[_Tower], weights: list[Unit]) -> Unit:
    """One logical layer from the towers' weight layers (weights[i] is towers[i]'s); its fn replays
    the slices and the layers, then concatenates."""
    src_id = towers[0].src
    recs: list[Rec] = []
    seen: set[int] = set()
    for tower, weight in zip(towers, weights, strict=True):
        for at in tower.slices:
            if id(at.unit) not in seen:
                seen.add(id(at.unit))
                recs.extend(at.unit.recs)
        recs.extend(weight.recs)
    conv_outs = [w.out_ids[0] for w in weights]

    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            env = replay(recs, {src_id: x.clone()})
            return torch.cat([env[o] for o in conv_outs], 1)
    first_slice = towers[0].slices[0].unit if towers[0].slices else None
    src_tensor = first_slice.inp if first_slice is not None else weights[0].inp
    merged = Unit(weights[0].kind, "+".join(w.path for w in weights), weights[0].pos, recs, [src_id], [],
                  src_tensor, None, fn, weights[0].name, members=weights)
    merged.out = torch.cat([flat(w.out)[0] for w in weights], 1)
    return merged


def _merged_step(mem: list[Unit]) -> Unit:
    """One logical op from the towers' j-th pass-through ops."""
    mu = Unit(mem[0].kind, "+".join(m.path for m in mem), mem[0].pos, [r for m in mem for r in m.recs],
              [], [], None, None, mem[0].fn, mem[0].name, members=mem)
    mu.inp = torch.cat([m.inp for m in mem], 1) if all(isinstance(m.inp, torch.Tensor) for m in mem) else None
    mu.out = torch.cat([flat(m.out)[0] for m in mem], 1)
    return mu


def merge_towers(units: list[Unit]) -> list[Unit]:
    """Explicit two-tower layers: convs (or linears) on slices of one tensor, concatenated."""
    prod = _Producers(units)
    drop: set[int] = set()
    inserts: dict[int, list[Unit]] = {}
    for pc, cat in enumerate(units):
        towers = _towers(prod, cat, pc)
        if towers is None:
            continue
        new: list[Unit] = []
        # the towers are alike: either every one has a weight layer or none has
        weights = [t.weight for t in towers if t.weight is not None]
        if weights:
            new.append(_merged_weights(towers, weights))
        for j in range(len(towers[0].chain)):
            new.append(_merged_step([t.chain[j].unit for t in towers]))
        new[0].data_in = [towers[0].src]
        new[-1].out_ids = list(cat.out_ids)
        for tower in towers:
            drop.update(id(at.unit) for at in tower.slices)
            if tower.weight is not None:
                drop.add(id(tower.weight))
            drop.update(id(at.unit) for at in tower.chain)
        drop.add(id(cat))
        inserts[pc] = new
    if not inserts:
        return units
    out: list[Unit] = []
    for pos, u in enumerate(units):
        out.extend(inserts.get(pos, []))
        if id(u) not in drop:
            out.append(u)
    return out
