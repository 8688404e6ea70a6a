"""A script that fails after building the model, before its first optimizer step."""
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


def main():
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    config = {"data": "/data"}
    train = datasets.ImageFolder(config["dataset_root"], TRAIN_TF)  # KeyError: a typo in the key
    for x, y in torch.utils.data.DataLoader(train, batch_size=128):
        opt.step()


if __name__ == "__main__":
    main()
