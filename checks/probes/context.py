"""Per-audit state shared by the probes: the target, its built model and cached measurements.

Probes call `ctx.cached(key, build)` so that one traced forward pass (and one model build) serves
every item that needs it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..core.errors import call_target
from ..spec.load import Spec
from ..target.record import Target, TargetError

T = TypeVar("T")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class NotAModule(TargetError):
    """The target's factory builds something other than a network (a plain-dict stand-in)."""


class Context:
    def __init__(self, target: Target, spec: Spec, seed: int = 0) -> None:
        self.target = target
        self.spec = spec  # the run's spec (--spec), for probes that read the paper's values
        self.seed = seed
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, build: Callable[[], T]) -> T:
        """Compute once per audit; a failure is remembered and re-raised for every later user."""
        if key not in self._cache:
            try:
                self._cache[key] = build()
            except (Exception, SystemExit) as exc:  # a target that calls sys.exit fails its items
                self._cache[key] = _Failed(exc)
        value = self._cache[key]
        if isinstance(value, _Failed):
            raise value.exc
        return value

    def build_model(self) -> Any:
        """A fresh, independently initialised model from the target's factory."""
        import torch
        import torch.nn as nn

        torch.manual_seed(self.seed)
        model = call_target(self.target.model, "building the model", TargetError)
        if not isinstance(model, nn.Module):
            raise NotAModule(f"the model factory returned {type(model).__name__}, not an nn.Module")
        return model

    @property
    def model(self) -> Any:
        """The audit's shared model instance (fresh init). Probes that change it must copy it."""
        return self.cached("model", self.build_model)

    @property
    def recipe(self) -> dict[str, Any]:
        return self.target.recipe

    def recipe_value(self, key: str) -> Any:
        """The recipe entry, or a Skip naming what is missing: a missing recipe key skips, never deviates.

        A part the target declares absent raises Absent: it is judged as "none", not skipped.
        """
        from ..core.findings import Absent, Skip

        if key in self.target.absent:
            raise Absent(key)
        if key not in self.target.recipe:
            raise Skip(f"the target gives no {key}")
        return self.target.recipe[key]


def declared_note(ctx: Context, key: str, what: str = "a literal") -> str:
    """The start of an item's evidence when the manifest gives `key` as `what` (`Target.declared`):
    judged the same way as a measured value, but not measured."""
    if key in ctx.target.declared:
        return f"declared, not measured: the manifest gives {key} as {what}; "
    return ""
