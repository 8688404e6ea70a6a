"""Frameworks that own the training loop (child side): Lightning's `Trainer` and Hydra's composed configs.

Neither gets instrumentation of its own: the model, optimizer, scheduler, loss and loaders are seen
by the torch-level hooks as with a plain loop. This module only adapts what the frameworks decide
for the run (a Trainer asking for GPUs and DDP runs as one CPU process, its epoch ends after the
captured steps so that its validation runs; Hydra's output directory stays in the scratch
directory) and records what they hold (the Trainer's `max_epochs`, the world size that scales the
batch, the mixed precision asked for; where each composed config value came from, see
`configs.py`). The hooks are installed when the framework is imported, so a script that never
imports one pays nothing.
"""
from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .hooks import State

# The packages whose frames are the framework's, not the user's (call sites skip them).
PACKAGES = ("lightning", "pytorch_lightning", "lightning_fabric", "lightning_utilities", "torchmetrics", "hydra",
            "omegaconf")
TRAINERS = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
LIGHTNING_MODULES = ("lightning.pytorch.core.module", "pytorch_lightning.core.module")
DDP_STRATEGIES = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed")


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a callback on a module right after its code has executed (a post-import hook)."""

    def __init__(self, hooks: dict[str, Callable[[Any], None]]) -> None:
        self.hooks = hooks

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        hook = self.hooks.get(name)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            hook(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]  # this loader serves this one module
        return spec


def install(st: State) -> None:
    dirs: list[str] = []
    hooks: dict[str, Callable[[Any], None]] = {name: lambda m: _skip(dirs, m) for name in PACKAGES}
    for name in TRAINERS:
        hooks[name] = lambda m: _trainer(st, m)
    from . import configs

    hooks.update(configs.hooks(st))
    for name, hook in hooks.items():
        if name in sys.modules:  # imported before the script (by a sitecustomize of the user's, say)
            hook(sys.modules[name])
    skip_dirs = st.rec._skip_dirs

    def with_frameworks() -> list[str]:
        got = skip_dirs()
        got.extend(d for d in dirs if d not in got)
        return got

    st.rec._skip_dirs = with_frameworks  # type: ignore[method-assign]
    sys.meta_path.insert(0, _AfterImport(hooks))


def _skip(dirs: list[str], module: Any) -> None:
    """A framework's own frames are not where a value came from: the user's code that called it is."""
    where = getattr(module, "__file__", None)
    if where:
        dirs.append(str(Path(where).resolve().parent))


def unwrap(model: Any) -> Any:
    """A LightningModule holding its network as one child (`self.model = AlexNet()`) wraps it: the child is
    the model the audit builds (what its forward adds on top is seen in what the loss is fed)."""
    if model is None or not any(isinstance(model, getattr(sys.modules.get(m), "LightningModule", ()))
                                for m in LIGHTNING_MODULES if m in sys.modules):
        return model
    params = {id(p) for p in model.parameters()}
    for child in model.children():
        if params and {id(p) for p in child.parameters()} == params:
            return child
    return model


# ------------------------------------------------------------------------------ Lightning ---

def _devices(devices: Any) -> int | None:
    """How many devices a Trainer's `devices=` asks for (None: "auto" or -1, all the machine has)."""
    if isinstance(devices, bool):
        return None
    if isinstance(devices, int):
        return devices if devices > 0 else None
    if isinstance(devices, list | tuple):
        return len(devices)
    if isinstance(devices, str):
        text = devices.strip()
        if "," in text:
            return len([d for d in text.split(",") if d.strip()])
        if text.lstrip("-").isdigit():
            return int(text) if int(text) > 0 else None
    return None


def _trainer(st: State, module: Any) -> None:
    import functools

    cls = module.Trainer
    init = cls.__init__
    callback = _callback(st, module.__name__.removesuffix(".trainer.trainer"))

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kw = _adapt(st, kwargs)
        given = kw.get("callbacks")
        kw["callbacks"] = [*(given if isinstance(given, list | tuple) else [given] if given else []), callback()]
        init(self, *args, **kw)

    cls.__init__ = __init__
    fit = cls.fit

    @functools.wraps(fit)
    def fit_(self: Any, *args: Any, **kwargs: Any) -> Any:
        outside = _written_outside(self, st.rec.scratch)
        st.rec.note("Lightning's Trainer ran the loop (fit); " + (
            f"it writes to {', '.join(outside)}, outside the scratch directory" if outside else
            "its logs and checkpoints went to the scratch directory"))
        return fit(self, *args, **kwargs)

    cls.fit = fit_


