"""Source sites recorded while the target is built and run: the audit's view of "where in the code".

- `BuildRecorder.factory(model_factory)` wraps the target's model factory. While it runs,
  `nn.Module.__init__` notes where each module was created (the first user frame outside the
  module's own `__init__` chain: the `nn.LocalResponseNorm(...)` line, the `nn.Sequential(...)`
  entry), and a `TorchFunctionMode` notes the user line that last wrote each tensor storage (the
  layer's construction for torch's default init, the init code when some ran: `nn.init.normal_`,
  `m.weight.data.fill_`, a parameter made from `torch.randn(...) * 0.01`).
- `BuildRecorder.recipe()` is open while the probes run: the first user line that constructs an
  optimizer and a learning-rate scheduler (the target's factories run there).
- `call_sites(model, input_size)` replays the trace's forward pass (same input, seed and mode) under
  the trace's own `Recorder`, noting the user line of every recorded call: the line in `forward`
  that computes a functional op. Record `i` here is record `i` of the audit's trace.

Nothing here changes what the target computes: every wrapped call runs unchanged, and the patches
are undone when the factory returns (or raises).
"""
from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from .sites import Site, caller, user_site

# calls whose output holds its input's values in a new storage: the values' site carries over
_CARRIES = frozenset({"to", "type", "double", "float", "half", "bfloat16", "cuda", "cpu", "clone", "contiguous",
                      "detach", "__deepcopy__"})


def _storage(t: Any) -> int:
    try:
        return int(t.untyped_storage().data_ptr())
    except Exception:  # meta, sparse or otherwise storage-less tensors
        return 0


