"""The probe registry: one function per measured quantity, looked up by the spec's `probe` name.

A probe has the signature `probe(ctx: Context, item: Item) -> Observation` (`context.Context`,
`spec.load.Item`, `core.findings.Observation`). It measures; it never compares with the paper (that
is `judge.verdict`). It raises `core.findings.Skip` when the item cannot be observed on this target.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from ..core.findings import Observation
from ..spec.load import Item, Spec
from .context import Context

ProbeFn = Callable[[Context, Item], Observation]

PROBES: dict[str, ProbeFn] = {}

# Modules that register probes; imported on first use so that `import alexnet_audit` stays light.
PROBE_MODULES = ("arch", "lrn", "pool", "dropout", "init", "optimizer", "schedule", "recipe", "loss", "geometry",
                 "colour", "paper_context", "techniques", "consistency")
_MODULES = PROBE_MODULES  # the old name (tests/plugin/test_plugin.py reads it)


def _origin(fn: ProbeFn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def probe(name: str) -> Callable[[ProbeFn], ProbeFn]:
    """Register a probe under `name` (the spec's `probe:` field)."""

    def register(fn: ProbeFn) -> ProbeFn:
        # The same function re-imported (pytester drops and re-imports modules) replaces itself;
        # two different functions under one name is a programming error.
        old = PROBES.get(name)
        if old is not None and _origin(old) != _origin(fn):
            raise ValueError(f"probe '{name}' is registered twice ({_origin(old)} and {_origin(fn)})")
        PROBES[name] = fn
        return fn

    return register


def all_probes() -> dict[str, ProbeFn]:
    for mod in PROBE_MODULES:
        importlib.import_module(f".{mod}", __name__)
    return dict(sorted(PROBES.items()))


def probe_names() -> set[str]:
    """The names the probe modules register, read from their source without importing them.

    Validating a spec's probe names must not cost a torch import in a process that never runs a
    probe (the parent of `audit` and `compare`); a test holds this equal to `all_probes()`.
    Probes registered at run time (a pytest conftest's stand-ins) are included once registered.
    """
    return set(PROBES) | static_probe_names()


def static_probe_names() -> set[str]:
    """The names this package's probe modules register (their source, not the run-time registry):
    what a fresh worker process can run."""
    import ast
    from pathlib import Path

    names: set[str] = set()
    here = Path(__file__).resolve().parent
    for mod in PROBE_MODULES:
        tree = ast.parse((here / f"{mod}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id == "probe"
                            and deco.args and isinstance(deco.args[0], ast.Constant)
                            and isinstance(deco.args[0].value, str)):
                        names.add(deco.args[0].value)
    return names


def check_probe_names(spec: Spec) -> None:
    """Raise SpecError for the first item whose probe is not registered, with a did-you-mean.

    Reads the registered names from the probe modules' source (no torch import), so the parent
    of an audit can refuse a bad spec before any worker starts.
    """
    from ..core.inputs import did_you_mean, short_repr
    from ..spec.load import SpecError

    names = sorted(probe_names())
    for it in spec.items:
        if it.probe not in names:
            raise SpecError(f"{spec.path}: item {it.id}: unknown probe {short_repr(it.probe)}"
                            f"{did_you_mean(it.probe, names)} (alexnet-audit list probes).")
