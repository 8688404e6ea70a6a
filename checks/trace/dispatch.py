"""Record below the Python layer, for models whose calls never pass through `__torch_function__`.

A TorchScript module (`torch.jit.script` / `torch.jit.trace`) runs in the TorchScript interpreter:
module hooks cannot be registered on it and no functional call reaches Python. Every op it executes
still goes through the dispatcher, so a `TorchDispatchMode` sees the same computation as aten ops;
they are renamed to the functional calls the rest of the trace reads (aten.convolution as
F.conv2d, aten._adaptive_avg_pool2d as adaptive_avg_pool2d, ...), and everything after recording
(regions, fits, replays) is unchanged. A TorchScript part of an eager model is recorded the same
way, inside the function-level recorder, which keeps the two from recording an op twice. Wrappers
that only forward to an inner module (DataParallel, DistributedDataParallel, AveragedModel,
torch.compile) are audited through it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from .record import Recorder

# aten name -> the functional call name the trace reads
_ATEN = {
    "_unsafe_view": "view", "alias": "view", "_to_copy": "to", "slice": "narrow", "_reshape_alias": "view",
    "_adaptive_avg_pool2d": "adaptive_avg_pool2d", "_softmax": "softmax", "_log_softmax": "log_softmax",
    "native_batch_norm": "batch_norm", "_native_batch_norm_legit_no_training": "batch_norm",
    "native_layer_norm": "layer_norm", "native_dropout": "dropout", "native_group_norm": "group_norm",
}


def _conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Any, padding: Any,
            dilation: Any, groups: int) -> torch.Tensor:
    return F.conv2d(x, weight, bias, stride, padding, dilation, groups)


_conv2d.__name__ = "conv2d"


class DispatchRecorder(TorchDispatchMode):
    """Feeds every aten op of the forward pass to a `Recorder`, under its functional name."""

    def __init__(self, rec: Recorder):
        super().__init__()
        self.rec = rec

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if self.rec.depth:  # an op of a Python-level call the function-level recorder already records
            return func(*args, **kwargs)
        self.rec.in_dispatch = True
        try:
            return self._record(func, args, kwargs)
        finally:
            self.rec.in_dispatch = False

    def _record(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = func.overloadpacket.__name__
        if name.endswith("_") and not name.startswith("__"):
            name = name[:-1]
        if name in ("convolution", "_convolution") and len(args) >= 9 and not args[6] and args[1].dim() == 4:
            conv: Callable[..., Any] = _conv2d
            x, w, b, stride, padding, dilation, _, _, groups = args[:9]
            return self.rec.call(conv, "conv2d", (x, w, b, stride, padding, dilation, groups), {})
        return self.rec.call(func, _ATEN.get(name, name), args, kwargs)


def is_script(model: nn.Module) -> bool:
    """A TorchScript module: hooks cannot be registered and calls do not reach Python."""
    return isinstance(model, torch.jit.ScriptModule)


def has_script(model: nn.Module) -> bool:
    """An eager model holding a TorchScript submodule: its ops are seen only at the dispatcher level."""
    return any(is_script(m) for m in model.modules())


def unwrap(model: nn.Module) -> nn.Module:
    """The module a wrapper forwards to (DataParallel, DDP, AveragedModel, torch.compile), else model."""
    from torch.optim.swa_utils import AveragedModel
    for _ in range(8):
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel, AveragedModel)):
            inner = model.module
        if not isinstance(inner, nn.Module):
            return model
        model = inner
    return model


def untraceable(model: nn.Module) -> str | None:
    """Why the model's layers cannot be told apart by their parameters (one line, with what to pass), or None."""
    if any(True for _ in model.parameters()):
        return None
    if is_script(model):
        return ("cannot trace: the TorchScript module has no parameters (frozen by torch.jit.freeze or "
                "optimize_for_inference: its weights are constants, so no layer can be told from arithmetic); "
                "pass the module before freezing, or the eager nn.Module")
    return ("cannot trace: the model has no parameters, so no layer can be told from arithmetic; pass the "
            "nn.Module that holds the weights as parameters")
