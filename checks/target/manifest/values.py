"""Literal recipe values of a manifest, built here: optimizer, scheduler, loss, transform steps, arguments.

A value is either a torch / torchvision name (`{type: SGD, lr: 0.01}`, `RandomCrop`) or a reference
to the repository's own code (`{type: src/aug.py:Lighting, alphastd: 0.1}`), so that what
`alexnet-audit capture` records is an ordinary manifest. Arguments are typed where the callee says
so: `dtype: torch.float` becomes a dtype, `interpolation: bilinear` an InterpolationMode,
`{ref: module:attr}` the object itself, `{call: module:attr, args: [...], kwargs: {...}}` what that
callable returns (a config object for a constructor) and `{path: configs/a.yaml}` the absolute path
of a file named relative to the manifest (or to its `inferred_from:` folder). Every problem is one
line naming the file, the key and the step: `m.yaml: train_transform[2] (ConvertImageDtype).dtype: ...`.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ...core.errors import first_line
from ...core.inputs import did_you_mean, short_repr
from ..record import TargetError

NONE = "none"  # `scheduler: none`: the recipe has no such part (judged as absent, not skipped)


def is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == NONE)


def is_ref(value: Any) -> bool:
    return isinstance(value, str) and ":" in value and not value.startswith("torch.")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class Typed(NamedTuple):
    """A literal `{type: ...}` value checked but not yet built: `cls(*positionals, **kwargs)` builds it."""

    cls: Any
    kwargs: dict[str, Any]
    label: str  # the class's name, as problems and evidence show it


class Values:
    """Builds literal values for one manifest, collecting one-line problems instead of raising."""

    def __init__(self, base: Path | None, problems: list[str]) -> None:
        self.base = base
        self.problems = problems

    # ------------------------------------------------------------------------- references ---
    def load(self, ref: str, at: str) -> Any:
        from ..imports import load_object

        try:
            return load_object(ref, base=self.base, what=f"{at} ({ref})")
        except TargetError as exc:
            self.problems.append(str(exc))
            return None

    def resolve_type(self, tname: Any, classes: dict[str, Any], at: str, kind: str) -> Any:
        """A class by torch/torchvision name, or any callable by `module:attr` / `file.py:attr`."""
        if is_ref(tname):
            return self.load(tname, f"{at}.type")
        if not isinstance(tname, str) or tname not in classes:
            hint = did_you_mean(str(tname), list(classes))
            self.problems.append(f"{at}.type: unknown {kind} {short_repr(tname)}{hint}; give a torch name or a "
                                 "'module:attr' / 'file.py:attr' reference.")
            return None
        return classes[tname]

    # -------------------------------------------------------------------------- arguments ---
    def arg(self, name: str, value: Any, at: str) -> Any:
        """One argument, converted to what the callee expects (see the module docstring)."""
        if isinstance(value, Mapping) and set(value) == {"ref"}:
            return self.load(str(value["ref"]), at)
        if isinstance(value, Mapping) and set(value) == {"path"}:
            return str(((self.base or Path.cwd()) / str(value["path"])).resolve())
        if isinstance(value, Mapping) and "call" in value:
            return self.call(value, at)
        if name == "dtype" or (isinstance(value, str) and value.startswith("torch.")):
            return self.dtype(value, at) if name == "dtype" or _dtype_or_none(value) is not None else value
        if name == "interpolation" and isinstance(value, str):
            import torchvision.transforms as T

            modes = {m.value: m for m in T.InterpolationMode}
            if value.lower() not in modes:
                self.problems.append(f"{at}: unknown interpolation {short_repr(value)}"
                                     f"{did_you_mean(value.lower(), list(modes))}.")
                return None
            return modes[value.lower()]
        if name in ("transforms", "transform") and isinstance(value, list):
            return self.steps(value, at, wrap=False)  # a container calls its steps its own way
        if isinstance(value, list):
            return [self.arg("", v, f"{at}[{i}]") for i, v in enumerate(value)]
        return value

    def args(self, kwargs: Mapping[str, Any], at: str) -> dict[str, Any]:
        return {str(k): self.arg(str(k), v, f"{at}.{k}") for k, v in kwargs.items()}

    def dtype(self, value: Any, at: str) -> Any:
        got = _dtype_or_none(value)
        if got is None:
            import torch

            names = sorted(n for n in dir(torch) if isinstance(getattr(torch, n, None), torch.dtype))
            self.problems.append(f"{at}: {short_repr(value)} is not a torch dtype"
                                 f"{did_you_mean(str(value).removeprefix('torch.'), names)} "
                                 "(write e.g. torch.float32).")
        return got

    def call(self, value: Mapping[str, Any], at: str) -> Any:
        """`{call: module:attr, args: [...], kwargs: {...}}`: what the callable returns."""
        extra = set(value) - {"call", "args", "kwargs", "attr"}
        if extra:
            self.problems.append(f"{at}: a call takes call, args, kwargs and attr (got {', '.join(sorted(extra))}).")
            return None
        fn = self.load(str(value["call"]), f"{at}.call")
        if fn is None:
            return None
        args = value.get("args") or []
        kwargs = value.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, Mapping):
            self.problems.append(f"{at}: args must be a list and kwargs a mapping.")
            return None
        a = [self.arg("", v, f"{at}.args[{i}]") for i, v in enumerate(args)]
        kw = self.args(kwargs, f"{at}.kwargs")
        try:
            out = fn(*a, **kw)
        except Exception as exc:
            self.problems.append(f"{at}: calling {value['call']} failed: {first_line(exc)}")
            return None
        for part in str(value.get("attr") or "").split("."):  # a transform built inside a method: attr path
            if part:
                try:
                    out = getattr(out, part)
                except AttributeError:
                    self.problems.append(f"{at}.attr: {type(out).__name__} has no attribute {short_repr(part)}.")
                    return None
        return out

    # -------------------------------------------------------------------------- construct ---
    def typed(self, value: dict[str, Any], classes: dict[str, Any], at: str, kind: str, skip: int,
              check: Callable[[str, dict[str, Any]], list[str]] | None = None) -> Typed | None:
        """`{type: Name|ref, ...arguments}` (`value`, its `type` popped here): the class, its typed keyword
        arguments checked against its signature (after `skip` positionals) and its label; None after a
        problem. `check(label, kwargs)` adds the caller's own problems, which stop it before the signature."""
        tname = value.pop("type")
        cls = self.resolve_type(tname, classes, at, kind)
        if cls is None:
            return None
        label = getattr(cls, "__name__", str(tname))
        kwargs = self.args(value, at)
        bad = check(label, kwargs) if check is not None else []
        self.problems.extend(bad)
        if bad or self.construct(cls, kwargs, skip, at, label) is None:
            return None
        return Typed(cls, kwargs, label)

    def construct(self, cls: Any, kwargs: dict[str, Any], skip: int, at: str, label: str) -> Any | None:
        """Check the keyword names against the signature, then build `cls(**kwargs)`."""
        bad = kw_problems(cls, kwargs, skip, at, label)
        self.problems.extend(bad)
        return None if bad else kwargs

    def new(self, cls: Any, kwargs: dict[str, Any], at: str, label: str, *args: Any) -> Any:
        try:
            return cls(*args, **kwargs)
        except Exception as exc:
            self.problems.append(f"{at}: {label}(...) failed: {first_line(exc)}")
            return None

    # ----------------------------------------------------------------------------- steps ---
    def steps(self, value: list[Any], at: str, wrap: bool = True) -> list[Any]:
        out = []
        for i, step in enumerate(value):
            built = self.step(step, f"{at}[{i}]", wrap)
            if built is not None:
                out.append(built)
        return out

    def step(self, step: Any, where: str, wrap: bool = True) -> Any:
        """One transform step: `Name`, `{type: Name|ref, ...args}`, `{use: ref}` or `{call: ref, ...}`."""
        if isinstance(step, str):
            step = {"type": step}
        if not isinstance(step, Mapping):
            self.problems.append(f"{where}: a transform step is a name (ToTensor) or {{type: Name, ...arguments}}.")
            return None
        step = dict(step)
        style = step.pop("style", None)
        if style not in (None, "torchvision", "albumentations"):
            self.problems.append(f"{where}.style: must be torchvision or albumentations (got {short_repr(style)}).")
            return None
        if "use" in step:
            obj = self.load(str(step["use"]), f"{where}.use") if len(step) == 1 else None
            if len(step) != 1:
                self.problems.append(f"{where}: a `use:` step takes no arguments (use `type:` to call it).")
            built, label = obj, str(step["use"])
        elif "call" in step:
            built, label = self.call(step, where), str(step["call"])
        elif "type" in step:
            tname = step.pop("type")
            cls = self.resolve_type(tname, transform_classes(), where, "transform")
            if cls is None:
                return None
            label = getattr(cls, "__name__", str(tname))
            at = f"{where} ({label})"
            kwargs = self.args(step, at)
            if self.construct(cls, kwargs, 0, at, label) is None:
                return None
            built = self.new(cls, kwargs, at, label)
        else:
            self.problems.append(f"{where}: a transform step needs `type:`, `use:` or `call:`.")
            return None
        if built is None:
            return None
        if not callable(built):
            self.problems.append(f"{where} ({label}): {type(built).__name__} is not callable, so not a transform.")
            return None
        module = str(getattr(type(built), "__module__", "") or "")
        if wrap and (style == "albumentations" or (style is None and (module.split(".")[0] == "albumentations"
                                                                      or _keyword_image(built)))):
            return AlbumentationsStep(built)
        return built


