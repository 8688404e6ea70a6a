"""Dropout probes (§4.2): rate and placement measured in training mode, behaviour at test time.

The train-mode pass runs the same input as the structural trace with the model in `train()`;
a dropout site is an executed dropout call that changes its input there. Its rate is measured by
re-running that very call (same function, same arguments) on 2^19+ ones, and cross-checked
against the zeros it introduced into the real activations.

Rates are reported to 2 decimals: on 2^19 units the standard error of a rate near 0.5 is 7e-4, so
the third decimal is the RNG's draw (and which RNG a torch build uses), not the dropout rate. The
real-pass cross-check counts only the few thousand live units of one batch (standard error ~0.01,
and a unit whose activation is within float rounding of 0 may count either way): 2 decimals, no counts.
All masks are drawn under fixed seeds.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..core.findings import Observation, Skip
from ..core.numbers import quantise, sig
from ..spec.load import Item
from ..trace import ACTIVATIONS, Trace, eval_mode, get_trace, get_train_trace, make_input, one_thread, replay, unwrap
from ..trace.kinds import RANDOMS
from . import probe
from .arch import is_identity
from .context import Context

RATE_STEP = 0.01  # see the module docstring
_SKIP_BACK = ACTIVATIONS | {"flatten", "reshape", "slice", "identity", "scale", "dropout", "pad", "cat"}


def _sites(tr: Trace) -> list[int]:
    return [i for i, op in enumerate(tr.ops) if op.kind == "dropout" and not op.attrs.get("identity", False)]


def _anchor(tr: Trace, i: int) -> str:
    """The layer whose output the dropout at i acts on (activations and layouts looked through)."""
    labels = tr.labels()
    for j in range(i - 1, -1, -1):
        op = tr.ops[j]
        if op.kind in _SKIP_BACK or is_identity(op):
            continue
        return labels[j]
    return "input"


def _site_rate(tr: Trace, i: int) -> tuple[float, int]:
    """Fraction of units the executed dropout call zeroes, on >= 2^19 ones."""
    det = tr.details[i]
    if tr.ops[i].attrs.get("hand_written") and det.fn is not None:
        return _region_rate(det.fn, tr.ops[i].in_shape)
    rates, total = [], 0
    for rec in det.recs:
        shape = tuple(rec.args[0].shape) if rec.args and isinstance(rec.args[0], torch.Tensor) else tr.ops[i].in_shape
        per = math.prod(shape[1:]) or 1
        b = max(1, -(-(1 << 19) // per))
        ones = torch.ones((b, *shape[1:]), dtype=rec.args[0].dtype if rec.args else torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(1)  # the CPU generator only: no other device's state is touched
            with torch.no_grad():
                y = replay([rec], {rec.data_in[0]: ones})[rec.out_ids[0]]
        rates.append(int((y == 0).sum()) / y.numel())
        total += y.numel()
    return sum(rates) / len(rates), total


def _region_rate(fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...]) -> tuple[float, int]:
    """A hand-written mask (its calls replayed as one function) on ones of the recorded shape, redrawn
    until >= 2^19 units: a mask drawn with a fixed shape (torch.rand(x.shape)) cannot take another batch."""
    per = math.prod(shape) or 1
    zeros, total = 0, 0
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(1)  # the CPU generator only: no other device's state is touched
        while total < 1 << 19:
            y = fn(torch.ones(shape))
            zeros += int((y == 0).sum())
            total += per
    return zeros / total, total


@probe("dropout_rate")
def dropout_rate(ctx: Context, item: Item) -> Observation:
    """Fraction of units each train-mode dropout site zeroes (the executed call re-run on 2^19+ units)."""
    tr = get_train_trace(ctx)
    sites = _sites(tr)
    if not sites:
        raise Skip("no dropout acts in training mode; see dropout.placement")
    per: dict[str, float] = {}
    raw: dict[str, float] = {}
    notes = []
    for i in sites:
        with one_thread():
            rate, n = _site_rate(tr, i)
        lab = f"on {_anchor(tr, i)}"
        raw[lab] = rate
        per[lab] = quantise(rate, RATE_STEP)
        a = tr.ops[i].attrs
        live = a.get("nonzero_in", 0)
        real = f"{quantise(a.get('zeroed', 0) / live, RATE_STEP):.2f}" if live else "none"
        notes.append(f"{lab}: {per[lab]:.2f} of {n:,} units (in the real pass {real} of the live units zeroed; "
                     f"call {a.get('function')}(p={a.get('p')}))")
    vals = list(raw.values())
    value: Any = quantise(sum(vals) / len(vals), RATE_STEP) if max(vals) - min(vals) <= 0.01 else per
    return Observation(value, "; ".join(notes), ", ".join(dict.fromkeys(tr.where(i) for i in sites)))


@probe("dropout_placement")
def dropout_placement(ctx: Context, item: Item) -> Observation:
    """The layers whose outputs are dropped in training mode (fc6 = after fc6 and its ReLU), in order."""
    tr = get_train_trace(ctx)
    sites = _sites(tr)
    value = [_anchor(tr, i) for i in sites]
    ev = ("; ".join(f"dropout on the output of {a} ({tr.where(i)})" for a, i in zip(value, sites, strict=True))
          or "no dropout changes activations in training mode")
    if not sites and isinstance(unwrap(ctx.model), torch.jit.ScriptModule):
        ev += (" (a TorchScript module made by torch.jit.trace keeps the train/eval behaviour it was traced with: "
               "trace the model in train mode, or pass the eager nn.Module)")
    return Observation(value, ev, ", ".join(dict.fromkeys(tr.where(i) for i in sites)))


def _random_draws(model: torch.nn.Module, x: torch.Tensor) -> list[str]:
    """The random-number functions one eval-mode forward pass calls (only asked when the output is random)."""
    from torch.overrides import TorchFunctionMode

    seen: set[str] = set()

    class Spy(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "").rstrip("_")
            if name in RANDOMS:
                seen.add(name)
            return func(*args, **(kwargs or {}))

    with eval_mode(model), torch.no_grad(), Spy():
        model(x)
    return sorted(seen)


@probe("dropout_eval")
def dropout_eval(ctx: Context, item: Item) -> Observation:
    """'off' when eval-mode output is deterministic and every dropout site is the identity or a constant scale."""
    tr = get_trace(ctx)
    model = unwrap(ctx.model)  # as traced: a torch.compile wrapper would recompile and round differently
    x = make_input(model, tuple(ctx.target.input_size))
    with eval_mode(model), one_thread(), torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(12345)
        with torch.no_grad():
            y = model(x)
    y = y if isinstance(y, torch.Tensor) else next(t for t in (y if isinstance(y, (list, tuple)) else y.values())
                                                    if isinstance(t, torch.Tensor))
    deterministic = bool(torch.equal(y, tr.output))
    sites = [i for i, op in enumerate(tr.ops) if op.kind == "dropout"]
    bad = []
    notes = []
    for i in sites:
        a = tr.ops[i].attrs
        const = bool(a.get("identity")) or bool(a.get("const_scale"))
        scale = 1.0 if a.get("identity") else a.get("scale")
        kind = ("identity" if a.get("identity") else "random mask" if not const
                else f"x{sig(scale, 3):g}" if isinstance(scale, int | float) else f"x{scale}")
        notes.append(f"{tr.where(i)}: {kind} (call {a.get('function')}(p={a.get('p')}, training={a.get('training')}))")
        if not const:
            bad.append(tr.where(i))
    if not deterministic and not bad:  # random, but not through any dropout site: not dropout's doing
        draws = _random_draws(model, x)
        seen = f" ({', '.join(draws)} in forward)" if draws else ""
        raise RuntimeError("the eval-mode output changes between runs with different RNG seeds, but no dropout site "
                           f"is random: the model draws random numbers elsewhere in eval mode{seen}, so whether its "
                           "dropout is off cannot be told from its output")
    value = "off" if deterministic and not bad else "active"
    ev = ("eval-mode output identical across two runs with different RNG seeds" if deterministic
          else "eval-mode output CHANGES between two runs with different RNG seeds")
    if notes:
        ev += "; eval-mode dropout sites: " + "; ".join(notes)
    return Observation(value, ev, ", ".join(bad))
