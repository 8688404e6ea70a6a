"""TARGET string -> Target: the one resolver behind every entry point.

The forms:
- a registered name (`reference`, `torchvision`, `seed-000` ... and whatever installed packages
  register under the entry-point group `alexnet_audit.targets`);
- `package.module:attr` (imported normally);
- `path/to/file.py:attr` (the file is loaded as a module with its directory on sys.path;
  `nb.ipynb:attr` likewise, from the notebook's cells up to the model's definition);
- `path/to/target.yaml` (a manifest, see `manifest`);
- `path/to/folder`, `notebook.ipynb`, and either with `::Name` (the AlexNet is found in it, see
  `repo`). A registered name wins over a folder of the same name (write `./name` for the folder).

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
from .refs import (
    MANIFEST_SUFFIXES,
    absolutize,
    default_name,
    is_manifest_ref,
    is_notebook_ref,
    safe_name,
    split_pick,
    split_ref,
)
from .registry import BUILTIN_TARGETS, ENTRY_POINT_GROUP, registered_targets

# Re-exported: callers name references, list the registered targets and import objects through the resolver.
__all__ = ["BUILTIN_TARGETS", "ENTRY_POINT_GROUP", "MANIFEST_SUFFIXES", "absolutize", "build_target", "default_name",
           "get_attr", "import_file", "import_module", "is_manifest_ref", "load_object", "load_target",
           "registered_targets", "safe_name", "split_ref"]

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
    if split_pick(ref) is not None:
        return _folder(ref, name)
    parts = split_ref(ref)
    if parts is not None:
        obj = load_object(ref)
        return build_target(name or default_name(ref), obj, ref)
    registry = registered_targets()
    if ref in registry:
        value = registry[ref]
        obj = load_object(value, what=f"target '{ref}' ({value})")
        return build_target(name or ref, obj, ref)
    if Path(ref).is_dir() or is_notebook_ref(ref):
        return _folder(ref, name)
    if ref.endswith(".py"):
        raise TargetError(f"'{ref}': name the attribute too, as '{ref}:attr' (a model, a factory or a target mapping).")
    if Path(ref).exists():
        raise TargetError(f"'{ref}': a file target needs ':attr' (file.py:attr) or a .yaml manifest.")
    raise TargetError(f"unknown target '{ref}'{did_you_mean(ref, list(registry), cutoff=0.5)}. Registered: "
                      f"{', '.join(registry)}; or give module:attr, path/file.py:attr, a .yaml manifest, a folder "
                      "or a notebook.")


def _folder(ref: str, name: str | None) -> Target:
    from .repo import load_folder

    return load_folder(ref, name=name)

