"""The paper's SGD update rule (§5), with the learning rate inside the momentum variable.

"paper notes §x.y" below is section x.y of docs/paper_notes.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

__all__ = ["PaperSGD"]

# §5, train.lr / train.momentum / train.weight_decay: "learning rate ... initialized at 0.01",
# "momentum of 0.9", "weight decay of 0.0005".
LR = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


class PaperSGD(Optimizer):
    """SGD exactly as §5 writes it (train.update_rule)::

        v <- momentum * v - weight_decay * lr * w - lr * grad
        w <- w + v

    `torch.optim.SGD` keeps lr outside its buffer (b <- momentum * b + grad + wd * w;
    w <- w - lr * b). The two agree while lr is constant, but when a scheduler lowers lr the
    paper's velocity keeps the old scale and decays by `momentum` per step, whereas SGD rescales
    the carried momentum at once (paper notes §6.2). Use this class to reproduce the paper's
    dynamics across the three lr drops.

    Param groups carry `lr`, `momentum`, `weight_decay`, `dampening` (always 0) and `nesterov`
    (always False), like SGD's, so schedulers and inspecting code read them the same way.
    The velocity of each parameter is `state[p]["velocity"]`.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = LR,
        momentum: float = MOMENTUM,
        weight_decay: float = WEIGHT_DECAY,
        dampening: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"invalid momentum: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"invalid weight_decay: {weight_decay}")
        if dampening != 0.0 or nesterov:
            # §5 has plain heavy-ball momentum (train.optimizer); these exist only to be read.
            raise ValueError("PaperSGD implements §5 only: dampening must be 0 and nesterov False")
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, dampening=0.0, nesterov=False
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(  # type: ignore[override]
        self, closure: Callable[[], float] | None = None
    ) -> float | None:
        """One §5 update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("PaperSGD does not support sparse gradients")
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                v = state["velocity"]
                v.mul_(momentum)
                if weight_decay != 0.0:
                    v.add_(p, alpha=-weight_decay * lr)
                v.add_(p.grad, alpha=-lr)
                p.add_(v)
        return loss
