"""Label smoothing written by hand (a smoothed target distribution, as older timm and many notebooks do)."""
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


class SmoothCE:
    def __init__(self, smoothing=0.1):
        self.confidence = 1.0 - smoothing
        self.smoothing = smoothing

    def __call__(self, pred, target):
        logprobs = torch.log_softmax(pred, dim=-1)
        nll = -logprobs.gather(dim=-1, index=target.unsqueeze(1)).squeeze(1)
        smooth = -logprobs.mean(dim=-1)
        return (self.confidence * nll + self.smoothing * smooth).mean()


def main():
    train = torch.utils.data.DataLoader(datasets.ImageFolder("/data/train", TRAIN_TF), batch_size=128, shuffle=True)
    model = Net()
    criterion = SmoothCE(0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(90):
        for x, y in train:
            opt.zero_grad()
            criterion(model(x), y).backward()
            opt.step()


if __name__ == "__main__":
    main()
