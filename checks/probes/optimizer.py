"""Optimizer probes (§5): the optimizer's family and update, and its hyper-parameters (momentum, lr and
weight decay per weights and biases of the real model).

Everything is measured by running the target's own optimizer factory: on float64 toy parameters
with known gradients and, for per-layer settings, built on the real model's parameters with each
one swapped for a small proxy before stepping. Values given as literals in a manifest
(`Target.declared`) are judged the same way, but their evidence says "declared, not measured". The
toy experiments here also serve the schedule and update-rule probes (`schedule`).

Every toy experiment runs in float64 on exact inputs, so lr, momentum, dampening and schedule factors
come out to ~1e-15 and are reported to 8 significant digits (finer than any tolerance of the spec).
Weight decay is read from a step of size lr * decay * w, so its relative error is ~1e-16 / (lr * decay)
(2e-11 at lr 0.01, decay 5e-4): 6 digits. Trajectory errors at float64 rounding print as "< 1e-9".
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from ..core.findings import Observation, Skip
from ..core.numbers import sig
from ..spec.load import Item
from . import probe
from .context import Context, declared_note

HP_DIGITS = 8  # lr, momentum, dampening, schedule factors (see the module docstring)
WD_DIGITS = 6  # weight decay
SHOW_DIGITS = 4  # numbers quoted in evidence


def _literal(v: Any) -> str:
    """A param_group value as given; a float to HP_DIGITS (0.1 * 0.1 is 0.010000000000000002)."""
    return str(sig(v, HP_DIGITS)) if isinstance(v, float) else str(v)


# ------------------------------------------------------------------------------- optimizer ---

_G = (1.0, -2.0, 0.5, 4.0, -0.25, 3.0, -1.5, 0.75, 2.5, -3.5, 1.25, -0.5)
_W = (0.5, -1.0, 2.0, -0.75, 1.5, -2.5, 0.25, 1.0, -1.25, 3.0, -0.5, 0.8)


def _pattern(values: tuple[float, ...], shape: Any) -> Any:
    import torch

    n = int(torch.Size(shape).numel())
    flat = torch.tensor([values[i % len(values)] for i in range(n)], dtype=torch.float64)
    return flat.reshape(shape)


def _toy_params() -> list[Any]:
    """A weight-like (3x4) and a bias-like (3,) float64 parameter, as a tiny 'model'."""
    import torch
    import torch.nn as nn

    return [nn.Parameter(torch.zeros(3, 4, dtype=torch.float64)), nn.Parameter(torch.zeros(3, dtype=torch.float64))]


def _build(factory: Callable[[Any], Any], base: list[Any] | None) -> tuple[Any, list[Any]]:
    """A fresh optimizer; returns it and, per parameter it was built on, the tensor it now steps.

    With `base` (the real model's parameters) the optimizer is built on them, so its own grouping
    logic (by order, shape or ndim) sees the real thing; then every parameter is swapped, in its
    param group, for a small float64 proxy of the same ndim, which is what gets stepped.
    """
    import torch
    import torch.nn as nn

    if base is None:
        params = _toy_params()
        opt = factory(list(params))
        return opt, params
    opt = factory(list(base))
    proxies: list[Any] = [None] * len(base)
    index = {id(p): i for i, p in enumerate(base)}
    for group in opt.param_groups:
        swapped = []
        for p in group["params"]:
            proxy = nn.Parameter(torch.zeros([2] * p.dim(), dtype=torch.float64))
            if id(p) in index:
                proxies[index[id(p)]] = proxy
            swapped.append(proxy)
        group["params"] = swapped
    return opt, proxies


def _group_of(opt: Any, p: Any) -> dict[str, Any]:
    for group in opt.param_groups:
        if any(q is p for q in group["params"]):
            return group
    raise LookupError("the optimizer did not take this parameter")


def _drive(factory: Callable[[Any], Any], base: list[Any] | None, index: int, w0: Any, grads: list[Any],
           cancel: float = 0.0, drop_at: int | None = None) -> list[Any]:
    """Fresh optimizer; set parameter `index` to w0, step once per gradient; the parameter after each step.

    `cancel` adds -cancel*w to every gradient (removing an L2 decay of that strength); `drop_at`
    divides every group's lr by 10 before that step (a scheduler's drop).
    """
    import torch

    opt, params = _build(factory, base)
    p = params[index]
    if p is None:
        raise LookupError("the optimizer did not take every parameter it was given")
    with torch.no_grad():
        p.copy_(w0)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, g in enumerate(grads):
            if drop_at is not None and k == drop_at:
                for group in opt.param_groups:
                    group["lr"] = group["lr"] * 0.1
            p.grad = (g - cancel * p.detach()).clone()
            opt.step()
            out.append(p.detach().clone())
    return out


def _analyse(factory: Callable[[Any], Any], base: list[Any] | None, index: int, shape: Any) -> dict[str, Any]:
    """Identify the update rule of one parameter's group from its responses to known gradients.

    Heavy-ball SGD (PyTorch or the paper's form) answers a gradient pulse G, 0, 0, ... with steps
    lr, lr m, lr m^2, ...; Nesterov with lr(1+m), lr m^2, lr m^3; dampening d shows in the second
    step of a constant gradient (lr(1 + m - d)); adaptive optimizers take steps of equal size for
    gradients of different size. Weight decay is read from a zero-gradient step at w != 0 and then
    cancelled out of the other experiments.
    """
    import torch

    zero = torch.zeros(shape, dtype=torch.float64)
    G, W = _pattern(_G, shape), _pattern(_W, shape)
    first = _drive(factory, base, index, zero, [G])[0]
    rho = -first / G
    info: dict[str, Any] = {"first_step": first}
    if torch.allclose(rho, rho.mean().expand_as(rho), rtol=1e-6, atol=0) and float(rho.mean()) > 0:
        r1 = float(rho.mean())
        decayed = _drive(factory, base, index, W, [zero])[0]
        lam_el = (W - decayed) / W / r1
        lam = float(lam_el.mean())
        pulse = _drive(factory, base, index, zero, [G, zero, zero, zero], cancel=lam)
        prev, r = zero, []
        for w in pulse:
            r.append(float((-(w - prev) / G).mean()))
            prev = w
        m = r[2] / r[1] if abs(r[1]) > 1e-12 * r1 else 0.0
        nesterov = False
        if m > 1e-9:
            nesterov = abs(r[1] / r[0] - m * m / (1 + m)) < abs(r[1] / r[0] - m)
        lr = r[0] / (1 + m) if nesterov else r[0]
        steady = _drive(factory, base, index, zero, [G, G], cancel=lam)
        rc2 = float((-(steady[1] - steady[0]) / G).mean())
        damp = (1 + m - rc2 / lr) if not nesterov else (m + 1 - (rc2 / lr - 1) / m)
        consistent = abs(r[3] - m * r[2]) <= 1e-6 * r1 and bool(
            torch.allclose(lam_el, lam_el.mean().expand_as(lam_el), rtol=1e-5, atol=1e-12))
        info.update(type="sgd" if consistent else "other", nesterov=bool(nesterov), dampening=sig(damp, HP_DIGITS),
                    lr=sig(lr, HP_DIGITS), momentum=sig(m, HP_DIGITS), weight_decay=sig(lam, WD_DIGITS),
                    pulse=[sig(x, HP_DIGITS) for x in r], linear=True,
                    exact={"lr": lr, "momentum": m, "weight_decay": lam})  # unrounded, for simulations
        if abs(info["dampening"]) < 1e-9:
            info["dampening"] = 0.0
        return info
    mag = first.abs()
    info["linear"] = False
    if float(mag.mean()) > 0 and torch.allclose(mag, mag.mean().expand_as(mag), rtol=1e-3, atol=0):
        steps = _drive(factory, base, index, zero, [G, G, zero])
        a1 = float(steps[0].abs().mean())
        a2 = float((steps[1] - steps[0]).abs().mean())
        a3 = float((steps[2] - steps[1]).abs().mean())
        opt, params = _build(factory, base)
        lr_g = float(_group_of(opt, params[index]).get("lr", float("nan")))
        if a3 > 0.05 * a1 and abs(a2 / a1 - 1) < 0.05:
            kind = "adam"
        elif a3 < 1e-3 * a1 and abs(a1 - lr_g) < 0.05 * lr_g:
            kind = "adagrad"
        elif a3 < 1e-3 * a1:
            kind = "rmsprop"
        else:
            kind = "adaptive"
        info.update(type=kind, nesterov=False, dampening=0.0, steps=[sig(a, HP_DIGITS) for a in (a1, a2, a3)])
        return info
    info.update(type="other", nesterov=False, dampening=0.0)
    return info


def _optimizer_factory(ctx: Context) -> Callable[[Any], Any]:
    factory = ctx.recipe_value("optimizer")
    if not callable(factory):
        raise TypeError(f"optimizer must be a callable(params) -> Optimizer, got {type(factory).__name__}")
    return factory


def _toy_analysis(ctx: Context) -> dict[str, Any]:
    factory = _optimizer_factory(ctx)

    def build() -> dict[str, Any]:
        opt, params = _build(factory, None)
        info = _analyse(factory, None, 0, (3, 4))
        group = _group_of(opt, params[0])
        info["class"] = type(opt).__name__
        info["group"] = {k: v for k, v in group.items() if k != "params"}
        return info

    return ctx.cached("recipe.optimizer.toy", build)


@probe("optimizer_kind")
def optimizer_kind(ctx: Context, item: Item) -> Observation:
    """The optimizer family from its update on known gradients: heavy-ball SGD, Nesterov, dampening, adaptive."""
    info = _toy_analysis(ctx)
    value = {"type": info["type"], "nesterov": info["nesterov"], "dampening": info["dampening"]}
    if info.get("linear"):
        p = info["pulse"]
        how = (f"update linear in the gradient; a gradient pulse gave steps "
               f"{', '.join(f'{sig(x, SHOW_DIGITS):g}' for x in p[:4])} (lr {sig(info['lr'], SHOW_DIGITS):g}, "
               f"momentum {sig(info['momentum'], SHOW_DIGITS):g}, "
               f"{'Nesterov: first step lr(1+m), then lr m^k' if info['nesterov'] else 'heavy-ball: lr m^k'})")
    elif "steps" in info:
        a = info["steps"]
        how = (f"equal-size steps for gradients of different size (adaptive); |steps| for G, G, 0: "
               f"{', '.join(f'{sig(x, 3):g}' for x in a)}")
    else:
        how = "the first step is neither proportional to the gradient nor of constant size"
    group = ", ".join(f"{k}={_literal(v)}" for k, v in info["group"].items() if isinstance(v, int | float | bool))
    return Observation(value, f"{declared_note(ctx, 'optimizer')}{info['class']} on a float64 toy weight: {how}; "
                              f"param_group says {group}", where=info["class"])


def _real_responses(ctx: Context) -> dict[str, Any]:
    """lr and weight decay per parameter of the real model, measured on proxies in its own groups."""
    factory = _optimizer_factory(ctx)

    def build() -> dict[str, Any]:
        toy = _toy_analysis(ctx)
        named = list(ctx.model.named_parameters())
        base = [p for _, p in named]
        opt, proxies = _build(factory, base)
        rows = []
        for i, (name, p) in enumerate(named):
            group = _group_of(opt, proxies[i]) if proxies[i] is not None else {}
            row = {"name": name, "ndim": p.dim(), "group_lr": group.get("lr"), "group_wd": group.get("weight_decay")}
            if toy.get("linear") and toy["type"] == "sgd":
                info = _analyse(factory, base, i, [2] * p.dim())
                row.update(lr=info.get("lr"), wd=info.get("weight_decay"), measured=bool(info.get("linear")))
                if not info.get("linear"):
                    row.update(lr=group.get("lr"), wd=group.get("weight_decay"))
            else:
                row.update(lr=group.get("lr"), wd=group.get("weight_decay"), measured=False)
            rows.append(row)
        return {"rows": rows, "class": type(opt).__name__}

    return ctx.cached("recipe.optimizer.real", build)


def _digits(key: str) -> int:
    return WD_DIGITS if key in ("wd", "group_wd") else HP_DIGITS


def _split(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """{weights: x, biases: y}; a per-layer mapping where one kind of tensor gets several values."""
    out: dict[str, Any] = {}
    digits = _digits(key)
    for label, pick in (("weights", lambda r: r["ndim"] >= 2), ("biases", lambda r: r["ndim"] <= 1)):
        sel = [r for r in rows if pick(r)]
        vals = [r[key] for r in sel]
        if not sel:
            out[label] = None
        elif any(v is None for v in vals):
            out[label] = None
        elif all(math.isclose(v, vals[0], rel_tol=1e-9, abs_tol=1e-15) for v in vals):
            out[label] = sig(float(vals[0]), digits)
        else:
            out[label] = {r["name"].rsplit(".", 1)[0]: sig(float(r[key]), digits) for r in sel}
    return out


@probe("optimizer_hparam")
def optimizer_hparam(ctx: Context, item: Item) -> Observation:
    """Momentum, lr or weight decay from the measured update (lr and decay per weights/biases of the real model)."""
    name = item.params.get("name")
    decl = declared_note(ctx, "optimizer")
    toy = _toy_analysis(ctx)
    if name == "momentum":
        if toy["type"] != "sgd":
            raise Skip(f"the optimizer is not momentum SGD (measured type {toy['type']}, see train.optimizer); "
                       "SGD momentum is not defined for it")
        declared_m = toy["group"].get("momentum")
        note = "" if declared_m is None or math.isclose(declared_m, toy["momentum"], abs_tol=1e-9) else (
            f"; NOTE param_group says momentum={_literal(declared_m)}")
        return Observation(toy["momentum"], f"{decl}ratio of the 3rd to the 2nd step after a gradient pulse "
                                            f"(decay cancelled) on a toy weight; param_group momentum="
                                            f"{_literal(declared_m)}{note}", where=toy["class"])
    if name not in ("lr", "weight_decay"):
        raise ValueError(f"optimizer_hparam: unknown params.name {name!r} (momentum, weight_decay or lr)")
    real = _real_responses(ctx)
    rows = real["rows"]
    key = "lr" if name == "lr" else "wd"
    value = _split(rows, key)
    measured = all(r["measured"] for r in rows)
    gkey = "group_lr" if name == "lr" else "group_wd"
    # the group's value against the measured one, to one unit in the measured one's last digit
    tol = 10.0 ** (1 - _digits(key))
    mism = [r["name"] for r in rows if r["measured"] and r[gkey] is not None and r[key] is not None
            and not math.isclose(float(r[gkey]), float(r[key]), rel_tol=tol, abs_tol=1e-15)]
    how = ("first step on a zero-initialised proxy with a known gradient (lr), and a zero-gradient step at w != 0 "
           "divided by it (decay)") if measured else (
           f"read from param_groups: the update is not linear in the gradient ({toy['type']})")
    n_w = sum(r["ndim"] >= 2 for r in rows)
    n_b = sum(r["ndim"] <= 1 for r in rows)
    evidence = (f"{decl}{real['class']} built on the real model's {len(rows)} parameters ({n_w} weights, "
                f"{n_b} biases), each stepped through a float64 proxy in its own param group: {how}")
    if mism:
        evidence += f"; NOTE param_groups disagree with the measured update for {', '.join(mism[:4])}"
    elif measured:
        evidence += f"; param_groups' {'lr' if name == 'lr' else 'weight_decay'} agree"
    return Observation(value, evidence, where=real["class"])
