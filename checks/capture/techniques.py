"""Techniques of a captured run (child side): clipping, autocast, GradScaler, AveragedModel/EMA,
DataParallel/DDP, channels_last (modules and batches) and ten-crops done by the evaluation loop (how the
loop combines the crops: `evalcrops.py`)."""
from __future__ import annotations

import functools
from typing import Any

from .record import Recorder

# --------------------------------------------------------------------------- techniques ---

def install(st: Any, torch: Any, nn: Any) -> None:
    """Wrap what each technique calls so that the run records it (where, and with which settings)."""
    rec = st.rec
    _clipping(rec)
    _amp(rec, torch)
    _averaging(rec)
    for cls, kind in ((nn.DataParallel, "data_parallel"), (nn.parallel.DistributedDataParallel, "ddp")):
        _parallel(rec, cls, kind)
    _module_channels_last(rec, torch, nn)
    _tensor_channels_last(rec, torch)
    import torchvision.transforms.functional as TF

    for name in ("ten_crop", "five_crop"):
        TF.__dict__[name] = _loop_crop(rec, TF.__dict__[name], name)
    from . import ema as ema_watch
    from . import evalcrops, loss_grad

    evalcrops.install(st, nn)
    loss_grad.install(st, nn)
    ema_watch.install(st, torch, nn)


def _clipping(rec: Recorder) -> None:
    """clip_grad_norm_ / clip_grad_value_, under both names torch exports them by."""
    import torch.nn.utils as U

    norm = U.clip_grad_norm_

    def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0, *a: Any, **k: Any) -> Any:
        rec.technique("grad_clip", {"max_norm": float(max_norm), "norm_type": float(norm_type), "at": rec.where()})
        return norm(parameters, max_norm, norm_type, *a, **k)

    value = U.clip_grad_value_

    def clip_grad_value_(parameters: Any, clip_value: float, *a: Any, **k: Any) -> Any:
        rec.technique("grad_clip", {"value": float(clip_value), "at": rec.where()})
        return value(parameters, clip_value, *a, **k)

    for owner in (U, U.clip_grad):
        for attr, fn in (("clip_grad_norm_", clip_grad_norm_), ("clip_grad_value_", clip_grad_value_)):
            setattr(owner, attr, fn)


def _amp(rec: Recorder, torch: Any) -> None:
    """autocast (its dtype, from the first one entered) and GradScaler."""
    from torch.amp.autocast_mode import autocast

    auto_init = autocast.__init__

    def autocast_init(self: Any, device_type: str, dtype: Any = None, enabled: bool = True, *a: Any,
                      **k: Any) -> None:
        if enabled:
            dt = dtype or (torch.float16 if device_type == "cuda" else torch.bfloat16)
            amp = rec.data["techniques"].setdefault("amp", {})
            if "at" not in amp:  # the first autocast names the dtype (a GradScaler may come first)
                amp.update(dtype=str(dt).removeprefix("torch."), at=rec.where())
                rec.save()
        auto_init(self, device_type, dtype, enabled, *a, **k)

    autocast.__init__ = autocast_init  # type: ignore[method-assign]
    scaler_init = torch.amp.GradScaler.__init__

    def grad_scaler_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("enabled", True):
            amp = rec.data["techniques"].setdefault("amp", {})
            amp.setdefault("dtype", "float16")
            amp["grad_scaler"] = True
            rec.save()
        scaler_init(self, *args, **kwargs)

    torch.amp.GradScaler.__init__ = grad_scaler_init


def _averaging(rec: Recorder) -> None:
    """swa_utils' EMA averaging functions (their decay) and AveragedModel (where it is built)."""
    from torch.optim import swa_utils

    ema_fns = (swa_utils.get_ema_multi_avg_fn, getattr(swa_utils, "get_ema_avg_fn", None))
    for ema in ema_fns:
        if ema is not None:
            setattr(swa_utils, ema.__name__, _ema_fn(rec, ema))
    avg_init = swa_utils.AveragedModel.__init__

    def averaged_init(self: Any, *args: Any, **kwargs: Any) -> None:
        settings = rec.data["techniques"].get("ema", {})
        rec.technique("ema", {**settings, "at": rec.where()})
        avg_init(self, *args, **kwargs)

    _set(swa_utils.AveragedModel, "__init__", averaged_init)


def _module_channels_last(rec: Recorder, torch: Any, nn: Any) -> None:
    """`model.to(memory_format=torch.channels_last)`."""
    to = nn.Module.to

    def module_to(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("memory_format") is torch.channels_last:
            rec.technique("channels_last", {"at": rec.where()})
        return to(self, *args, **kwargs)

    nn.Module.to = module_to


def _tensor_channels_last(rec: Recorder, torch: Any) -> None:
    """`x.to(memory_format=torch.channels_last)` / `x.contiguous(memory_format=...)` on the batches: the
    wrappers record the first such call from the user's code and then remove themselves (no cost after)."""
    def wrap(name: str) -> Any:
        orig = getattr(torch.Tensor, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            fmt = kwargs.get("memory_format", args[0] if name == "contiguous" and args else None)
            if fmt is torch.channels_last:
                where = rec.where()
                if not where.startswith("?"):
                    rec.technique("channels_last", {"at": where})
                    for n in ("to", "contiguous"):
                        if n in torch.Tensor.__dict__:
                            delattr(torch.Tensor, n)  # back to the C methods
            return orig(self, *args, **kwargs)

        return method

    for name in ("to", "contiguous"):
        if name not in torch.Tensor.__dict__:  # a method torch itself defines in Python is left alone
            setattr(torch.Tensor, name, wrap(name))


def _set(owner: Any, attr: str, value: Any) -> None:
    setattr(owner, attr, value)


def _ema_fn(rec: Recorder, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapped(decay: float = 0.999) -> Any:
        rec.data["techniques"].setdefault("ema", {})["decay"] = float(decay)
        rec.save()
        return fn(decay)

    return wrapped


def _parallel(rec: Recorder, cls: Any, kind: str) -> None:
    orig = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        rec.technique("parallel", {"kind": kind, "at": rec.where()})
        orig(self, *args, **kwargs)

    cls.__init__ = __init__


def _loop_crop(rec: Recorder, fn: Any, name: str) -> Any:
    @functools.wraps(fn)
    def crop(img: Any, size: Any, *args: Any, **kwargs: Any) -> Any:
        import sys

        caller = sys._getframe(1).f_code.co_filename
        where = rec.where()
        if "torchvision" not in caller and not where.startswith("?"):  # not TenCrop inside a transform
            vflip = bool(args[0] if args else kwargs.get("vertical_flip", False))
            rec.first("loop_crop", {"kind": name, "size": size if isinstance(size, int) else list(size),
                                    "vertical_flip": vflip, "at": where})
        return fn(img, size, *args, **kwargs)

    return crop
