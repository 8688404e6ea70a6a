"""`python -m alexnet_pkg.train`"""
import torch
import torch.nn as nn
from torchvision import datasets, transforms

from . import config
from .model import AlexNet


def main():
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])
    train = datasets.ImageFolder(f"{config.DATA_DIR}/train", tf)
    loader = torch.utils.data.DataLoader(train, batch_size=config.BATCH_SIZE, shuffle=True)
    model = AlexNet(num_classes=len(train.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.LR, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(config.EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()


if __name__ == "__main__":
    main()
