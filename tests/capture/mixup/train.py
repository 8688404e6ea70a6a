"""mixup (Zhang et al.) as the reference implementation writes it: one output, two targets."""
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

import numpy as np  # noqa: E402


def mixup_data(x, y, alpha=0.2):
    lam = np.random.beta(alpha, alpha)
    index = torch.randperm(x.size(0))
    return lam * x + (1 - lam) * x[index], y, y[index], lam


def mixup_criterion(criterion, pred, y_a, y_b, lam):
    return lam * criterion(pred, y_a) + (1 - lam) * criterion(pred, y_b)


def main():
    train = torch.utils.data.DataLoader(datasets.ImageFolder("/data/train", TRAIN_TF), batch_size=128, shuffle=True)
    model = Net()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(90):
        for x, y in train:
            x, y_a, y_b, lam = mixup_data(x, y)
            loss = mixup_criterion(criterion, model(x), y_a, y_b, lam)
            opt.zero_grad()
            loss.backward()
            opt.step()


if __name__ == "__main__":
    main()
