"""Recipe values (§5): batch size and epochs, plain values of the target's recipe.

The optimizer and its hyper-parameters are measured in `optimizer`, the lr schedule and the update
rule in `schedule`, the loss (§3.5) in `loss`.
"""
from __future__ import annotations

from ..core.findings import Observation
from ..spec.load import Item
from . import probe
from .context import Context
from .loss import loss_probe  # noqa: F401  (its old home: `from .recipe import loss_probe`)


@probe("recipe_value")
def recipe_value(ctx: Context, item: Item) -> Observation:
    """A literal recipe value (batch_size, epochs) as the target gives it."""
    key = item.params.get("key")
    if not key:
        raise ValueError("recipe_value needs params.key")
    value = ctx.recipe_value(key)
    how = (f"declared, not measured: the manifest gives {key}={value!r}" if key in ctx.target.declared
           else f"the recipe's {key}={value!r} (a plain value of the target mapping; nothing to measure)")
    return Observation(value, how)
