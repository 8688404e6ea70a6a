"""Data probes whose evidence is true (issue 13): PCA lighting measured, not guessed; geometry and
normalisation read the same for torchvision v1, v2, custom classes and albumentations-style callables.

The pipelines are written the way public repositories write them: the fb.resnet.torch `Lighting`
port, numpy transforms on PIL images, an albumentations look-alike (`t(image=arr)["image"]`, HxWxC
uint8 in; albumentations itself is not a dependency), a per-epoch redraw, a GPU batch augmentation.
"""
from __future__ import annotations

import random
import re
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import v2

from tests.probes.test_probes_recipe import audit, tiny_model

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])
GEOMETRY = [T.Resize(256), T.CenterCrop(256), T.RandomCrop(224), T.RandomHorizontalFlip()]
DATA_IDS = ["data.resize", "data.random_crop", "data.mean_subtraction", "data.pca_lighting"]


def run(tf: Any, ids: list[str] | None = None) -> dict[str, Any]:
    return audit({"model": tiny_model, "train_transform": tf}, ids or DATA_IDS)


# ------------------------------------------------------------------ PCA lighting: real forms ---

class Lighting:
    """Lighting noise (AlexNet-style PCA-based noise), as ported from fb.resnet.torch in many repos."""

    def __init__(self, alphastd, eigval, eigvec):
        self.alphastd = alphastd
        self.eigval = eigval
        self.eigvec = eigvec

    def __call__(self, img):
        if self.alphastd == 0:
            return img
        alpha = img.new().resize_(3).normal_(0, self.alphastd)
        rgb = self.eigvec.type_as(img).clone().mul(alpha.view(1, 3).expand(3, 3)) \
            .mul(self.eigval.view(1, 3).expand(3, 3)).sum(1).squeeze()
        return img.add(rgb.view(3, 1, 1).expand_as(img))


class PCAColorAugmentation:
    """Numpy PCA noise on the PIL image before ToTensor, alpha drawn per call; no eigen attributes."""

    def __init__(self, sigma=0.1):
        self.sigma = sigma
        self._basis = (EIGVEC.numpy(), EIGVAL.numpy())

    def __call__(self, img):
        vec, val = self._basis
        arr = np.asarray(img).astype(np.float32)
        alpha = np.random.normal(0, self.sigma, 3)
        rgb = vec @ (alpha * val) * 255.0
        return Image.fromarray(np.clip(arr + rgb, 0, 255).astype(np.uint8))


class EpochLighting:
    """PCA lighting whose alpha is drawn once per epoch: the training loop calls set_epoch(epoch)."""

    def __init__(self, std=0.1):
        self.std = std
        self.set_epoch(0)

    def set_epoch(self, epoch):
        g = torch.Generator().manual_seed(1000 + epoch)
        self.alpha = torch.randn(3, generator=g) * self.std

    def __call__(self, t):
        return t + (EIGVEC @ (self.alpha * EIGVAL)).view(3, 1, 1)


class BatchLighting:
    """GPU batch augmentation: one alpha per call, added to every image of the (B, 3, H, W) batch."""

    def __call__(self, x):
        alpha = torch.randn(3) * 0.1
        return x + (EIGVEC @ (alpha * EIGVAL)).view(3, 1, 1)


# albumentations look-alikes: keyword `image=` (HxWxC uint8), a dict back --------------------

class ACompose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, *, image):
        for t in self.transforms:
            image = t(image=image)["image"]
        return {"image": image}


class SmallestMaxSize:
    def __init__(self, max_size):
        self.max_size = max_size

    def __call__(self, *, image):
        h, w = image.shape[:2]
        s = self.max_size / min(h, w)
        return {"image": np.asarray(Image.fromarray(image).resize((round(w * s), round(h * s)), Image.BILINEAR))}


class RandomCrop:
    def __init__(self, height, width):
        self.height, self.width = height, width

    def __call__(self, *, image):
        h, w = image.shape[:2]
        y, x = random.randint(0, h - self.height), random.randint(0, w - self.width)
        return {"image": image[y:y + self.height, x:x + self.width]}


class HorizontalFlip:
    def __call__(self, *, image):
        return {"image": image[:, ::-1].copy() if random.random() < 0.5 else image}


class FancyPCA:
    """albumentations.FancyPCA: PCA of the image's own pixels, alpha drawn per call."""

    def __init__(self, alpha=0.1):
        self.alpha = alpha

    def __call__(self, *, image):
        img = image.astype(np.float64) / 255.0
        flat = img.reshape(-1, 3)
        vals, vecs = np.linalg.eigh(np.cov(flat - flat.mean(axis=0), rowvar=False))
        vals, vecs = vals[::-1], vecs[:, ::-1]  # largest first
        add = vecs @ (np.random.normal(0, self.alpha, 3) * vals)
        return {"image": (np.clip(img + add, 0, 1) * 255).astype(np.uint8)}


