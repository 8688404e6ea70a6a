"""A Hydra entry point: the config is composed from conf/ (defaults list + command-line overrides)."""
import logging

import hydra
import torch
import torch.nn as nn
from hydra.utils import instantiate
from models import AlexNet
from omegaconf import DictConfig, OmegaConf
from torchvision import datasets
from torchvision import transforms as T

log = logging.getLogger(__name__)


def build_transforms(cfg):
    normalize = T.Normalize(cfg.mean, cfg.std)
    train = T.Compose([T.RandomResizedCrop(cfg.crop), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
    val = T.Compose([T.Resize(cfg.resize), T.CenterCrop(cfg.crop), T.ToTensor(), normalize])
    return train, val


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    log.info("config:\n%s", OmegaConf.to_yaml(cfg))
    device = torch.device(cfg.device)
    train_tf, val_tf = build_transforms(cfg.data)
    train_set = datasets.ImageFolder(f"{cfg.data.root}/train", transform=train_tf)
    val_set = datasets.ImageFolder(f"{cfg.data.root}/val", transform=val_tf)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.data.batch_size, shuffle=True,
                                               num_workers=cfg.data.workers)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=cfg.data.batch_size, num_workers=cfg.data.workers)

    model = AlexNet(cfg.model).to(device)
    optimizer = instantiate(cfg.optimizer, params=model.parameters())
    scheduler = instantiate(cfg.scheduler, optimizer=optimizer)
    criterion = nn.CrossEntropyLoss()
    best = 0.0
    for epoch in range(cfg.epochs):
        model.train()
        for images, target in train_loader:
            images, target = images.to(device), target.to(device)
            loss = criterion(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, target in val_loader:
                correct += (model(images.to(device)).argmax(1) == target.to(device)).sum().item()
                total += len(target)
        best = max(best, correct / total)
        log.info("epoch %d: val acc %.3f", epoch, correct / total)
        scheduler.step()
        torch.save(model.state_dict(), "last.pt")
    return best


if __name__ == "__main__":
    main()
