"""Context items (info.*): facts about the 2012 run that no code can show; always `skip`, with why."""
from __future__ import annotations

from ..core.findings import Observation, Skip
from ..spec.load import Item
from . import probe
from .context import Context

_REASONS = {
    "info.hardware": "paper context; not a property of code (see `alexnet-audit smoke` for your throughput)",
    "info.results": "needs the ILSVRC-2010 test set and a trained model; nothing is downloaded or trained",
}


@probe("context")
def context(ctx: Context, item: Item) -> Observation:
    """Nothing: paper context (hardware, reported error rates) that an audit of code cannot observe."""
    raise Skip(_REASONS.get(item.id, "paper context; not observable in code"))
