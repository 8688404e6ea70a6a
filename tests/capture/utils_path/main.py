"""`PYTHONPATH=utils python main.py alexnet --dataset CIFAR10`"""
import argparse

import torch
import torch.nn as nn
from data_loader import get_loaders
from models import get_model

parser = argparse.ArgumentParser()
parser.add_argument("arch")
parser.add_argument("--dataset", default="CIFAR10")
parser.add_argument("--epochs", type=int, default=100)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--lr", type=float, default=0.01)


def main():
    args = parser.parse_args()
    train_loader, test_loader = get_loaders(args.dataset, args.batch_size)
    model = get_model(args.arch, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            for x, y in test_loader:
                model(x)


if __name__ == "__main__":
    main()
