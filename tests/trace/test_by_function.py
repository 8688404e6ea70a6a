"""Layers by what they compute (issue 22), on small models: a dense layer written as a convolution, a bias
added after layout steps or a concatenation, a region that reads its input twice or broadcasts, a pad in
another mode, a normalisation window of another shape, and the signature of an unnamed region."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.trace import build_trace, fit_lrn, one_thread
from alexnet_audit.trace.footprint import signature
from alexnet_audit.trace.padding import pad_mode
from alexnet_audit.trace.rebuild import explain_model
from alexnet_audit.trace.window import band, differences, influence, matrix

SIZE = (3, 16, 16)


def _trace(model, size=SIZE):
    torch.manual_seed(0)
    with one_thread():
        tr = build_trace(model.eval(), size)
        return tr, explain_model(model, tr, size)


def _kinds(tr):
    return [op.name or op.kind for op in tr.ops if op.kind not in ("flatten", "reshape", "slice")]


class Head(nn.Module):
    """conv -> pool to 4x4 -> a conv whose kernel covers the map -> a 1x1 conv -> scores [N, 10, 1, 1]."""

    def __init__(self, last=None, cover=4):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Conv2d(8, 32, cover)
        self.last = last if last is not None else nn.Conv2d(32, 10, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 4)
        x = F.dropout2d(F.relu(self.fc(x)), 0.5, self.training)
        return self.last(x).flatten(1)


def test_a_conv_whose_kernel_covers_its_map_is_a_dense_layer():
    tr, e = _trace(Head())
    assert _kinds(tr) == ["conv1", "relu", "maxpool", "fc6", "relu", "dropout", "fc7"]
    fc6 = tr.layers()["fc6"]
    assert fc6.kind == "linear" and fc6.attrs["in_features"] == 8 * 4 * 4 and fc6.attrs["out_features"] == 32
    assert fc6.attrs["written_as"] == "conv2d 4x4 over a 8x4x4 map" and fc6.params == 32 * 128 + 32
    assert tr.layers()["fc7"].attrs["in_features"] == 32  # a 1x1 conv on a 1x1 map
    assert e.ok, e.to_dict()


def test_a_padded_or_partial_kernel_on_a_small_map_stays_a_convolution():
    tr, e = _trace(Head(last=nn.Conv2d(32, 10, 3, padding=1)))
    assert tr.layers()["conv2"].kind == "conv" and tr.layers()["conv2"].attrs["kernel_size"] == 3
    tr, _ = _trace(Head(cover=3))  # a 3x3 kernel over a 4x4 map: two positions, a convolution
    assert tr.layers()["conv2"].kind == "conv"
    assert e.ok, e.to_dict()


class SplitBias(nn.Module):
    """Groups by chunk/conv/cat, the bias added after the concatenation; a TF-style NHWC bias after a permute;
    a bias expanded with expand_as."""

    def __init__(self, form):
        super().__init__()
        self.form = form
        self.w1 = nn.Parameter(torch.randn(8, 3, 3, 3) * 0.1)
        self.w2 = nn.Parameter(torch.randn(8, 4, 3, 3) * 0.1)
        self.b1 = nn.Parameter(torch.rand(8) + 0.5)
        self.b2 = nn.Parameter(torch.rand(8) + 0.5)
        self.fc = nn.Linear(8 * 16 * 16, 5)

    def forward(self, x):
        y = F.conv2d(x, self.w1, padding=1)
        if self.form == "nhwc":
            y = (y.permute(0, 2, 3, 1) + self.b1).permute(0, 3, 1, 2)
        elif self.form == "expand":
            y = y + self.b1.view(1, -1, 1, 1).expand_as(y)
        else:
            y = y.add(self.b1[None, :, None, None])
        y = F.relu(y)
        y = torch.cat([F.conv2d(a, k, padding=1) for a, k in zip(y.chunk(2, 1), self.w2.chunk(2, 0), strict=True)], 1)
        y = F.relu(y + self.b2.view(1, -1, 1, 1))
        return self.fc(y.flatten(1))


@pytest.mark.parametrize("form", ["nchw", "nhwc", "expand"])
def test_a_bias_is_the_parameter_added_after_the_product_however_written(form):
    tr, e = _trace(SplitBias(form))
    assert _kinds(tr) == ["conv1", "relu", "conv2", "relu", "fc6"]
    layers = tr.layers()
    assert layers["conv2"].attrs["groups"] == 2
    assert layers["conv1"].params == 8 * 27 + 8 and layers["conv2"].params == 8 * 36 + 8
    for name in ("conv1", "conv2"):
        det = tr.details[tr.index(name)]
        assert [tuple(b.shape) for b in det.biases] == [(8,)]
    assert e.ok, e.to_dict()


class Broadcast(nn.Module):
    """An LRN whose window sum is one channel (every map) broadcast back over its input, read twice."""

    def __init__(self, every=True):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, padding=1)
        self.fc = nn.Linear(12 * 8 * 8, 4)
        self.every = every

    def lrn(self, x):
        padded = F.pad(x, (0, 0, 0, 0, 2, 2))
        c = padded.shape[1]
        if self.every:
            kernel = torch.ones(1, c, 1, 1)
        else:
            j = torch.arange(x.shape[1])
            kernel = ((torch.arange(c)[None, :] - j[:, None] - 2).abs() <= 2).float()[:, :, None, None]
        return x / (2.0 + 1e-4 * F.conv2d(padded.pow(2), kernel)).pow(0.75)

    def forward(self, x):
        x = F.max_pool2d(self.lrn(F.relu(self.c1(x))), 2)
        return self.fc(x.flatten(1))


@pytest.mark.parametrize("every, n", [(True, 12), (False, 5)])
def test_a_region_that_reads_its_input_twice_is_measured_as_one_function(every, n):
    tr, e = _trace(Broadcast(every))
    assert _kinds(tr) == ["conv1", "relu", "lrn", "maxpool", "fc6"]
    lrn = next(op for op in tr.ops if op.kind == "lrn")
    assert lrn.attrs["n"] == n and lrn.attrs["local"] is (not every)
    assert lrn.attrs["k"] == pytest.approx(2.0) and lrn.attrs["alpha"] == pytest.approx(1e-4)
    assert e.ok, e.to_dict()


class Padded(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.c1 = nn.Conv2d(3, 8, 3, padding=1, padding_mode=how if how in ("reflect", "circular") else "zeros")
        self.fc = nn.Linear(8 * 16 * 16, 4)

    def forward(self, x):
        if self.how == "replicate":
            x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.c1.weight, self.c1.bias)
        elif self.how == "reflect_layer":
            x = F.conv2d(nn.ReflectionPad2d(1)(x), self.c1.weight, self.c1.bias)
        else:
            x = self.c1(x)
        return self.fc(F.relu(x).flatten(1))


@pytest.mark.parametrize("how, mode", [("reflect", "reflect"), ("circular", "circular"),
                                       ("replicate", "replicate"), ("reflect_layer", "reflect"), ("zeros", None)])
def test_a_pad_before_a_conv_is_its_padding_in_the_measured_mode(how, mode):
    tr, e = _trace(Padded(how))
    assert _kinds(tr) == ["conv1", "relu", "fc6"]
    conv1 = tr.layers()["conv1"]
    assert conv1.attrs["padding"] == 1 and conv1.attrs.get("padding_mode") == mode
    assert e.ok, e.to_dict()


def test_pad_mode_is_read_from_what_the_pad_computes():
    x_shape = (1, 2, 5, 6)
    for mode, name in (("reflect", "reflect"), ("replicate", "replicate"), ("circular", "circular"),
                       ("constant", "zeros")):
        assert pad_mode(lambda t, m=mode: F.pad(t, (1, 2, 1, 0), mode=m), x_shape, [1, 2, 1, 0]) == name
    assert pad_mode(lambda t: F.pad(t, (1, 1, 1, 1), value=1.0), x_shape, [1, 1, 1, 1]) == "other"


def test_the_legacy_cross_map_lrn_window_keeps_map_0():
    lrn = nn.CrossMapLRN2d(5, 5e-4, 0.75, 2.0)
    fit = fit_lrn(lrn, (1, 16, 4, 4), torch.float32)
    assert fit["n"] == 5 and fit["irregular"]
    assert all(extra == [0] and not missing for _, extra, missing in fit["irregular"])
    assert [o for o, _, _ in fit["irregular"]] == list(range(3, 16))
    m = matrix(16, 2, 2, True, fit["irregular"])
    assert m[3].nonzero().flatten().tolist() == [0, 1, 2, 3, 4, 5]


def test_a_local_window_has_no_irregular_channels():
    conn = influence(lambda t: F.local_response_norm(t, 5, 5e-4, 0.75, 2.0), (1, 9, 3, 3), torch.float64)
    assert differences(conn, band(9, 2, 2, True)) == []
    assert bool(band(9, 2, 2, False).all())


def test_an_unnamed_region_carries_its_measured_signature():
    sig = signature(lambda t: F.max_pool2d(t, 2), (1, 4, 8, 8))
    assert sig["channels"] == 1 and sig["scales"] is True and sig["spatial"] == [1, 1]
    sig = signature(lambda t: F.local_response_norm(t, 3, 1.0, 0.75, 1.0), (1, 6, 8, 8))
    assert sig["channels"] == 3 and sig["scales"] is False and sig["spatial"] == [1, 1]
    sig = signature(lambda t: t - t.mean(dim=(2, 3), keepdim=True), (1, 4, 8, 8))
    assert sig["spatial"] == [8, 8] and sig["scales"] is True


class ChannelsLast(nn.Module):
    """Activations kept channels-last between the layers, the LRN written over the last axis."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, padding=1)
        self.fc = nn.Linear(12 * 8 * 8, 4)

    def forward(self, x):
        y = F.relu(self.c1(x).permute(0, 2, 3, 1))
        sq = F.pad(y.pow(2), (2, 2))
        y = y / (2.0 + 1e-4 * sum(sq[..., i:i + y.shape[-1]] for i in range(5))).pow(0.75)
        y = F.max_pool2d(y.permute(0, 3, 1, 2), 2)
        return self.fc(y.flatten(1))


def test_a_channels_last_region_is_measured_with_its_channels_first():
    tr, e = _trace(ChannelsLast())
    assert _kinds(tr) == ["conv1", "relu", "lrn", "maxpool", "fc6"]
    lrn = next(op for op in tr.ops if op.kind == "lrn")
    assert lrn.attrs["channel_axis"] == 3 and lrn.attrs["n"] == 5 and lrn.attrs["k"] == pytest.approx(2.0)
    assert e.ok, e.to_dict()
