"""Pretrained weights in a captured run (child side): never downloaded, and the run goes on.

A fine-tuning script asks for weights (`alexnet(weights="DEFAULT")`, `pretrained=True`,
`load_state_dict_from_url(URL)`). The recipe it trains with can still be captured: where `offline`
would refuse weights that are not on this machine, it returns an empty stand-in that
`load_state_dict` leaves unapplied, so the model keeps its own initialisation, and a note names the
URL (the paper trains from random initialisation, §5). Any other way to the network fails at once
with one line (`offline`).
"""
from __future__ import annotations

from typing import Any

from ..isolate import offline


class NotDownloaded(dict[str, object]):
    """Stands in for a state dict the script asked to download."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


def install(rec: Any) -> None:
    import torch.nn as nn

    def not_downloaded(url: str) -> NotDownloaded:
        rec.note(f"the script asked for pretrained weights ({url}): not downloaded, the model kept its own "
                 "initialisation (the paper trains from scratch)")
        return NotDownloaded(url)

    offline.install(missing_weights=not_downloaded)
    load = nn.Module.load_state_dict

    def load_state_dict(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(state_dict, NotDownloaded):
            from torch.nn.modules.module import _IncompatibleKeys
            return _IncompatibleKeys([], [])
        return load(self, state_dict, *args, **kwargs)

    nn.Module.load_state_dict = load_state_dict  # type: ignore[method-assign]
