"""Bind a recorded call's positional and keyword arguments to parameter names, with the defaults.

Only the functions whose arguments the trace reads (geometry, rates, pads, concatenation) are listed;
any other call binds to an empty dict.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .kinds import DROPOUTS


class Signature(NamedTuple):
    names: tuple[str, ...]
    defaults: dict[str, Any]


_SIGS: dict[str, Signature] = {
    "conv2d": Signature(("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
                        {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}),
    "linear": Signature(("input", "weight", "bias"), {"bias": None}),
    "addmm": Signature(("bias", "input", "weight"), {}),
    "max_pool2d": Signature(("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                            {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}),
    "avg_pool2d": Signature(("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                             "divisor_override"),
                            {"stride": None, "padding": 0, "ceil_mode": False}),
    "adaptive_avg_pool2d": Signature(("input", "output_size"), {}),
    "adaptive_max_pool2d": Signature(("input", "output_size", "return_indices"), {}),
    "local_response_norm": Signature(("input", "size", "alpha", "beta", "k"),
                                     {"alpha": 1e-4, "beta": 0.75, "k": 1.0}),
    "dropout": Signature(("input", "p", "training", "inplace"), {"p": 0.5, "training": True, "inplace": False}),
    "pad": Signature(("input", "pad", "mode", "value"), {"mode": "constant", "value": None}),
    "constant_pad_nd": Signature(("input", "pad", "value"), {"value": 0}),
    "cat": Signature(("tensors", "dim"), {"dim": 0}),
    "unfold": Signature(("input", "kernel_size", "dilation", "padding", "stride"),
                        {"dilation": 1, "padding": 0, "stride": 1}),
}


def _bind(sig: Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(sig.defaults)
    out.update(zip(sig.names, args, strict=False))
    out.update({k: v for k, v in kwargs.items() if k in sig.names})
    return out


def bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Parameter name -> value for a call of `name` (aliases share one signature)."""
    key = "max_pool2d" if name == "max_pool2d_with_indices" else name
    key = "dropout" if key in DROPOUTS else key
    key = "cat" if key in ("concat", "concatenate") else key
    if key not in _SIGS:
        return {}
    return _bind(_SIGS[key], args, kwargs)
