"""The instrumentation of a captured run (child side): what the training script builds and calls.

Installed by the bootstrap `sitecustomize` before the script's first line, it records the model
(the module whose parameters the optimizer gets, with its constructor arguments), the optimizer
and its param groups, the scheduler and every `.step()` (when, with which metric), the loss and
what it is fed, the loaders' batch size and transforms, and techniques (autocast, GradScaler,
clipping, AveragedModel, mixup, DataParallel, channels_last, loop-level ten-crops). See
`loaders.py` for how the training epoch is cut short.
"""
from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any

from .record import Recorder, constructor_args, module_code, reference

ARGS = "_alexnet_capture_args"
SITE = "_alexnet_capture_site"


class State:
    def __init__(self, rec: Recorder, steps: int) -> None:
        self.rec = rec
        self.steps = steps
        self.depth = 0  # nesting of nn.Module constructors (only the outermost call site is kept)
        self.tops: list[Any] = []  # weakrefs to modules built at depth 0
        self.model: Any = None  # weakref to the audited model
        self.names: dict[int, str] = {}
        self.backwards = 0
        self.in_loss = 0
        self.loss_calls: list[tuple[int, int]] = []  # (id(input), id(target)) since the last step
        self.eval_active = False
        self.sched: Any = None
        self.model_out = 0  # id() of the model's last output
        # every module built, by id: hashing a half-built module can fail (a torchmetrics Metric's __hash__)
        self.every: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def _bind(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], drop: int) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    out: dict[str, Any] = {}
    params = inspect.signature(fn).parameters
    for i, (name, value) in enumerate(bound.arguments.items()):
        if i < drop:
            continue
        if params[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif params[name].kind is not inspect.Parameter.VAR_POSITIONAL:
            out[name] = value
    return out


def _wrap_init(cls: type, st: State, module: bool) -> None:
    """Record the arguments of the most derived constructor call on the instance."""
    orig = cls.__dict__.get("__init__")
    if orig is None or getattr(orig, "_alexnet_capture", False):
        return

    @functools.wraps(orig)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        first = ARGS not in getattr(self, "__dict__", {})
        if first:
            object.__setattr__(self, ARGS, _bind(orig, (self, *args), kwargs, 1))
            if module and st.depth == 0:
                object.__setattr__(self, SITE, st.rec.where())
                st.tops.append(weakref.ref(self))
            elif module and st.depth == 1:  # a network built inside a wrapper (a LightningModule's self.model)
                object.__setattr__(self, SITE, st.rec.where())
        st.depth += module
        try:
            orig(self, *args, **kwargs)
        finally:
            st.depth -= module

    __init__._alexnet_capture = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def install(st: State) -> None:
    import torch
    import torch.nn as nn

    _modules(st, nn)
    _optimizer(st, torch)
    _scheduler(st, torch)
    _losses(st, torch, nn)
    from .techniques import install as techniques

    techniques(st, torch, nn)


# ------------------------------------------------------------------------------ modules ---

def _modules(st: State, nn: Any) -> None:
    def init_subclass(cls: type, **kwargs: Any) -> None:
        _wrap_init(cls, st, True)

    nn.Module.__init_subclass__ = classmethod(init_subclass)
    base = nn.Module.__init__

    def module_init(self: Any, *args: Any, **kwargs: Any) -> None:
        base(self, *args, **kwargs)
        st.every[id(self)] = self  # torch's own classes too (an inline nn.Sequential is a model)
        if st.depth == 0 and type(self).__module__ == "torch.nn.modules.container" and SITE not in self.__dict__:
            object.__setattr__(self, SITE, st.rec.where())

    nn.Module.__init__ = module_init


def model_record(st: State, model: Any) -> dict[str, Any]:
    args, lost = constructor_args(model, getattr(model, ARGS, None))
    cls = type(model)
    out = {"class": reference(cls) or cls.__qualname__, "kwargs": args, "lost": lost,
           "at": getattr(model, SITE, "?"), "params": [n for n, _ in model.named_parameters()]}
    if cls.__module__.startswith("torch.nn.modules"):  # built inline: its class alone does not rebuild it
        out["code"] = module_code(model)
    return out


def _find_model(st: State, params: list[Any]) -> Any:
    ids = {id(p) for p in params}
    best, score = None, 0
    for mod in [r() for r in st.tops] + list(st.every.values()):
        if mod is None:
            continue
        inner = getattr(mod, "module", None) if type(mod).__name__ in _WRAPPERS else mod
        if inner is None:
            continue
        n = sum(id(p) in ids for p in inner.parameters())
        if n > score or (n == score and best is not None and len(list(inner.parameters())) < len(
                list(best.parameters()))):
            best, score = inner, n
    from .frameworks import unwrap

    return unwrap(best)


_WRAPPERS = ("DataParallel", "DistributedDataParallel", "AveragedModel")


# ---------------------------------------------------------------------------- optimizer ---

def _optimizer(st: State, torch: Any) -> None:
    from torch.optim.optimizer import register_optimizer_step_post_hook

    orig = torch.optim.Optimizer.__init__

    def __init__(self: Any, params: Any, defaults: dict[str, Any]) -> None:
        orig(self, params, defaults)
        if "optimizer" in st.rec.data:
            st.rec.note(f"a second optimizer ({type(self).__name__}) was built; the first is audited")
            return
        allp = [p for g in self.param_groups for p in g["params"]]
        model = _find_model(st, allp)
        if model is not None:
            st.model = weakref.ref(model)
            st.names = {id(p): n for n, p in model.named_parameters()}
            st.rec.set("model", model_record(st, model))
        groups = []
        for g in self.param_groups:
            hp = {k: v for k, v in g.items() if k != "params" and isinstance(v, bool | int | float | type(None))}
            groups.append({"params": [st.names.get(id(p), "?") for p in g["params"]], **hp})
        cls = type(self)
        st.rec.set("optimizer", {"class": reference(cls) or cls.__name__, "defaults": {
            k: v for k, v in defaults.items() if isinstance(v, bool | int | float | type(None))},
            "groups": groups, "at": st.rec.where()})

    torch.optim.Optimizer.__init__ = __init__

    def after_step(opt: Any, args: Any, kwargs: Any) -> None:
        st.rec.data["opt_steps"] += 1
        st.loss_calls.clear()
        if st.rec.data["opt_steps"] == 1:
            st.rec.save()

    register_optimizer_step_post_hook(after_step)

    orig_backward = torch.Tensor.backward

    def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
        st.backwards += 1
        if "loss" not in st.rec.data:  # no loss module or functional loss: a hand-written one, from its gradient
            from .loss_grad import measure

            measure(st, self)
        return orig_backward(self, *args, **kwargs)

    torch.Tensor.backward = backward


# ---------------------------------------------------------------------------- scheduler ---

def _scheduler(st: State, torch: Any) -> None:
    import torch.optim.lr_scheduler as S

    base = S.LRScheduler
    classes = [c for c in vars(S).values() if inspect.isclass(c) and (issubclass(c, base) or c.__name__ ==
                                                                        "ReduceLROnPlateau")]
    for cls in classes:
        _wrap_sched_init(cls, st)
        if "step" in cls.__dict__:
            _wrap_step(cls, st)

    def init_subclass(cls: type, **kwargs: Any) -> None:
        _wrap_sched_init(cls, st)
        if "step" in cls.__dict__:
            _wrap_step(cls, st)

    base.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]


