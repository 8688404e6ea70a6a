import argparse

import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as transforms

from model import AlexNet, writer

parser = argparse.ArgumentParser(description="AlexNet ImageNet training")
parser.add_argument("data", help="path to ImageNet")
parser.add_argument("--epochs", default=90, type=int)
parser.add_argument("--lr", default=0.01, type=float)
args = parser.parse_args()

normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
train_set = datasets.ImageFolder(args.data + "/train", transforms.Compose([
    transforms.RandomResizedCrop(227),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    normalize,
]))
loader = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True, num_workers=8)

model = AlexNet().cuda()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), args.lr, momentum=0.9, weight_decay=5e-4)

for epoch in range(args.epochs):
    for i, (images, target) in enumerate(loader):
        loss = criterion(model(images.cuda()), target.cuda())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("train/loss", loss.item(), epoch * len(loader) + i)
