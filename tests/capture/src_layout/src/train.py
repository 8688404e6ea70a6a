"""Train AlexNet: `PYTHONPATH=. python src/train.py --config configs/alexnet.yaml`."""
import argparse
import os

import torch
import torch.nn as nn
import yaml

from src.data import build_loaders
from src.models import AlexNet
from src.utils import seed_everything


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/alexnet.yaml")
    args = parser.parse_args()
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    seed_everything(0)
    os.makedirs(cfg["output_dir"], exist_ok=True)
    train_loader, val_loader = build_loaders(cfg)
    model = AlexNet(num_classes=len(train_loader.dataset.classes))
    criterion = nn.CrossEntropyLoss()
    t = cfg["train"]
    optimizer = torch.optim.SGD(model.parameters(), lr=t["lr"], momentum=t["momentum"], weight_decay=t["weight_decay"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1)
    log = open(os.path.join(cfg["output_dir"], "train.log"), "a")
    for epoch in range(t["epochs"]):
        model.train()
        for images, target in train_loader:
            loss = criterion(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, target in val_loader:
                correct += (model(images).argmax(1) == target).sum().item()
                total += len(target)
        acc = correct / max(total, 1)
        scheduler.step(acc)
        log.write(f"{epoch} {acc:.4f}\n")
        torch.save(model.state_dict(), os.path.join(cfg["output_dir"], "last.pth"))


if __name__ == "__main__":
    main()
