"""A hand-written EMA of the weights (child side), seen by what it does to a copy of the model.

`ema = copy.deepcopy(model)` then, after optimizer steps, `e.mul_(d).add_(p, alpha=1 - d)` (or
`e.copy_(d * e + (1 - d) * p)`, or the same through `state_dict()`): no class to recognise. Any
module of the model's class and shapes that shares none of its parameters is watched: its values
and the model's are sampled after each optimizer step, and read again before the next step and when
it is evaluated. A change that fits e_new = d·e_old + (1 − d)·p on every sampled element (least
squares on 1 − d, the misfit under a twentieth) is an EMA with decay d; evaluating that module is
`eval: true`, as for `AveragedModel`.
"""
from __future__ import annotations

import weakref
from typing import Any

SAMPLE = 4096  # elements sampled per parameter tensor (strided)
MISFIT = 0.05  # |Δe − (1−d)(e_old − p)| / |Δe| above which the change is not an EMA step


class Watch:
    def __init__(self, st: Any) -> None:
        self.st = st
        self.copies: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self.sites: dict[int, str] = {}
        self.snaps: dict[int, tuple[Any, Any, Any]] = {}  # id -> (weakref, own sample, model sample)
        self.found: dict[int, float] = {}  # id -> decay


def _sample(module: Any) -> Any:
    import torch

    parts = []
    with torch.no_grad():
        for p in module.parameters():
            flat = p.detach().reshape(-1)
            parts.append(flat[:: max(1, flat.numel() // SAMPLE)].to("cpu", torch.float64, copy=True))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def _model(st: Any) -> Any:
    return st.model() if st.model is not None else None


def _candidates(w: Watch) -> list[Any]:
    model = _model(w.st)
    if model is None:
        return []
    own = {p.data_ptr() for p in model.parameters()}
    shapes = [p.shape for p in model.parameters()]
    seen: dict[int, Any] = {}
    for m in [*w.copies.values(), *w.st.every.values()]:
        if m is model or type(m) is not type(model) or id(m) in seen:
            continue
        params = list(m.parameters())
        if [p.shape for p in params] == shapes and not any(p.data_ptr() in own for p in params):
            seen[id(m)] = m
    return list(seen.values())


def _snapshot(w: Watch) -> None:
    model = _model(w.st)
    cands = _candidates(w)
    if model is None or not cands:
        return
    p = _sample(model)
    w.snaps = {id(m): (weakref.ref(m), _sample(m), p) for m in cands}


def _check(w: Watch, module: Any) -> None:
    """Whether `module` moved towards the model's weights as an EMA step since the last snapshot."""
    from ..core.numbers import sig

    snap = w.snaps.get(id(module))
    if snap is None or snap[0]() is not module:
        return
    _, old, p = snap
    new = _sample(module)
    del w.snaps[id(module)]
    change, gap = old - new, old - p
    if float(change.abs().max()) == 0.0 or float(gap.abs().max()) == 0.0:
        return
    big = gap.abs() >= gap.abs().quantile(0.75)  # where the step moved the model most: above float32 rounding
    change, gap = change[big], gap[big]
    a = float((change * gap).sum() / (gap * gap).sum())  # 1 - d
    misfit = float((change - a * gap).norm() / change.norm()) if float(change.norm()) > 0 else 1.0
    if not (0.0 < a < 1.0) or misfit > MISFIT:
        return
    decay = 1.0 - sig(a, 3 if misfit < 1e-3 else 2 if misfit < 1e-2 else 1)  # digits the fit supports
    rec = w.st.rec
    if id(module) not in w.found and w.found and all(abs(d - decay) > 1e-12 for d in w.found.values()):
        rec.note(f"the EMA's decay changed between updates ({decay:g} after {next(iter(w.found.values())):g})")
    w.found.setdefault(id(module), decay)
    if "ema" not in rec.data["techniques"]:
        site = w.sites.get(id(module)) or getattr(module, "_alexnet_capture_site", "?")
        rec.technique("ema", {"decay": decay, "at": (
            f"{site}; measured: this copy of the model moved by e <- d*e + (1-d)*p after an optimizer step, d "
            f"fitted on {change.numel()} sampled weights (misfit {misfit:.1e})")})


def install(st: Any, torch: Any, nn: Any) -> Watch:
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    from .evalcrops import evaluating, is_model

    w = Watch(st)
    setstate = nn.Module.__setstate__

    def __setstate__(self: Any, state: Any) -> None:  # copy.deepcopy(model) builds the copy this way
        setstate(self, state)
        w.copies[id(self)] = self
        w.sites[id(self)] = st.rec.where()

    nn.Module.__setstate__ = __setstate__

    def before(opt: Any, args: Any, kwargs: Any) -> None:
        for ref, _, _ in list(w.snaps.values()):
            m = ref()
            if m is not None:
                _check(w, m)

    def after(opt: Any, args: Any, kwargs: Any) -> None:
        _snapshot(w)

    register_optimizer_step_pre_hook(before)
    register_optimizer_step_post_hook(after)

    def pre(module: Any, args: Any) -> None:
        model = _model(st)
        if module is model or model is None or not is_model(st, module) or not evaluating(st, module):
            return
        _check(w, module)
        if id(module) in w.found:
            ema = st.rec.data["techniques"].get("ema")
            if ema is not None and not ema.get("eval"):
                ema["eval"] = True
                st.rec.save()

    nn.modules.module.register_module_forward_pre_hook(pre)
    return w
