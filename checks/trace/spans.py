"""Data flow is a graph: where the logical units stop forming a chain, the region is measured as a whole.

After the graph passes, each unit should read what the unit before it made. A computation that
reads one tensor twice (`x / f(pad(x))`), broadcasts a one-channel sum back over its input, or
keeps a side branch that rejoins, breaks that chain: some unit reads more than one tensor, or a
tensor an earlier unit made. Such a unit is joined with the units before it, back to the smallest
run that reads ONE tensor and makes one (the output of the unit before the run in, the value the
rest of the pass reads out), whatever shapes its intermediate tensors take. The run becomes one
region: a function of one tensor, replayed from the recorded calls and classified later by what it
computes (an activation, a §3.3 normalisation with its window and constants, or `other` with its
measured signature), as any other region. A run never takes in a weight layer, a dropout or a
merged two-tower step.
"""
from __future__ import annotations

from .graph import Unit
from .record import flat
from .replay import replayer

_NEVER = frozenset({"conv", "linear", "dropout"})  # kinds a joined region never takes in


def _produced(units: list[Unit]) -> set[int]:
    return {t for u in units for t in u.out_ids}


def _external(units: list[Unit]) -> list[int]:
    made: set[int] = set()
    ext: list[int] = []
    for u in units:
        ext.extend(t for t in u.data_in if t not in made and t not in ext)
        made.update(u.out_ids)
    return ext


def _broken(units: list[Unit], i: int, first: set[int]) -> bool:
    """Whether unit i reads more than one tensor, or one that the unit before it did not make."""
    ins = set(units[i].data_in)
    if len(ins) > 1:
        return True
    prev = set(units[i - 1].out_ids) if i > 0 else first
    return bool(ins) and bool(prev) and not ins <= prev


def _span(units: list[Unit], i: int, first: set[int], later_reads: dict[int, int]) -> tuple[int, int] | None:
    """[s, e] around unit i that reads one tensor (made by unit s - 1, or the model input) and whose
    tensors are not read after e, except its last output; None when there is none."""
    for s in range(i, max(-1, i - 32), -1):
        if units[s].kind in _NEVER or units[s].members:
            return None
        ext = _external(units[s:i + 1])
        if len(ext) != 1:
            continue
        src = set(units[s - 1].out_ids) if s > 0 else first
        if ext[0] not in src:
            continue
        e = i
        while e < len(units) - 1:
            inner = _produced(units[s:e + 1]) - set(units[e].out_ids)
            if not any(later_reads.get(t, -1) > e for t in inner):
                return s, e
            e += 1
            if units[e].kind in _NEVER or units[e].members:
                return None
        return s, e
    return None


def join_spans(units: list[Unit], input_id: int) -> list[Unit]:
    """Units that break the chain, joined with what they depend on into one region of one tensor each."""
    first = {input_id}
    out = list(units)
    i = 0
    while i < len(out):
        if not _broken(out, i, first):
            i += 1
            continue
        later_reads: dict[int, int] = {}
        for pos, u in enumerate(out):
            for t in u.data_in:
                later_reads[t] = pos
        span = _span(out, i, first, later_reads)
        if span is None:
            i += 1
            continue
        s, e = span
        run = out[s:e + 1]
        recs = [r for u in run for r in u.recs]
        src = _external(run)[0]
        inp = next((t for r in recs for t in flat((r.args, r.kwargs)) if id(t) == src), run[0].inp)
        last = run[-1]
        reg = Unit("region", run[0].path, run[0].pos, recs, [src], list(last.out_ids), inp, last.out,
                   replayer(recs, src, last.out_ids[0]) if last.out_ids else None, "+".join(u.name for u in run))
        out[s:e + 1] = [reg]
        i = s + 1
    return out
