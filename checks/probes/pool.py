"""Pooling probes (§3.4, §3.5): type told apart by outputs, kernel/stride of the executed calls,
and which conv blocks are followed by a pooling that changes the function."""
from __future__ import annotations

from typing import Any

from ..core.findings import Observation, Skip
from ..spec.load import Item
from ..trace import POOLS, Trace, get_trace
from . import probe
from .arch import is_identity, visible
from .context import Context

_ATTRS = ("type", "kernel_size", "stride", "padding")


def _pools(tr: Trace) -> list[tuple[str, int]]:
    labels = tr.labels()
    return [(labels[i], i) for i in visible(tr) if tr.ops[i].kind in POOLS]


def _identities(tr: Trace) -> list[str]:
    labels = tr.labels()
    return [f"{labels[i]} ({op.module_path or op.kind}, {op.kind} {list(op.in_shape[1:])} -> identity)"
            for i, op in enumerate(tr.ops) if op.kind in POOLS and is_identity(op)]


@probe("pool_attr")
def pool_attr(ctx: Context, item: Item) -> Observation:
    """One attribute of every function-changing pooling: type (max/avg by outputs), kernel_size or stride."""
    attr = item.params.get("attr")
    if attr not in _ATTRS:
        raise ValueError(f"pool_attr: unknown attr '{attr}' (one of {', '.join(_ATTRS)})")
    tr = get_trace(ctx)
    pools = _pools(tr)
    if not pools:
        raise Skip("no pooling layer changes the function; see pool.placement")
    adaptive = [lab for lab, i in pools if "output_size" in tr.ops[i].attrs]
    if attr in ("kernel_size", "stride"):
        # An adaptive pool has no fixed window (its geometry follows the input); its presence is
        # judged by pool.placement, its kind by pool.type.
        pools = [(lab, i) for lab, i in pools if "output_size" not in tr.ops[i].attrs]
        if not pools:
            raise Skip("only adaptive pooling, which has no fixed window; see pool.placement")
    per: dict[str, Any] = {lab: tr.ops[i].attrs.get(attr) for lab, i in pools}
    vals = list(per.values())
    value = vals[0] if all(v == vals[0] for v in vals) else per

    def one(lab: str, a: dict[str, Any], kind: str) -> str:
        adaptive_to = f" (adaptive to {a.get('output_size')})" if "output_size" in a else ""
        return (f"{lab}: {kind} kernel_size={a.get('kernel_size')} stride={a.get('stride')} "
                f"padding={a.get('padding')}{adaptive_to}")

    unmeasured = {lab: tr.ops[i].attrs["type_unmeasured"] for lab, i in pools if "type_unmeasured" in tr.ops[i].attrs}
    if attr == "type" and unmeasured:  # never a verdict from the call's name alone
        lab, why = next(iter(unmeasured.items()))
        raise RuntimeError(f"{lab}: the pooling type could not be measured ({why})")
    ev = "; ".join(one(lab, tr.ops[i].attrs, tr.ops[i].kind) for lab, i in pools)
    if attr == "type":
        ev += " (type measured by comparing outputs with max and average pooling on a random input)"
    ids = _identities(tr)
    if ids:
        ev += "; ignored as identities on this input: " + ", ".join(ids)
    if attr in ("kernel_size", "stride") and adaptive:
        ev += "; adaptive (no fixed window, see pool.placement): " + ", ".join(adaptive)
    return Observation(value, ev, ", ".join(dict.fromkeys(tr.where(i) for _, i in pools)))


@probe("pool_placement")
def pool_placement(ctx: Context, item: Item) -> Observation:
    """The conv block each pooling follows: the block name for one that changes the function,
    'identity after <block>' for one that is the identity on the audited input (adaptive pools included)."""
    tr = get_trace(ctx)
    value: list[str] = []
    detail = []
    for i, op in enumerate(tr.ops):
        if op.kind not in POOLS:
            continue
        block = tr.block_of(i)
        if is_identity(op):
            value.append(f"identity after {block}")
            size = op.attrs.get("output_size")
            text = f"{op.kind} after {block} ({tr.where(i)}) is the identity on its {list(op.in_shape[1:])} input"
            if size is not None:
                text += f" (adaptive to {size}: the model also accepts other input sizes)"
            detail.append(text)
        else:
            value.append(block)
            detail.append(f"{op.kind} after {block} ({tr.where(i)})")
    ev = "; ".join(detail) or "no pooling executed"
    return Observation(value, ev, "")