def _written_outside(trainer: Any, scratch: Path) -> list[str]:
    """The Trainer's root, its loggers' and its checkpoint callbacks' directories that are neither in the
    scratch directory nor in the working directory (whose writes the capture keeps out of the user's tree)."""
    here = [scratch, Path.cwd().resolve()]
    dirs = [trainer.default_root_dir] + [getattr(lg, "save_dir", None) for lg in trainer.loggers] + [
        getattr(cb, "dirpath", None) for cb in trainer.callbacks]
    return sorted({str(d) for d in dirs if d and not any(Path(str(d)).resolve().is_relative_to(h) for h in here)})


def _callback(st: State, package: str) -> Any:
    """A Lightning callback reading what the Trainer made of configure_optimizers: the metric each
    scheduler monitors (Lightning steps a plateau scheduler with it)."""
    import importlib

    base = importlib.import_module(f"{package}.callbacks").Callback

    class CaptureCallback(base):  # type: ignore[misc, valid-type]
        """The first epoch ends after the captured steps as if its last batch had come: Lightning validates,
        steps epoch-interval schedulers (a plateau one on its metric) and starts the next epoch, which
        ends the run (`loaders.py`). Lightning's own `limit_train_batches` would do the same, but would
        also change what the script reads back (`estimated_stepping_batches` sizes a OneCycleLR)."""

        def batches(self, trainer: Any) -> int:
            accumulate = getattr(trainer, "accumulate_grad_batches", 1)
            return st.steps * (accumulate if isinstance(accumulate, int) and accumulate > 0 else 1)

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            trainer.val_check_batch = self.batches(trainer)
            trainer.check_val_every_n_epoch = 1

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx + 1 >= self.batches(trainer):
                trainer.fit_loop.epoch_loop.batch_progress.is_last_batch = True

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            sched = st.rec.data.get("scheduler")
            for config in getattr(trainer, "lr_scheduler_configs", []):
                if sched is not None and st.sched is not None and config.scheduler is st.sched():
                    if config.monitor:
                        sched["monitor"] = config.monitor
                    st.rec.note(f"Lightning steps the scheduler every {config.interval} (frequency "
                                f"{config.frequency})" + (f" on {config.monitor}" if config.monitor else ""))

    return CaptureCallback


def _adapt(st: State, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The Trainer's arguments recorded, then changed so that it runs here: one process on this machine, in
    full precision."""
    import torch

    rec, kw = st.rec, dict(kwargs)
    at = rec.where(3)
    epochs = kw.get("max_epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0:
        rec.set("epochs", {"value": epochs, "at": at, "from": "Trainer(max_epochs=...)"})
    elif epochs is None and kw.get("max_steps", -1) in (-1, None) and "epochs" not in rec.data:
        rec.set("epochs", {"value": 1000, "at": at, "from": "Lightning's default (no max_epochs or max_steps)"})
    gpu = torch.cuda.is_available()
    asked = kw.get("accelerator", "auto")
    if not gpu and asked not in ("cpu", "auto"):
        rec.note(f"no GPU here: Trainer(accelerator={asked!r}) ran on the CPU")
        kw["accelerator"] = "cpu"
    devices = _devices(kw.get("devices", "auto"))
    nodes = kw.get("num_nodes", 1) if isinstance(kw.get("num_nodes", 1), int) else 1
    world = (devices or 1) * max(1, nodes)
    strategy = kw.get("strategy", "auto")
    name = strategy if isinstance(strategy, str) else type(strategy).__name__.lower().removesuffix("strategy")
    if world > 1 or name in DDP_STRATEGIES:
        if world > 1:
            rec.data["world_size"] = world
        rec.technique("parallel", {"kind": "ddp", "at": at})
        rec.note(f"Trainer(devices={kw.get('devices', 'auto')!r}, num_nodes={nodes}, strategy={name!r}) ran as one "
                 "process")
        kw.update(devices=1, num_nodes=1, strategy="auto")
    elif devices is None and not gpu:
        kw["devices"] = 1
    precision = str(kw.get("precision") or "32-true")
    if precision.startswith(("16", "bf16")):
        dtype = "bfloat16" if precision.startswith("bf16") else "float16"
        rec.technique("amp", {"dtype": dtype, "grad_scaler": dtype == "float16", "at": at})
        rec.note(f"Trainer(precision={precision!r}) is recorded; the captured steps ran in full precision")
        kw["precision"] = "32-true"
    root = kw.get("default_root_dir")
    if root is not None and Path(str(root)).is_absolute() and not any(
            Path(str(root)).resolve().is_relative_to(h) for h in (rec.scratch, Path.cwd().resolve())):
        kw["default_root_dir"] = str(rec.work / "lightning")
    return kw
