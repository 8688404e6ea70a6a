import torch
from torchvision import datasets
from transforms_cfg import cifar_transforms


def get_loaders(name, batch_size):
    train_tf, test_tf = cifar_transforms()
    cls = getattr(datasets, name)
    train = cls("./data", train=True, download=True, transform=train_tf)
    test = cls("./data", train=False, download=True, transform=test_tf)
    return (torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=2),
            torch.utils.data.DataLoader(test, batch_size=100, shuffle=False, num_workers=2))
