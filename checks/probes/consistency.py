"""The modes training uses (issue 11): the structural trace runs in eval mode at batch 2, so a model
whose computation changes in train mode (beyond dropout) or with the batch size would be audited
on a network it does not train. Measured by tracing the model again in train mode and at a second
batch size and comparing the op sequences (dropout aside in train mode), and, for the batch size,
by scoring the same images alone and with another image beside them (§3: one network, one
function per image; §4.2: dropout is the only difference between training and test).
"""
from __future__ import annotations

import difflib
from typing import Any

from ..core.findings import Observation
from ..spec.load import Item
from . import probe
from .context import Context

BATCH_RTOL = 1e-4  # the same image's scores, alone or in a bigger batch: float32 re-association only


_GEOMETRY = ("kernel_size", "stride", "padding", "groups_declared", "output_size", "ceil_mode", "function",
             "declared")


def _signature(op: Any) -> str:
    """What one op computes, as far as an unmeasured trace tells: kind, output shape past the
    batch, the call's own geometry."""
    attrs = {k: op.attrs[k] for k in _GEOMETRY if k in op.attrs}
    return f"{op.kind}{list(op.out_shape[1:])}{attrs if attrs else ''}"


def _steps(trace: Any, dropouts: set[int]) -> tuple[list[str], list[str]]:
    labels = trace.labels()
    keep = [i for i in range(len(trace.ops)) if i not in dropouts]
    return [_signature(trace.ops[i]) for i in keep], [labels[i] for i in keep]


def _dropouts(trace: Any, measured: Any = None) -> set[int]:
    """Ops that are dropout, in this trace or (same op list) in the measured one: a hand-written
    test-time `x * (1 - p)` is a dropout only once measured against its train-mode mask."""
    out = {i for i, op in enumerate(trace.ops) if op.kind == "dropout"}
    if measured is not None and len(measured.ops) == len(trace.ops):
        out |= {i for i, op in enumerate(measured.ops) if op.kind == "dropout"}
    return out


def _name(label: str, sig: str) -> str:
    return f"{label} ({sig.split('[', 1)[0]})"


def sequence_differences(a: Any, b: Any, drop_a: frozenset[int] | set[int] = frozenset(),
                         drop_b: frozenset[int] | set[int] = frozenset()) -> list[str]:
    """The places where trace b runs other ops than trace a (the audited one), as short phrases;
    the ops at the indices drop_a / drop_b are left out."""
    sa, la = _steps(a, set(drop_a))
    sb, lb = _steps(b, set(drop_b))
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=sa, b=sb, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        gone = ", ".join(_name(la[i], sa[i]) for i in range(i1, i2))
        new = ", ".join(_name(lb[j], sb[j]) for j in range(j1, j2))
        if tag == "delete":
            out.append(f"{gone} not run")
        elif tag == "insert":
            out.append(f"{new} runs in addition")
        elif [s.split("[", 1)[0] for s in sa[i1:i2]] == [s.split("[", 1)[0] for s in sb[j1:j2]]:
            out.append(f"{gone} runs with other arguments or shapes")
        else:
            out.append(f"{gone} becomes {new}")
    return out


def _batch_scores(ctx: Context, base: Any, other: Any, batch: int) -> float | None:
    """Relative difference of the first two images' scores, alone (batch 2) and in the bigger batch;
    None when that cannot be compared. The bigger seeded input usually starts with the same two
    images (then its traced output serves); otherwise the model runs once more on those two plus one."""
    import torch

    from ..trace import eval_mode, make_input, one_thread
    from ..trace.rebuild import EXPLAIN_SEED
    from ..trace.rebuild.ops import rel_error

    x2 = make_input(ctx.model, tuple(ctx.target.input_size), seed=EXPLAIN_SEED, batch=2)
    xb = make_input(ctx.model, tuple(ctx.target.input_size), seed=EXPLAIN_SEED, batch=batch)
    y2, yb = base.output, other.output
    if not torch.equal(xb[:2], x2):
        with eval_mode(ctx.model), one_thread(), torch.no_grad():
            out = ctx.model(torch.cat([x2, xb[2:]]))
        yb = out[0] if isinstance(out, tuple | list) and out else out
    if not isinstance(y2, torch.Tensor) or not isinstance(yb, torch.Tensor) or yb.dim() < 1 or yb.shape[0] != batch:
        return None
    return rel_error(yb[:2], y2)


def _clip(diffs: list[str]) -> str:
    return "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")


@probe("mode_consistency")
def mode_consistency(ctx: Context, item: Item) -> Observation:
    """Whether the model computes the same in train mode (dropout aside) and at a second batch size as in
    the audited eval-mode batch-2 pass: op sequences of traces in each mode, and the same images' scores."""
    from ..trace import get_trace, get_train_trace
    from ..trace.rebuild import plain_trace, show_error

    batch = int(item.params.get("batch", 3))
    base = plain_trace(ctx, train=False, batch=2)  # shared with the rebuild check
    train = get_train_trace(ctx)  # unmeasured too, shared with the dropout probes
    other = plain_trace(ctx, train=False, batch=batch)
    measured = get_trace(ctx)
    in_train = sequence_differences(base, train, _dropouts(base, measured), _dropouts(train))
    at_batch = sequence_differences(base, other)
    random_in_eval = [measured.labels()[i] for i, op in enumerate(measured.ops)
                      if op.kind == "dropout" and op.attrs.get("identity") is False
                      and op.attrs.get("function") != "test-time scale"]  # §4.2's x * (1 - p) is not random
    drift = None if random_in_eval else _batch_scores(ctx, base, other, batch)  # random masks differ per batch
    value = {"train_mode": "differs" if in_train else "same",
             "batch_size": "differs" if at_batch or (drift is not None and drift > BATCH_RTOL) else "same"}
    parts = []
    parts.append(f"in train mode: {_clip(in_train)}" if in_train else
                 "train mode runs the same ops as eval mode, dropout aside")
    if at_batch:
        parts.append(f"at batch {batch}: {_clip(at_batch)}")
    else:
        parts.append(f"batch {batch} runs the same ops as batch 2")
    if random_in_eval:
        parts.append(f"scores not compared across batch sizes: {', '.join(random_in_eval)} draws a random mask in "
                     "eval mode")
    elif drift is not None:
        parts.append(f"the first two images' scores at batch {batch} differ from batch 2 by {show_error(drift)} "
                     "relative")
    return Observation(value, "; ".join(parts))
