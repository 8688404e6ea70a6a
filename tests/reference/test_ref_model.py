"""alexnet_ref.model against the paper's numbers (§3, §5; paper notes §1, §2, §6.4)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from alexnet_ref import AlexNet, LocalResponseNorm, alexnet

PARAMS_GROUPED = {
    "conv1": 34_944,
    "conv2": 307_456,
    "conv3": 885_120,
    "conv4": 663_936,
    "conv5": 442_624,
    "fc6": 37_752_832,
    "fc7": 16_781_312,
    "fc8": 4_097_000,
}
PARAMS_UNGROUPED = {**PARAMS_GROUPED, "conv2": 614_656, "conv4": 1_327_488, "conv5": 884_992}
BIASES = dict(conv1=0.0, conv2=1.0, conv3=0.0, conv4=1.0, conv5=1.0, fc6=1.0, fc7=1.0, fc8=0.0)
MAP_SIZES = dict(conv1=55, pool1=27, conv2=27, pool2=13, conv3=13, conv4=13, conv5=13, pool5=6)


@pytest.fixture(scope="module")
def model() -> AlexNet:
    torch.manual_seed(0)
    return alexnet().eval()


@pytest.fixture(scope="module")
def model_227() -> AlexNet:
    """The 227-input variant, built for 10 classes to cover num_classes too."""
    torch.manual_seed(1)
    return alexnet(10, input_size=227).eval()


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _map_sizes(net: AlexNet, input_size: int) -> dict[str, int]:
    sizes: dict[str, int] = {}
    handles = [
        getattr(net.features, name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, out.shape[-1])
        )
        for name in MAP_SIZES
    ]
    try:
        with torch.no_grad():
            net(torch.randn(1, 3, input_size, input_size))
    finally:
        for handle in handles:
            handle.remove()
    return sizes


# --------------------------------------------------------------------------- shapes and counts ---


def test_output_shape(model: AlexNet) -> None:
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 1000)
    assert torch.isfinite(out).all()


def test_num_classes(model_227: AlexNet) -> None:
    assert model_227.classifier.fc8.out_features == 10
    with torch.no_grad():
        assert model_227(torch.randn(1, 3, 227, 227)).shape == (1, 10)


def test_params_total_and_per_layer(model: AlexNet) -> None:
    assert _count(model) == 60_965_224
    assert {name: _count(layer) for name, layer in model.weight_layers().items()} == PARAMS_GROUPED


def test_params_ungrouped_and_lrn_variant() -> None:
    net = alexnet(grouped=False, lrn_convention="alpha_over_n")
    assert net.features.lrn1.sum_alpha == pytest.approx(2e-5)
    assert net.features.lrn2.convention == "alpha_over_n"
    assert _count(net) == 62_378_344
    assert {name: _count(layer) for name, layer in net.weight_layers().items()} == PARAMS_UNGROUPED
    assert all(layer.groups == 1 for name, layer in net.weight_layers().items() if name.startswith("conv"))


def test_weight_shapes_and_groups(model: AlexNet) -> None:
    layers = model.weight_layers()
    shapes = {name: tuple(layer.weight.shape) for name, layer in layers.items()}
    assert shapes == {
        "conv1": (96, 3, 11, 11),
        "conv2": (256, 48, 5, 5),
        "conv3": (384, 256, 3, 3),
        "conv4": (384, 192, 3, 3),
        "conv5": (256, 192, 3, 3),
        "fc6": (4096, 9216),
        "fc7": (4096, 4096),
        "fc8": (1000, 4096),
    }
    assert [layers[f"conv{i}"].groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert layers["conv1"].stride == (4, 4)
    assert all(layers[f"conv{i}"].stride == (1, 1) for i in range(2, 6))


def test_feature_map_sizes(model: AlexNet) -> None:
    assert _map_sizes(model, 224) == MAP_SIZES


def test_feature_map_sizes_227(model_227: AlexNet) -> None:
    assert not hasattr(model_227.features, "pad1")
    assert _map_sizes(model_227, 227) == MAP_SIZES


def test_224_padding_equals_227_with_zero_border(model: AlexNet, model_227: AlexNet) -> None:
    """§1.3: ZeroPad2d((0,3,0,3)) on 224 is a valid conv on a 227 input with 3 zero rows/cols."""
    x = torch.randn(1, 3, 224, 224)
    x227 = torch.nn.functional.pad(x, (0, 3, 0, 3))
    with torch.no_grad():
        a = model.features.conv1(model.features.pad1(x))
        conv1 = model.features.conv1
        b = torch.nn.functional.conv2d(x227, conv1.weight, conv1.bias, stride=4)
    torch.testing.assert_close(a, b)


def test_invalid_input_size() -> None:
    with pytest.raises(ValueError):
        AlexNet(input_size=225)


def test_layer_order(model: AlexNet) -> None:
    """§3.5: conv-relu-lrn-pool twice, conv3-5 without pooling/normalisation, dropout after fc6/fc7 ReLUs."""
    names = [name for name, _ in model.features.named_children()] + [
        name for name, _ in model.classifier.named_children()
    ]
    assert names == [
        "pad1", "conv1", "relu1", "lrn1", "pool1", "conv2", "relu2", "lrn2", "pool2",
        "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5",
        "fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8",
    ]  # fmt: skip
    for name in ("pool1", "pool2", "pool5"):
        pool = getattr(model.features, name)
        assert isinstance(pool, nn.MaxPool2d) and pool.kernel_size == 3 and pool.stride == 2
    assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]


def test_dropout_off_in_eval(model: AlexNet) -> None:
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


# --------------------------------------------------------------------------- initialisation §5 ---


def test_init_statistics(model: AlexNet) -> None:
    for name, layer in model.weight_layers().items():
        w = layer.weight.detach().double()
        n = w.numel()
        assert abs(w.mean().item()) < 5 * 0.01 / math.sqrt(n), name
        assert w.std().item() == pytest.approx(0.01, rel=0.05), name
        assert torch.all(layer.bias == BIASES[name]), name


# --------------------------------------------------------------------------- grouping §3.2 -------


def test_conv2_groups_do_not_cross(model: AlexNet) -> None:
    """Outputs 0..127 of conv2 (GPU 1) see only input maps 0..47; outputs 128..255 only 48..95."""
    conv2 = model.features.conv2
    x = torch.randn(1, 96, 27, 27, requires_grad=True)
    out = conv2(x)
    (grad_first,) = torch.autograd.grad(out[:, :128].sum(), x)
    assert grad_first[:, 48:].abs().max() == 0
    assert grad_first[:, :48].abs().max() > 0
    # perturbing the second half of the inputs leaves the first half of the outputs unchanged
    with torch.no_grad():
        y = x.detach().clone()
        y[:, 48:] += torch.randn(1, 48, 27, 27)
        torch.testing.assert_close(conv2(y)[:, :128], out[:, :128].detach(), rtol=0, atol=0)
        assert (conv2(y)[:, 128:] - out[:, 128:]).abs().max() > 0


def test_conv3_sees_all_maps(model: AlexNet) -> None:
    x = torch.randn(1, 256, 13, 13, requires_grad=True)
    (grad,) = torch.autograd.grad(model.features.conv3(x)[:, :1].sum(), x)
    assert (grad.abs().sum(dim=(0, 2, 3)) > 0).all()


# --------------------------------------------------------------------------- LRN §3.3 -----------


def lrn_reference(
    a: torch.Tensor, n: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75
) -> torch.Tensor:
    """The §3.3 formula as printed, in float64 with an explicit clipped window sum."""
    a = a.double()
    num_maps = a.shape[1]
    out = torch.empty_like(a)
    for i in range(num_maps):
        lo, hi = max(0, i - n // 2), min(num_maps - 1, i + n // 2)
        window_sum = (a[:, lo : hi + 1] ** 2).sum(dim=1)
        out[:, i] = a[:, i] / (k + alpha * window_sum) ** beta
    return out


@settings(max_examples=30, deadline=None)
@given(
    channels=st.integers(1, 20),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    scale=st.sampled_from([1e-2, 1.0, 10.0, 100.0, 1e3]),
    seed=st.integers(0, 2**31 - 1),
)
def test_lrn_matches_printed_formula(
    channels: int, height: int, width: int, scale: float, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(2, channels, height, width, generator=gen, dtype=torch.float64).relu() * scale
    lrn = LocalResponseNorm()
    expected = lrn_reference(a)
    torch.testing.assert_close(lrn(a), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lrn(a.float()).double(), expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(
    channels=st.integers(1, 20),
    scale=st.sampled_from([1.0, 30.0, 300.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_lrn_alpha_over_n_variant(channels: int, scale: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(2, channels, 4, 4, generator=gen, dtype=torch.float64) * scale
    lrn = LocalResponseNorm(convention="alpha_over_n")
    torch.testing.assert_close(lrn(a), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(a))
    torch.testing.assert_close(lrn(a), lrn_reference(a, alpha=1e-4 / 5), rtol=1e-12, atol=1e-12)


def test_lrn_conventions_differ_and_are_recorded() -> None:
    paper, over_n = LocalResponseNorm(), LocalResponseNorm(convention="alpha_over_n")
    assert (paper.size, paper.k, paper.beta, paper.sum_alpha) == (5, 2.0, 0.75, pytest.approx(1e-4))
    assert paper.alpha == pytest.approx(5e-4)  # PyTorch's alpha is the coefficient of the window mean
    assert over_n.sum_alpha == pytest.approx(2e-5)
    a = torch.full((1, 5, 1, 1), 100.0)
    assert not torch.allclose(paper(a), over_n(a))
    with pytest.raises(ValueError):
        LocalResponseNorm(convention="caffe")  # type: ignore[arg-type]
