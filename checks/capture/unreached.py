"""A recipe part the captured script never reached (it failed first): every use raises with its error.

Written into captured manifests as `{type: alexnet_audit.capture.unreached:Unreached, error: ...}`,
so the items that measure the part are `error` with the script's own error line.
"""
from __future__ import annotations

from typing import Any


class Unreached:
    def __init__(self, *args: Any, error: str = "not reached") -> None:
        object.__setattr__(self, "_error", error)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # introspection (inspect.signature, copy, pickle) sees a plain object
            raise AttributeError(name)
        raise RuntimeError(self._error)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(self._error)

    def __repr__(self) -> str:
        return "Unreached()"
