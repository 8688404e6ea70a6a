import torch
import torch.nn as nn

from ..config import DROPOUT, NUM_CLASSES
from .layers import LRN, ConvReLU


class AlexNet(nn.Module):
    """The two-GPU AlexNet, written as one tower with grouped convolutions (conv2, conv4, conv5)."""

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = DROPOUT):
        super().__init__()
        self.features = nn.Sequential(
            ConvReLU(3, 96, 11, stride=4),
            LRN(),
            nn.MaxPool2d(3, 2),
            ConvReLU(96, 256, 5, padding=2, groups=2),
            LRN(),
            nn.MaxPool2d(3, 2),
            ConvReLU(256, 384, 3, padding=1),
            ConvReLU(384, 384, 3, padding=1, groups=2),
            ConvReLU(384, 256, 3, padding=1, groups=2),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))
