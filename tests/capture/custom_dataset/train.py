"""A hand-written Dataset reading image files from a --data directory."""
import torch
import torch.nn as nn
import torch.nn.functional as F
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

import argparse  # noqa: E402
import os  # noqa: E402

from PIL import Image  # noqa: E402


class Images(torch.utils.data.Dataset):
    def __init__(self, root, transform=None):
        self.transform = transform
        classes = sorted(os.listdir(root))
        self.items = [(os.path.join(root, c, f), i) for i, c in enumerate(classes)
                      for f in sorted(os.listdir(os.path.join(root, c)))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        img = Image.open(path).convert("RGB")
        return self.transform(img), label


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=90)
    args = parser.parse_args()
    train = torch.utils.data.DataLoader(Images(os.path.join(args.data, "train"), TRAIN_TF), batch_size=128,
                                        shuffle=True)
    val = torch.utils.data.DataLoader(Images(os.path.join(args.data, "val"), EVAL_TF), batch_size=128)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, 30)
    for epoch in range(args.epochs):
        for x, y in train:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        with torch.no_grad():
            for x, y in val:
                model(x)
        sched.step()


if __name__ == "__main__":
    main()