class ANormalize:
    def __init__(self, mean=MEAN, std=STD):
        self.mean, self.std = np.asarray(mean), np.asarray(std)

    def __call__(self, *, image):
        return {"image": ((image.astype(np.float32) / 255.0 - self.mean) / self.std).astype(np.float32)}


def albu(*middle):
    return ACompose([SmallestMaxSize(256), RandomCrop(224, 224), HorizontalFlip(), *middle, ANormalize()])


# ------------------------------------------------------------------------------ the cases ---

@pytest.mark.parametrize("name, tf", [
    ("fb.resnet Lighting", T.Compose([*GEOMETRY, T.ToTensor(), Lighting(0.1, EIGVAL, EIGVEC), T.Normalize(MEAN, STD)])),
    ("numpy on PIL, hidden basis", T.Compose([*GEOMETRY, PCAColorAugmentation(0.1), T.ToTensor(),
                                              T.Normalize(MEAN, STD)])),
    ("torchvision v2", v2.Compose([v2.Resize(256), v2.CenterCrop(256), v2.RandomCrop(224), v2.RandomHorizontalFlip(),
                                   v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                                   Lighting(0.1, EIGVAL, EIGVEC), v2.Normalize(MEAN, STD)])),
])
def test_per_image_pca_noise_is_present(name: str, tf: Any) -> None:
    f = run(tf, ["data.pca_lighting"])["data.pca_lighting"]
    assert f.observed["present"] is True and f.observed["scope"] == "per_image", (name, f.evidence)
    assert f.observed["alpha_std"] == pytest.approx(0.1, rel=0.25), (name, f.evidence)
    assert f.status.value == "pass", f.message


def test_albumentations_fancy_pca_is_present_with_the_images_own_basis() -> None:
    f = run(albu(FancyPCA(0.1)), ["data.pca_lighting"])["data.pca_lighting"]
    assert f.observed["present"] is True and f.observed["scope"] == "per_image", f.evidence
    assert "the image's own colours" in f.evidence
    assert f.observed["alpha_std"] == pytest.approx(0.1, rel=0.5)


def test_alpha_redrawn_once_per_epoch_is_reported_as_per_epoch() -> None:
    f = run(T.Compose([*GEOMETRY, T.ToTensor(), EpochLighting(0.1), T.Normalize(MEAN, STD)]),
            ["data.pca_lighting"])["data.pca_lighting"]
    assert f.observed["present"] is True and f.observed["scope"] == "per_epoch", f.evidence
    assert "EpochLighting.set_epoch()" in f.evidence and "every image of an epoch" in f.evidence
    assert f.status.value == "deviation"


def test_one_alpha_per_batch_call_is_reported_as_per_batch() -> None:
    f = run(T.Compose([BatchLighting(), T.Normalize(MEAN, STD)]), ["data.pca_lighting"])["data.pca_lighting"]
    assert f.observed["present"] is True and f.observed["scope"] == "per_batch", f.evidence
    assert "shared by every image of a batch" in f.evidence
    assert f.status.value == "deviation"


@pytest.mark.parametrize("name, tf", [
    ("TrivialAugmentWide", T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.TrivialAugmentWide(),
                                      T.ToTensor(), T.Normalize(MEAN, STD)])),
    ("CIFAR padding crop", T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                                      T.Normalize(MEAN, STD)])),
    ("ColorJitter", T.Compose([*GEOMETRY, T.ColorJitter(0.4, 0.4, 0.4), T.ToTensor()])),
    ("auto-contrast", T.Compose([*GEOMETRY, T.RandomAutocontrast(p=1.0), T.ToTensor()])),
    ("per-pixel noise", T.Compose([*GEOMETRY, T.ToTensor(), lambda t: t + 0.02 * torch.randn_like(t)])),
])
def test_steps_that_are_not_pca_lighting_are_not_reported_as_it(name: str, tf: Any) -> None:
    f = run(tf, ["data.pca_lighting"])["data.pca_lighting"]
    assert f.observed == {"present": False, "scope": "none", "alpha_std": 0.0}, (name, f.evidence)
    assert "not per-image" not in f.message


def test_a_padded_crop_is_no_resize_and_normalize_reads_per_channel() -> None:
    found = run(T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(MEAN, STD)]))
    assert found["data.resize"].observed == {"rule": "none", "size": None, "center_crop": None}
    assert found["data.random_crop"].observed == {"size": 32, "random": True, "scale": 1.0}
    assert found["data.mean_subtraction"].observed == "per_channel_mean_std"


