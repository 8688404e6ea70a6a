"""The five seed models, each exactly as its document shows it (../shared/seeds/NNN_*.txt).

`seeds` wraps each in its target (recipe, notes, claims); the comments here record what each model
takes from its document (layers, paddings, dropout order, init if stated), so the models can be
read without the documents.
"""
from __future__ import annotations

from typing import cast

import torch
import torch.nn as nn

# ------------------------------------------------------------------------------ seed-000 ------
# 000_ac38ef08965dd686.txt: "AlexNet Implementation in PyTorch - Learner-Oriented Documentation",
# a from-scratch ConvNet trained on Caltech-101.

class Seed000ConvNet(nn.Module):
    """`class ConvNet(nn.Module)` of seed 000: no LRN, no grouping, dropout after fc1/fc2's ReLU."""

    def __init__(self, num_classes: int = 101) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4, padding=2)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.conv2 = nn.Conv2d(96, 256, 5, 1, 2)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.conv4 = nn.Conv2d(384, 384, 3, 1, 1)
        self.conv5 = nn.Conv2d(384, 256, 3, 1, 1)
        self.pool5 = nn.MaxPool2d(3, 2)
        self.fc1 = nn.Linear(256 * 6 * 6, 4096)
        self.fc2 = nn.Linear(4096, 4096)
        self.fc3 = nn.Linear(4096, num_classes)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(p=0.5)
        # No init code is shown: PyTorch's default initialisation.

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # "Flow Summary" of the document, section 5.
        x = self.pool1(self.relu(self.conv1(x)))
        x = self.pool2(self.relu(self.conv2(x)))
        x = self.relu(self.conv3(x))
        x = self.relu(self.conv4(x))
        x = self.pool5(self.relu(self.conv5(x)))
        x = torch.flatten(x, 1)
        x = self.dropout(self.relu(self.fc1(x)))
        x = self.dropout(self.relu(self.fc2(x)))
        return self.fc3(x)


# ------------------------------------------------------------------------------ seed-001 ------
# 001_f17fecea94f2852f.txt: "AlexNet From Scratch", a notebook for CIFAR-10 (32x32 inputs kept).

class Seed001AlexNet(nn.Module):
    """The notebook's AlexNet: conv1 padding 4, no pool after conv1, AdaptiveAvgPool2d((6, 6)),
    torchvision-style dropout (before fc1 and fc2). 58,322,314 parameters for 10 classes."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        # "Feature Extractor" table, row by row.
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=4),
            nn.ReLU(),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        # "Classifier" table. The dropout rate is not printed: nn.Dropout()'s default 0.5.
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------------------ seed-002 ------
# 002_0e45ce84dad1af98.txt: "UP_ALEXNET", CIFAR-10 upsampled to 227x227.

# The document names `LocalResponseNorm` without constants: the paper's printed constants in
# PyTorch's usual spelling stand in (noted on the target).
def _lrn_stand_in() -> nn.LocalResponseNorm:
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


class Seed002AlexNet(nn.Module):
    """UP_ALEXNET's model: 227 input, unpadded conv1, LRN after conv1/conv2's ReLU, dropout before
    each large FC layer (torchvision order)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 227 -> 55
            nn.ReLU(),
            _lrn_stand_in(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),
            nn.ReLU(),
            _lrn_stand_in(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            # conv3-conv5 paddings are not printed; 1 is what keeps 13x13 and gives the stated 6x6.
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.flatten(x, 1)  # "flattened to 256 * 6 * 6"
        return self.classifier(x)


# ------------------------------------------------------------------------------ seed-003 ------
# 003_64282daecf48f40f.txt: an "AlexNet" README for a 5-class image-folder dataset.

class Seed003AlexNet(nn.Module):
    """The README's architecture list: conv -> ReLU -> LRN -> MaxPool twice, then conv3-5, fc with
    ReLU -> Dropout(0.5) (paper order)."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        # Kernel sizes, strides and widths as listed; paddings are not listed: 0 / 2 / 1 / 1 / 1
        # are the only choices that give a 6x6x256 pool5 from a 227 input (the 9216-input FC1).
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),
            nn.ReLU(),
            _lrn_stand_in(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            _lrn_stand_in(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


# ------------------------------------------------------------------------------ seed-004 ------
# 004_b381dc680146149a.txt: a paper-vs-code analysis of `./alexnet-pytorch/model.py`.

class Seed004AlexNet(nn.Module):
    """alexnet-pytorch's AlexNet as the analysis describes it: self.net / self.classifier, 227
    input, LRN(5, 1e-4, 0.75, 2), dropout before the first two linears, init_bias()."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 0: conv1, 227 -> 55
            nn.ReLU(),
            nn.LocalResponseNorm(size=5, alpha=0.0001, beta=0.75, k=2),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),  # 4: conv2
            nn.ReLU(),
            nn.LocalResponseNorm(size=5, alpha=0.0001, beta=0.75, k=2),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # 8: conv3
            nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),  # 10: conv4
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # 12: conv5
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        # "nn.Dropout(p=0.5, inplace=True) in the self.classifier before the first two linear layers".
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5, inplace=True),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(p=0.5, inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )
        self.init_bias()

    def init_bias(self) -> None:
        # Verbatim from the analysis: only the conv layers of self.net are initialised; the linear
        # layers keep PyTorch's default initialisation.
        for layer in self.net:
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, mean=0, std=0.01)
                nn.init.constant_(cast(torch.Tensor, layer.bias), 0)
        # original paper = 1 for Conv2d layers 2nd, 4th, and 5th conv layers
        nn.init.constant_(cast(torch.Tensor, self.net[4].bias), 1)
        nn.init.constant_(cast(torch.Tensor, self.net[10].bias), 1)
        nn.init.constant_(cast(torch.Tensor, self.net[12].bias), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net(x)
        x = x.view(-1, 256 * 6 * 6)
        return self.classifier(x)
