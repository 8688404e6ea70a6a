"""A plain training loop over ImageFolder, the way many small AlexNet repositories write it."""
import os

import torch
import torch.nn as nn
import torch.optim as optim
from model import AlexNet
from torchvision import datasets, transforms

DATA = os.environ.get("IMAGENET", "/data/imagenet")
EPOCHS = 90
BATCH = 128


def main():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    train_set = datasets.ImageFolder(os.path.join(DATA, "train"), transforms.Compose([
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        normalize,
    ]))
    val_set = datasets.ImageFolder(os.path.join(DATA, "val"), transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        normalize,
    ]))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=BATCH, shuffle=True, num_workers=4)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=BATCH, shuffle=False, num_workers=4)

    model = AlexNet(num_classes=len(train_set.classes)).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)

    for epoch in range(EPOCHS):
        model.train()
        for i, (images, target) in enumerate(train_loader):
            images, target = images.to(device), target.to(device)
            loss = criterion(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i % 100 == 0:
                print(f"epoch {epoch} iter {i} loss {loss.item():.3f}")
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, target in val_loader:
                out = model(images.to(device))
                correct += (out.argmax(1) == target.to(device)).sum().item()
                total += len(target)
        print(f"epoch {epoch} val acc {correct / total:.3f}")
        scheduler.step()
        torch.save(model.state_dict(), f"checkpoint_{epoch}.pth")


if __name__ == "__main__":
    main()
