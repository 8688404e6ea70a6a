"""A manifest's literal optimizer, scheduler and loss, and its `techniques:` section.

```yaml
optimizer: {type: SGD, lr: 0.01, momentum: 0.9,          # a torch.optim name or a module:attr reference
            param_groups: [{params: [fc.bias], lr: 0.02}]}  # by parameter name; the rest: one group
scheduler: none                                          # no scheduler: a constant lr, judged as such
loss: {type: CrossEntropyLoss, label_smoothing: 0.1}     # or {function: torch.nn.functional:nll_loss}
#     input: probabilities | log_probabilities           # what the loss is fed (softmax in the model)
techniques:
  grad_clip: {max_norm: 5.0}            # clip_grad_norm_ (or {value: 0.5}: clip_grad_value_)
  amp: {dtype: float16, grad_scaler: true}
  ema: {decay: 0.999, eval: true}       # an averaged model, used for evaluation
  mixup: {alpha: 0.2}                   # cutmix: {alpha: 1.0}
  label_smoothing: 0.1                  # applied by the loop, outside the loss
  scheduler_step: {every: iteration, per_epoch: 100, order: after_optimizer, metric: val_loss}
  channels_last: true
  parallel: ddp                         # or data_parallel
  eval_crops: {views: 10, combine: average}
```
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...core.inputs import did_you_mean, short_repr
from .values import Values, is_none, loss_classes, optimizer_classes, optimizer_number_problems, scheduler_classes


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# --------------------------------------------------------------------------------- optimizer ---

def optimizer(value: Mapping[str, Any], at: str, vals: Values, names: list[str] | None = None) -> Any:
    """callable(params) -> Optimizer; `param_groups` select parameters by their names in the model."""
    value = dict(value)
    if "type" not in value:
        vals.problems.append(f"{at}: a literal optimizer needs 'type' (e.g. SGD).")
        return None
    groups = value.pop("param_groups", None)

    def numbers(label: str, kwargs: dict[str, Any]) -> list[str]:
        bad = optimizer_number_problems(kwargs, at)
        if "lr" not in kwargs and label == "SGD" and not groups:
            bad.append(f"{at}: SGD needs 'lr'.")
        return bad

    typed = vals.typed(value, optimizer_classes(), at, "optimizer", 1, numbers)
    if typed is None:
        return None
    cls, kwargs, label = typed
    specs = _groups(groups, at, vals, names) if groups is not None else []
    if specs is None:
        return None

    def build(params: Any) -> Any:
        return cls(_split(list(params), specs, names), **kwargs)

    build.__qualname__ = f"manifest {label}({', '.join(f'{k}={short_repr(v)}' for k, v in kwargs.items())})"
    return build


Groups = list[tuple[list[str], dict[str, Any]]]


def _groups(groups: Any, at: str, vals: Values, names: list[str] | None) -> Groups | None:
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) and "params" in g for g in groups):
        vals.problems.append(f"{at}.param_groups: a list of {{params: [parameter names], ...settings}}.")
        return None
    out = []
    for i, g in enumerate(groups):
        chosen = g["params"]
        where = f"{at}.param_groups[{i}]"
        if not isinstance(chosen, list) or not all(isinstance(n, str) for n in chosen):
            vals.problems.append(f"{where}.params: a list of parameter names (as model.named_parameters() gives).")
            return None
        unknown = [n for n in chosen if names is not None and n not in names]
        if unknown:
            vals.problems.append(f"{where}.params: the model has no parameter {short_repr(unknown[0])}"
                                 f"{did_you_mean(unknown[0], names or [])}.")
            return None
        settings = vals.args({k: v for k, v in g.items() if k != "params"}, where)
        bad = optimizer_number_problems(settings, where)
        vals.problems.extend(bad)
        if bad:
            return None
        out.append((list(chosen), settings))
    return out


def _split(params: list[Any], specs: Groups, names: list[str] | None) -> list[Any]:
    """The param groups for `params`: by name when they are the model's own, else by ndim.

    Probes also step toy parameters (one weight-like, one bias-like tensor); each then gets the
    settings of the group holding the model's first parameter of the same kind.
    """
    if not specs:
        return params
    if names is not None and len(params) == len(names):
        index = {n: i for i, n in enumerate(names)}
        taken: set[int] = set()
        groups = []
        for chosen, settings in specs:
            ids = [index[n] for n in chosen if index[n] not in taken]
            taken.update(ids)
            if ids:
                groups.append({"params": [params[i] for i in ids], **settings})
        rest = [p for i, p in enumerate(params) if i not in taken]
        return ([{"params": rest}] if rest else []) + groups
    by_name = {n: s for chosen, s in specs for n in chosen}
    groups = []
    for p in params:
        kind = (lambda n: n.endswith("bias")) if p.dim() <= 1 else (lambda n: not n.endswith("bias"))
        first = next((n for n in names or [] if kind(n)), None)
        groups.append({"params": [p], **(by_name.get(first, {}) if first else {})})
    return groups


# --------------------------------------------------------------------------------- scheduler ---

class PerIteration:
    """A scheduler stepped every iteration, seen per epoch: one step() is `per_epoch` inner steps."""

    def __init__(self, inner: Any, per_epoch: int) -> None:
        self.inner = inner
        self.per_epoch = per_epoch

    def step(self) -> None:
        for _ in range(self.per_epoch):
            self.inner.step()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def scheduler(value: Mapping[str, Any], at: str, vals: Values, techniques: Mapping[str, Any]) -> Any:
    value = dict(value)
    if "type" not in value:
        vals.problems.append(f"{at}: a literal scheduler needs 'type' (e.g. StepLR), or write `scheduler: none`.")
        return None
    typed = vals.typed(value, scheduler_classes(), at, "scheduler", 1)
    if typed is None:
        return None
    cls, kwargs, label = typed
    stepping = techniques.get("scheduler_step") or {}
    per = int(stepping.get("per_epoch") or 1) if stepping.get("every") == "iteration" else 1

    def build(opt: Any) -> Any:
        inner = cls(opt, **kwargs)
        return PerIteration(inner, per) if per > 1 else inner

    build.__qualname__ = f"manifest {label}"
    return build


# -------------------------------------------------------------------------------------- loss ---

INPUTS = ("logits", "probabilities", "log_probabilities")


class FedLoss:
    """A loss fed what the model's output becomes before it: the logits, their softmax or log-softmax."""

    def __init__(self, fn: Callable[..., Any], feed: str, label: str) -> None:
        self.fn, self.feed, self.__qualname__ = fn, feed, label

    def __call__(self, input: Any, target: Any) -> Any:
        if self.feed == "probabilities":
            input = input.softmax(1)
        elif self.feed == "log_probabilities":
            input = input.log_softmax(1)
        return self.fn(input, target)