def _tensors(obj: Any) -> list[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


class BuildRecorder:
    """Construction sites of modules, writers of parameter values, optimizer and scheduler sites."""

    def __init__(self) -> None:
        self.modules: weakref.WeakKeyDictionary[Any, Site] = weakref.WeakKeyDictionary()
        self.writes: dict[int, Site] = {}  # storage pointer -> the user line that last wrote it
        self.recipe_sites: dict[str, Site] = {}  # "optimizer" / "scheduler" -> first user construction
        self.make: Callable[[], Any] | None = None

    def factory(self, make: Callable[[], Any]) -> Callable[[], Any]:
        """`make`, recording while it runs."""
        self.make = make

        def build() -> Any:
            with self._building():
                return make()

        return build

    def named_sites(self, model: Any) -> tuple[dict[str, Site], dict[str, Site]]:
        """(module name -> construction site, parameter name -> site of its values) for `model`.

        A model the factory handed out without building it under the recorder (a target factory
        that returns the instance it made while the target loaded) is built once more, the random
        state untouched, and read by name: the same code gives the same names and lines.
        """
        from ..trace.dispatch import unwrap

        source = unwrap(model)
        if not any(m in self.modules for m in source.modules()) and self.make is not None:
            shadow = self._shadow()
            source = unwrap(shadow) if shadow is not None else source
        modules = {n: self.modules[m] for n, m in source.named_modules() if m in self.modules}
        params = {n: self.writes[p] for n, p in ((n, _storage(t)) for n, t in source.named_parameters())
                  if p and p in self.writes}
        return modules, params

    def _shadow(self) -> Any:
        import random

        import numpy as np
        import torch
        import torch.nn as nn

        state = (random.getstate(), np.random.get_state())
        try:
            with torch.random.fork_rng(devices=[]), self._building():
                built = self.make() if self.make is not None else None
        except (Exception, SystemExit):
            built = None
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
        return built if isinstance(built, nn.Module) else None

    @contextlib.contextmanager
    def _building(self) -> Iterator[None]:
        import torch.nn as nn

        original = nn.Module.__init__
        modules = self.modules

        @functools.wraps(original)
        def init(module: Any, *args: Any, **kwargs: Any) -> None:
            original(module, *args, **kwargs)
            site = user_site(caller(1), owner=module)
            if site is not None and module not in modules:
                modules[module] = site

        setattr(nn.Module, "__init__", init)  # noqa: B010 - patched for the factory's call only
        try:
            with _writes(self.writes):
                yield
        finally:
            setattr(nn.Module, "__init__", original)  # noqa: B010

    @contextlib.contextmanager
    def recipe(self) -> Iterator[None]:
        """Note the first user line that constructs an optimizer and a scheduler while open."""
        import torch.optim as optim

        patched: list[tuple[Any, Any]] = []
        classes = [("optimizer", optim.Optimizer), ("scheduler", optim.lr_scheduler.LRScheduler),
                   ("scheduler", optim.lr_scheduler.ReduceLROnPlateau)]
        for key, cls in classes:
            if "__init__" not in vars(cls):
                continue
            original = vars(cls)["__init__"]
            patched.append((cls, original))
            setattr(cls, "__init__", self._noting(key, original))  # noqa: B010
        try:
            yield
        finally:
            for cls, original in reversed(patched):
                setattr(cls, "__init__", original)  # noqa: B010

    def _noting(self, key: str, original: Callable[..., None]) -> Callable[..., None]:
        sites = self.recipe_sites

        @functools.wraps(original)
        def init(obj: Any, *args: Any, **kwargs: Any) -> None:
            original(obj, *args, **kwargs)
            if key not in sites:
                site = user_site(caller(1), owner=obj)
                if site is not None:
                    sites[key] = site

        return init


@functools.lru_cache(maxsize=1)
def _writes_mode() -> type:
    from torch.overrides import TorchFunctionMode

    class Writes(TorchFunctionMode):
        """Notes, per tensor storage, the user line of the last call that wrote it."""

        def __init__(self, writes: dict[int, Site]) -> None:
            super().__init__()
            self.writes = writes

        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            try:
                self.note(getattr(func, "__name__", ""), args, kwargs or {}, out)
            except Exception:  # noqa: S110 - a site is a courtesy; the call's result stands
                pass
            return out

        def note(self, name: str, args: Any, kwargs: Any, out: Any) -> None:
            ins = _tensors((args, kwargs))
            written: list[int] = []
            if ins and (name == "__setitem__" or (name.endswith("_") and not name.startswith("__"))):
                written.append(_storage(ins[0]))  # an in-place write: normal_, fill_, copy_, zero_, ...
            read = {_storage(t) for t in ins}
            written += [p for p in (_storage(t) for t in _tensors(out)) if p not in read]  # newly made
            written = [p for p in dict.fromkeys(written) if p]
            if not written:
                return
            carried = self.writes.get(_storage(ins[0])) if name in _CARRIES and ins else None
            site = carried or user_site(caller(2))
            if site is not None:
                for p in written:
                    self.writes[p] = site

    return Writes


def _writes(writes: dict[int, Site]) -> Any:
    """The `Writes` mode over `writes` (its class is made on first use: it subclasses torch's)."""
    return _writes_mode()(writes)


def call_sites(model: Any, input_size: tuple[int, ...], seed: int = 0) -> dict[int, tuple[str, Site | None]]:
    """Record index -> (call name, user site) for the audit's eval-mode forward pass (`trace.build`'s
    input, seed and batch), recorded by the trace's own `Recorder`. Empty for TorchScript parts."""
    import torch

    from ..trace.build import make_input
    from ..trace.dispatch import has_script, is_script, unwrap
    from ..trace.record import Recorder

    model = unwrap(model)
    if is_script(model) or has_script(model):
        return {}
    sites: dict[int, tuple[str, Site | None]] = {}

    class Sited(Recorder):
        def call(self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            n = len(self.recs)
            out = super().call(func, name, args, kwargs)
            if len(self.recs) > n:
                sites[n] = (name, user_site(caller(2)))
            return out

    x = make_input(model, input_size, seed=seed, batch=2)
    rec = Sited({id(x)}, list(model.parameters()))
    modes = {m: m.training for m in model.modules()}
    try:
        model.train(False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            with torch.no_grad(), rec:
                model(x)
    finally:
        for m, mode in modes.items():
            m.training = mode
    return sites
