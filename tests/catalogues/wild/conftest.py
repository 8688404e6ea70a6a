"""Fixtures both wild catalogues share: the spec, and no per-layer table (judged elsewhere)."""
from __future__ import annotations

import pytest

from alexnet_audit.spec.load import load_spec


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module", autouse=True)
def _no_layer_table():
    """The report's per-layer table is not judged here (see tests/probes/test_layers.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("alexnet_audit.probes.layers.layer_table", lambda ctx: [])
        yield
