"""The albumentations library itself (not a look-alike): a Dataset reading files with OpenCV from a
path argument, `A.Compose` pipelines with `ToTensorV2`, as segmentation-era repositories write them."""
import argparse
import glob
import os

import albumentations as A
import cv2
import torch
import torch.nn as nn
from albumentations.pytorch import ToTensorV2
from torch.utils.data import DataLoader, Dataset
from torchvision.models import AlexNet


class Images(Dataset):
    def __init__(self, root, transform):
        self.files = sorted(glob.glob(os.path.join(root, "*", "*.*")))
        self.classes = sorted({os.path.basename(os.path.dirname(f)) for f in self.files})
        self.transform = transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        image = cv2.cvtColor(cv2.imread(self.files[i]), cv2.COLOR_BGR2RGB)
        label = self.classes.index(os.path.basename(os.path.dirname(self.files[i])))
        return self.transform(image=image)["image"], label


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=90)
    args = p.parse_args()
    train_tf = A.Compose([
        A.SmallestMaxSize(max_size=256),
        A.RandomCrop(224, 224),
        A.HorizontalFlip(p=0.5),
        A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.0, p=0.8),
        A.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
        ToTensorV2(),
    ])
    val_tf = A.Compose([A.SmallestMaxSize(max_size=256), A.CenterCrop(224, 224),
                        A.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)), ToTensorV2()])
    train = DataLoader(Images(os.path.join(args.data, "train"), train_tf), batch_size=128, shuffle=True)
    val = DataLoader(Images(os.path.join(args.data, "val"), val_tf), batch_size=128)
    model = AlexNet(num_classes=1000)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for images, labels in train:
            optimizer.zero_grad()
            criterion(model(images), labels).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x).argmax(1) == y).sum().item() for x, y in val)
        print("epoch", epoch, "correct", correct)


if __name__ == "__main__":
    main()
