"""The paper's training recipe as the plain-dict target protocol (docs/ARCHITECTURE.md, "Target protocol")."""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from .model import alexnet
from .optim import LR, MOMENTUM, WEIGHT_DECAY, PaperSGD
from .transforms import eval_transform, train_transform

__all__ = ["recipe"]

# §5, train.batch_size: "batch size of 128 examples".
BATCH_SIZE = 128
# §5, train.epochs: "roughly 90 cycles through the training set".
EPOCHS = 90
# §5, train.lr_schedule: "divide the learning rate by 10 when the validation error rate stopped
# improving"; "reduced three times prior to termination", so it never goes below 0.01 / 10^3.
LR_FACTOR = 0.1
MIN_LR = LR * LR_FACTOR**3


def _optimizer(params: Any) -> PaperSGD:
    # §5, train.lr / train.momentum / train.weight_decay / train.update_rule
    return PaperSGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)


def _scheduler(optimizer: Optimizer) -> ReduceLROnPlateau:
    # Step it once per epoch with the validation error: scheduler.step(val_error).
    # The paper's "stopped improving" is a manual judgement; patience is left at PyTorch's default.
    return ReduceLROnPlateau(optimizer, mode="min", factor=LR_FACTOR, min_lr=MIN_LR)


def recipe(num_classes: int = 1000) -> dict[str, Any]:
    """Everything the paper states about building and training the net, as a plain dict."""
    return {
        "model": partial(alexnet, num_classes),
        "input_size": (3, 224, 224),  # §3.5, arch.input_size
        "num_classes": num_classes,
        "optimizer": _optimizer,
        "scheduler": _scheduler,
        "loss": nn.CrossEntropyLoss(),  # §3.5, train.loss: multinomial logistic regression
        "batch_size": BATCH_SIZE,
        "epochs": EPOCHS,
        "train_transform": train_transform(),
        "eval_transform": eval_transform(),
        "techniques": {},  # §5: plain SGD in float32; no clipping, averaging, mixing or smoothing
    }
