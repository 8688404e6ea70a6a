"""The data loaders of a captured run (child side): batch size, transforms, and a short first epoch.

A loader's role is read from what happens while it is iterated: batches followed by backward
passes or optimizer steps make it the training loader; a first batch followed by neither makes it
an evaluation loader, which is then ended (one batch is all the audit needs). The training loader
ends its epoch after N optimizer steps; later epochs are empty, so the script runs on through its
own evaluation, scheduler steps and epoch loop; once an evaluation has been seen after the first
epoch, the run is stopped and the record written. Loaders run in the main process (num_workers 0).
"""
from __future__ import annotations

import os
import sys
from typing import Any

from .hooks import ARGS, State
from .record import constructor_args, reference

MAX_EPOCHS = 1000  # empty epochs run through before the run is stopped anyway
FED_BATCH = 4  # samples per batch actually fed during the captured steps (CPU time; BatchNorm needs > 1)


def _batches(dataset: Any, batch: int, drop_last: Any) -> int | None:
    try:
        n = len(dataset)
    except TypeError:
        return None
    return n // batch if drop_last else -(-n // batch)


def finish(st: State, why: str) -> None:
    st.rec.data["finished"] = why
    st.rec.save()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def _dataset(ds: Any) -> Any:
    for _ in range(8):
        if hasattr(ds, "transform") or not (hasattr(ds, "dataset") or hasattr(ds, "datasets")):
            return ds
        ds = ds.dataset if hasattr(ds, "dataset") else ds.datasets[0]
    return ds


def describe(tf: Any, depth: int = 0) -> list[dict[str, Any]]:
    """A transform as manifest steps: Compose flattened, each step {type|use, args..., _lost}."""
    if tf is None:
        return []
    inner = getattr(tf, "transforms", None)
    if type(tf).__name__ == "Compose" and isinstance(inner, list | tuple) and depth < 4:
        return [s for t in inner for s in describe(t, depth + 1)]
    cls = type(tf)
    mod = cls.__module__ or ""
    if not hasattr(tf, "__dict__") or (callable(tf) and (reference(tf) is not None)):
        ref = reference(tf)
        return [{"use": ref}] if ref else [{"_lost": [f"a {cls.__name__} step"]}]
    raw = getattr(tf, ARGS, None) or {}
    args, lost = constructor_args(tf, raw)
    for key in ("transforms", "transform"):
        value = raw.get(key, vars(tf).get(key))
        if key in _params(cls) and value is not None and not isinstance(value, str | dict) \
                and hasattr(value, "__iter__"):
            args[key] = [s for t in value for s in describe(t, depth + 1)]
            lost = [x for x in lost if not x.startswith(key + " ")]
    if mod.startswith("torchvision.transforms.v2"):
        name = f"v2.{cls.__name__}"
    elif mod.startswith("torchvision.transforms"):
        name = cls.__name__
    else:
        name = reference(cls) or cls.__qualname__
    step: dict[str, Any] = {"type": name, **args}
    if mod.split(".")[0] == "albumentations":
        step["style"] = "albumentations"
    if lost:
        step["_lost"] = lost
    return [step]


def _params(cls: type) -> list[str]:
    import inspect

    try:
        return list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return []


class _Iter:
    def __init__(self, st: State, loader: Any, inner: Any, empty: bool) -> None:
        self.st, self.loader, self.inner, self.empty = st, loader, inner, empty
        self.n = 0
        self.steps0 = st.rec.data["opt_steps"]
        self.back0 = st.backwards
        self.role: str | None = "train" if id(loader) == st.rec.data.get("_train_loader") else None

    def __iter__(self) -> _Iter:
        return self

    def __len__(self) -> int:
        return len(self.inner)

    def __next__(self) -> Any:
        st, data = self.st, self.st.rec.data
        if self.empty:
            raise StopIteration
        trained = data["opt_steps"] > self.steps0 or st.backwards > self.back0
        if self.role is None and (trained or self.n >= 2):  # two batches: a prefetcher reads one ahead
            self.role = "train" if trained else "eval"
            st.eval_active = False
            _loader_record(st, self.loader, self.role)
            if self.role == "eval":
                data["eval_seen"] = True
                st.rec.save()
                raise StopIteration
        if self.role == "train" and data["opt_steps"] - self.steps0 >= st.steps:
            data["first_epoch_done"] = True
            st.rec.save()
            raise StopIteration
        if self.n == 0 and self.role is None:
            st.eval_active = True  # until we know better: an AveragedModel forward now is evaluation
        try:
            batch = next(self.inner)
        except StopIteration:  # a loader of one batch: nothing trained while it was read, so it evaluated
            if self.role is None and self.n > 0 and not trained:
                self.role = "eval"
                st.eval_active = False
                _loader_record(st, self.loader, "eval")
                data["eval_seen"] = True
                st.rec.save()
            raise
        self.n += 1
        return batch


