"""Fine-tunes on the ten flower pictures shipped in ./data/flowers (8 to train, 2 to validate)."""
import torch
import torch.nn as nn
from model import AlexNet
from torch.utils.data import DataLoader, random_split
from torchvision import datasets, transforms

DATA_ROOT = "./data/flowers"

tf = transforms.Compose([transforms.Resize(256), transforms.RandomCrop(224), transforms.RandomHorizontalFlip(),
                         transforms.ToTensor()])
full = datasets.ImageFolder(DATA_ROOT, transform=tf)
train_set, val_set = random_split(full, [8, 2], generator=torch.Generator().manual_seed(0))
train_loader = DataLoader(train_set, batch_size=4, shuffle=True)
val_loader = DataLoader(val_set, batch_size=2)

model = AlexNet(num_classes=2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(30):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for x, y in val_loader:
            print("val", (model(x).argmax(1) == y).float().mean().item())
