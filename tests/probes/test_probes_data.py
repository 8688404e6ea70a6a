"""Data probes (alexnet_audit.probes.geometry and .colour): resize, mean subtraction, crops, flips, PCA
lighting, ten-crop, measured by feeding synthetic images through small transform pipelines."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torchvision import transforms as T

import alexnet_ref
from alexnet_ref import MeanSubtraction, PCALighting
from tests.probes.test_probes_recipe import audit, one, tiny_model

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
GEOMETRY = [T.Resize(256), T.CenterCrop(256), T.RandomCrop(224)]


def train(*steps: Any) -> dict[str, Any]:
    return {"model": tiny_model, "train_transform": T.Compose(list(steps))}


def paper_train(**kw: Any) -> dict[str, Any]:
    return {"model": tiny_model, "train_transform": alexnet_ref.train_transform(**kw)}


# ---------------------------------------------------------------------------- reference ---

def test_reference_transforms_pass() -> None:
    target = {"model": tiny_model, "train_transform": alexnet_ref.train_transform(),
              "eval_transform": alexnet_ref.eval_transform()}
    ids = ["data.resize", "data.random_crop", "data.hflip", "data.pca_lighting", "eval.ten_crop",
           "data.mean_subtraction"]
    found = audit(target, ids)
    assert found["data.resize"].observed == {"rule": "shorter_side", "size": 256, "center_crop": 256}
    assert found["data.random_crop"].observed == {"size": 224, "random": True, "scale": 1.0}
    assert found["eval.ten_crop"].observed == {"crops": 10, "layout": "corners+center+mirrors"}
    for i in ids[:-1]:
        assert found[i].status.value == "pass", (i, found[i].message)
    # The reference's placeholder mean image is the channel means spread over 224x224: it acts as a
    # per-channel mean, and that is what is measured.
    assert found["data.mean_subtraction"].observed == "per_channel_mean"


def test_probes_restore_the_global_rng() -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    one(paper_train(), "data.random_crop")
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------------------------- resize ---

@pytest.mark.parametrize("geometry, value", [
    ([T.Resize(256), T.CenterCrop(256), T.RandomCrop(224)], {"rule": "shorter_side", "size": 256, "center_crop": 256}),
    ([T.Resize((256, 256)), T.RandomCrop(224)], {"rule": "warp", "size": 256, "center_crop": 256}),
    ([T.Resize(256), T.RandomCrop(224)], {"rule": "shorter_side", "size": 256, "center_crop": None}),
    ([T.Resize(240), T.CenterCrop(240), T.RandomCrop(224)], {"rule": "shorter_side", "size": 240, "center_crop": 240}),
    ([T.RandomResizedCrop(224)], {"rule": "random_resized_crop", "size": None, "center_crop": None}),
    ([T.RandomCrop(224)], {"rule": "none", "size": None, "center_crop": None}),
])
def test_resize_rule(geometry: list[Any], value: dict[str, Any]) -> None:
    f = one(train(*geometry, T.ToTensor()), "data.resize")
    assert f.observed == value, f.evidence
    assert f.status.value == ("pass" if value["rule"] == "shorter_side" and value["size"] == 256
                              and value["center_crop"] == 256 else "deviation")


# -------------------------------------------------------------------------- random crop ---

@pytest.mark.parametrize("geometry, size, random_, rescales", [
    (GEOMETRY, 224, True, False),
    ([T.Resize(256), T.CenterCrop(224)], 224, False, False),
    ([T.Resize(256), T.CenterCrop(256), T.RandomCrop(227)], 227, True, False),
    ([T.RandomResizedCrop(224)], 224, True, True),
])
def test_random_crop(geometry: list[Any], size: int, random_: bool, rescales: bool) -> None:
    f = one(train(*geometry, T.ToTensor()), "data.random_crop")
    assert f.observed["size"] == size and f.observed["random"] is random_
    assert (f.observed["scale"] < 0.9) is rescales


# --------------------------------------------------------------------------------- flip ---

@pytest.mark.parametrize("p, lo, hi, status", [(0.5, 0.4, 0.6, "pass"), (0.0, 0.0, 0.0, "deviation"),
                                               (1.0, 1.0, 1.0, "deviation"), (0.25, 0.18, 0.32, "deviation")])
def test_hflip_fraction(p: float, lo: float, hi: float, status: str) -> None:
    f = one(train(*GEOMETRY, T.RandomHorizontalFlip(p), T.ToTensor(), T.Normalize(MEAN, STD)), "data.hflip")
    assert lo <= f.observed <= hi and f.status.value == status


# ----------------------------------------------------------------------- mean subtraction ---

def _mean_image() -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, 224), torch.linspace(0, 1, 224), indexing="ij")
    return torch.stack([0.45 + 0.05 * x, 0.45 - 0.03 * y, 0.40 + 0.02 * x * y])


@pytest.mark.parametrize("norm, value, status", [
    (MeanSubtraction(_mean_image()), "per_pixel_mean", "pass"),
    (MeanSubtraction(torch.tensor(MEAN).view(3, 1, 1)), "per_channel_mean", "variant"),
    (T.Normalize(MEAN, STD), "per_channel_mean_std", "deviation"),
    (T.Normalize((0.0, 0.0, 0.0), STD), "std_only", "deviation"),
    (nn.Identity(), "none", "deviation"),
])
def test_mean_subtraction(norm: Any, value: str, status: str) -> None:
    f = one(train(*GEOMETRY, T.RandomHorizontalFlip(), T.ToTensor(), PCALighting(), norm), "data.mean_subtraction")
    assert (f.observed, f.status.value) == (value, status), f.evidence


def test_mean_subtraction_on_raw_0_255_values() -> None:
    def raw(img: Any) -> torch.Tensor:
        return T.functional.pil_to_tensor(img).float() - torch.tensor([124.0, 116.0, 104.0]).view(3, 1, 1)

    f = one(train(*GEOMETRY, raw), "data.mean_subtraction")
    assert f.observed == "per_channel_mean"


def test_per_pixel_noise_is_not_a_mean_image() -> None:
    f = one(train(*GEOMETRY, T.ToTensor(), lambda t: t + 0.05 * torch.randn_like(t)), "data.mean_subtraction")
    assert f.observed == "other"


# --------------------------------------------------------------------------- pca lighting ---

class HiddenLighting(nn.Module):
    """PCA lighting whose eigenvalues are not exposed as attributes (the probe must assume them)."""

    def __init__(self, alpha_std: float) -> None:
        super().__init__()
        self._inner = [PCALighting(alpha_std)]  # a list hides it from children()

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self._inner[0](t)


@pytest.mark.parametrize("lighting, present, scope, alpha", [
    (PCALighting(0.1), True, "per_image", 0.1),
    (PCALighting(0.3), True, "per_image", 0.3),
    (HiddenLighting(0.1), True, "per_image", 0.1),
    (nn.Identity(), False, "none", 0.0),
])
def test_pca_lighting(lighting: Any, present: bool, scope: str, alpha: float) -> None:
    f = one(train(*GEOMETRY, T.RandomHorizontalFlip(), T.ToTensor(), lighting, T.Normalize(MEAN, STD)),
            "data.pca_lighting")
    assert f.observed["present"] is present and f.observed["scope"] == scope
    assert f.observed["alpha_std"] == pytest.approx(alpha, rel=0.15, abs=1e-9)
    assert f.status.value == ("pass" if present and alpha == 0.1 else "deviation")
    if isinstance(lighting, HiddenLighting):
        assert "assumed the usual ImageNet ones" in f.evidence


def test_pca_lighting_per_pixel_noise_is_not_pca_lighting() -> None:
    f = one(train(*GEOMETRY, T.ToTensor(), lambda t: t + 0.02 * torch.randn_like(t)), "data.pca_lighting")
    assert f.observed["present"] is False


def test_colour_jitter_is_not_pca_lighting_nor_mean_subtraction() -> None:
    found = audit(train(*GEOMETRY, T.ColorJitter(0.4, 0.4, 0.4), T.ToTensor()),
                  ["data.pca_lighting", "data.mean_subtraction"])
    assert found["data.pca_lighting"].status.value == "deviation"
    assert "not additive" in found["data.pca_lighting"].evidence
    assert found["data.mean_subtraction"].observed == "none"


# ------------------------------------------------------------------------------- ten-crop ---

class Stack:
    def __call__(self, crops: Any) -> torch.Tensor:
        return torch.stack([T.functional.to_tensor(c) for c in crops])


@pytest.mark.parametrize("steps, crops, layout", [
    ([T.Resize(256), T.CenterCrop(256), T.TenCrop(224), Stack()], 10, "corners+center+mirrors"),
    ([T.Resize(256), T.TenCrop(224)], 10, "corners+center+mirrors"),  # a tuple of PIL images
    ([T.Resize(256), T.CenterCrop(256), T.FiveCrop(224), Stack()], 5, "corners+center"),
    ([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)], 1, "center"),
    ([T.Resize(256), T.CenterCrop(256), T.RandomCrop(224), T.ToTensor()], 1, "other"),
])
def test_ten_crop(steps: list[Any], crops: int, layout: str) -> None:
    f = one({"model": tiny_model, "eval_transform": T.Compose(steps)}, "eval.ten_crop")
    assert f.observed == {"crops": crops, "layout": layout}, f.evidence
    assert f.status.value == ("pass" if crops == 10 else "deviation")


# ----------------------------------------------------------------------- failures, skips ---

def test_a_transform_that_raises_is_an_error_with_its_message() -> None:
    def broken(img: Any) -> Any:
        raise RuntimeError("needs a file path")

    found = audit({"model": tiny_model, "train_transform": broken, "eval_transform": broken},
                  ["data.resize", "data.hflip", "eval.ten_crop"])
    for f in found.values():
        assert f.status.value == "error" and "needs a file path" in f.message


def test_missing_transforms_skip() -> None:
    found = audit({"model": tiny_model}, ["data.resize", "data.mean_subtraction", "eval.ten_crop"])
    assert [f.message for f in found.values()] == ["the target gives no train_transform"] * 2 + [
        "the target gives no eval_transform"]


def test_declared_literal_transforms_say_declared(tmp_path: Any) -> None:
    import textwrap

    from alexnet_audit.target.manifest.load import load_manifest

    (tmp_path / "net.py").write_text("import torch.nn as nn\ndef net():\n    return nn.Linear(4, 2)\n")
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""
        model: net.py:net
        eval_transform: [{type: Resize, size: 256}, {type: CenterCrop, size: 224}, ToTensor]
    """))
    f = one(load_manifest(tmp_path / "t.yaml"), "eval.ten_crop")
    assert f.observed == {"crops": 1, "layout": "center"} and "declared, not measured" in f.evidence
