"""TARGET string -> Target (DESIGN.md, 'Targets').

Four forms:
- a registered name (`reference`, `torchvision`, `seed-000` ... and whatever installed packages
  register under the entry-point group `alexnet_audit.targets`);
- `package.module:attr` (imported normally);
- `path/to/file.py:attr` (the file is loaded as a module with its directory on sys.path);
- `path/to/target.yaml` (a manifest, see `checks.manifest`).

Every failure is a `TargetError` with a one-line message (no traceback reaches the user).
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .inputs import did_you_mean
from .target import Target, TargetError, from_object

ENTRY_POINT_GROUP = "alexnet_audit.targets"

# Our own targets, also registered in pyproject.toml under the same group. Kept here too so that
# a source checkout that was never `pip install`-ed still knows them; an installed entry point of
# the same name wins.
BUILTIN_TARGETS: dict[str, str] = {
    "reference": "alexnet_audit.targets.builtin:reference",
    "torchvision": "alexnet_audit.targets.builtin:torchvision_alexnet",
    "seed-000": "alexnet_audit.targets.seeds:seed_000",
    "seed-001": "alexnet_audit.targets.seeds:seed_001",
    "seed-002": "alexnet_audit.targets.seeds:seed_002",
    "seed-003": "alexnet_audit.targets.seeds:seed_003",
    "seed-004": "alexnet_audit.targets.seeds:seed_004",
}

MANIFEST_SUFFIXES = (".yaml", ".yml")


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


# ------------------------------------------------------------------------------------- names ---

def safe_name(text: str) -> str:
    """A file-system-safe report name: letters, digits, '.', '_' and '-' only."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return out or "target"


def split_ref(ref: str) -> tuple[str, str] | None:
    """'left:attr' -> (left, attr); None when there is no attr part (a Windows drive is not one)."""
    if ":" not in ref:
        return None
    left, _, attr = ref.rpartition(":")
    if not left or not attr or re.fullmatch(r"[A-Za-z]", left) or "/" in attr or "\\" in attr:
        return None
    return left, attr


def is_manifest_ref(ref: str) -> bool:
    return split_ref(ref) is None and ref.lower().endswith(MANIFEST_SUFFIXES)


def _is_file_left(left: str) -> bool:
    return left.endswith(".py") or "/" in left or "\\" in left


def default_name(ref: str) -> str:
    """The report name a reference gets, known without importing anything.

    Registered names keep their name; `pkg.mod:attr` -> `mod.attr`; `dir/file.py:attr` ->
    `file.attr`; a manifest -> its `name` key, else the file's stem.
    """
    if is_manifest_ref(ref):
        try:
            import yaml

            data = yaml.safe_load(Path(ref).read_text(encoding="utf-8"))
            if isinstance(data, Mapping) and isinstance(data.get("name"), str) and data["name"].strip():
                return safe_name(data["name"].strip())
        except Exception:
            pass
        return safe_name(Path(ref).stem)
    parts = split_ref(ref)
    if parts is None:
        return safe_name(ref)
    left, attr = parts
    stem = Path(left).stem if _is_file_left(left) else left.rsplit(".", 1)[-1]
    return safe_name(f"{stem}.{attr}")


def absolutize(ref: str, base: Path | None = None) -> str:
    """Make the file part of a file or manifest reference absolute (for a subprocess elsewhere)."""
    base = base or Path.cwd()
    if is_manifest_ref(ref):
        return str((base / ref).resolve())
    parts = split_ref(ref)
    if parts is not None and _is_file_left(parts[0]):
        return f"{(base / parts[0]).resolve()}:{parts[1]}"
    return ref


# ---------------------------------------------------------------------------------- importing ---

def _missing_module_message(exc: ModuleNotFoundError, what: str) -> str:
    name = exc.name or str(exc)
    return (f"{what}: importing it needs the module '{name}', which is not installed; install it, or list "
            f"'{name.split('.')[0]}' under stub_modules in a target manifest if the model does not need it.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def import_module(modname: str, what: str) -> Any:
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == modname or modname.startswith(exc.name + ".")):
            raise TargetError(f"{what}: no module named '{exc.name}' (is it installed, or is its directory on "
                              f"sys.path? a manifest can add one with sys_path).") from None
        raise TargetError(_missing_module_message(exc, what)) from None
    except TargetError:
        raise
    except SyntaxError as exc:
        raise TargetError(f"{what}: importing '{modname}' failed: SyntaxError in {exc.filename} line {exc.lineno}: "
                          f"{exc.msg}") from None
    except BaseException as exc:  # SystemExit, KeyboardInterrupt from a module's top level included
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TargetError(f"{what}: importing '{modname}' failed: {_first_line(exc)}") from None


def _module_name_for(path: Path) -> str:
    """A unique, importable name for a file loaded by path (so pickling and dataclasses work)."""
    import hashlib

    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"_alexnet_audit_target_{safe_name(path.stem).replace('-', '_').replace('.', '_')}_{digest}"


def import_file(path: Path, what: str) -> Any:
    """Load `path` as a module; its directory goes first on sys.path so its sibling imports work."""
    path = path.resolve()
    if not path.is_file():
        raise TargetError(f"{what}: no such file {path}.")
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = _module_name_for(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{what}: cannot load {path} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        sys.modules.pop(name, None)
        raise TargetError(_missing_module_message(exc, what)) from None
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise TargetError(f"{what}: SyntaxError in {exc.filename} line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TargetError(f"{what}: importing {path.name} failed: {_first_line(exc)}") from None
    return module


def get_attr(module: Any, attr: str, what: str) -> Any:
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            hint = did_you_mean(part, names)
            owner = getattr(obj, "__name__", type(obj).__name__)
            raise TargetError(f"{what}: '{owner}' has no attribute '{part}'{hint}.") from None
        except Exception as exc:  # a module __getattr__ that raises something else
            raise TargetError(f"{what}: reading attribute '{part}' failed: {_first_line(exc)}") from None
    return obj


def load_object(ref: str, base: Path | None = None, what: str | None = None) -> Any:
    """Import what `module:attr` or `file.py:attr` names (file paths relative to `base`)."""
    what = what or ref
    parts = split_ref(ref)
    if parts is None:
        raise TargetError(f"{what}: expected 'package.module:attr' or 'path/to/file.py:attr'.")
    left, attr = parts
    if _is_file_left(left):
        path = Path(left)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        module = import_file(path, what)
    else:
        if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", left):
            raise TargetError(f"{what}: '{left}' is neither a module name nor a .py file.")
        here = str(Path.cwd())
        if here not in sys.path and "" not in sys.path:  # `mymodel:build` from the model's directory
            sys.path.append(here)
        module = import_module(left, what)
    return get_attr(module, attr, what)


# ------------------------------------------------------------------------------ building ---

def build_target(name: str, obj: Any, source: str, **extra: Any) -> Target:
    """Like `checks.target.from_object`, and a (factory of a) ready `Target` is accepted as is.

    `extra` (waivers, notes, declared...) is merged into the result.
    """
    from .target import _is_module

    if isinstance(obj, Target):
        return _merged(obj, name, source, extra)
    if callable(obj) and not isinstance(obj, Mapping) and not _is_module(obj):
        try:
            built = obj()
        except Exception as exc:
            raise TargetError(f"{source}: calling the target factory failed: {_first_line(exc)}") from None
        if isinstance(built, Target):
            return _merged(built, name, source, extra)
        first = [built]

        def again() -> Any:  # hand the value already built to from_object, then build afresh
            return first.pop() if first else obj()

        return from_object(name, again, source, **extra)
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
        from .manifest import load_manifest

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

