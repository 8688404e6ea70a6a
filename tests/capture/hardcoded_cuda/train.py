"""Written for a GPU: .cuda() everywhere, cudnn.benchmark and a CUDA-stream prefetcher."""
import torch
import torch.backends.cudnn as cudnn
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as transforms


class data_prefetcher:
    def __init__(self, loader):
        self.loader = iter(loader)
        self.stream = torch.cuda.Stream()
        self.preload()

    def preload(self):
        try:
            self.next_input, self.next_target = next(self.loader)
        except StopIteration:
            self.next_input = None
            return
        with torch.cuda.stream(self.stream):
            self.next_input = self.next_input.cuda(non_blocking=True)
            self.next_target = self.next_target.cuda(non_blocking=True)

    def next(self):
        torch.cuda.current_stream().wait_stream(self.stream)
        input, target = self.next_input, self.next_target
        if input is not None:
            input.record_stream(torch.cuda.current_stream())
        self.preload()
        return input, target


class SmallNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 11, stride=4)
        self.pool = nn.MaxPool2d(3, 2)
        self.fc = nn.Linear(8 * 26 * 26, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def main():
    torch.cuda.set_device(0)
    cudnn.benchmark = True
    model = SmallNet().cuda()
    criterion = nn.CrossEntropyLoss().cuda()
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(256), transforms.RandomCrop(224),
                             transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    loader = torch.utils.data.DataLoader(datasets.ImageFolder("/imagenet/train", tf), batch_size=128,
                                         shuffle=True, pin_memory=True)
    model(torch.zeros(1, 3, 224, 224, device="cuda"))  # a dry run on the GPU
    optimizer = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(90):
        prefetcher = data_prefetcher(loader)
        input, target = prefetcher.next()
        while input is not None:
            loss = criterion(model(input), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            input, target = prefetcher.next()


if __name__ == "__main__":
    main()