def _wrap_sched_init(cls: type, st: State) -> None:
    orig = cls.__dict__.get("__init__")
    if orig is None or getattr(orig, "_alexnet_capture", False):
        return

    @functools.wraps(orig)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        outer = "_capture_initing" not in self.__dict__
        if outer:
            self.__dict__["_capture_initing"] = True
            bound = _bind(orig, (self, *args), kwargs, 2)
            site = st.rec.where()
        try:
            orig(self, *args, **kwargs)
        finally:
            if outer:
                self.__dict__["_capture_initing"] = False
        if outer and st.sched is None:
            st.sched = weakref.ref(self)
            args_, lost = constructor_args(self, bound)
            st.rec.set("scheduler", {"class": reference(type(self)) or type(self).__name__, "kwargs": args_,
                                     "lost": lost, "at": site, "steps": [],
                                     "opt_steps_at_init": st.rec.data["opt_steps"]})

    __init__._alexnet_capture = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def _wrap_step(cls: type, st: State) -> None:
    orig = cls.__dict__["step"]
    if getattr(orig, "_alexnet_capture", False):
        return

    @functools.wraps(orig)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.__dict__.get("_capture_initing") or st.sched is None or st.sched() is not self:
            return orig(self, *args, **kwargs)
        events = st.rec.data["scheduler"]["steps"]
        if len(events) < 64:
            metric = args[0] if args else kwargs.get("metrics")
            where = st.rec.where()
            events.append({"opt_steps": st.rec.data["opt_steps"], "epoch": st.rec.data["epochs_started"],
                           "metric": None if metric is None else _float(metric), "at": where,
                           "line": st.rec.source_line(where)})
            st.rec.save()
        return orig(self, *args, **kwargs)

    step._alexnet_capture = True  # type: ignore[attr-defined]
    cls.step = step  # type: ignore[attr-defined]