def _loader_record(st: State, loader: Any, role: str) -> None:
    data = st.rec.data
    if role == "train":
        data["_train_loader"] = id(loader)
        data["epochs_started"] = max(1, data["epochs_started"])
    if role in data:
        return
    ds = _dataset(loader.dataset)
    steps = describe(getattr(ds, "transform", None)) if hasattr(ds, "transform") else None
    try:
        batches = len(loader)
    except TypeError:
        batches = None
    st.rec.set(role, {"batch_size": loader.batch_size, "batches": batches, "dataset": type(ds).__name__,
                      "transform": steps,
                      "at": getattr(loader, "_alexnet_capture_site", "?"),
                      "num_workers": getattr(loader, "_alexnet_capture_workers", 0)})


def _built(st: State, loader: Any) -> None:
    """Record a loader as soon as it exists (transforms, batch size, where), with whether it shuffles:
    a run that fails before iterating it still says what its data pipeline was."""
    from torch.utils.data import RandomSampler

    ds = _dataset(loader.dataset)
    shuffled = isinstance(loader.sampler, RandomSampler) or bool(getattr(loader.sampler, "shuffle", False))
    try:
        steps = describe(getattr(ds, "transform", None)) if hasattr(ds, "transform") else None
    except Exception:  # a transform we cannot describe yet: the iteration will record it, or nothing
        steps = None
    st.rec.data.setdefault("loaders", []).append(
        {"batch_size": loader.batch_size, "dataset": type(ds).__name__, "transform": steps, "shuffled": shuffled,
         "at": getattr(loader, "_alexnet_capture_site", "?"),
         "num_workers": getattr(loader, "_alexnet_capture_workers", 0)})
    st.rec.save()


def install(st: State) -> None:
    from torch.utils.data import DataLoader

    init = DataLoader.__init__

    def __init__(self: Any, dataset: Any, *args: Any, **kwargs: Any) -> None:
        import inspect

        bound = inspect.signature(init).bind(self, dataset, *args, **kwargs).arguments
        workers = bound.get("num_workers", 0)
        kwargs = {k: v for k, v in bound.items() if k not in ("self", "dataset")}
        kwargs.update(num_workers=0, persistent_workers=False, prefetch_factor=None)
        real = kwargs.get("batch_size", 1)
        small = isinstance(real, int) and real > FED_BATCH and kwargs.get("batch_sampler") is None
        if small:  # the recipe's batch size is recorded; the few steps run on small batches
            kwargs["batch_size"] = FED_BATCH
        init(self, dataset, **kwargs)
        if small:
            object.__setattr__(self, "batch_size", real)  # what the script reads back
            object.__setattr__(self, "_alexnet_capture_batches", _batches(dataset, real, kwargs.get("drop_last")))
            st.rec.note(f"the captured steps ran on batches of {FED_BATCH}; the loaders' own batch sizes are "
                        "what is recorded")
        object.__setattr__(self, "_alexnet_capture_site", st.rec.where())
        object.__setattr__(self, "_alexnet_capture_workers", workers)
        _built(st, self)

    DataLoader.__init__ = __init__  # type: ignore[method-assign]
    length = DataLoader.__len__

    def __len__(self: Any) -> int:  # as many batches as the script's batch size gives
        real = self.__dict__.get("_alexnet_capture_batches")
        return int(real) if real is not None else length(self)

    DataLoader.__len__ = __len__  # type: ignore[method-assign]
    iter_ = DataLoader.__iter__

    def __iter__(self: Any) -> Any:
        data = st.rec.data
        is_train = id(self) == data.get("_train_loader")
        if is_train:
            data["epochs_started"] += 1
            if data.get("eval_seen") or data["epochs_started"] > MAX_EPOCHS:
                finish(st, "after the first epoch and an evaluation")
            st.rec.save()
            return _Iter(st, self, iter(()), True)
        return _Iter(st, self, iter_(self), False)

    DataLoader.__iter__ = __iter__  # type: ignore[method-assign]
