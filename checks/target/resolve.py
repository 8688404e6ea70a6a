"""TARGET string -> Target: the one resolver behind every entry point.

Four forms:
- a registered name (`reference`, `torchvision`, `seed-000` ... and whatever installed packages
  register under the entry-point group `alexnet_audit.targets`);
- `package.module:attr` (imported normally);
- `path/to/file.py:attr` (the file is loaded as a module with its directory on sys.path);
- `path/to/target.yaml` (a manifest, see `manifest`).

Every failure is a `TargetError` with a one-line message (no traceback reaches the user).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.errors import call_target
from ..core.inputs import did_you_mean
from .imports import get_attr, import_file, import_module, load_object
from .record import Target, TargetError, from_object, is_module, reuse_first
from .refs import MANIFEST_SUFFIXES, absolutize, default_name, is_manifest_ref, safe_name, split_ref

# Re-exported: callers name references and import objects through the resolver.
__all__ = ["ENTRY_POINT_GROUP", "MANIFEST_SUFFIXES", "absolutize", "build_target", "default_name", "get_attr",
           "import_file", "import_module", "is_manifest_ref", "load_object", "load_target", "registered_targets",
           "safe_name", "split_ref"]

ENTRY_POINT_GROUP = "alexnet_audit.targets"

# Our own targets, also registered in pyproject.toml under the same group. Kept here too so that
# a source checkout that was never `pip install`-ed still knows them; an installed entry point of
# the same name wins.
BUILTIN_TARGETS: dict[str, str] = {
    "reference": "alexnet_audit.target.bundled.builtin:reference",
    "torchvision": "alexnet_audit.target.bundled.builtin:torchvision_alexnet",
    "seed-000": "alexnet_audit.target.bundled.seeds:seed_000",
    "seed-001": "alexnet_audit.target.bundled.seeds:seed_001",
    "seed-002": "alexnet_audit.target.bundled.seeds:seed_002",
    "seed-003": "alexnet_audit.target.bundled.seeds:seed_003",
    "seed-004": "alexnet_audit.target.bundled.seeds:seed_004",
}

def registered_targets() -> dict[str, str]:
    """name -> 'module:attr' for every registered target, built-ins first, then sorted by name."""
    found: dict[str, str] = dict(BUILTIN_TARGETS)
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found[ep.name] = ep.value
    except Exception:  # a broken distribution's metadata must not break `list targets`
        pass
    builtin = [n for n in BUILTIN_TARGETS]
    others = sorted(n for n in found if n not in BUILTIN_TARGETS)
    return {n: found[n] for n in builtin + others}


# ------------------------------------------------------------------------------ building ---

def build_target(name: str, obj: Any, source: str, **extra: Any) -> Target:
    """Like `alexnet_audit.target.record.from_object`, and a (factory of a) ready `Target` is accepted as is.

    `extra` (waivers, notes, declared...) is merged into the result.
    """
    if isinstance(obj, Target):
        return _merged(obj, name, source, extra)
    if callable(obj) and not isinstance(obj, Mapping) and not is_module(obj):
        built = call_target(obj, f"{source}: calling the target factory", TargetError)
        if isinstance(built, Target):
            return _merged(built, name, source, extra)
        return from_object(name, reuse_first(built, obj), source, **extra)  # from_object sees `built` first
    return from_object(name, obj, source, **extra)


def _merged(target: Target, name: str, source: str, extra: dict[str, Any]) -> Target:
    import dataclasses

    changes: dict[str, Any] = {"name": name, "source": source}
    if extra.get("waivers"):
        changes["waivers"] = {**target.waivers, **extra["waivers"]}
    if extra.get("notes"):
        changes["notes"] = [*target.notes, *extra["notes"]]
    if extra.get("declared"):
        changes["declared"] = frozenset(target.declared | frozenset(extra["declared"]))
    if extra.get("claims"):
        changes["claims"] = {**target.claims, **extra["claims"]}
    return dataclasses.replace(target, **changes)


def load_target(ref: str, name: str | None = None) -> Target:
    """Resolve any target form to a Target; `name` overrides the report name."""
    if not isinstance(ref, str) or not ref.strip():
        raise TargetError("empty target reference.")
    ref = ref.strip()
    if is_manifest_ref(ref):
        from .manifest.load import load_manifest

        return load_manifest(Path(ref), name=name)
    parts = split_ref(ref)
    if parts is not None:
        obj = load_object(ref)
        return build_target(name or default_name(ref), obj, ref)
    registry = registered_targets()
    if ref in registry:
        value = registry[ref]
        obj = load_object(value, what=f"target '{ref}' ({value})")
        return build_target(name or ref, obj, ref)
    if ref.endswith(".py"):
        raise TargetError(f"'{ref}': name the attribute too, as '{ref}:attr' (a model, a factory or a target mapping).")
    if Path(ref).exists():
        raise TargetError(f"'{ref}': a file target needs ':attr' (file.py:attr) or a .yaml manifest.")
    raise TargetError(f"unknown target '{ref}'{did_you_mean(ref, list(registry), cutoff=0.5)}. Registered: "
                      f"{', '.join(registry)}; or give module:attr, path/file.py:attr or a .yaml manifest.")

