"""alexnet_audit.probes.layers: per-layer parameters and multiply-accumulates against the paper's values."""
from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.probes.layers import build_rows, count_macs, layer_table, paper_values
from alexnet_audit.spec.load import load_spec


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def op(kind, path, in_shape, out_shape, attrs, parts=None, params=None):
    return SimpleNamespace(kind=kind, name=path, module_path=path, in_shape=in_shape, out_shape=out_shape,
                           attrs=attrs, parts=parts if parts is not None else [path], params=params or [])


class Towers(nn.Module):
    """conv1, then conv2 as two explicit towers (each sees its own half), then one linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.tower_a = nn.Conv2d(4, 6, 3, padding=1)
        self.tower_b = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(12 * 8 * 8, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([self.tower_a(a), self.tower_b(b)], dim=1)
        return self.fc(torch.flatten(x, 1))


class Functional(nn.Module):
    """Its conv runs as F.conv2d in the root's forward: not attributable to a module of its own."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.fc = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x):
        x = F.conv2d(x, self.w, padding=1)
        return self.fc(torch.flatten(F.relu(x), 1))


def test_paper_values_come_from_the_spec(spec):
    pv = paper_values(spec)
    assert list(pv) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert pv["conv1"] == {"params": 34944, "neurons": 290400, "macs": 55 * 55 * 96 * 11 * 11 * 3}
    assert pv["conv2"]["macs"] == 27 * 27 * 256 * 5 * 5 * 48  # grouped: 48 input maps per kernel
    assert pv["fc6"]["macs"] == 9216 * 4096
    assert pv["fc8"]["macs"] == 4096 * 1000
    assert sum(r["params"] for r in pv.values()) == spec.item("arch.params_total").expected


def test_count_macs_per_module_on_the_reference():
    import alexnet_ref

    model = alexnet_ref.alexnet()
    model.train()
    counts = count_macs(model, (3, 224, 224))
    assert counts["features.conv1"] == {"convolution": 105_415_200}
    assert counts["features.conv2"] == {"convolution": 223_948_800}
    assert counts["classifier.fc6"] == {"addmm": 9216 * 4096}
    assert "" in counts and "AlexNet" not in counts  # the root's class-name prefix is stripped
    assert model.training and all(m.training for m in model.modules())  # modes restored


def test_two_tower_layer_sums_its_parts():
    model = Towers()
    counts = count_macs(model, (3, 8, 8))
    layers = {
        "conv1": op("conv", "conv1", [1, 3, 8, 8], [1, 8, 8, 8],
                    dict(in_channels=3, out_channels=8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=1),
                    params=[model.conv1.weight, model.conv1.bias]),
        "conv2": op("conv", "tower_a", [1, 8, 8, 8], [1, 12, 8, 8],
                    dict(in_channels=8, out_channels=12, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2),
                    parts=["tower_a", "tower_b"],
                    params=[model.tower_a.weight, model.tower_a.bias, model.tower_b.weight, model.tower_b.bias]),
        "fc6": op("linear", "fc", [1, 768], [1, 5], dict(in_features=768, out_features=5),
                  params=["fc.weight", "fc.bias"]),
    }
    rows = build_rows(layers, model, counts, {})
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "fc6"]
    conv2 = rows[1]
    assert conv2["modules"] == ["tower_a", "tower_b"]
    assert conv2["macs"] == 2 * (8 * 8 * 6 * 4 * 3 * 3) and conv2["macs_source"] == "flop_counter"
    assert conv2["params"] == 2 * (6 * 4 * 9 + 6)
    assert conv2["output_shape"] == [12, 8, 8] and conv2["neurons"] == 12 * 64
    assert rows[2]["params"] == 768 * 5 + 5  # parameter names resolved on the model
    assert rows[2]["macs"] == 768 * 5


def test_functional_layer_falls_back_to_its_shape():
    model = Functional()
    counts = count_macs(model, (3, 8, 8))
    layers = {
        "conv1": op("conv", "", [1, 3, 8, 8], [1, 8, 8, 8],
                    dict(in_channels=3, out_channels=8, kernel_size=3, stride=1, padding=1, groups=1),
                    params=[model.w]),
        "fc6": op("linear", "fc", [1, 512], [1, 5], dict(in_features=512, out_features=5)),
    }
    rows = {r["layer"]: r for r in build_rows(layers, model, counts, {})}
    assert rows["conv1"]["macs"] == 8 * 8 * 8 * 3 * 3 * 3 and rows["conv1"]["macs_source"] == "shape"
    assert rows["conv1"]["params"] == 8 * 3 * 3 * 3
    assert rows["fc6"]["macs_source"] == "flop_counter"
    assert rows["fc6"]["params"] == 512 * 5 + 5  # no params on the op: the module's own


def test_extra_layers_sort_in_paper_order_and_paper_columns(spec):
    def conv(n):
        return op("conv", f"c{n}", [1, 1, 4, 4], [1, 2, 4, 4], dict(in_channels=1, kernel_size=1, groups=1))

    def fc(n):
        return op("linear", f"f{n}", [1, 4], [1, 4], dict(in_features=4))

    layers = {"fc9": fc(9), "conv10": conv(10), "fc6": fc(6), "conv2": conv(2), "conv6": conv(6), "conv1": conv(1)}
    rows = build_rows(layers, None, {}, paper_values(spec))
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "conv6", "conv10", "fc6", "fc9"]
    by = {r["layer"]: r for r in rows}
    assert by["conv1"]["paper_params"] == 34944 and by["conv1"]["paper_neurons"] == 290400
    assert by["conv6"]["paper_params"] is None and by["fc9"]["paper_macs"] is None
    assert all(r["macs_source"] == "shape" for r in rows)


class _Ctx:
    def __init__(self, model, input_size, spec):
        self.model = model
        self.spec = spec
        self.target = SimpleNamespace(input_size=input_size)
        self._cache = {}

    def cached(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def test_layer_table_uses_the_trace_and_caches(monkeypatch, spec):
    model = Towers()
    calls = []

    class FakeTrace:
        def layers(self):
            return {"conv1": op("conv", "conv1", [1, 3, 8, 8], [1, 8, 8, 8],
                                dict(in_channels=3, kernel_size=(3, 3), groups=1),
                                params=[model.conv1.weight, model.conv1.bias])}

    def get_trace(ctx):
        calls.append(ctx)
        return FakeTrace()

    fake = types.ModuleType("alexnet_audit.trace")
    fake.get_trace = get_trace
    monkeypatch.setitem(sys.modules, "alexnet_audit.trace", fake)
    ctx = _Ctx(model, (3, 8, 8), spec)
    rows = layer_table(ctx)
    assert rows is layer_table(ctx) and len(calls) == 1
    assert rows[0]["macs"] == 8 * 8 * 8 * 27 and rows[0]["paper_params"] == 34944


def test_layer_table_on_the_reference_with_the_real_trace():
    import alexnet_ref
    from alexnet_audit.probes.context import Context
    from alexnet_audit.target.record import from_object

    ctx = Context(from_object("reference", alexnet_ref.alexnet, "alexnet_ref:alexnet"), load_spec())
    rows = layer_table(ctx)
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    for r in rows:
        assert r["params"] == r["paper_params"], r
        assert r["macs"] == r["paper_macs"], r
        assert r["neurons"] == r["paper_neurons"], r
        assert r["macs_source"] == "flop_counter"
