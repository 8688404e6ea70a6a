"""Data without the data set: synthetic stand-ins for torchvision's data sets, and `fake-data` trees.

In a captured run (child side) ImageFolder, DatasetFolder, ImageNet, CIFAR-10/100, MNIST,
FashionMNIST and Caltech101 are replaced by subclasses that, when the real files are not there,
serve seeded random images of the data set's kind (ImageNet-sized RGB, 32x32 RGB, 28x28 grey)
through the script's own transforms. A root that holds a real ImageFolder tree (for example one
written by `alexnet-audit fake-data`) is read as usual. Nothing is downloaded.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

# kind -> (train length, eval length, classes, image sizes (h, w) drawn from, PIL mode)
KINDS: dict[str, tuple[int, int, int, tuple[tuple[int, int], ...], str]] = {
    "imagenet": (12_800, 1_000, 10, ((256, 320), (300, 400), (375, 500), (333, 500)), "RGB"),
    "cifar10": (50_000, 10_000, 10, ((32, 32),), "RGB"),
    "cifar100": (50_000, 10_000, 100, ((32, 32),), "RGB"),
    "mnist": (60_000, 10_000, 10, ((28, 28),), "L"),
}


def synthetic_image(index: int, sizes: tuple[tuple[int, int], ...], mode: str) -> Any:
    """A seeded image: smooth colour gradients plus noise (JPEG-like statistics, not flat noise)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1_000_003 * index + 17)
    h, w = sizes[index % len(sizes)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, size=3) + rng.uniform(-60, 60, size=3) * (xx[..., None] / w) \
        + rng.uniform(-60, 60, size=3) * (yy[..., None] / h)
    arr = np.clip(base + rng.normal(0, 12, size=(h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    return img.convert("L") if mode == "L" else img


def _has_images(root: Any) -> bool:
    try:
        path = Path(root)
        return path.is_dir() and any(p.is_dir() and any(p.iterdir()) for p in path.iterdir())
    except (OSError, TypeError):
        return False


def make_synthetic(real: type, kind: str, rec: Any) -> type:
    """A subclass of the torchvision data set `real` that serves synthetic data when its files are absent."""
    n_train, n_eval, n_classes, sizes, mode = KINDS[kind]
    folder = kind == "imagenet" and real.__name__ in ("ImageFolder", "DatasetFolder")

    class Synthetic(real):
        def __init__(self, root: Any = "", *args: Any, **kwargs: Any) -> None:
            if folder and _has_images(root):
                super().__init__(root, *args, **kwargs)
                self._synthetic = False
                rec.note(f"{real.__name__}({str(root)!r}) read the {super().__len__()} images on disk")
                return
            self._synthetic = True
            try:
                given = inspect.signature(real).bind(root, *args, **kwargs).arguments
            except TypeError:
                given = dict(kwargs)
            split = str(given.get("split", "train"))
            last = Path(str(root)).name.lower()
            named_eval = any(w in last for w in ("val", "test", "eval"))
            self.train = bool(given.get("train", True)) and split == "train" and not named_eval
            self.root = str(root)
            self.transform = given.get("transform")
            self.target_transform = given.get("target_transform")
            self.transforms = None
            self.n = n_train if self.train else n_eval
            self.classes = [f"class{i:03d}" for i in range(n_classes)]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
            self.targets = [i % n_classes for i in range(self.n)]
            self.samples = [(f"synthetic/{i}", t) for i, t in enumerate(self.targets)] if folder else []
            self.imgs = self.samples
            rec.note(f"{real.__name__}({str(root)!r}) served {self.n} synthetic {kind}-like images "
                     f"({n_classes} classes): no data set on disk is read")

        def __len__(self) -> int:
            return self.n if self._synthetic else super().__len__()

        def __getitem__(self, index: int) -> Any:
            if not self._synthetic:
                return super().__getitem__(index)
            offset = 0 if self.train else 10_000_000
            img = synthetic_image(index + offset, sizes, mode)
            target = self.targets[index]
            if self.transform is not None:
                img = self.transform(img)
            if self.target_transform is not None:
                target = self.target_transform(target)
            return img, target

    Synthetic.__name__ = Synthetic.__qualname__ = real.__name__
    Synthetic.__module__ = real.__module__
    return Synthetic


def install(rec: Any) -> None:
    import torchvision.datasets as D

    table = {"ImageFolder": "imagenet", "DatasetFolder": "imagenet", "ImageNet": "imagenet",
             "Caltech101": "imagenet", "CIFAR10": "cifar10", "CIFAR100": "cifar100", "MNIST": "mnist",
             "FashionMNIST": "mnist"}
    for name, kind in table.items():
        real = getattr(D, name, None)
        if real is not None:
            setattr(D, name, make_synthetic(real, kind, rec))
    _lengths_the_script_expects(rec)


def _lengths_the_script_expects(rec: Any) -> None:
    """`random_split(stand_in, [n_train, n_val])` with lengths written for the real data set: the
    stand-in takes the length the script's own arithmetic gives, with a note."""
    import torch.utils.data as data
    import torch.utils.data.dataset as dataset_module

    split = dataset_module.random_split

    def random_split(dataset: Any, lengths: Any, *args: Any, **kwargs: Any) -> Any:
        sizes = list(lengths)
        if getattr(dataset, "_synthetic", False) and all(isinstance(n, int) for n in sizes) \
                and sum(sizes) != len(dataset):
            n = sum(sizes)
            dataset.n = n
            dataset.targets = [i % len(dataset.classes) for i in range(n)]
            if getattr(dataset, "samples", None):
                dataset.samples = dataset.imgs = [(f"synthetic/{i}", t) for i, t in enumerate(dataset.targets)]
            rec.note(f"the synthetic stand-in for {type(dataset).__name__}({dataset.root!r}) was given {n} images, "
                     f"the total of the lengths random_split is asked for")
        return split(dataset, sizes, *args, **kwargs)

    dataset_module.random_split = data.random_split = random_split


# --------------------------------------------------------------------------- fake-data trees ---

def write_fake_data(root: Path, per_class: int = 4, classes: int = 10) -> list[Path]:
    """ImageFolder trees (imagenet/train, imagenet/val) and a CIFAR-10 python layout under `root`."""
    import pickle

    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    written = []
    index = 0
    for split in ("train", "val"):
        for c in range(classes):
            d = root / "imagenet" / split / f"n{c:08d}"
            d.mkdir(parents=True, exist_ok=True)
            for k in range(per_class):
                synthetic_image(index, KINDS["imagenet"][3], "RGB").save(d / f"img_{k:04d}.JPEG", format="JPEG")
                index += 1
        written.append(root / "imagenet" / split)
    cifar = root / "cifar-10-batches-py"
    cifar.mkdir(exist_ok=True)
    n = per_class * classes

    def batch(start: int) -> dict[bytes, Any]:
        imgs = [np.asarray(synthetic_image(start + i, ((32, 32),), "RGB")) for i in range(n)]
        data = np.stack(imgs).transpose(0, 3, 1, 2).reshape(n, -1)
        return {b"data": data, b"labels": [i % classes for i in range(n)],
                b"filenames": [f"synthetic_{start + i}.png".encode() for i in range(n)]}

    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        with open(cifar / name, "wb") as fh:
            pickle.dump(batch(100_000 * (i + 1)), fh)
    with open(cifar / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"class{c}".encode() for c in range(classes)]}, fh)
    written.append(cifar)
    return written


def describe_tree(root: Path) -> str:
    total = sum(len(files) for _, _, files in os.walk(root))
    return f"{total} files"
