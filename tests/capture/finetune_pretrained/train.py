"""Fine-tuning torchvision's AlexNet from ImageNet weights, logging next to the script and under /tmp.

Written the way many repositories do: pretrained weights from the model zoo, a run directory made
from `__file__`, a metrics file at an absolute path, a `logs/` directory checked then created.
"""
import argparse
import json
import os
from pathlib import Path

import torch
import torch.nn as nn
import torchvision
from torchvision import datasets, transforms

RUNS = Path(__file__).resolve().parent / "runs"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/datasets/imagenet")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--metrics", default="/tmp/alexnet_finetune_metrics/metrics.jsonl")
    args = p.parse_args()

    model = torchvision.models.alexnet(weights="DEFAULT")
    model.classifier[6] = nn.Linear(4096, 1000)
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])
    train = torch.utils.data.DataLoader(datasets.ImageFolder(os.path.join(args.data, "train"), tf),
                                        batch_size=32, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    (RUNS / "exp1").mkdir(parents=True, exist_ok=True)
    os.makedirs(os.path.dirname(args.metrics), exist_ok=True)
    for epoch in range(args.epochs):
        for images, target in train:
            loss = criterion(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with open(args.metrics, "a") as fh:
                fh.write(json.dumps({"epoch": epoch, "loss": loss.item()}) + "\n")
        if not os.path.exists(RUNS / "logs"):
            os.makedirs(RUNS / "logs")
        (RUNS / "logs" / f"epoch{epoch}.txt").write_text("done\n")
        with open(args.metrics) as fh:  # read back what it wrote
            print(len(fh.readlines()), "lines of metrics")
        torch.save(model.state_dict(), RUNS / "exp1" / "last.pth")


if __name__ == "__main__":
    main()
