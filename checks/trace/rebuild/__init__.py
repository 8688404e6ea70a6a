"""The audit checks itself: rebuild the network from the measurements alone and compare outputs.

Every structural verdict rests on the trace's measurements (a layer's type, channels, kernel,
stride, padding and groups; the fitted §3.3 normalisation; the measured pooling and activations).
If those measurements are right, a network built from them alone, carrying the target's own
weights, computes what the target computes. So after the probes ran, `explain` builds that
network op by op, runs it and the target in eval mode on a fresh seeded input (batch 2, one
pass) and compares: a misclassified region, a missed layer or a wrong fitted constant shows up as
a divergence, instead of as a confident verdict.

- weight layers: `F.conv2d` / `F.linear` from the measured geometry (the measured groups select
  the block-diagonal part of a full weight) on the weight tensor the recorded call used;
- activations: the measured curve (relu, tanh, leaky_relu with its slope, a scale, ...);
- LRN: the fitted b = a / (k + alpha * sum a^2)^beta over the measured window (per tower);
- pools: max or average (as measured) with the call's geometry; dropout: identity in eval mode;
- reshapes, slices, pads, concatenations and calls named by their function (softmax,
  batch_norm): the observed call replayed;
- a region the audit could only call `other` (or an unnamed elementwise curve) is replayed from
  the target and listed under `opaque`: it is never counted as explained.

The result (`summary.explained` of the JSON report) is `{ok, max_rel_error, first_divergence,
opaque}`, with numbers rounded to what float32 supports, so reports stay byte-identical.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...core.errors import first_line
from .ops import Unexplained, rebuild_op, rel_error

RTOL = 1e-4  # max |rebuilt - target| / max |target| per op; float32 re-association stays near 1e-6
EXPLAIN_SEED = 1  # a fresh input: not the seed-0 input the measurements were made on
STRUCTURAL_GROUPS = frozenset({"architecture", "normalisation", "pooling", "dropout", "init"})


@dataclass
class Explanation:
    """What the rebuild found (`to_dict` gives the report's rounded form)."""

    ok: bool
    max_rel_error: float | None
    first_divergence: dict[str, Any] | None = None
    opaque: list[str] = field(default_factory=list)
    index: int | None = None  # op index from which the measurements no longer explain the model

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "max_rel_error": show_error(self.max_rel_error),
                "first_divergence": self.first_divergence, "opaque": list(self.opaque)}


def show_error(x: float | None) -> float | str | None:
    """A relative error as the report shows it: "< 1e-6" (the decade it lies under) when small,
    2 significant digits above RTOL, so that BLAS noise never changes the bytes."""
    from ...core.numbers import FLOAT32_FLOOR, sig

    if x is None or not math.isfinite(x):
        return None if x is None else str(x)
    if x < FLOAT32_FLOOR:
        return "< 1e-6"
    if x < RTOL:
        exp = math.ceil(math.log10(x))
        return f"< 1e{exp + 1 if 10.0 ** exp <= x else exp}"
    return sig(x, 2)


# ------------------------------------------------------------------ the whole network ----------

def _first_tensor(y: Any) -> Any:
    from ..record import flat

    ts = flat(y)
    return ts[0] if ts else y


def _inplace_outputs(trace: Any) -> set[int]:
    """Ids of tensors a later in-place call overwrote (their recorded value is not the op's output)."""
    from ..record import flat

    out: set[int] = set()
    for det in trace.details:
        for d in [det, *det.members]:
            for r in d.recs:
                args = {id(t) for t in flat((r.args, r.kwargs))}
                out.update(id(t) for t in flat(r.out) if id(t) in args)
    return out


def _target_out(det: Any, overwritten: set[int]) -> Any:
    """The target's recorded output of one op, or None when a later in-place call overwrote it."""
    from ..record import flat

    for d in [det, *det.members]:
        if any(id(t) in overwritten for t in flat(d.out)):
            return None
    return _first_tensor(det.out)


def _aligned(a: Any, b: Any) -> bool:
    """The same op sequence (paths and shapes past the batch) in two traces of one model."""
    def key(o: Any) -> tuple[Any, ...]:
        return (o.kind if o.name else "", o.module_path, o.in_shape[1:], o.out_shape[1:])
    return len(a.ops) == len(b.ops) and all(key(x) == key(y) for x, y in zip(a.ops, b.ops, strict=True))


def _scaled(factor: float) -> Callable[[Any], Any]:
    return lambda t: t * factor


def _eval_dropout(fresh: Any) -> Callable[[Any], Any]:
    """A dropout that stays active in eval mode draws a mask on every pass: the rebuild applies the
    mask (and scale) the target drew on the fresh input, read from its recorded input and output."""
    import torch

    x, y = _first_tensor(fresh.inp), _first_tensor(fresh.out)
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.shape != y.shape or x is y:
        raise Unexplained("the dropout changes its input in eval mode and its mask was not recorded")
    scale = torch.where(x != 0, y / torch.where(x != 0, x, torch.ones_like(x)), torch.zeros_like(x))
    return lambda t: t * scale


