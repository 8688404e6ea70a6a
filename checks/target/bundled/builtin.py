"""The `reference` and `torchvision` targets, written in the plain-dict target protocol.

The protocol is described in docs/ARCHITECTURE.md ("Target protocol"); "paper notes §x.y" is
section x.y of docs/paper_notes.md.
"""
from __future__ import annotations

from typing import Any

# ImageNet per-channel statistics used by torchvision's presets (mean/std of RGB in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def reference() -> dict[str, Any]:
    """alexnet_ref: the paper as executable code; it must audit with zero deviation."""
    import alexnet_ref

    return alexnet_ref.recipe(num_classes=1000)


def torchvision_alexnet() -> dict[str, Any]:
    """torchvision.models.alexnet (never with pretrained weights) and torchvision's published recipe.

    The model is the "One weird trick" single-tower net (paper notes §9.1, items 1-9): 64/192/384/
    256/256 channels, no grouping, no LRN, conv1 padding 2, AdaptiveAvgPool2d((6, 6)), dropout on
    pool5 features and fc6 outputs, PyTorch default init.

    The recipe is that of torchvision's references/classification (README, "AlexNet and VGG": 8
    GPUs, `--lr 1e-2`; train.py defaults for everything else) - paper notes §9.1, item 10.
    """
    import torch
    import torch.nn as nn
    import torchvision
    from torchvision import transforms as T

    def model() -> nn.Module:
        return torchvision.models.alexnet(weights=None)  # weights=None: never download

    def optimizer(params: Any) -> torch.optim.Optimizer:
        # train.py: --momentum 0.9, --wd 1e-4 (default; applied to every parameter, biases included,
        # because --norm-weight-decay / --bias-weight-decay are unset); README: --lr 1e-2.
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)

    def scheduler(opt: torch.optim.Optimizer) -> Any:
        # train.py: --lr-scheduler steplr, --lr-step-size 30, --lr-gamma 0.1 (x0.1 every 30 epochs).
        return torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)

    # presets.ClassificationPresetTrain with the defaults (crop 224, hflip_prob 0.5, no auto-augment,
    # no random erasing); PILToTensor + ConvertImageDtype(float) there is ToTensor here.
    train_transform = T.Compose([
        T.RandomResizedCrop(224),
        T.RandomHorizontalFlip(0.5),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    # presets.ClassificationPresetEval: resize 256 (shorter side), centre crop 224 (one crop).
    eval_transform = T.Compose([
        T.Resize(256),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    return {
        "model": model,
        "input_size": (3, 224, 224),
        "num_classes": 1000,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "loss": nn.CrossEntropyLoss(label_smoothing=0.0),  # train.py --label-smoothing default 0.0
        "batch_size": 256,  # --batch-size 32 per GPU x 8 GPUs (torchrun --nproc_per_node=8)
        "epochs": 90,  # train.py --epochs default 90
        "train_transform": train_transform,
        "eval_transform": eval_transform,
        # train.py defaults: no --amp, no --model-ema, no --clip-grad-norm, no mixup/cutmix alpha
        "techniques": {},
    }
