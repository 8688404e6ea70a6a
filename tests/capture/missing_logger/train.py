"""Trains with live plots in visdom (not installed here) and a tensorboardX writer."""
import torch
import torch.nn as nn
import visdom
from model import AlexNet
from tensorboardX import SummaryWriter
from torchvision import datasets, transforms

vis = visdom.Visdom(env="alexnet")
writer = SummaryWriter("runs/alexnet")


def main():
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])
    train = datasets.ImageFolder("/data/imagenet/train", tf)
    loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True)
    model = AlexNet(num_classes=len(train.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    step = 0
    for epoch in range(90):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            vis.line(X=[step], Y=[loss.item()], win="loss", update="append")
            writer.add_scalar("loss", loss.item(), step)
            step += 1


if __name__ == "__main__":
    main()
