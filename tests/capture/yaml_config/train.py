"""Hyper-parameters in a YAML config read by the script; Adam with StepLR stepped per epoch."""
import sys

import torch
import torch.nn as nn
import yaml
from torchvision import datasets, transforms


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 7, stride=4)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def build_model(num_classes):
    return Net(num_classes)


def main(config_path):
    with open(config_path) as f:
        cfg = yaml.safe_load(f)
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()])
    train_set = datasets.ImageFolder("data/train", transform=tf)
    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg["train"]["batch_size"], shuffle=True)
    model = build_model(len(train_set.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["optim"]["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg["optim"]["step_size"], cfg["optim"]["gamma"])
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(cfg["train"]["epochs"]):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        scheduler.step()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
