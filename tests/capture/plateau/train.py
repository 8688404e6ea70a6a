"""ReduceLROnPlateau on the validation loss: the paper's rule as PyTorch writes it."""
import torch
import torch.nn as nn
from torchvision import datasets
from torchvision import transforms as T


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 11, stride=4, padding=2)
        self.pool = nn.AdaptiveAvgPool2d(6)
        self.fc = nn.Linear(16 * 36, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


TRAIN_TF = T.Compose([T.Resize(256), T.CenterCrop(256), T.RandomCrop(224), T.RandomHorizontalFlip(), T.ToTensor()])
EVAL_TF = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])


def evaluate(model, loader, criterion):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += criterion(model(x), y).item()
    return total


def main():
    train = torch.utils.data.DataLoader(datasets.ImageFolder("/data/train", TRAIN_TF), batch_size=128, shuffle=True)
    val = torch.utils.data.DataLoader(datasets.ImageFolder("/data/val", EVAL_TF), batch_size=256)
    model = Net()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=5)
    for epoch in range(90):
        model.train()
        for x, y in train:
            opt.zero_grad()
            criterion(model(x), y).backward()
            opt.step()
        val_loss = evaluate(model, val, criterion)
        sched.step(val_loss)


if __name__ == "__main__":
    main()
