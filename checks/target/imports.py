"""Importing what a target reference names: a module, a file loaded by path, an attribute.

Every failure of the user's code (a missing module, a syntax error, an exception or SystemExit at
import) becomes a one-line TargetError naming the reference.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from ..core.errors import first_line
from ..core.inputs import did_you_mean
from .record import TargetError
from .refs import is_file_left, is_notebook_ref, safe_name, split_ref


def _missing_module_message(exc: ModuleNotFoundError, what: str) -> str:
    name = exc.name or str(exc)
    return (f"{what}: importing it needs the module '{name}', which is not installed; install it, or list "
            f"'{name.split('.')[0]}' under stub_modules in a target manifest if the model does not need it.")


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
        raise TargetError(f"{what}: importing '{modname}' failed: {first_line(exc)}") from None


_FILE_MODULE_PREFIX = "_alexnet_audit_target_"


def file_module_name(path: Path) -> str:
    """A unique, importable name for a file loaded by path (so pickling and dataclasses work)."""
    import hashlib

    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"{_FILE_MODULE_PREFIX}{safe_name(path.stem).replace('-', '_').replace('.', '_')}_{digest}"


_module_name_for = file_module_name


def import_file(path: Path, what: str) -> Any:
    """Load `path` as a module; its directory goes first on sys.path so its sibling imports work.

    A notebook (.ipynb) becomes the module of its cells up to the model's definition
    (`notebook.load_notebook`: no training, download or plotting cell runs)."""
    path = path.resolve()
    if not path.is_file():
        raise TargetError(f"{what}: no such file {path}.")
    if is_notebook_ref(path.name):
        return _import_notebook(path, what)
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
        raise TargetError(f"{what}: importing {path.name} failed: {first_line(exc)}") from None
    return module


def _import_notebook(path: Path, what: str) -> Any:
    from .notebook import load_notebook

    name = file_module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    try:
        module, _ = load_notebook(path)
    except ValueError as exc:  # not a readable notebook
        raise TargetError(f"{what}: {path.name}: {exc}.") from None
    except ModuleNotFoundError as exc:
        raise TargetError(_missing_module_message(exc, what)) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | MemoryError):
            raise
        raise TargetError(f"{what}: running the cells of {path.name} failed: {first_line(exc)}") from None
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
            if isinstance(owner, str) and owner.startswith(_FILE_MODULE_PREFIX):  # our import name: show the file
                owner = Path(getattr(obj, "__file__", "") or owner).name
            raise TargetError(f"{what}: '{owner}' has no attribute '{part}'{hint}.") from None
        except Exception as exc:  # a module __getattr__ that raises something else
            raise TargetError(f"{what}: reading attribute '{part}' failed: {first_line(exc)}") from None
    return obj


def load_object(ref: str, base: Path | None = None, what: str | None = None) -> Any:
    """Import what `module:attr` or `file.py:attr` names (file paths relative to `base`)."""
    what = what or ref
    parts = split_ref(ref)
    if parts is None:
        raise TargetError(f"{what}: expected 'package.module:attr' or 'path/to/file.py:attr'.")
    left, attr = parts
    if is_file_left(left):
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