def explain_model(model: Any, trace: Any, input_size: tuple[int, ...], *, seed: int = EXPLAIN_SEED,
                  batch: int = 2, fresh: Any = None) -> Explanation:
    """Rebuild `trace` (a measured eval-mode trace of `model`) op by op and compare it with the
    target on a fresh seeded input: per op where the target's value was recorded, and at the output."""
    import torch

    from .. import build_trace, make_input

    if fresh is None:  # the target on the fresh input, recorded (unmeasured)
        fresh = build_trace(model, input_size, measure=False, seed=seed, batch=batch)
    aligned = _aligned(trace, fresh)
    overwritten = _inplace_outputs(fresh)
    labels = trace.labels()
    cur = make_input(model, input_size, seed=seed, batch=batch)
    worst = 0.0
    opaque: list[str] = []
    opaque_at: int | None = None

    def stop(i: int, reason: str) -> Explanation:
        op = trace.ops[i]
        div = {"at": labels[i], "kind": op.kind, "where": trace.where(i), "reason": reason}
        at = i if opaque_at is None else min(i, opaque_at)
        return Explanation(False, worst if worst > 0 else None, div, opaque, at)

    for i, (op, det) in enumerate(zip(trace.ops, trace.details, strict=True)):
        if tuple(cur.shape[1:]) != tuple(op.in_shape[1:]):
            return stop(i, f"its input {list(op.in_shape[1:])} is not the previous op's output "
                           f"{list(cur.shape[1:])}: the trace missed a step or a branch")
        try:
            if op.kind == "dropout" and op.attrs.get("identity") is False and op.attrs.get("const_scale") \
                    and isinstance(op.attrs.get("scale"), float) and op.attrs.get("function") == "test-time scale":
                fn, is_opaque = _scaled(float(op.attrs["scale"])), False  # §4.2's test-time x * (1 - p)
            elif op.kind == "dropout" and op.attrs.get("identity") is False and aligned:
                fn, is_opaque = _eval_dropout(fresh.details[i]), False  # random in eval: the target's own mask
            else:
                fn, is_opaque = rebuild_op(op, det)
            with torch.no_grad():
                out = _first_tensor(fn(cur))
        except Unexplained as exc:
            return stop(i, str(exc))
        except Exception as exc:  # the measured geometry does not run: that is the finding
            return stop(i, f"the op rebuilt from its measurements fails: {first_line(exc)}")
        if is_opaque:
            opaque.append(f"{labels[i]} ({trace.where(i)})")
            opaque_at = i if opaque_at is None else opaque_at
        ref = _target_out(fresh.details[i], overwritten) if aligned else None
        if ref is not None:
            err = rel_error(out, ref)
            worst = max(worst, err)
            if err > RTOL:
                return stop(i, f"the op rebuilt from its measurements gives {show_error(err)} relative error "
                               f"against the target's {op.kind or 'op'}")
        cur = out
    err = rel_error(cur, fresh.output)
    worst = max(worst, err)
    if err > RTOL:
        reason = (f"the rebuilt network's output differs from the model's by {show_error(err)} relative"
                  + ("" if aligned else "; the model ran a different op sequence on the fresh input"))
        return Explanation(False, worst, {"at": "output", "kind": "", "where": "", "reason": reason}, opaque,
                           len(trace.ops) if opaque_at is None else opaque_at)
    return Explanation(not opaque, worst, None, opaque, opaque_at)


def plain_trace(ctx: Any, *, train: bool, batch: int, seed: int = EXPLAIN_SEED) -> Any:
    """An unmeasured trace (op sequence and the calls' own arguments) of the audit's model on a
    fresh seeded input, cached: the rebuild check and arch.mode_consistency share it."""
    from .. import build_trace, one_thread

    def build() -> Any:
        with one_thread():
            return build_trace(ctx.model, tuple(ctx.target.input_size), train=train, measure=False, seed=seed,
                               batch=batch)
    return ctx.cached(f"trace_plain_{'train' if train else 'eval'}_{batch}_{seed}", build)


def explain(ctx: Any) -> Explanation:
    """The audit's rebuild check, once per audit (cached on the context); never raises."""
    from .. import get_trace, one_thread

    def build() -> Explanation:
        try:
            trace = get_trace(ctx)
            with one_thread():
                fresh = plain_trace(ctx, train=False, batch=2)
                return explain_model(ctx.model, trace, tuple(ctx.target.input_size), fresh=fresh)
        except (Exception, SystemExit) as exc:  # no trace, no rebuild: nothing is explained
            return Explanation(False, None, {"at": "trace", "kind": "", "where": "",
                                             "reason": f"the model could not be traced: {first_line(exc)}"}, [], 0)
    return ctx.cached("explained", build)


# ------------------------------------------------------------------ findings it covers ---------

def _op_index(where: str, trace: Any) -> int | None:
    """The first op a finding's `where` names (module path, merged parts or weight name)."""
    if not where:
        return None
    names = {w.strip() for w in where.replace("+", ",").split(",") if w.strip()}
    for i, op in enumerate(trace.ops):
        keys = {op.module_path, *op.parts, *str(op.attrs.get("weight_name", "")).split(", ")} - {""}
        keys |= {k for part in op.module_path.split("+") for k in (part,)} - {""}
        if keys & names:
            return i
    return None


def mark_unexplained(findings: list[Any], exp: Explanation, ctx: Any, spec: Any) -> None:
    """Set `explained = False` on the structural findings that rest on an unexplained part: those
    at or after the first divergence (or opaque region), and those about the whole model."""
    if exp.ok or exp.index is None:
        return
    from .. import get_trace

    try:
        trace = get_trace(ctx)
    except (Exception, SystemExit):
        trace = None
    groups = {it.id: it.group for it in spec.items}
    for f in findings:
        if groups.get(f.id) not in STRUCTURAL_GROUPS or str(f.status) in ("error", "skip"):
            continue
        at = _op_index(f.where, trace) if trace is not None else None
        if at is None or at >= exp.index:
            f.explained = False
