import sys

import torch

from model import AlexNet
from utils.config import load_config

cfg = load_config(sys.argv[1] if len(sys.argv) > 1 else "configs/alexnet.yaml")
model = AlexNet(cfg)
optimizer = torch.optim.SGD(model.parameters(), lr=cfg.train.lr, momentum=cfg.train.momentum,
                            weight_decay=cfg.train.weight_decay)
for epoch in range(cfg.train.epochs):
    pass
