"""Train AlexNet with PyTorch Lightning on 2 GPUs (DDP), the way Lightning repositories write it."""
from argparse import ArgumentParser

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lit_module import ImageNetDataModule, LitAlexNet


def main():
    parser = ArgumentParser()
    parser.add_argument("--data_dir", default="/datasets/imagenet")
    parser.add_argument("--batch_size", type=int, default=64, help="per GPU")
    parser.add_argument("--lr_scheduler", choices=["plateau", "onecycle"], default="plateau")
    parser.add_argument("--gpus", type=int, default=2)
    args = parser.parse_args()

    L.seed_everything(42)
    model = LitAlexNet(num_classes=1000, lr=0.01, lr_scheduler=args.lr_scheduler)
    dm = ImageNetDataModule(args.data_dir, batch_size=args.batch_size)
    trainer = L.Trainer(
        max_epochs=90,
        accelerator="gpu",
        devices=args.gpus,
        strategy="ddp",
        precision="16-mixed",
        logger=CSVLogger("logs", name="alexnet"),
        callbacks=[ModelCheckpoint(dirpath="checkpoints", monitor="val_acc", mode="max", save_top_k=1),
                   LearningRateMonitor(logging_interval="epoch")],
        log_every_n_steps=50,
    )
    trainer.fit(model, datamodule=dm)


if __name__ == "__main__":
    main()