def _float(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return repr(v)


# ------------------------------------------------------------------------------- losses ---

def _fed(x: Any) -> str:
    """What a loss is fed: probabilities (rows >= 0 summing to 1), log-probabilities, or logits."""
    import torch

    if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
        return "logits"
    x = x.detach().float()
    if bool((x >= 0).all()) and torch.allclose(x.sum(1), torch.ones(len(x), device=x.device), atol=1e-4):
        return "probabilities"
    if bool((x <= 0).all()) and torch.allclose(x.exp().sum(1), torch.ones(len(x), device=x.device), atol=1e-4):
        return "log_probabilities"
    return "logits"


def _input(st: State, x: Any) -> str:
    """What the loop feeds the loss: the model's own output (the audit sees what that is from the model
    itself), or what the loop made of it: logits, probabilities, log-probabilities."""
    return "model_output" if id(x) == st.model_out else _fed(x)


def _soft_targets(t: Any) -> bool:
    import torch

    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() == 2 and bool(
        ((t > 1e-6) & (t < 1 - 1e-6)).any())


def _loss_seen(st: State, x: Any, t: Any) -> None:
    if _soft_targets(t):
        st.rec.technique("mixup", {"evidence": f"soft targets fed to the loss at {st.rec.where(3)}"})
    key = (id(x), id(t))
    if any(k[0] == key[0] and k[1] != key[1] for k in st.loss_calls):
        st.rec.technique("mixup", {"evidence": f"one output scored against two targets at {st.rec.where(3)}"})
    st.loss_calls.append(key)


def _losses(st: State, torch: Any, nn: Any) -> None:
    import torch.nn.functional as F
    from torch.nn.modules.loss import _Loss

    def pre(module: Any, args: Any) -> None:
        if isinstance(module, _Loss):
            st.in_loss += 1
            if args and len(args) >= 2:
                _loss_seen(st, args[0], args[1])
            if "loss" not in st.rec.data and torch.is_grad_enabled() and args:
                kwargs, lost = constructor_args(module)
                cls = type(module)
                st.rec.set("loss", {"kind": "module", "class": reference(cls) or cls.__name__, "kwargs": kwargs,
                                    "lost": lost, "input": _input(st, args[0]), "at": st.rec.where()})
            return
        model = st.model() if st.model is not None else None
        if model is not None and module is model and args and hasattr(args[0], "shape"):
            if module.training and "input_size" not in st.rec.data:
                st.rec.set("input_size", list(args[0].shape[1:]))
        if type(module).__name__ == "AveragedModel" and st.eval_active:
            st.rec.data["techniques"].setdefault("ema", {})["eval"] = True
            st.rec.save()

    def post(module: Any, args: Any, out: Any) -> None:
        if isinstance(module, _Loss):
            st.in_loss -= 1
        elif st.model is not None and module is st.model():
            st.model_out = id(out)

    nn.modules.module.register_module_forward_pre_hook(pre)
    nn.modules.module.register_module_forward_hook(post)

    for name in ("cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits",
                 "binary_cross_entropy", "kl_div", "multi_margin_loss"):
        fn = getattr(F, name, None)
        if fn is not None:
            setattr(F, name, _functional(st, torch, fn, name))


def _functional(st: State, torch: Any, fn: Any, name: str) -> Any:
    @functools.wraps(fn)
    def loss(input: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        if not st.in_loss:
            _loss_seen(st, input, target)
            if "loss" not in st.rec.data and torch.is_grad_enabled():
                bound = _bind(fn, (input, target, *args), kwargs, 2)
                kept = {k: v for k, v in bound.items() if isinstance(v, bool | int | float | str)}
                st.rec.set("loss", {"kind": "function", "function": f"torch.nn.functional:{name}",
                                    "kwargs": kept, "lost": [], "input": _input(st, input), "at": st.rec.where()})
        return fn(input, target, *args, **kwargs)

    return loss
