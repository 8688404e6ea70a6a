"""alexnet-audit: measure an AlexNet implementation against the NIPS 2012 paper, item by item.

Names are imported on first use: the pytest plugin imports this package in every pytest run of
an environment that has us installed, and that must stay cheap (no torch, no pydantic).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Finding": "checks.findings",
    "Report": "checks.findings",
    "Severity": "checks.findings",
    "Status": "checks.findings",
    "Item": "checks.spec",
    "Spec": "checks.spec",
    "SpecError": "checks.spec",
    "load_spec": "checks.spec",
    "load_target": "checks.resolve",
}
# `verify` lives in `checks.verify.verify`: a package attribute of that name would be rebound to
# the submodule as soon as anything imports `checks.verify`.

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'checks' has no attribute {name!r}")
