"""The public names: `from alexnet_audit import X` for every X in `alexnet_audit.__all__` gives the object
defined in the module that owns it (written out here, not read from the package's own table), and
importing the package itself stays cheap (no torch, no pydantic: the pytest plugin imports it in
every pytest run of an environment that has us installed)."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import alexnet_audit

# name -> the module that defines it
PUBLIC = {
    "Finding": "alexnet_audit.core.findings",
    "Observation": "alexnet_audit.core.findings",
    "Report": "alexnet_audit.core.findings",
    "Severity": "alexnet_audit.core.findings",
    "Skip": "alexnet_audit.core.findings",
    "Status": "alexnet_audit.core.findings",
    "Item": "alexnet_audit.spec.load",
    "Spec": "alexnet_audit.spec.load",
    "SpecError": "alexnet_audit.spec.load",
    "load_spec": "alexnet_audit.spec.load",
    "Waiver": "alexnet_audit.spec.waivers",
    "Target": "alexnet_audit.target.record",
    "TargetError": "alexnet_audit.target.record",
    "load_target": "alexnet_audit.target.resolve",
    "probe": "alexnet_audit.probes",
    "Context": "alexnet_audit.probes.context",
    "run_audit": "alexnet_audit.audit.pipeline",
    "GateResult": "alexnet_audit.gate.evaluate",
    "load_reports": "alexnet_audit.report.frame",  # also importable as alexnet_audit.report.load_reports
}
# The README's example: `from alexnet_audit import load_spec, load_target, run_audit, load_reports`.
README_NAMES = ("load_spec", "load_target", "run_audit", "load_reports")


def test_all_is_exactly_the_public_names_sorted() -> None:
    assert alexnet_audit.__all__ == sorted(PUBLIC)
    assert set(README_NAMES) <= set(alexnet_audit.__all__)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_imports_and_is_the_object_it_names(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from alexnet_audit import {name}", namespace)  # the statement users write
    owner = importlib.import_module(PUBLIC[name])
    assert namespace[name] is getattr(owner, name)
    assert getattr(alexnet_audit, name) is getattr(owner, name)
    assert getattr(namespace[name], "__module__", PUBLIC[name]) == PUBLIC[name]  # defined there, not re-exported


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from alexnet_audit import *", namespace)
    assert {n for n in namespace if not n.startswith("__")} == set(PUBLIC)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'verify'"):
        alexnet_audit.verify  # noqa: B018 - lives in alexnet_audit.audit.verify (see the package's comment)
    with pytest.raises(ImportError):
        exec("from alexnet_audit import no_such_name", {})


def test_importing_the_package_imports_neither_torch_nor_pydantic() -> None:
    code = ("import sys, alexnet_audit; alexnet_audit.__all__; "
            "heavy = sorted(m for m in ('torch', 'pydantic', 'pandas') if m in sys.modules); "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
