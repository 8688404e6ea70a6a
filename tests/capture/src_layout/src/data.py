from torch.utils.data import DataLoader
from torchvision import datasets, transforms

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def build_loaders(cfg):
    train_tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    val_tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                 transforms.Normalize(MEAN, STD)])
    train = datasets.ImageFolder(cfg["data"]["train_dir"], train_tf)
    val = datasets.ImageFolder(cfg["data"]["val_dir"], val_tf)
    return (DataLoader(train, batch_size=cfg["data"]["batch_size"], shuffle=True, num_workers=8),
            DataLoader(val, batch_size=cfg["data"]["batch_size"], shuffle=False, num_workers=8))
