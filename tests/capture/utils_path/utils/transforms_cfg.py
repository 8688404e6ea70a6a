import torchvision.transforms as T


def cifar_transforms():
    norm = T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    return (T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), norm]),
            T.Compose([T.ToTensor(), norm]))
