import torch
import torch.nn as nn


class AlexNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg.model.channels
        lrn = cfg.model.lrn
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], 11, stride=4), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(lrn.size, lrn.alpha, lrn.beta, lrn.k), nn.MaxPool2d(3, 2),
            nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(lrn.size, lrn.alpha, lrn.beta, lrn.k), nn.MaxPool2d(3, 2),
            nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        h = cfg.model.hidden
        self.classifier = nn.Sequential(
            nn.Dropout(cfg.model.dropout), nn.Linear(c[4] * 6 * 6, h), nn.ReLU(inplace=True),
            nn.Dropout(cfg.model.dropout), nn.Linear(h, h), nn.ReLU(inplace=True),
            nn.Linear(h, cfg.model.num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))
