"""A hand-written exponential moving average of the weights (a deep copy updated in place) is what gets evaluated."""
import torch
import torch.nn as nn
import torch.nn.functional as F
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

import copy  # noqa: E402


@torch.no_grad()
def update_ema(ema_model, model, decay=0.999):
    for e, p in zip(ema_model.parameters(), model.parameters(), strict=True):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)


def main():
    train = torch.utils.data.DataLoader(datasets.ImageFolder("/data/train", TRAIN_TF), batch_size=128, shuffle=True)
    val = torch.utils.data.DataLoader(datasets.ImageFolder("/data/val", EVAL_TF), batch_size=256)
    model = Net()
    ema_model = copy.deepcopy(model)
    for p in ema_model.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(90):
        for x, y in train:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            update_ema(ema_model, model, decay=0.999)
        ema_model.eval()
        with torch.no_grad():
            for x, y in val:
                ema_model(x).argmax(1)


if __name__ == "__main__":
    main()
