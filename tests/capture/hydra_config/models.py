"""AlexNet configured by one config node, as Hydra projects write constructors."""
import torch
import torch.nn as nn


class AlexNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg.channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(cfg.lrn.size, alpha=cfg.lrn.alpha, beta=cfg.lrn.beta, k=cfg.lrn.k),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c[0], c[1], kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(cfg.lrn.size, alpha=cfg.lrn.alpha, beta=cfg.lrn.beta, k=cfg.lrn.k),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c[1], c[2], kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(cfg.dropout), nn.Linear(c[4] * 6 * 6, cfg.hidden), nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, cfg.num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))