class AlbumentationsStep:
    """An albumentations-style transform (`t(image=array)["image"]`) as a plain callable on one image."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, img: Any) -> Any:
        import numpy as np

        array = img if isinstance(img, np.ndarray) else np.asarray(img)
        out = self.inner(image=array)
        return out["image"] if isinstance(out, Mapping) else out

    def __repr__(self) -> str:
        return f"albumentations({self.inner!r})"


def _keyword_image(obj: Any) -> bool:
    """Whether a step is called as `t(image=...)` only: no positional parameter, a keyword `image`."""
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return not positional and any(p.name == "image" and p.kind is p.KEYWORD_ONLY for p in params)


def _dtype_or_none(value: Any) -> Any:
    import torch

    if isinstance(value, torch.dtype):
        return value
    if not isinstance(value, str):
        return None
    got = getattr(torch, value.strip().removeprefix("torch."), None)
    return got if isinstance(got, torch.dtype) else None


def kw_problems(cls: Any, kwargs: Mapping[str, Any], skip: int, at: str, label: str | None = None) -> list[str]:
    """Keyword names that `cls(...)` does not accept (after `skip` leading positionals)."""
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    names = [p.name for p in params[skip:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    label = label or getattr(cls, "__name__", "it")
    return [f"{at}: {label} takes no argument {short_repr(k)}{did_you_mean(k, names)}."
            for k in kwargs if k not in names]


# ----------------------------------------------------------------------------- name tables ---

def _classes(module: Any, want: Callable[[Any], bool]) -> dict[str, Any]:
    return {n: getattr(module, n) for n in dir(module) if not n.startswith("_") and want(getattr(module, n))}


def optimizer_classes() -> dict[str, Any]:
    import torch

    return _classes(torch.optim, lambda c: inspect.isclass(c) and issubclass(c, torch.optim.Optimizer)
                    and c is not torch.optim.Optimizer)


def scheduler_classes() -> dict[str, Any]:
    import torch

    base = torch.optim.lr_scheduler.LRScheduler
    return _classes(torch.optim.lr_scheduler, lambda c: inspect.isclass(c) and (
        issubclass(c, base) or c.__name__ == "ReduceLROnPlateau") and c is not base)


def loss_classes() -> dict[str, Any]:
    import torch.nn as nn

    return _classes(nn, lambda c: inspect.isclass(c) and issubclass(c, nn.Module) and c.__name__.endswith("Loss"))


def transform_classes() -> dict[str, Any]:
    """torchvision.transforms by name; `v2.Name` for torchvision.transforms.v2."""
    import torchvision.transforms as T

    out = _classes(T, lambda c: inspect.isclass(c) and c.__module__.startswith("torchvision.transforms"))
    try:
        import torchvision.transforms.v2 as V2
    except ImportError:  # pragma: no cover - torchvision < 0.15
        return out
    out.update({f"v2.{k}": v for k, v in _classes(V2, lambda c: inspect.isclass(c)).items()})
    return out


def optimizer_number_problems(kwargs: Mapping[str, Any], at: str) -> list[str]:
    return [f"{at}.{k}: must be a number (got {short_repr(v)})." for k, v in kwargs.items()
            if k in ("lr", "momentum", "weight_decay", "dampening", "eps", "alpha") and not _is_number(v)]
