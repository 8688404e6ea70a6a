"""alexnet_ref.transforms and evaluate against §2 and §4.1 (paper notes §5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T

from alexnet_ref import MeanSubtraction, PCALighting, eval_transform, ten_crop_predict, train_transform


def _coordinate_image(width: int = 256, height: int = 256) -> Image.Image:
    """R encodes the column, G the row, so a crop's pixels say where they came from."""
    a = np.zeros((height, width, 3), dtype=np.uint8)
    a[..., 0] = np.arange(width, dtype=np.uint8)[None, :]
    a[..., 1] = np.arange(height, dtype=np.uint8)[:, None]
    return Image.fromarray(a)


def _origin_and_flip(crop: torch.Tensor) -> tuple[int, int, bool]:
    """(left, top, mirrored) of a 224x224 crop of the coordinate image, checking it is exact."""
    cols = torch.round(crop[0] * 255).long()
    rows = torch.round(crop[1] * 255).long()
    flipped = bool(cols[0, 0] > cols[0, -1])
    left = int(cols.min())
    top = int(rows.min())
    expected_cols = torch.arange(left, left + 224)
    if flipped:
        expected_cols = expected_cols.flip(0)
    assert torch.equal(cols, expected_cols.expand(224, 224))
    assert torch.equal(rows, torch.arange(top, top + 224)[:, None].expand(224, 224))
    return left, top, flipped


ZERO_MEAN = MeanSubtraction(torch.zeros(3, 1, 1))


# --------------------------------------------------------------------------- PCA lighting §4.1 ---


def test_lighting_offsets_constant_per_image_with_std_0_1() -> None:
    torch.manual_seed(0)
    lighting = PCALighting()
    img = torch.full((3, 8, 8), 0.5)
    offsets = torch.stack([lighting(img) - img for _ in range(4000)])  # N x 3 x 8 x 8
    torch.testing.assert_close(offsets, offsets[:, :, :1, :1].expand_as(offsets), rtol=0, atol=1e-6)
    rgb = offsets[:, :, 0, 0].double()  # N x 3, = eigvec @ (alpha * eigval)
    alpha = torch.linalg.solve(lighting.eigvec.double(), rgb.T).T / lighting.eigval.double()
    assert alpha.mean(dim=0).abs().max() < 0.01  # 4 standard errors of the mean
    torch.testing.assert_close(alpha.std(dim=0), torch.full((3,), 0.1, dtype=torch.float64), rtol=0.05, atol=0)
    # alphas are drawn independently per eigenvector
    corr = torch.corrcoef(alpha.T)
    assert (corr - torch.eye(3, dtype=torch.float64)).abs().max() < 0.07


def test_lighting_default_constants() -> None:
    lighting = PCALighting()
    assert lighting.alpha_std == 0.1
    torch.testing.assert_close(lighting.eigval, torch.tensor([0.2175, 0.0188, 0.0045]))
    # the published eigenvectors are orthonormal columns up to their 4-digit rounding
    eigvec = lighting.eigvec
    torch.testing.assert_close(eigvec.T @ eigvec, torch.eye(3), rtol=0, atol=1e-3)


def test_lighting_batch_draws_per_image() -> None:
    torch.manual_seed(0)
    imgs = torch.zeros(4, 3, 5, 5)
    offsets = PCALighting()(imgs)[:, :, 0, 0]
    assert offsets.shape == (4, 3)
    assert torch.unique(offsets[:, 0]).numel() == 4
    with pytest.raises(ValueError):
        PCALighting()(torch.zeros(1, 5, 5))


def test_lighting_fit_recovers_known_covariance() -> None:
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))
    eigval = torch.tensor([0.04, 0.01, 0.002], dtype=torch.float64)
    cov = q @ torch.diag(eigval) @ q.T
    centre = torch.full((3,), 0.5, dtype=torch.float64)
    pixels = torch.distributions.MultivariateNormal(centre, cov).sample((20 * 32 * 32,))
    images = pixels.T.reshape(3, 20, 32, 32).permute(1, 0, 2, 3).float()  # 20 x 3 x 32 x 32
    fitted = PCALighting.fit(list(images), alpha_std=0.2)
    assert fitted.alpha_std == 0.2
    torch.testing.assert_close(fitted.eigval.double(), eigval, rtol=0.05, atol=0)
    alignment = (q.T @ fitted.eigvec.double()).abs()  # |<p_i, q_j>|: identity up to signs
    torch.testing.assert_close(alignment, torch.eye(3, dtype=torch.float64), rtol=0, atol=0.03)
    # a batched tensor gives the same fit as the list
    torch.testing.assert_close(PCALighting.fit(images).eigval, fitted.eigval)


