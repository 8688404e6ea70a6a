import torch
import torch.nn as nn
import torch.optim as optim
from torchvision import datasets, transforms

from model import AlexNet
from utils import accuracy

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def weights_init(m):
    if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, mean=0, std=0.01)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)


transform = transforms.Compose([
    transforms.Resize(256),
    transforms.RandomCrop(227),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
])
trainset = datasets.ImageFolder("./data/train", transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=128, shuffle=True)

net = AlexNet(num_classes=1000).to(device)
net.apply(weights_init)

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0005)

for epoch in range(90):
    for inputs, labels in trainloader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = criterion(net(inputs), labels)
        loss.backward()
        optimizer.step()
    print(epoch, accuracy(net(inputs), labels))
