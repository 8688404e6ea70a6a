"""How a captured evaluation loop combines the views of an image (child side), from what it computes.

§4.1 classifies ten patches per test image and averages their softmax outputs; a loop that reshapes
ten crops to (B*10, C, H, W) and scores the B*10 predictions against repeated labels measures
something else (per-crop accuracy). While the script evaluates, the model's outputs are tagged and
a TorchFunctionMode follows every tensor computed from them (union of the model calls each depends
on). At the first decision on class scores (argmax, topk, max or sort over the class dimension, or
a loss on them) the number of model-output rows behind each decided row is the number of views the
loop combined: one with crops present is "separate"; n is "average" (or "max" when a max over a
non-class dimension was taken on the way). Crops are present when the model is fed a batch
flattened from (B, n, C, H, W) or when the loop called ten_crop/five_crop itself.
"""
from __future__ import annotations

import weakref
from typing import Any

# Decisions on class scores: their first tensor argument is (..., classes).
_DECIDE = ("argmax", "topk", "max", "sort", "argsort", "cross_entropy", "nll_loss")
_MAXES = ("max", "amax")


class _Info:
    def __init__(self, calls: dict[int, int], classes: int, maxed: bool) -> None:
        self.calls, self.classes, self.maxed = calls, classes, maxed


class Tracker:
    """The tags and the mode; one per captured run."""

    def __init__(self, st: Any) -> None:
        self.st = st
        self.tags: dict[int, tuple[Any, _Info]] = {}
        self.calls = 0
        self.views = 1  # views per image the model is fed (1: none seen)
        self.views_from = ""
        self.mode: Any = None
        self.done = False

    def info(self, t: Any) -> _Info | None:
        got = self.tags.get(id(t))
        if got is None or got[0]() is not t:
            return None
        return got[1]

    def tag(self, t: Any, info: _Info) -> None:
        import torch

        if isinstance(t, torch.Tensor) and len(self.tags) < 100_000:
            self.tags[id(t)] = (weakref.ref(t), info)


def _name(func: Any) -> str:
    return str(getattr(func, "__name__", "")).lstrip("_")


