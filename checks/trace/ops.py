"""The trace's public records: the logical ops of one forward pass, and their measurement handles."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .kinds import ACTIVATIONS, POOLS, OpKind
from .record import Rec


@dataclass(frozen=True)
class Op:
    """One logical step of the forward pass, as it executed."""

    kind: OpKind  # measured: conv, linear, relu, lrn, maxpool, avgpool, dropout, pad, flatten, tanh, ...
    name: str  # conv1..conv5, fc6..fc8 (extras continue) for weight layers; "" otherwise
    module_path: str  # module that ran it ("" root); merged towers: the parts joined by "+"
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    parts: tuple[str, ...] = ()  # module paths of the calls merged into this logical layer
    params: int = 0  # unique parameters (weights + biases) used by this logical layer


@dataclass
class Detail:
    """Measurement handles of one logical op (not part of the public record)."""

    fn: Callable[[torch.Tensor], torch.Tensor] | None = None  # input -> output of this op, replayable
    members: list[Detail] = field(default_factory=list)  # per-tower Details of a merged op
    weights: list[torch.Tensor] = field(default_factory=list)
    biases: list[torch.Tensor] = field(default_factory=list)
    recs: list[Rec] = field(default_factory=list)  # raw records (dropout checks)
    inp: Any = None
    out: Any = None


@dataclass
class Trace:
    ops: list[Op]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    # measurement handles aligned with `ops`
    details: list[Detail] = field(default_factory=list, repr=False, compare=False)
    output: Any = field(default=None, repr=False, compare=False)
    param_count: int = 0  # unique parameters used by the forward pass
    registered_params: int = 0  # unique parameters registered on the model
    training: bool = False

    def layers(self) -> dict[str, Op]:
        """Paper name -> logical conv/linear layer, in execution order."""
        return {op.name: op for op in self.ops if op.name}

    def index(self, name: str) -> int:
        for i, op in enumerate(self.ops):
            if op.name == name:
                return i
        raise KeyError(name)

    def block_of(self, i: int) -> str:
        """The weight layer that precedes op i ('input' when none)."""
        for j in range(i - 1, -1, -1):
            if self.ops[j].name:
                return self.ops[j].name
        return "input"

    def labels(self) -> list[str]:
        """A readable label per op: layer names, and pool5 / lrn1 / relu3 after their conv block."""
        out: list[str] = []
        seen: dict[str, int] = {}
        for i, op in enumerate(self.ops):
            if op.name:
                out.append(op.name)
                continue
            block = self.block_of(i)
            role = "pool" if op.kind in POOLS else ("relu" if op.kind in ACTIVATIONS else op.kind)
            num = block[4:] if block.startswith("conv") else block[2:] if block.startswith("fc") else "0"
            base = f"{role}{num}" if block.startswith("conv") else f"{role}_{block}"
            seen[base] = seen.get(base, 0) + 1
            out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
        return out

    def where(self, i: int) -> str:
        op = self.ops[i]
        return op.module_path or op.attrs.get("weight_name", "") or "<forward>"
