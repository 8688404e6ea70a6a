"""An mp.spawn DDP launcher hard-coded for an 8-GPU machine (NCCL, one process per GPU)."""
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from torchvision import datasets
from torchvision import transforms as T

NGPUS = 8


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 11, stride=4, padding=2)
        self.pool = nn.AdaptiveAvgPool2d(6)
        self.fc = nn.Linear(16 * 36, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def main_worker(gpu, ngpus):
    dist.init_process_group(backend="nccl", init_method="tcp://127.0.0.1:23456", world_size=ngpus, rank=gpu)
    torch.cuda.set_device(gpu)
    model = nn.parallel.DistributedDataParallel(Net().cuda(gpu), device_ids=[gpu])
    tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor()])
    train_set = datasets.ImageFolder("/datasets/imagenet/train", tf)
    sampler = DistributedSampler(train_set)
    loader = DataLoader(train_set, batch_size=256 // ngpus, sampler=sampler, num_workers=8, pin_memory=True)
    criterion = nn.CrossEntropyLoss().cuda(gpu)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for epoch in range(90):
        sampler.set_epoch(epoch)
        for images, target in loader:
            images, target = images.cuda(gpu, non_blocking=True), target.cuda(gpu, non_blocking=True)
            loss = criterion(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if gpu == 0:
            torch.save(model.state_dict(), "checkpoint.pth")


if __name__ == "__main__":
    mp.spawn(main_worker, nprocs=NGPUS, args=(NGPUS,))
