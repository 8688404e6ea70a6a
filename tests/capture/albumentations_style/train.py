"""An albumentations-style pipeline (numpy arrays in, `t(image=...)["image"]` out) in a hand-written Dataset,
with the repository's own transform classes, as Kaggle kernels write them."""
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image


class RandomCropNp:
    def __init__(self, height, width):
        self.height, self.width = height, width

    def __call__(self, *, image):
        h, w = image.shape[:2]
        y, x = np.random.randint(0, h - self.height + 1), np.random.randint(0, w - self.width + 1)
        return {"image": image[y:y + self.height, x:x + self.width]}


class VerticalFlipNp:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, *, image):
        return {"image": image[::-1].copy() if np.random.rand() < self.p else image}


class ToTensorNp:
    def __call__(self, *, image):
        return {"image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255}


class ComposeNp:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, *, image):
        for t in self.transforms:
            image = t(image=image)["image"]
        return {"image": image}


class Folder(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        self.transform = transform
        self.items = [(os.path.join(root, c, f), i) for i, c in enumerate(sorted(os.listdir(root)))
                      for f in sorted(os.listdir(os.path.join(root, c)))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        image = np.array(Image.open(path).convert("RGB").resize((256, 256)))
        return self.transform(image=image)["image"], label


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 11, stride=4)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


if __name__ == "__main__":
    aug = ComposeNp([RandomCropNp(224, 224), VerticalFlipNp(0.5), ToTensorNp()])
    loader = torch.utils.data.DataLoader(Folder(os.environ.get("DATA", "fake/imagenet/train"), aug), batch_size=32)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(90):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