@pytest.mark.parametrize("name, tf", [
    ("v1", T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])),
    ("v2", v2.Compose([v2.RandomResizedCrop(224), v2.RandomHorizontalFlip(), v2.ToImage(),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])),
])
def test_random_resized_crop_reports_its_scale_and_ratio_ranges(name: str, tf: Any) -> None:
    found = run(tf)
    crop = found["data.random_crop"].observed
    assert found["data.resize"].observed["rule"] == "random_resized_crop"
    assert 0.2 < crop["scale"] < 0.8, crop  # the magnification ratio, not 0.000864
    lo, hi = crop["area"]
    assert 0.07 <= lo < 0.3 and 0.4 < hi <= 1.0, crop  # RandomResizedCrop's scale=(0.08, 1.0)
    lo, hi = crop["ratio"]
    assert 0.7 <= lo < 1.0 < hi <= 1.4, crop  # ratio=(3/4, 4/3)
    assert found["data.mean_subtraction"].observed == "per_channel_mean_std"


@pytest.mark.parametrize("norm, value", [
    (T.Normalize(MEAN, STD), "per_channel_mean_std"),
    (v2.Normalize(MEAN, STD), "per_channel_mean_std"),
    (T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), "constant"),
    (lambda t: t * 2 - 1, "constant"),
    (lambda t: t, "none"),
])
def test_one_classification_of_normalisation(norm: Any, value: str) -> None:
    f = run(T.Compose([*GEOMETRY, T.ToTensor(), norm]), ["data.mean_subtraction"])["data.mean_subtraction"]
    assert f.observed == value, f.evidence


def test_albumentations_style_pipeline_reads_like_torchvision() -> None:
    found = run(albu(), [*DATA_IDS, "data.hflip"])
    assert found["data.hflip"].observed == pytest.approx(0.5, abs=0.1)
    assert found["data.resize"].observed == {"rule": "shorter_side", "size": 256, "center_crop": None}
    assert found["data.random_crop"].observed == {"size": 224, "random": True, "scale": 1.0}
    assert found["data.mean_subtraction"].observed == "per_channel_mean_std"
    assert found["data.pca_lighting"].observed["present"] is False


def test_evidence_numbers_are_rounded() -> None:
    found = run(T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.TrivialAugmentWide(),
                           T.ToTensor(), Lighting(0.1, EIGVAL, EIGVEC), T.Normalize(MEAN, STD)]))
    for f in found.values():
        assert not re.search(r"\d\.\d{6,}", f.evidence), f.evidence  # no unrounded floats
        assert not re.search(r"e-(1\d|[0-9]{2,})", f.evidence.replace("< 1e-9", "")), f.evidence


# ------------------------------------------------------------------------ evaluation views ---

class ATenCrop:
    """An albumentations-style eval step returning ten HxWxC crops (corners, centre, and mirrors)."""

    def __init__(self, size):
        self.size = size

    def __call__(self, *, image):
        h, w = image.shape[:2]
        s = self.size
        boxes = [(0, 0), (0, w - s), (h - s, 0), (h - s, w - s), ((h - s) // 2, (w - s) // 2)]
        crops = [image[y:y + s, x:x + s] for y, x in boxes]
        return {"image": np.stack([*crops, *[c[:, ::-1] for c in crops]]).transpose(0, 3, 1, 2).astype(np.float32)}


@pytest.mark.parametrize("name, tf", [
    ("v2", v2.Compose([v2.Resize(256), v2.CenterCrop(256), v2.TenCrop(224)])),
    ("albumentations-style", ACompose([SmallestMaxSize(256), ATenCrop(224)])),
])
def test_ten_crop_reads_for_v2_and_albumentations_style(name: str, tf: Any) -> None:
    f = audit({"model": tiny_model, "eval_transform": tf}, ["eval.ten_crop"])["eval.ten_crop"]
    assert f.observed == {"crops": 10, "layout": "corners+center+mirrors"}, (name, f.evidence)


# ---------------------------------------------------- crops larger than the sweep's images ---

def test_a_crop_larger_than_256_px_with_no_resize_is_measured_on_larger_images_not_an_error():
    """RandomCrop(280) on the raw image (no resize first) cannot run on the shared sweep's 300x256
    images; the sweep is then drawn at 600x512, and every probe that reads it still measures."""
    ids = ["data.hflip", "data.mean_subtraction", "data.pca_lighting", "data.extra_augmentation"]
    plain = run(T.Compose([T.RandomCrop(280), T.RandomHorizontalFlip(), T.ToTensor()]), ids)
    assert {i: f.status.value for i, f in plain.items()} == {
        "data.hflip": "pass", "data.mean_subtraction": "deviation", "data.pca_lighting": "deviation",
        "data.extra_augmentation": "pass"}
    lit = run(T.Compose([T.RandomCrop(280), T.RandomHorizontalFlip(), T.ToTensor(), Lighting(0.1, EIGVAL, EIGVEC)]),
              ids)
    assert lit["data.pca_lighting"].status.value == "pass", lit["data.pca_lighting"].message
    jitter = run(T.Compose([T.RandomCrop(280), T.ColorJitter(0.4, 0.4), T.ToTensor()]), ["data.extra_augmentation"])
    assert jitter["data.extra_augmentation"].observed == ["colour_jitter"]
