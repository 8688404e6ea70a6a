"""Stub modules: the `stub_modules:` of a target manifest, empty stand-ins for optional imports.

A repository's model file often imports a logger or a config library it does not need to build the
model (`import tensorboardX`); stubbing the name lets the import succeed without installing it.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
import types
from typing import Any

# Modules a manifest may not replace with empty stubs: the audit itself runs on them.
UNSTUBBABLE = {
    "torch": "the audit measures the model with torch itself",
    "torchvision": "the audit's transform probes and reference use torchvision",
    "alexnet_audit": "that is this auditing package",
    "alexnet_ref": "that is the audit's reference model",
}


class _Anything:
    """What a stub module hands out: any attribute, any call, subclassable, iterable, falsy.

    Called with a single function or class (a decorator), it returns it unchanged.
    """

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_stub_name", name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Anything(f"{self._stub_name}.{attr}")

    def __setattr__(self, attr: str, value: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and (inspect.isfunction(args[0]) or inspect.isclass(args[0])):
            return args[0]
        return _Anything(f"{self._stub_name}()")

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (object,)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __repr__(self) -> str:
        return f"<stub {self._stub_name}>"


class StubModule(types.ModuleType):
    """An empty stand-in for an optional dependency: every attribute is a permissive dummy."""

    __path__: list[str] = []  # a package, so `import stub.sub` works too (served by _StubFinder)
    __alexnet_audit_stub__ = True

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        sub = sys.modules.get(f"{self.__name__}.{attr}")
        return sub if sub is not None else _Anything(f"{self.__name__}.{attr}")


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StubModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _StubFinder(importlib.abc.MetaPathFinder):
    """Serves the submodules of stubbed packages (`tensorboardX.writer` when `tensorboardX` is stubbed)."""

    roots: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if any(fullname == r or fullname.startswith(r + ".") for r in self.roots):
            return importlib.machinery.ModuleSpec(fullname, _StubLoader(), is_package=True)
        return None


_FINDER = _StubFinder()


def install_stubs(names: list[str]) -> None:
    """Put an empty StubModule in sys.modules for each name (and for missing parent packages)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    for name in names:
        parts = name.split(".")
        stubbed_parent = False
        for i in range(1, len(parts)):  # parents: keep real ones, stub missing ones
            parent = ".".join(parts[:i])
            if parent in sys.modules:
                stubbed_parent = isinstance(sys.modules[parent], StubModule)
                continue
            found = None
            if not stubbed_parent:
                try:
                    found = importlib.util.find_spec(parent)
                except (ImportError, ValueError):
                    found = None
            if found is None:
                sys.modules[parent] = StubModule(parent)
                _FINDER.roots.add(parent)
                stubbed_parent = True
        stub = StubModule(name)
        sys.modules[name] = stub
        _FINDER.roots.add(name)
        parent_mod = sys.modules.get(".".join(parts[:-1])) if len(parts) > 1 else None
        if parent_mod is not None:
            try:
                setattr(parent_mod, parts[-1], stub)
            except (AttributeError, TypeError):  # a read-only parent keeps its attribute; the import still works
                pass


def stub_spec(fullname: str) -> importlib.machinery.ModuleSpec:
    """The import spec of a stub module for `fullname` (and its submodules): for a finder that stubs
    what is missing at import time (capture's), where `install_stubs` would be too early."""
    _FINDER.roots.add(fullname)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return importlib.machinery.ModuleSpec(fullname, _StubLoader(), is_package=True)
