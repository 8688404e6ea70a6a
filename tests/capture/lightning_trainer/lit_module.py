"""The LightningModule and DataModule: the recipe lives in configure_optimizers and the hooks."""
import lightning as L
import torch
import torch.nn.functional as F
from alexnet import AlexNet
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision import transforms as T

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


class LitAlexNet(L.LightningModule):
    def __init__(self, num_classes: int = 1000, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 5e-4, lr_scheduler: str = "plateau"):
        super().__init__()
        self.save_hyperparameters()
        self.model = AlexNet(num_classes=num_classes)

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        images, target = batch
        logits = self(images)
        loss = F.cross_entropy(logits, target)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        images, target = batch
        logits = self(images)
        loss = F.cross_entropy(logits, target)
        acc = (logits.argmax(dim=1) == target).float().mean()
        self.log_dict({"val_loss": loss, "val_acc": acc}, prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=self.hparams.momentum,
                                    weight_decay=self.hparams.weight_decay)
        if self.hparams.lr_scheduler == "onecycle":
            steps = self.trainer.estimated_stepping_batches
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.hparams.lr, total_steps=steps)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=5)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch", "frequency": 1},
        }


class ImageNetDataModule(L.LightningDataModule):
    def __init__(self, data_dir: str = "/datasets/imagenet", batch_size: int = 64, num_workers: int = 8):
        super().__init__()
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.num_workers = num_workers
        normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
        self.train_transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                                          normalize])
        self.val_transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), normalize])

    def setup(self, stage=None):
        self.train_set = datasets.ImageFolder(f"{self.data_dir}/train", transform=self.train_transform)
        self.val_set = datasets.ImageFolder(f"{self.data_dir}/val", transform=self.val_transform)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers,
                          pin_memory=True, persistent_workers=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size, num_workers=self.num_workers, pin_memory=True)
