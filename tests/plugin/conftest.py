"""Fixtures of the plugin tests: the stand-in directory (stand_in.py) and the one-time imports."""
from __future__ import annotations

import importlib

import pytest

from tests.plugin.stand_in import STUB_CONFTEST, TINY_TARGET, WAIVERS, spec_text


@pytest.fixture(scope="session")
def preloaded() -> None:
    """Import once, before any pytester snapshot of sys.modules, what in-process runs would import.

    Pytester drops the modules a run imported when it ends; torch, torchvision and the probe
    modules must not be imported twice in one process (native registrations, `@probe` names).
    """
    import alexnet_audit.target.record

    alexnet_audit.target.record.is_module(None)  # torch.nn
    mods = ["torchvision", "alexnet_ref", "alexnet_audit.target.resolve", "alexnet_audit.audit.verify",
            "alexnet_audit.probes.layers", "alexnet_audit.trace", "alexnet_audit.report"]
    from alexnet_audit import probes

    for mod in mods + [f"alexnet_audit.probes.{m}" for m in probes.PROBE_MODULES]:
        importlib.import_module(mod)


@pytest.fixture
def tiny(preloaded: None, pytester: pytest.Pytester) -> pytest.Pytester:
    """A directory with no test file: the stand-in spec, targets, waivers and the stub conftest."""
    pytester.makefile(".yaml", tiny_spec=spec_text(), waivers=WAIVERS)
    pytester.makepyfile(tiny_target=TINY_TARGET, conftest=STUB_CONFTEST)
    return pytester
