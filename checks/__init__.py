"""alexnet-audit: measure an AlexNet implementation against the NIPS 2012 paper, item by item.

Names are imported on first use: the pytest plugin imports this package in every pytest run of
an environment that has us installed, and that must stay cheap (no torch, no pydantic).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "Finding": ".findings",
    "Report": ".findings",
    "Severity": ".findings",
    "Status": ".findings",
    "Item": ".spec",
    "Spec": ".spec",
    "SpecError": ".spec",
    "load_spec": ".spec",
    "load_target": ".resolve",
    "load_reports": ".report",
    "run_audit": ".audit",
}
# `verify` lives in `alexnet_audit.verify.verify`: a package attribute of that name would be rebound to
# the submodule as soon as anything imports `alexnet_audit.verify`.

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
