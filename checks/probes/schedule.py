"""Schedule probes (§5): how the learning rate falls over a run, and which form of the momentum update
(the paper's, with lr inside the velocity, or PyTorch's) the optimizer follows across a drop.

The target's scheduler is stepped over a simulated run on toy parameters, with a validation error
that improves and then stalls; the update rule is read from a float64 toy weight stepped across a
/10 drop and compared with both rules simulated exactly (the toy experiments of `optimizer`).
Factors are reported to 8 significant digits, trajectory errors at float64 rounding as "< 1e-9".
"""
from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

from ..core.findings import Observation
from ..core.numbers import magnitude, sig
from ..spec.load import Item
from . import probe
from .context import Context, declared_note
from .optimizer import (
    _G,
    _W,
    HP_DIGITS,
    SHOW_DIGITS,
    _drive,
    _group_of,
    _optimizer_factory,
    _pattern,
    _toy_analysis,
    _toy_params,
)

# ------------------------------------------------------------------------------ schedule ---

def _wants_metric(sched: Any) -> bool:
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    if isinstance(sched, ReduceLROnPlateau):
        return True
    try:
        signature = inspect.signature(sched.step)
    except (TypeError, ValueError):
        return False
    pos = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return bool(pos) and pos[0].default is inspect.Parameter.empty


def _drops(lrs: list[float]) -> list[tuple[int, float]]:
    return [(e, lrs[e] / lrs[e - 1]) for e in range(1, len(lrs)) if lrs[e] < lrs[e - 1] * (1 - 1e-9)]


@probe("lr_schedule")
def lr_schedule(ctx: Context, item: Item) -> Observation:
    """How the lr falls over a simulated run: after a validation plateau (and not otherwise), or at fixed epochs."""
    sched_fn = ctx.recipe_value("scheduler")
    opt_fn = _optimizer_factory(ctx)
    epochs = int(ctx.recipe.get("epochs") or item.params["epochs"])
    plateau_at = min(10, max(1, epochs // 3))

    names: list[str] = []

    def run(metrics: list[float] | None) -> tuple[list[float], bool]:
        params = _toy_params()
        opt = opt_fn(list(params))
        sched = sched_fn(opt)
        names.append(type(sched).__name__)
        metric_mode = _wants_metric(sched)
        group = _group_of(opt, params[0])
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in range(epochs):
                lrs.append(float(group["lr"]))
                opt.step()  # no gradients: a no-op that keeps the optimizer-before-scheduler order
                if metric_mode:
                    sched.step(metrics[e] if metrics is not None else 0.9 ** e)
                else:
                    sched.step()
        return lrs, metric_mode

    improving = [0.9 ** e for e in range(epochs)]
    plateau = [0.9 ** min(e, plateau_at) for e in range(epochs)]
    lrs_imp, metric_mode = run(improving)
    lrs = run(plateau)[0] if metric_mode else lrs_imp
    d_imp, d = _drops(lrs_imp), _drops(lrs)
    ups = [e for e in range(1, len(lrs)) if lrs[e] > lrs[e - 1] * (1 + 1e-9)]
    ratios = [r for _, r in d]
    uniform = bool(ratios) and all(math.isclose(r, ratios[0], rel_tol=1e-6) for r in ratios)
    if ups:
        value: dict[str, Any] = {"trigger": "other", "factor": sig(lrs[-1] / lrs[0], HP_DIGITS)}
    elif not d:
        value = {"trigger": "none", "factor": 1.0}
    elif metric_mode and not d_imp:
        value = {"trigger": "plateau", "factor": sig(ratios[0] if uniform else min(ratios), HP_DIGITS)}
    elif uniform and len(d) <= max(1, len(lrs) // 4):
        value = {"trigger": "step", "factor": sig(ratios[0], HP_DIGITS), "drops": len(d)}
    else:
        value = {"trigger": "smooth", "factor": sig(lrs[-1] / lrs[0], HP_DIGITS), "drops": len(d)}
    at = ", ".join(f"x{sig(r, SHOW_DIGITS):g} before epoch {e}" for e, r in d[:6]) or "no change"
    how = (f"stepped with a validation error that improves until epoch {plateau_at} and is flat after it: {at}; "
           f"with one that keeps improving: {len(d_imp)} drop(s)") if metric_mode else (
           f"stepped once per epoch (scheduler.step()): {at}")
    evidence = (f"{declared_note(ctx, 'scheduler')}{names[0]} over {epochs} "
                f"epochs, lr {sig(lrs[0], SHOW_DIGITS):g} -> {sig(lrs[-1], SHOW_DIGITS):g}; {how}")
    return Observation(value, evidence)


# ---------------------------------------------------------------------------- update rule ---

@probe("update_rule")
def update_rule(ctx: Context, item: Item) -> Observation:
    """Which SGD form the optimizer follows across a /10 lr drop: the paper's (lr inside v) or PyTorch's."""
    import torch

    factory = _optimizer_factory(ctx)
    toy = _toy_analysis(ctx)
    decl = declared_note(ctx, "optimizer")
    if toy["type"] != "sgd" or toy["nesterov"] or toy["dampening"] != 0.0:
        return Observation("other", f"{decl}the update is not plain momentum SGD (type {toy['type']}, nesterov "
                                    f"{toy['nesterov']}, dampening {toy['dampening']}): neither §5 nor PyTorch SGD",
                           where=toy["class"])
    lr0, m, lam = (toy["exact"][k] for k in ("lr", "momentum", "weight_decay"))
    shape = (3, 4)
    coeffs = (1.0, 0.5, -0.3, 0.8, 1.2, 0.7, 0.9, -0.4, 0.6, 1.1, 0.2, 0.5, -0.8, 1.0)
    G, W = _pattern(_G, shape), _pattern(_W, shape)
    grads = [c * G for c in coeffs]
    drop = 6
    traj = _drive(factory, None, 0, W, grads, drop_at=drop)

    def paper() -> list[Any]:
        w, v, lr, out = W.clone(), torch.zeros_like(W), lr0, []
        for k, g in enumerate(grads):
            lr = lr0 * 0.1 if k >= drop else lr0
            v = m * v - lam * lr * w - lr * g
            w = w + v
            out.append(w)
        return out

    def pytorch() -> list[Any]:
        w, b, out = W.clone(), None, []
        for k, g in enumerate(grads):
            lr = lr0 * 0.1 if k >= drop else lr0
            d = g + lam * w
            b = d.clone() if b is None else m * b + d
            w = w - lr * b
            out.append(w)
        return out

    scale = max(float((t - W).abs().max()) for t in traj) or 1.0

    def err(sim: list[Any]) -> float:
        return max(float((t - s).abs().max()) for t, s in zip(traj, sim, strict=True)) / scale

    e_paper, e_torch = err(paper()), err(pytorch())
    value = "paper" if e_paper < 1e-7 else "pytorch_sgd" if e_torch < 1e-7 else "other"
    gap = max(float((a - b).abs().max()) for a, b in zip(paper(), pytorch(), strict=True)) / scale
    evidence = (f"{decl}{toy['class']} on a toy weight: {drop} steps at lr {sig(lr0, SHOW_DIGITS):g}, then lr/10 for "
                f"{len(grads) - drop} (momentum {sig(m, SHOW_DIGITS):g}, decay {sig(lam, SHOW_DIGITS):g}); relative "
                f"trajectory error vs the §5 rule {magnitude(e_paper)}, vs torch.optim.SGD's rule {magnitude(e_torch)} "
                f"(the two rules differ by {magnitude(gap)})")
    return Observation(value, evidence, where=toy["class"])
