"""Train AlexNet on ImageNet: PYTHONPATH=. python tools/train.py --config configs/alexnet.yaml"""
import argparse

import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as T
import yaml

from lib.model import AlexNet


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with open(args.config) as fh:
        cfg = yaml.safe_load(fh)

    train_tf = T.Compose([
        T.Resize(256),
        T.RandomCrop(cfg["data"]["crop"]),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    train_set = datasets.ImageFolder(cfg["data"]["root"] + "/train", train_tf)
    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg["train"]["batch_size"], shuffle=True,
                                         num_workers=args.workers)
    model = AlexNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["train"]["lr"], momentum=cfg["train"]["momentum"],
                                weight_decay=cfg["train"]["weight_decay"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg["train"]["lr_step"], gamma=0.1)
    for epoch in range(cfg["train"]["epochs"]):
        model.train()
        for images, targets in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), targets)
            loss.backward()
            optimizer.step()
        scheduler.step()
        torch.save(model.state_dict(), f"runs/alexnet/epoch{epoch}.pth")


if __name__ == "__main__":
    main()
