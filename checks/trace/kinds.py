"""The vocabulary of op kinds, as `Literal` types so that mypy checks every comparison and return.

Two levels: `RawKind` is what one recorded call (or one region of calls) is before measurement;
`OpKind` is what a logical `Op` is after measurement. Both are plain strings at run time, because
the probes compare them with string literals and the reports print them.
"""
from __future__ import annotations

from typing import Literal, TypeGuard, get_args

import torch

RawKind = Literal[
    "conv", "linear", "act", "pool", "lrn", "dropout", "pad", "cat", "slice", "reshape", "batchnorm", "norm",
    "softmax", "log_softmax", "math", "region",
]

# Measured elementwise non-linearities; "elementwise" is one whose curve matched none of them.
Activation = Literal[
    "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "mish", "softplus", "elu", "selu",
    "celu", "hardtanh", "hardswish", "hardsigmoid", "softsign", "elementwise",
]
PoolKind = Literal["maxpool", "avgpool", "adaptive_maxpool", "adaptive_avgpool", "pool", "adaptive_pool"]
# What a measured elementwise function is: an activation, or a plain pass-through / scaling.
ElementwiseKind = Activation | Literal["identity", "scale"]
OpKind = ElementwiseKind | PoolKind | Literal[
    "conv", "linear", "lrn", "dropout", "pad", "flatten", "reshape", "slice", "cat", "batchnorm", "norm",
    "softmax", "log_softmax", "other",
]

ACTIVATIONS: frozenset[str] = frozenset(get_args(Activation))
# "adaptive_pool" (an adaptive pool that is neither max nor average) is deliberately not a pool here.
POOLS: frozenset[str] = frozenset({"maxpool", "avgpool", "adaptive_maxpool", "adaptive_avgpool", "pool"})
DROPOUTS = frozenset({"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"})

_ACT_NAMES = frozenset({
    "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "gelu", "elu", "selu", "celu", "silu", "mish", "softplus",
    "hardtanh", "hardswish", "hardsigmoid", "prelu", "rrelu", "threshold", "softsign", "logsigmoid",
})
_RESHAPE_NAMES = frozenset({
    "view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous", "clone", "to", "float", "double",
    "detach", "type", "cpu", "permute", "transpose", "t", "__get__", "view_as", "reshape_as", "expand",
    "expand_as",
})
_SLICE_NAMES = frozenset({"__getitem__", "chunk", "split", "narrow", "tensor_split", "unbind", "select",
                          "split_with_sizes"})
_POOL_NAMES = frozenset({"max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d",
                         "adaptive_max_pool2d", "lp_pool2d", "fractional_max_pool2d"})
_NORM_NAMES = frozenset({"layer_norm", "group_norm", "instance_norm"})
# Products that are a weight layer when one operand carries a trainable parameter (else arithmetic).
# Calls that draw random numbers: their outputs are data (a mask drawn in forward is part of the computation).
RANDOMS = frozenset({"bernoulli", "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm",
                     "multinomial", "normal", "uniform", "exponential", "geometric", "cauchy", "log_normal",
                     "random", "poisson", "native_dropout"})
ADDS = frozenset({"add", "__add__", "__radd__", "__iadd__"})
MATMULS = frozenset({"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "einsum", "tensordot", "inner"})


def is_activation(name: str) -> TypeGuard[Activation]:
    return name in ACTIVATIONS


def raw_kind(name: str, args: tuple[object, ...]) -> RawKind:
    """The kind of one call from its function name (and, for pools and pads, its input's rank)."""
    x = next((a for a in args if isinstance(a, torch.Tensor)), None)
    nd = x.dim() if x is not None else -1
    if name == "conv2d":
        return "conv"
    if name in ("linear", "addmm"):
        return "linear"
    if name in _ACT_NAMES:
        return "act"
    if name in _POOL_NAMES:
        return "pool" if nd in (3, 4) else "math"
    if name == "local_response_norm":
        return "lrn"
    if name in DROPOUTS:
        return "dropout"
    if name in ("pad", "constant_pad_nd"):
        return "pad" if nd == 4 else "math"
    if name in ("cat", "concat", "concatenate"):
        return "cat"
    if name in _SLICE_NAMES:
        return "slice"
    if name in _RESHAPE_NAMES:
        return "reshape"
    if name == "batch_norm":
        return "batchnorm"
    if name in _NORM_NAMES:
        return "norm"
    if name == "softmax":
        return "softmax"
    if name == "log_softmax":
        return "log_softmax"
    return "math"