def loss(value: Mapping[str, Any], at: str, vals: Values) -> Any:
    value = dict(value)
    feed = value.pop("input", "logits")
    if feed not in INPUTS:
        vals.problems.append(f"{at}.input: one of {', '.join(INPUTS)} (got {short_repr(feed)}).")
        return None
    if "function" in value:
        ref = value.pop("function")
        fn = vals.load(str(ref), f"{at}.function")
        if fn is None:
            return None
        kwargs = vals.args(value, at)
        label = f"{ref}({', '.join(f'{k}={short_repr(v)}' for k, v in kwargs.items())})"
        return FedLoss(lambda z, t: fn(z, t, **kwargs), feed, label)
    if "type" not in value:
        vals.problems.append(f"{at}: a literal loss needs 'type' (e.g. CrossEntropyLoss) or 'function'.")
        return None
    typed = vals.typed(value, loss_classes(), at, "loss", 0)
    if typed is None:
        return None
    cls, kwargs, label = typed
    built = vals.new(cls, kwargs, at, label)
    if built is None or feed == "logits":
        return built
    return FedLoss(built, feed, f"{label} on {feed}")


# -------------------------------------------------------------------------------- techniques ---

# name -> (fields and their checks); a value of `none` or false says the run does not use it.
_POS = ("a positive number", lambda v: _num(v) and v > 0)
_FRAC = ("a number in [0, 1)", lambda v: _num(v) and 0 <= v < 1)
_BOOL = ("true or false", lambda v: isinstance(v, bool))
_STR = ("a string", lambda v: isinstance(v, str) and bool(v.strip()))
_INT = ("a positive integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0)


def _one_of(*choices: str) -> tuple[str, Callable[[Any], bool]]:
    return (f"one of {', '.join(choices)}", lambda v: v in choices)


TECHNIQUES: dict[str, dict[str, tuple[str, Callable[[Any], bool]]]] = {
    "grad_clip": {"max_norm": _POS, "norm_type": _POS, "value": _POS},
    "amp": {"dtype": _one_of("float16", "bfloat16"), "grad_scaler": _BOOL},
    "ema": {"decay": _FRAC, "eval": _BOOL, "every": _INT},
    "mixup": {"alpha": _POS, "prob": _FRAC},
    "cutmix": {"alpha": _POS, "prob": _FRAC},
    "scheduler_step": {"every": _one_of("epoch", "iteration"), "per_epoch": _INT,
                       "order": _one_of("after_optimizer", "before_optimizer"), "metric": _STR},
    "eval_crops": {"views": _INT, "combine": _one_of("average", "separate", "max")},
}
SCALARS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "label_smoothing": _FRAC,
    "channels_last": _BOOL,
    "parallel": _one_of("data_parallel", "ddp"),
}


def techniques(value: Any, at: str, problems: list[str]) -> dict[str, Any]:
    """The validated `techniques:` mapping (absent techniques dropped: `none`, false, 0)."""
    if is_none(value):
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{at}: a mapping of technique: settings (got {short_repr(value)}).")
        return {}
    names = [*TECHNIQUES, *SCALARS]
    out: dict[str, Any] = {}
    for key, v in value.items():
        where = f"{at}.{key}"
        if key not in names:
            problems.append(f"{where}: unknown technique{did_you_mean(str(key), names)}; known: {', '.join(names)}.")
        elif is_none(v) or v is False:
            continue
        elif key in SCALARS:
            what, ok = SCALARS[key]
            if not ok(v):
                problems.append(f"{where}: must be {what} (got {short_repr(v)}).")
            elif v:
                out[key] = v
        elif v is True:
            out[key] = {}
        elif not isinstance(v, Mapping):
            problems.append(f"{where}: a mapping of settings ({', '.join(TECHNIQUES[key])}), true, or none.")
        else:
            fields = TECHNIQUES[key]
            for f, fv in v.items():
                if f not in fields:
                    problems.append(f"{where}.{f}: unknown setting{did_you_mean(str(f), list(fields))}; "
                                    f"known: {', '.join(fields)}.")
                elif not fields[f][1](fv):
                    problems.append(f"{where}.{f}: must be {fields[f][0]} (got {short_repr(fv)}).")
            out[key] = dict(v)
    return out