def test_lighting_fit_accepts_pil() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(3)]
    from_pil = PCALighting.fit([Image.fromarray(a) for a in arrays])
    from_tensor = PCALighting.fit([torch.from_numpy(a).permute(2, 0, 1).float() / 255 for a in arrays])
    torch.testing.assert_close(from_pil.eigval, from_tensor.eigval)


# --------------------------------------------------------------------------- mean image §2 -------


def test_mean_subtraction_fit_per_pixel_centre_crop() -> None:
    torch.manual_seed(0)
    images = torch.rand(5, 3, 256, 256)
    mean_sub = MeanSubtraction.fit(images)
    expected = images.double().mean(dim=0)[:, 16:240, 16:240].float()
    assert mean_sub.mean.shape == (3, 224, 224)
    torch.testing.assert_close(mean_sub.mean, expected)
    x = torch.rand(3, 224, 224)
    torch.testing.assert_close(mean_sub(x), x - expected, rtol=0, atol=0)  # no std division
    assert MeanSubtraction.fit(images, size=None).mean.shape == (3, 256, 256)


def test_mean_subtraction_default_is_a_mean_image() -> None:
    mean_sub = MeanSubtraction()
    assert mean_sub.mean.shape == (3, 224, 224)
    torch.testing.assert_close(mean_sub.mean[:, 100, 7], torch.tensor([0.485, 0.456, 0.406]))
    x = torch.ones(3, 224, 224)
    torch.testing.assert_close(mean_sub(x), 1 - mean_sub.mean)


# --------------------------------------------------------------------------- pipelines -----------


def test_train_transform_steps() -> None:
    steps = train_transform().transforms
    assert [type(t) for t in steps] == [
        T.Resize, T.CenterCrop, T.RandomCrop, T.RandomHorizontalFlip, T.ToTensor, PCALighting, MeanSubtraction
    ]  # fmt: skip
    assert steps[0].size == 256 and list(steps[1].size) == [256, 256] and list(steps[2].size) == [224, 224]
    assert steps[3].p == 0.5 and steps[5].alpha_std == 0.1


def test_train_transform_crops_and_flips() -> None:
    """Random 224 patches of the central 256x256 (offsets 0..32), mirrored about half the time."""
    torch.manual_seed(0)
    transform = train_transform(mean=ZERO_MEAN, lighting=PCALighting(alpha_std=0.0))
    image = _coordinate_image()
    draws = [_origin_and_flip(transform(image)) for _ in range(200)]
    lefts, tops, flips = zip(*draws, strict=True)
    assert min(lefts) >= 0 and max(lefts) <= 32 and min(tops) >= 0 and max(tops) <= 32
    assert len(set(lefts)) > 15 and len(set(tops)) > 15
    assert 0.35 < sum(flips) / len(flips) < 0.65


def test_train_transform_shorter_side_and_output() -> None:
    torch.manual_seed(0)
    out = train_transform()(Image.new("RGB", (400, 300), (128, 64, 32)))
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32


def test_eval_transform_ten_crop_geometry() -> None:
    crops = eval_transform(mean=ZERO_MEAN)(_coordinate_image())
    assert crops.shape == (10, 3, 224, 224)
    views = [_origin_and_flip(crop) for crop in crops]
    corners_and_centre = [(0, 0), (32, 0), (0, 32), (32, 32), (16, 16)]
    assert sorted(views) == sorted([(x, y, flip) for x, y in corners_and_centre for flip in (False, True)])
    # torchvision's order: five patches, then the five patches of the mirrored image
    assert views[:5] == [(x, y, False) for x, y in corners_and_centre]
    assert views[5:] == [(32, 0, True), (0, 0, True), (32, 32, True), (0, 32, True), (16, 16, True)]


def test_eval_transform_subtracts_mean() -> None:
    image = Image.new("RGB", (300, 256), (255, 255, 255))
    crops = eval_transform()(image)
    expected = 1 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    torch.testing.assert_close(crops, expected.expand(10, 3, 224, 224))


# --------------------------------------------------------------------------- ten-crop predict ----


def test_ten_crop_predict_averages_softmax() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5)).eval()
    crops = torch.randn(2, 10, 3, 8, 8) * 3
    probs = ten_crop_predict(model, crops)
    with torch.no_grad():
        per_crop = [[model(c[None]).softmax(-1)[0] for c in image] for image in crops]
        manual = torch.stack([torch.stack(probs).mean(0) for probs in per_crop])
        logit_average = torch.stack([model(image).mean(0).softmax(-1) for image in crops])
    assert probs.shape == (2, 5)
    torch.testing.assert_close(probs, manual)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    assert not torch.allclose(probs, logit_average)  # softmax averaged, not logits
    torch.testing.assert_close(ten_crop_predict(model, crops[1]), manual[1:])
