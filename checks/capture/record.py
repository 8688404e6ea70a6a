"""What a captured run recorded, and where in the user's code each value came from (child side).

The record is one JSON document, rewritten after every event that adds to it, so that a run that
is killed at its time limit or crashes still leaves what it reached. Call sites are the first frame
outside torch, torchvision, this package and the standard library, as `path:line` relative to the
directory the user ran `capture` from.
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import sysconfig
from pathlib import Path
from typing import Any

_SKIP = [str(Path(p).resolve()) for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}]
_OURS = str(Path(__file__).resolve().parents[1])


class Recorder:
    def __init__(self, path: str, cwd: str) -> None:
        self.path = path
        self.cwd = cwd
        self.data: dict[str, Any] = {"techniques": {}, "notes": [], "opt_steps": 0, "epochs_started": 0}
        self._skip: list[str] | None = None

    def _skip_dirs(self) -> list[str]:
        if self._skip is None:
            dirs = list(_SKIP) + [_OURS]
            for name in ("torch", "torchvision", "numpy", "PIL", "yaml"):
                mod = sys.modules.get(name)
                if mod is not None and getattr(mod, "__file__", None):
                    dirs.append(str(Path(mod.__file__ or "").resolve().parent))
            self._skip = dirs
        return self._skip

    def where(self, depth: int = 2) -> str:
        """`file:line` of the user's code that called us."""
        frame = sys._getframe(depth)
        skip = self._skip_dirs()
        while frame is not None:
            name = frame.f_code.co_filename
            if not name.startswith("<"):
                full = str(Path(name).resolve())
                if not any(full.startswith(d + os.sep) for d in skip):
                    return f"{self.rel(full)}:{frame.f_lineno}"
            frame = frame.f_back  # type: ignore[assignment]
        return "?"

    def source_line(self, where: str) -> str:
        import linecache

        path, _, line = where.rpartition(":")
        if not line.isdigit():
            return ""
        full = path if os.path.isabs(path) else os.path.join(self.cwd, path)
        return linecache.getline(full, int(line)).strip()

    @property
    def scratch(self) -> Path:
        """The capture's scratch directory (the record lives in it); the run's own work folder is `work`."""
        return Path(self.path).resolve().parent

    @property
    def work(self) -> Path:
        return self.scratch / "run"

    def rel(self, path: str) -> str:
        try:
            rel = os.path.relpath(path, self.cwd)
        except ValueError:
            return path
        return path if rel.startswith("..") else rel

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def first(self, key: str, value: Any) -> None:
        """Record `value` under `key` unless something is recorded already (the first of its kind wins)."""
        if key not in self.data:
            self.set(key, value)

    def technique(self, name: str, settings: dict[str, Any]) -> None:
        if name not in self.data["techniques"]:
            self.data["techniques"][name] = settings
            self.save()

    def note(self, text: str) -> None:
        if text not in self.data["notes"]:
            self.data["notes"].append(text)
            self.save()

    def save(self) -> None:
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, default=repr)
            os.replace(tmp, self.path)
        except OSError:  # a full scratch disk: the parent reports what it last got
            return


def plain(value: Any, depth: int = 0) -> tuple[bool, Any]:
    """(ok, value as YAML-able data): numbers, strings, dtypes, enums, small tensors, references."""
    import enum

    import torch

    if value is None or isinstance(value, bool | int | str):
        return True, value
    if isinstance(value, float):
        return True, value
    if isinstance(value, torch.dtype):
        return True, str(value)
    if isinstance(value, enum.Enum):
        return True, value.value if isinstance(value.value, str | int) else value.name
    if isinstance(value, torch.Tensor):
        if value.numel() <= 64:
            return True, value.detach().cpu().tolist()
        return False, f"a tensor of shape {list(value.shape)}"
    if depth > 4:
        return False, "nested too deep"
    if isinstance(value, list | tuple):
        items = [plain(v, depth + 1) for v in value]
        if all(ok for ok, _ in items):
            return True, [v for _, v in items]
        return False, next(v for ok, v in items if not ok)
    if isinstance(value, dict):
        pairs = {str(k): plain(v, depth + 1) for k, v in value.items()}
        if all(ok for ok, _ in pairs.values()):
            return True, {k: v for k, (_, v) in pairs.items()}
        return False, next(v for ok, v in pairs.values() if not ok)
    ref = reference(value)
    if ref is not None:
        return True, {"ref": ref}
    from .configs import config_call

    call = config_call(value)  # an OmegaConf config object: rebuilt by OmegaConf.create
    if call is not None:
        return True, call
    return False, type(value).__name__


def reference(obj: Any) -> str | None:
    """`module:qualname` (or `__main__:qualname`) of a module-level class or function, else None."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)):
        return None
    module, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or "<" in qual:
        return None
    return f"{module}:{qual}"


def constructor_args(obj: Any, recorded: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The arguments an object was built with: recorded at construction, else read back from attributes
    of the same names as its constructor's parameters. Returns (args, names that could not be written)."""
    args: dict[str, Any] = {}
    lost: list[str] = []
    source = dict(recorded or {})
    if not source:
        try:
            params = inspect.signature(type(obj)).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        for name, p in params.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if name in getattr(obj, "__dict__", {}) or hasattr(type(obj), name) is False and hasattr(obj, name):
                value = getattr(obj, name)
                if p.default is not inspect.Parameter.empty and _same(value, p.default):
                    continue
                source[name] = value
    for name, value in source.items():
        ok, got = plain(value)
        if ok:
            args[name] = got
        else:
            lost.append(f"{name} ({got})")
    return args, lost


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def module_code(module: Any) -> str | None:
    """Python source that rebuilds `module` when it is made of torch.nn layers (an inline nn.Sequential),
    checked by building it and comparing reprs; None when it cannot be written."""
    import torch.nn as nn

    def code(m: Any, depth: int) -> str | None:
        cls = type(m)
        if depth > 12 or not cls.__module__.startswith("torch.nn.modules"):
            return None
        name = f"nn.{cls.__name__}"
        if getattr(nn, cls.__name__, None) is not cls:
            return None
        if isinstance(m, nn.Sequential | nn.ModuleList):
            parts = [code(c, depth + 1) for c in m.children()]
            if any(p is None for p in parts):
                return None
            inner = ", ".join(p for p in parts if p)
            return f"{name}([{inner}])" if isinstance(m, nn.ModuleList) else f"{name}({inner})"
        if any(True for _ in m.children()):
            return None
        return f"{name}({m.extra_repr()})"

    text = code(module, 0)
    if text is None:
        return None
    try:
        rebuilt = eval(text, {"nn": nn})  # noqa: S307 - our own text, from torch's own extra_repr
    except Exception:
        return None
    return text if repr(rebuilt) == repr(module) else None