def _dim_arg(func_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if "dim" in kwargs:
        return kwargs["dim"]
    pos = 2 if func_name == "topk" else 1  # topk(input, k, dim); argmax/max/sort(input, dim)
    if len(args) > pos and isinstance(args[pos], int) and not isinstance(args[pos], bool):
        return args[pos]
    return -1 if func_name in ("topk", "sort", "argsort", "cross_entropy", "nll_loss") else None


def _observe(tr: Tracker, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
    import torch
    from torch.utils._pytree import tree_flatten

    flat, _ = tree_flatten((args, kwargs))
    infos = [i for i in (tr.info(a) for a in flat if isinstance(a, torch.Tensor)) if i is not None]
    if not infos:
        return
    name = _name(func)
    first: Any = args[0] if args else None
    lead = tr.info(first) if isinstance(first, torch.Tensor) else None
    if name in _DECIDE and lead is not None and first.is_floating_point() and first.dim() >= 1 \
            and first.shape[-1] == lead.classes:
        dim = _dim_arg(name, args, kwargs)
        if name in ("cross_entropy", "nll_loss"):
            dim = 1 if first.dim() >= 2 else None
        last = dim is not None and (dim == -1 or dim == first.dim() - 1)
        if last:
            _decided(tr, first, lead, by_loss=name in ("cross_entropy", "nll_loss"))
            return
    calls: dict[int, int] = {}
    maxed = False
    for i in infos:
        calls.update(i.calls)
        maxed = maxed or i.maxed
    if name in _MAXES and lead is not None and isinstance(first, torch.Tensor):
        dim = _dim_arg(name, args, kwargs)
        if dim is not None and not (dim == -1 or dim == first.dim() - 1):
            maxed = True
    new = _Info(calls, infos[0].classes, maxed)
    for o in tree_flatten(out)[0]:
        if isinstance(o, torch.Tensor) and tr.info(o) is None:
            tr.tag(o, new)


def _decided(tr: Tracker, scores: Any, info: _Info, by_loss: bool) -> None:
    """Record how many model-output rows stand behind each decided row. A loss on the scores counts only
    until a prediction (argmax, topk, max, sort) is taken: accuracy is what ten-patch testing reports."""
    rec = tr.st.rec
    rows = max(1, scores.numel() // max(1, scores.shape[-1]))
    behind = sum(info.calls.values())
    per = behind / rows
    views = int(round(per))
    if abs(per - views) > 1e-9 or views < 1:
        combine = "other"
    elif views == 1:
        combine = "separate" if tr.views > 1 else "single"
    else:
        combine = "max" if info.maxed else "average"
    prior = rec.data.get("eval_combine")
    if prior is not None and not prior.get("by_loss"):
        return
    where = rec.where()
    rec.set("eval_combine", {"combine": combine, "views": views if views > 1 else tr.views, "rows": rows,
                             "model_rows": behind, "crops_from": tr.views_from, "by_loss": by_loss,
                             "at": where, "line": rec.source_line(where)})
    if not by_loss:
        tr.done = True


def _mode_class() -> Any:
    from torch.overrides import TorchFunctionMode

    class Follow(TorchFunctionMode):
        def __init__(self, tr: Tracker) -> None:
            super().__init__()
            self.tr = tr

        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if not self.tr.done:
                _observe(self.tr, func, tuple(args), kwargs, out)
            return out

    return Follow


def stop(tr: Tracker) -> None:
    """Leave the mode when it is on top of the stack (otherwise it stays, passing calls through)."""
    from torch.overrides import _get_current_function_mode_stack

    if tr.mode is not None:
        stack = _get_current_function_mode_stack()
        if stack and stack[-1] is tr.mode:
            tr.mode.__exit__(None, None, None)
            tr.mode = None


def evaluating(st: Any, module: Any) -> bool:
    import torch

    return bool(st.eval_active) and (not torch.is_grad_enabled() or not module.training)


def is_model(st: Any, module: Any) -> bool:
    """The audited model, or a copy of it (an EMA or AveragedModel's own module): same class, same shapes."""
    model = st.model() if st.model is not None else None
    if model is None:
        return False
    if module is model:
        return True
    if type(module) is not type(model):
        return False
    return [p.shape for p in module.parameters()] == [p.shape for p in model.parameters()]


def install(st: Any, nn: Any) -> Tracker:
    tr = Tracker(st)
    follow = _mode_class()

    def pre(module: Any, args: Any) -> None:
        if not args or not is_model(st, module):
            return
        if tr.done or not evaluating(st, module):
            stop(tr)  # decided, or training again: the loop's ops need not be followed
            return
        x = args[0]
        base = getattr(x, "_base", None)
        if base is not None and base.dim() == 5 and base.shape[0] * base.shape[1] == x.shape[0] and base.shape[1] > 1:
            tr.views, tr.views_from = int(base.shape[1]), f"the model is fed (B, {base.shape[1]}, C, H, W) flattened"
        crop = st.rec.data.get("loop_crop")
        if crop and tr.views == 1:
            tr.views = 10 if crop["kind"] == "ten_crop" else 5
            tr.views_from = f"{crop['kind']} called by the loop at {crop['at']}"

    def post(module: Any, args: Any, out: Any) -> None:
        import torch

        if tr.done or not is_model(st, module) or not evaluating(st, module):
            return
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or not out.is_floating_point():
            return
        tr.calls += 1
        tr.tag(out, _Info({tr.calls: int(out.shape[0])}, int(out.shape[1]), False))
        if tr.mode is None:
            tr.mode = follow(tr)
            tr.mode.__enter__()

    nn.modules.module.register_module_forward_pre_hook(pre)
    nn.modules.module.register_module_forward_hook(post)
    return tr
