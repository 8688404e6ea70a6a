"""alexnet-audit: measure an AlexNet implementation against the NIPS 2012 paper, item by item.

Names are imported on first use: the pytest plugin imports this package in every pytest run of
an environment that has us installed, and that must stay cheap (no torch, no pydantic).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    # records every stage exchanges
    "Finding": ".core.findings",
    "Observation": ".core.findings",
    "Report": ".core.findings",
    "Severity": ".core.findings",
    "Skip": ".core.findings",
    "Status": ".core.findings",
    # the paper as data, and waivers
    "Item": ".spec.load",
    "Spec": ".spec.load",
    "SpecError": ".spec.load",
    "load_spec": ".spec.load",
    "Waiver": ".spec.waivers",
    # what is audited
    "Target": ".target.record",
    "TargetError": ".target.record",
    "load_target": ".target.resolve",
    # extending: a probe of your own
    "probe": ".probes",
    "Context": ".probes.context",
    # the pipeline, the gate and reading reports back
    "run_audit": ".audit.pipeline",
    "GateResult": ".gate.evaluate",
    "load_reports": ".report",
}
# `verify` lives in `alexnet_audit.audit.verify.verify`: a package attribute of that name would be rebound to
# the submodule as soon as anything imports `alexnet_audit.audit.verify`.

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
