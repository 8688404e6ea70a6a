"""Ten-crop evaluation done in the loop, every crop scored on its own against repeated labels (not §4.1's average)."""
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

import torchvision.transforms.functional as TF  # noqa: E402

VAL_TF = T.Compose([T.Resize(256), T.CenterCrop(256), T.ToTensor()])


def main():
    train = torch.utils.data.DataLoader(datasets.ImageFolder("/data/train", TRAIN_TF), batch_size=128, shuffle=True)
    val = torch.utils.data.DataLoader(datasets.ImageFolder("/data/val", VAL_TF), batch_size=64)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(90):
        model.train()
        for x, y in train:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, labels in val:
                crops = torch.stack(TF.ten_crop(images, 224), dim=1)  # B x 10 x C x H x W
                ncrops = crops.size(1)
                logits = model(crops.view(-1, *crops.shape[2:]))
                _, pred = logits.max(dim=1)
                correct += (pred == labels.repeat_interleave(ncrops)).sum().item()
                total += pred.numel()
        print(f"epoch {epoch} val acc {correct / max(total, 1):.3f}")


if __name__ == "__main__":
    main()
