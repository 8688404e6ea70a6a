"""Unit tests of the model probes' measurements: LRN fit, activation classifier, grouping, pooling,
dropout rate, init statistics, and the probes' observations on a shared full-size audit."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Skip, Status
from alexnet_audit.probes import all_probes
from alexnet_audit.probes.context import Context
from alexnet_audit.probes.init import moments, shape_of
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object
from alexnet_audit.trace import build_trace, classify_elementwise, fit_lrn, measure_groups
from tests.catalogues.mutants.model import make


@pytest.fixture(scope="module")
def spec():
    return load_spec()


# ------------------------------------------------------------------ LRN fit ---------------------

@pytest.mark.parametrize("n,k,alpha,beta", [(5, 2.0, 5e-4, 0.75), (5, 2.0, 1e-4, 0.75), (5, 1.0, 5e-4, 0.75),
                                            (3, 2.0, 3e-4, 0.5), (7, 0.5, 1e-3, 1.0), (4, 2.0, 1e-2, 0.6)])
def test_lrn_fit_matches_torch_in_the_papers_convention(n, k, alpha, beta):
    lrn = nn.LocalResponseNorm(n, alpha=alpha, beta=beta, k=k)
    fit = fit_lrn(lrn, (2, 96, 27, 27))
    assert fit["n"] == n
    assert fit["k"] == pytest.approx(k, rel=1e-4)
    assert fit["alpha"] == pytest.approx(alpha / n, rel=1e-4)  # coefficient of the plain sum
    assert fit["beta"] == pytest.approx(beta, abs=1e-5)
    assert fit["per_position"] and fit["residual"] < 1e-6


def test_lrn_fit_float32_only_op():
    class F32(nn.Module):
        def forward(self, x):
            assert x.dtype == torch.float32
            return F.local_response_norm(x, 5, 5e-4, 0.75, 2.0)
    fit = fit_lrn(lambda x: F32()(x.float()) if x.dtype == torch.float32 else (_ for _ in ()).throw(TypeError()),
                  (2, 48, 13, 13))
    assert fit["n"] == 5 and fit["alpha"] == pytest.approx(1e-4, rel=1e-3)
    assert fit["k"] == pytest.approx(2.0, rel=1e-3) and fit["beta"] == pytest.approx(0.75, abs=1e-3)


# ------------------------------------------------------------------ activations ----------------

@pytest.mark.parametrize("fn,kind", [
    (F.relu, "relu"), (torch.tanh, "tanh"), (torch.sigmoid, "sigmoid"), (F.gelu, "gelu"),
    (lambda x: F.gelu(x, approximate="tanh"), "gelu"), (F.elu, "elu"), (F.silu, "silu"), (F.softplus, "softplus"),
    (lambda x: F.leaky_relu(x, 0.2), "leaky_relu"), (lambda x: x.clamp(min=0), "relu"), (lambda x: x * (x > 0), "relu"),
    (lambda x: x, "identity"), (lambda x: 0.5 * x, "scale"), (F.relu6, "relu6"), (F.selu, "selu"),
    (lambda x: x ** 3, "elementwise"),
])
def test_activation_classifier(fn, kind):
    got, attrs = classify_elementwise(fn, (2, 64, 8, 8))
    assert got == kind
    if kind == "leaky_relu":
        assert attrs["negative_slope"] == pytest.approx(0.2)


@pytest.mark.parametrize("fn", [lambda x: torch.softmax(x, 1), nn.LocalResponseNorm(5, 1e-2, 0.75, 2.0),
                                lambda x: F.avg_pool2d(x, 3, 1, 1)])
def test_non_elementwise_is_not_an_activation(fn):
    assert classify_elementwise(fn, (2, 16, 8, 8))[0] is None


# ------------------------------------------------------------------ grouping -------------------

@pytest.mark.parametrize("groups", [1, 2, 4])
def test_groups_measured_from_connectivity(groups):
    conv = nn.Conv2d(96, 256, 5, padding=2, groups=groups)
    assert measure_groups(conv, 96, (1, 1))[0] == groups


def test_irregular_connectivity_is_reported():
    conv = nn.Conv2d(8, 8, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, 0] = 1.0  # every output sees only input 0
    g, blocks = measure_groups(conv, 8, (1, 1))
    assert g == "irregular" and blocks


# ------------------------------------------------------------------ pooling / dropout ----------

def test_pool_type_by_outputs():
    class P(nn.Module):
        def __init__(self, pool):
            super().__init__()
            self.conv, self.pool, self.fc = nn.Conv2d(3, 4, 3), pool, nn.Linear(4 * 3 * 3, 2)

        def forward(self, x):
            return self.fc(self.pool(self.conv(x)).flatten(1))

    kinds = {}
    for name, pool in [("max", nn.MaxPool2d(3, 2)), ("avg", nn.AvgPool2d(3, 2)), ("lp", nn.LPPool2d(2, 3, 2))]:
        tr = build_trace(P(pool), (3, 9, 9))
        op = next(o for o in tr.ops if not o.name and o.kind not in ("flatten",))
        kinds[name] = (op.kind, op.attrs.get("type"), op.attrs.get("kernel_size"), op.attrs.get("stride"))
    assert kinds["max"] == ("maxpool", "max", 3, 2)
    assert kinds["avg"] == ("avgpool", "avg", 3, 2)
    assert kinds["lp"] == ("pool", "other", None, None)  # a pool, of a kind the audit does not name


def _ctx(model_factory, **kw):
    return Context(from_object("t", {"model": model_factory, **kw}, "test"), load_spec())


def _obs(spec, ctx, item_id):
    item = spec.item(item_id)
    return all_probes()[item.probe](ctx, item)


def test_dropout_rate_and_placement_measured(spec):
    ctx = _ctx(lambda: make(dropout_p=0.3, dropout_on=("pool5", "fc6")))
    rate = _obs(spec, ctx, "dropout.p")
    assert rate.value == pytest.approx(0.3, abs=0.005)
    assert _obs(spec, ctx, "dropout.placement").value == ["pool5", "fc6"]
    assert _obs(spec, ctx, "dropout.eval").value == "off"


# ------------------------------------------------------------------ init statistics ------------

def test_moments_and_shape():
    g = torch.Generator().manual_seed(0)
    normal = torch.randn(200_000, generator=g) * 0.01
    uniform = (torch.rand(200_000, generator=g) * 2 - 1) * 0.01 * math.sqrt(3)
    n, mean, std, kurt, m = moments([normal])
    assert n == 200_000 and abs(mean) < 1e-4 and std == pytest.approx(0.01, rel=0.01)
    assert shape_of(m, kurt)[0] == "normal"
    n, mean, std, kurt, m = moments([uniform[:100_000], uniform[100_000:]])
    assert std == pytest.approx(0.01, rel=0.01) and shape_of(m, kurt)[0] == "uniform"
    assert shape_of(1000, 3.0)[0] == "other"


# ------------------------------------------------------------------ probes on one full audit ---

@pytest.fixture(scope="module")
def paper_ctx():
    ctx = _ctx(make)
    return ctx


def test_probe_values_on_the_paper_net(spec, paper_ctx):
    obs = {i: _obs(spec, paper_ctx, i).value for i in (
        "arch.input_size", "arch.layer_sequence", "arch.conv2.groups", "arch.feature_maps", "arch.activation",
        "arch.relu_placement", "arch.params_total", "arch.neurons", "lrn.placement", "lrn.size", "lrn.k",
        "lrn.alpha", "lrn.beta", "pool.type", "pool.kernel_size", "pool.stride", "pool.placement", "dropout.p",
        "dropout.placement", "dropout.eval", "init.biases")}
    assert obs["arch.input_size"] == {"input": 224, "conv1_out": 55}
    assert obs["arch.conv2.groups"] == 2
    assert obs["arch.feature_maps"] == {"conv1": 55, "pool1": 27, "conv2": 27, "pool2": 13, "conv3": 13,
                                        "conv4": 13, "conv5": 13, "pool5": 6}
    assert obs["arch.activation"] == "relu"
    assert obs["arch.params_total"] == 60965224
    assert obs["lrn.placement"] == {"conv1": "relu>lrn>pool", "conv2": "relu>lrn>pool"}
    assert (obs["lrn.size"], obs["lrn.k"], obs["lrn.beta"]) == (5, 2.0, 0.75)
    assert obs["lrn.alpha"] == pytest.approx(1e-4, rel=1e-4)
    assert (obs["pool.type"], obs["pool.kernel_size"], obs["pool.stride"]) == ("max", 3, 2)
    assert obs["pool.placement"] == ["conv1", "conv2", "conv5"]
    assert obs["dropout.p"] == pytest.approx(0.5, abs=0.005)
    assert obs["dropout.placement"] == ["fc6", "fc7"] and obs["dropout.eval"] == "off"
    w = _obs(spec, paper_ctx, "init.weights")
    assert all(v["shape"] == "normal" and v["std"] == pytest.approx(0.01, abs=2e-4) for v in w.value.values())
    assert w.evidence and w.where


def test_probe_docstrings_say_what_they_measure():
    mine = {"input_size", "layer_sequence", "conv_attr", "feature_maps", "fc_attr", "activation", "relu_placement",
            "params_total", "params_per_layer", "neurons", "lrn_placement", "lrn_params", "pool_attr",
            "pool_placement", "dropout_rate", "dropout_placement", "dropout_eval", "init_weights", "init_biases"}
    probes = all_probes()
    assert mine <= set(probes)
    for name in mine:
        assert (probes[name].__doc__ or "").strip().splitlines()[0]


def test_lrn_params_skip_without_lrn(spec):
    ctx = _ctx(lambda: make(lrn=None))
    with pytest.raises(Skip, match="no LRN layer to measure"):
        _obs(spec, ctx, "lrn.k")
    assert _obs(spec, ctx, "lrn.placement").value == {}


def test_per_half_lrn_is_accepted(spec):
    class HalfLRN(nn.Module):
        """Separate LRNs over each GPU's half of the maps (paper notes §10.5)."""

        def __init__(self):
            super().__init__()
            self.a, self.b = nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)

        def forward(self, x):
            h = x.shape[1] // 2
            return torch.cat([self.a(x[:, :h]), self.b(x[:, h:])], 1)

    def build():
        m = make()
        m.lrn1, m.lrn2 = HalfLRN(), HalfLRN()
        return m

    ids = [it.id for it in spec.items if it.group in ("architecture", "normalisation")]
    report = verify(spec, from_object("half", build, "test"), only=ids)
    bad = {f.id: f.message for f in report.findings if f.status is not Status.PASS}
    assert bad == {}


def test_pool_type_that_cannot_be_measured_is_an_error_not_the_call_name(spec, monkeypatch):
    """If the max/avg measurement fails, pool.type errors with the cause; it never falls back to the op's name."""
    import alexnet_audit.trace.describe as describe
    import alexnet_ref

    def broken(*args, **kwargs):
        raise RuntimeError("replay failed")

    monkeypatch.setattr(describe, "pool_type", broken)
    target = from_object("reference", alexnet_ref.alexnet, "alexnet_ref:alexnet")
    found = verify(spec, target, only=["pool.type", "pool.kernel_size"]).by_id()
    assert found["pool.type"].status is Status.ERROR
    assert "the pooling type could not be measured (RuntimeError: replay failed)" in found["pool.type"].message
    assert found["pool.kernel_size"].status is Status.PASS  # the geometry still comes from the call
