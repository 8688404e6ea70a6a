"""The paper's data pipeline: §2 preprocessing, §4.1 augmentation and the ten-patch test views.

Pixels are in [0, 1] (torchvision's ToTensor), so the mean image and the PCA eigenvalues are
given at that scale; the paper does not state its pixel scale (paper notes §5.3, §10.12; the
notes are docs/paper_notes.md).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T
from torchvision.transforms import functional as TF

__all__ = ["MeanSubtraction", "PCALighting", "eval_transform", "train_transform"]

ImageLike = torch.Tensor | Image.Image

# §2, data.resize: shorter side rescaled to 256, then the central 256x256 patch.
RESIZE = 256
# §4.1, data.random_crop / eval.ten_crop: 224x224 patches.
CROP = 224
# §4.1, data.hflip: horizontal reflections, half of the time.
HFLIP_P = 0.5
# §4.1, data.pca_lighting: alpha_i ~ N(0, 0.1^2).
LIGHTING_ALPHA_STD = 0.1

# The widely used ImageNet RGB PCA for [0, 1] pixels (fb.resnet.torch; paper notes §5.3).
# Columns of IMAGENET_EIGVEC are the eigenvectors p_1, p_2, p_3, in the order of IMAGENET_EIGVAL.
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
# ImageNet per-channel RGB means for [0, 1] pixels; only a stand-in for the §2 mean image.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)


def _to_tensor(image: ImageLike) -> torch.Tensor:
    """A CxHxW float tensor from a PIL image (scaled to [0, 1]) or a tensor (kept as is)."""
    if isinstance(image, torch.Tensor):
        return image
    return TF.to_tensor(image)


def _iter_images(images: Iterable[ImageLike] | torch.Tensor) -> Iterable[torch.Tensor]:
    """Single CxHxW float64 images from a list of images or an NxCxHxW batch."""
    if isinstance(images, torch.Tensor) and images.dim() == 3:
        images = images.unsqueeze(0)
    for image in images:
        yield _to_tensor(image).to(torch.float64)


class PCALighting(nn.Module):
    """§4.1 colour noise (data.pca_lighting): add sum_i p_i * alpha_i * lambda_i to every pixel.

    One alpha ~ N(0, alpha_std^2) per eigenvector is drawn per call, i.e. per image presentation,
    and shared by all its pixels. Works on a 3xHxW float tensor (or a batch ...x3xHxW, one draw
    per image); place it after ToTensor. Randomness comes from torch's global generator.
    """

    eigval: torch.Tensor
    eigvec: torch.Tensor

    def __init__(
        self,
        alpha_std: float = LIGHTING_ALPHA_STD,
        eigval: torch.Tensor | Iterable[float] = IMAGENET_EIGVAL,
        eigvec: torch.Tensor | Iterable[Iterable[float]] = IMAGENET_EIGVEC,
    ) -> None:
        super().__init__()
        eigval = torch.as_tensor(eigval, dtype=torch.float32)
        eigvec = torch.as_tensor(eigvec, dtype=torch.float32)
        if eigval.shape != (3,) or eigvec.shape != (3, 3):
            raise ValueError("eigval must have shape (3,), eigvec (3, 3) with eigenvectors as columns")
        self.alpha_std = float(alpha_std)
        self.register_buffer("eigval", eigval)
        self.register_buffer("eigvec", eigvec)

    @classmethod
    def fit(
        cls, images: Iterable[ImageLike] | torch.Tensor, alpha_std: float = LIGHTING_ALPHA_STD
    ) -> PCALighting:
        """PCA of the 3x3 covariance of all RGB pixel values in a sample of training images.

        §4.1 performs this PCA over the whole ImageNet training set; a random sample of a few
        thousand images estimates it well. Eigenvectors are sorted by decreasing eigenvalue; their
        signs are arbitrary (alpha is symmetric about 0, so the augmentation does not care).
        """
        count = 0
        total = torch.zeros(3, dtype=torch.float64)
        outer = torch.zeros(3, 3, dtype=torch.float64)
        for image in _iter_images(images):
            pixels = image.reshape(3, -1)
            count += pixels.shape[1]
            total += pixels.sum(dim=1)
            outer += pixels @ pixels.T
        if count < 2:
            raise ValueError("need at least two pixels to fit a covariance")
        mean = total / count
        cov = (outer - count * torch.outer(mean, mean)) / (count - 1)
        eigval, eigvec = torch.linalg.eigh(cov)  # ascending order
        return cls(alpha_std, eigval.flip(0).float(), eigvec.flip(1).float())

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.dim() < 3 or img.shape[-3] != 3:
            raise ValueError(f"expected a ...x3xHxW RGB tensor, got shape {tuple(img.shape)}")
        alpha = torch.randn(*img.shape[:-3], 3) * self.alpha_std
        eigval = self.eigval.to(img.dtype)
        eigvec = self.eigvec.to(img.dtype)
        rgb = (alpha.to(img.device, img.dtype) * eigval) @ eigvec.T  # sum_i p_i alpha_i lambda_i
        return img + rgb[..., :, None, None]

    def extra_repr(self) -> str:
        return f"alpha_std={self.alpha_std}, eigval={[round(v, 4) for v in self.eigval.tolist()]}"


class MeanSubtraction(nn.Module):
    """§2 (data.mean_subtraction): subtract the training set's mean image; no std division.

    `mean` is a 3xHxW per-pixel mean image (a 3x1x1 per-channel mean also broadcasts, but that
    is the common simplification, not the paper). The default is only a placeholder: the
    ImageNet channel means spread over a 3x224x224 image. The real mean image must be fit on
    the training set with `MeanSubtraction.fit`.
    """

    mean: torch.Tensor

    def __init__(self, mean: torch.Tensor | None = None) -> None:
        super().__init__()
        if mean is None:
            mean = torch.tensor(IMAGENET_MEAN_RGB).view(3, 1, 1).expand(3, CROP, CROP).clone()
        mean = torch.as_tensor(mean, dtype=torch.float32)
        if mean.dim() != 3 or mean.shape[0] != 3:
            raise ValueError(f"mean must be a 3xHxW image (or 3x1x1), got {tuple(mean.shape)}")
        self.register_buffer("mean", mean)

    @classmethod
    def fit(
        cls, images: Iterable[ImageLike] | torch.Tensor, size: int | None = CROP
    ) -> MeanSubtraction:
        """Per-pixel mean of equally sized images (the 256x256 training images of §2).

        With `size`, the mean image is centre-cropped to `size` x `size`: like the authors'
        cuda-convnet2, the centre crop of the mean image is subtracted from every training patch.
        """
        count = 0
        total: torch.Tensor | None = None
        for image in _iter_images(images):
            if total is not None and image.shape != total.shape:
                raise ValueError(f"image shapes differ: {tuple(image.shape)}, {tuple(total.shape)}")
            total = image.clone() if total is None else total + image
            count += 1
        if total is None:
            raise ValueError("need at least one image")
        mean = total / count
        if size is not None and mean.shape[-2:] != (size, size):
            mean = TF.center_crop(mean, [size, size])
        return cls(mean.float())

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return img - self.mean.to(img.dtype)

    def extra_repr(self) -> str:
        return f"mean_shape={tuple(self.mean.shape)}"


def _as_mean_subtraction(mean: MeanSubtraction | torch.Tensor | None) -> MeanSubtraction:
    return mean if isinstance(mean, MeanSubtraction) else MeanSubtraction(mean)


def train_transform(
    mean: MeanSubtraction | torch.Tensor | None = None,
    lighting: PCALighting | None = None,
) -> T.Compose:
    """The §2 + §4.1 training pipeline for one PIL image, giving a 3x224x224 tensor.

    Shorter side to 256 and central 256x256 patch (§2), a random 224x224 patch and its mirror
    with probability 0.5 (§4.1), PCA colour noise (§4.1), then the mean image (§2).
    """
    return T.Compose(
        [
            T.Resize(RESIZE),  # §2, data.resize: shorter side to 256, aspect kept
            T.CenterCrop(RESIZE),  # §2, data.resize: central 256x256 patch
            T.RandomCrop(CROP),  # §4.1, data.random_crop: offsets 0..32 on each axis
            T.RandomHorizontalFlip(HFLIP_P),  # §4.1, data.hflip
            T.ToTensor(),
            lighting if lighting is not None else PCALighting(),  # §4.1, data.pca_lighting
            _as_mean_subtraction(mean),  # §2, data.mean_subtraction
        ]
    )


class TenCropToTensor:
    """Turn TenCrop's ten PIL patches into one mean-subtracted 10x3xHxW tensor."""

    def __init__(self, mean: MeanSubtraction) -> None:
        self.mean = mean

    def __call__(self, crops: tuple[Image.Image, ...]) -> torch.Tensor:
        return torch.stack([self.mean(TF.to_tensor(crop)) for crop in crops])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.mean!r})"


def eval_transform(mean: MeanSubtraction | torch.Tensor | None = None) -> T.Compose:
    """The §4.1 test views of one PIL image: a 10x3x224x224 tensor (eval.ten_crop).

    Order (torchvision's TenCrop): top-left, top-right, bottom-left, bottom-right and centre
    patches, then the same five patches of the mirrored image (the mirrors of top-right,
    top-left, bottom-right, bottom-left, centre). Average the softmax over them with
    `ten_crop_predict`.
    """
    return T.Compose(
        [
            T.Resize(RESIZE),  # §2, data.resize
            T.CenterCrop(RESIZE),
            T.TenCrop(CROP),  # §4.1, eval.ten_crop: four corners + centre, and their mirrors
            TenCropToTensor(_as_mean_subtraction(mean)),
        ]
    )
