"""Wild constructs: the block between two weight layers computed by one function the trace cannot read
call by call (issue 22, a fused region split into its stages).

- one module per block whose own forward does the ReLU (`clamp`), a cumulative-sum LRN and a max-pooling
  by `unfold` + `amax` (none a call with a library name), or any subset of them;
- a plain object doing the same inline in the parent's forward;
- the block as a `torch.jit.script` function, whose ops run below Python.

The catalogue in `test_constructs.py` says what each must audit as.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.catalogues.wild.models import _classifier, _features, _init_modules, cumsum_lrn


def unfold_pool(x, k=3, s=2, kind="max"):
    """Pooling by hand: the windows by `unfold` on both map axes, then their max (or mean)."""
    w = x.unfold(2, k, s).unfold(3, k, s)
    return w.amax(dim=(-2, -1)) if kind == "max" else w.mean(dim=(-2, -1))


class FusedBlock(nn.Module):
    """ReLU, LRN and pooling of one block in one module's forward, in `order` (r, l, p), each step optional."""

    def __init__(self, order="rlp", k=2.0, pool=3, kind="max"):
        super().__init__()
        self.order, self.k, self.pool, self.kind = order, k, pool, kind

    def forward(self, x):
        for step in self.order:
            if step == "r":
                x = x.clamp(min=0)
            elif step == "l":
                x = cumsum_lrn(x, k=self.k)
            else:
                x = unfold_pool(x, self.pool, 2, self.kind)
        return x


class FusedObject:
    """The same block as a plain object called in the parent's forward (its calls inline there)."""

    def __init__(self, **block):
        self.block = FusedBlock(**block)

    def __call__(self, x):
        return FusedBlock.forward(self.block, x)


def _block(x: torch.Tensor) -> torch.Tensor:
    """ReLU, LRN and max-pooling of blocks 1 and 2, to be compiled by TorchScript (run below Python)."""
    return F.max_pool2d(F.local_response_norm(F.relu(x), 5, 5e-4, 0.75, 2.0), 3, 2)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* is deprecated in this torch
    scripted_block = torch.jit.script(_block)


class FusedNet(nn.Module):
    """Convs from the paper's features; blocks 1, 2 and 5 (after the conv) given as callables."""

    def __init__(self, b1, b2, b5=None):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)
        self.b1, self.b2 = b1, b2
        self.b5 = b5 if b5 is not None else nn.Sequential(self.features[13], self.features[14])

    def forward(self, x):
        f = self.features
        x = self.b2(f[4](self.b1(f[0](x))))
        x = f[12](f[11](f[10](f[9](f[8](x)))))
        return self.classifier(torch.flatten(self.b5(x), 1))


def fused_modules(**block):
    """Blocks 1-2 each one FusedBlock module (ReLU, LRN, pooling); block 5 one module (ReLU, pooling)."""
    b5 = {k: v for k, v in block.items() if k != "order"}
    return FusedNet(FusedBlock(**block), FusedBlock(**block), FusedBlock(order="rp", **{**b5, "k": 2.0}))


def relu_lrn_modules(**block):
    """ReLU and LRN in one module, then an nn.MaxPool2d (the trace used to fit the LRN and lose the ReLU)."""
    return FusedNet(nn.Sequential(FusedBlock(order="rl", **block), nn.MaxPool2d(3, 2)),
                    nn.Sequential(FusedBlock(order="rl", **block), nn.MaxPool2d(3, 2)))


def fused_objects(**block):
    """Blocks 1, 2 and 5 as FusedObject calls inline in forward."""
    return FusedNet(FusedObject(**block), FusedObject(**block), FusedObject(order="rp"))


class ScriptedBlocksNet(FusedNet):
    """Blocks 1 and 2 each a call of the module-level torch.jit.script function (the model stays picklable)."""

    def __init__(self):
        super().__init__(nn.Identity(), nn.Identity())

    def forward(self, x):
        f = self.features
        x = scripted_block(f[4](scripted_block(f[0](x))))
        x = f[12](f[11](f[10](f[9](f[8](x)))))
        return self.classifier(torch.flatten(self.b5(x), 1))
