"""alexnet_audit.trace: one forward pass, logical layers named in paper order, whatever the model's form."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.trace import Op, Trace, build_trace, one_thread
from tests.catalogues.mutants.model import FunctionalNet, make

PAPER = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
GROUPS = {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
PARAMS = {"conv1": 34944, "conv2": 307456, "conv3": 885120, "conv4": 663936, "conv5": 442624,
          "fc6": 37752832, "fc7": 16781312, "fc8": 4097000}


def _trace(model, size=(3, 224, 224)) -> Trace:
    torch.manual_seed(0)
    with one_thread():
        return build_trace(model, size)


FORMS = {
    "sequential": lambda: make(),
    "functional": FunctionalNet,
    "control_flow": lambda: make(style="control_flow"),
    "towers": lambda: make(style="towers"),
    "hand_lrn": lambda: make(lrn_impl="hand"),
    "modulelist": lambda: make(style="modulelist"),
}


@pytest.fixture(scope="module", params=list(FORMS), ids=list(FORMS))
def form(request):
    return request.param, _trace(FORMS[request.param]())


def test_unusual_forms_name_the_paper_layers(form):
    name, tr = form
    layers = tr.layers()
    assert list(layers) == PAPER
    assert {n: op.params for n, op in layers.items()} == PARAMS
    assert {n: layers[n].attrs["groups"] for n in GROUPS} == GROUPS
    assert layers["conv1"].out_shape == (2, 96, 55, 55)
    assert [op.kind for op in tr.ops if op.kind == "lrn"] == ["lrn", "lrn"]
    assert tr.param_count == 60965224
    assert tr.output_shape == (2, 1000)


def test_sequence_of_kinds_on_the_reference_form(form):
    name, tr = form
    kinds = [op.name or op.kind for op in tr.ops if op.kind not in ("flatten", "reshape", "slice")]
    assert kinds == ["conv1", "relu", "lrn", "maxpool", "conv2", "relu", "lrn", "maxpool", "conv3", "relu",
                     "conv4", "relu", "conv5", "relu", "maxpool", "fc6", "relu", "dropout", "fc7", "relu",
                     "dropout", "fc8"]


def test_two_towers_are_one_logical_layer():
    tr = _trace(make(style="towers"))
    layers = tr.layers()
    conv2 = layers["conv2"]
    assert conv2.parts == ("conv2.gpu0", "conv2.gpu1")
    assert conv2.module_path == "conv2.gpu0+conv2.gpu1"
    assert conv2.attrs["groups"] == 2 and conv2.attrs["groups_declared"] == 2
    assert conv2.attrs["in_channels"] == 96 and conv2.attrs["out_channels"] == 256
    assert layers["conv3"].attrs["groups"] == 1  # both towers see every map: cross-GPU layer
    # per-tower ReLUs after conv4 merge into one op
    i = tr.index("conv4")
    assert tr.ops[i + 1].kind == "relu" and tr.ops[i + 1].parts == ("conv4.act", "conv4.act")
    assert tr.ops[i + 2].name == "conv5"


def test_grouped_conv_measured_not_declared():
    class Lying(nn.Module):
        """A grouped conv wrapped so no `groups` attribute is visible: only the behaviour tells."""

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 2, 3, 3))

        def forward(self, x):
            return F.linear(F.conv2d(x, self.w, None, 1, 1, 1, 4).flatten(1), torch.randn(3, 8 * 36))

    tr = _trace(Lying(), (8, 6, 6))
    assert tr.layers()["conv1"].attrs["groups"] == 4


def test_zero_pad_folded_into_conv1_and_identity_pool_flagged():
    tr = _trace(make(adaptive_identity=True))
    conv1 = tr.layers()["conv1"]
    assert conv1.attrs["padding"] == [0, 3, 0, 3] and conv1.in_shape == (2, 3, 224, 224)
    assert "pad" not in [op.kind for op in tr.ops]
    ada = [op for op in tr.ops if op.kind == "adaptive_avgpool"]
    assert len(ada) == 1 and ada[0].attrs["identity"] is True


def test_functional_math_in_forward_is_measured():
    class Inline(nn.Module):
        """ReLU as clamp, LRN as inline arithmetic in forward, a control-flow probe that is not used."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3, padding=1)
            self.fc = nn.Linear(16 * 8 * 8, 4)

        def forward(self, x):
            x = self.conv(x)
            if x.mean() > 100:  # data-dependent, not taken
                x = x * 0
            x = x.clamp(min=0)
            x = self._lrn(x)
            return self.fc(torch.flatten(x, 1))

        @staticmethod
        def _lrn(x):
            sq = F.pad(x.pow(2).unsqueeze(1), (0, 0, 0, 0, 2, 2)).squeeze(1)
            s = sq[:, 0:16] + sq[:, 1:17] + sq[:, 2:18] + sq[:, 3:19] + sq[:, 4:20]
            return x / (2.0 + 1e-4 * s) ** 0.75

    tr = _trace(Inline(), (3, 8, 8))
    kinds = [op.name or op.kind for op in tr.ops if op.kind not in ("flatten",)]
    assert kinds[0] == "conv1" and kinds[-1] == "fc6"
    assert "relu" in kinds
    lrn = [op for op in tr.ops if op.kind == "lrn"]
    assert lrn, kinds
    assert lrn[0].attrs["n"] == 5
    assert lrn[0].attrs["alpha"] == pytest.approx(1e-4, rel=1e-3)
    assert lrn[0].attrs["beta"] == pytest.approx(0.75, abs=1e-4)


def test_op_record_is_the_public_shape():
    tr = _trace(make())
    op = tr.ops[0]
    assert isinstance(op, Op)
    assert op.kind == "conv" and op.name == "conv1" and op.module_path == "conv1"
    assert set(op.attrs) >= {"in_channels", "out_channels", "kernel_size", "stride", "padding", "groups"}
    fc6 = tr.layers()["fc6"]
    assert fc6.attrs["in_features"] == 9216 and fc6.attrs["out_features"] == 4096
    assert tr.input_shape == (2, 3, 224, 224)
    pool = next(op for op in tr.ops if op.kind == "maxpool")
    assert (pool.attrs["kernel_size"], pool.attrs["stride"], pool.attrs["padding"]) == (3, 2, 0)
    assert tr.labels()[3] == "pool1"


def test_train_trace_sees_dropout_acting():
    tr = build_trace(make(), (3, 224, 224), train=True, measure=False)
    drops = [op for op in tr.ops if op.kind == "dropout"]
    assert len(drops) == 2 and all(not d.attrs["identity"] and d.attrs["zeroed"] > 0 for d in drops)


# ------------------------------------------------------------------ issue 12: layers are parameters ---

def _paper_layers_and_two_lrns(tr: Trace) -> None:
    layers = tr.layers()
    assert list(layers) == PAPER
    assert {n: op.params for n, op in layers.items()} == PARAMS
    assert [op.kind for op in tr.ops if op.kind == "lrn"] == ["lrn", "lrn"]


def test_constant_kernel_conv_in_a_plain_object_is_not_a_layer():
    """A plain-object LRN whose window sum is F.conv2d with a 0/1 kernel built per call."""
    from tests.catalogues.wild.models import PlainLRNNet
    tr = _trace(PlainLRNNet())
    _paper_layers_and_two_lrns(tr)
    lrn = next(op for op in tr.ops if op.kind == "lrn")
    assert lrn.attrs["n"] == 5 and lrn.attrs["local"] is True
    assert lrn.attrs["k"] == pytest.approx(2.0, rel=1e-6)


def test_registered_buffer_kernel_is_not_a_layer():
    from tests.catalogues.wild.models import BufferLRNNet
    tr = _trace(BufferLRNNet())
    _paper_layers_and_two_lrns(tr)
    assert all(op.attrs["n"] == 5 for op in tr.ops if op.kind == "lrn")


def test_a_window_over_every_channel_is_reported_as_such():
    from tests.catalogues.wild.models import ConvLRN, PlainLRNNet
    tr = _trace(PlainLRNNet(ConvLRN(k=5.0, every_channel=True)))
    _paper_layers_and_two_lrns(tr)
    lrns = [op for op in tr.ops if op.kind == "lrn"]
    assert [(op.attrs["local"], op.attrs["channels"], op.attrs["n"]) for op in lrns] == [(False, 96, 96),
                                                                                      (False, 256, 256)]
    assert lrns[0].attrs["k"] == pytest.approx(5.0, rel=1e-6)


@pytest.mark.parametrize("form", ["cumsum_lrn", "avgpool_lrn"])
def test_window_sums_by_cumsum_or_avg_pool_are_fitted(form):
    import tests.catalogues.wild.models as wild
    tr = _trace(wild.PlainLRNNet(getattr(wild, form)))
    _paper_layers_and_two_lrns(tr)
    lrn = next(op for op in tr.ops if op.kind == "lrn")
    assert (lrn.attrs["n"], lrn.attrs["alpha"], lrn.attrs["beta"]) == (5, pytest.approx(1e-4, rel=1e-4),
                                                                       pytest.approx(0.75, abs=1e-4))


def test_hand_written_linear_relu_and_dropout_are_measured():
    """fc layers as x @ W.t() + b on Parameters, ReLU as clamp, dropout as a bernoulli mask."""
    from tests.catalogues.wild.models import HandNet
    tr = _trace(HandNet())
    assert list(tr.layers()) == PAPER
    assert {n: op.params for n, op in tr.layers().items()} == PARAMS
    fc6 = tr.layers()["fc6"]
    assert (fc6.attrs["in_features"], fc6.attrs["out_features"]) == (9216, 4096)
    assert fc6.attrs["weight_name"] == "fc6_w"
    i = tr.index("fc6")
    assert tr.ops[i + 1].kind == "relu"
    train = build_trace(HandNet(), (3, 224, 224), train=True, measure=False)
    drops = [op for op in train.ops if op.kind == "dropout"]
    assert len(drops) == 2 and all(d.attrs["hand_written"] and d.attrs["zeroed"] > 0 for d in drops)
    assert drops[0].attrs["survivor_scale"] == pytest.approx(2.0)


def test_where_relu_and_non_inverted_dropout():
    from tests.catalogues.wild.models import HandNet
    train = build_trace(HandNet(relu="where", inverted=False), (3, 224, 224), train=True, measure=False)
    kinds = [op.name or op.kind for op in train.ops if op.kind not in ("flatten", "reshape")]
    assert kinds[-7:] == ["fc6", "relu", "dropout", "fc7", "relu", "dropout", "fc8"]
    assert all(op.attrs["survivor_scale"] == 1.0 for op in train.ops if op.kind == "dropout")


def test_unfold_matmul_is_a_convolution():
    from tests.catalogues.wild.models import UnfoldNet
    tr = _trace(UnfoldNet())
    layers = tr.layers()
    assert list(layers) == PAPER
    assert {n: op.params for n, op in layers.items()} == PARAMS
    c1, c3 = layers["conv1"], layers["conv3"]
    assert (c1.attrs["kernel_size"], c1.attrs["stride"], c1.attrs["padding"], c1.attrs["groups"]) == (11, 4, 2, 1)
    assert (c3.attrs["in_channels"], c3.attrs["out_channels"], c3.attrs["groups"]) == (256, 384, 1)
    assert c1.out_shape == (2, 96, 55, 55)


def test_constant_weight_product_is_not_a_layer():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)
            self.register_buffer("proj", torch.eye(8))

        def forward(self, x):
            return self.fc(F.linear(x, self.proj) @ torch.eye(8))

    tr = _trace(Net(), (8,))
    assert list(tr.layers()) == ["fc6"]


@pytest.mark.parametrize("form", ["scripted", "traced", "data_parallel", "averaged", "compiled"])
def test_torchscript_and_wrapped_models_trace_like_their_eager_form(form):
    import warnings

    import tests.catalogues.wild.wrapped as wild
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* is deprecated in this torch
        model = getattr(wild, form)()
    tr = _trace(model)
    layers = tr.layers()
    assert list(layers) == PAPER
    assert {n: op.params for n, op in layers.items()} == PARAMS
    assert {n: layers[n].attrs["groups"] for n in GROUPS} == GROUPS
    kinds = [op.name or op.kind for op in tr.ops if op.kind not in ("flatten", "reshape", "slice", "dropout")]
    assert kinds[:4] == ["conv1", "relu", "lrn", "maxpool"] and kinds[-5:] == ["fc6", "relu", "fc7", "relu", "fc8"]
    assert tr.param_count == 60965224


def test_a_model_without_parameters_errors_in_one_line_saying_what_to_pass():
    import warnings

    from tests.catalogues.wild.wrapped import scripted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        frozen = torch.jit.freeze(scripted().eval())
    with pytest.raises(ValueError, match=r"^cannot trace: the TorchScript module has no parameters .*pass the module "
                                         r"before freezing") as err:
        _trace(frozen)
    assert "\n" not in str(err.value)


def test_a_deep_copied_torchscript_module_keeps_its_layers():
    """copy.deepcopy (how a target's module instance is copied per audit) returns plain tensors for a
    ScriptModule's parameters: they are still the model's parameters, found by identity."""
    import copy
    import warnings

    from tests.catalogues.wild.wrapped import scripted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = copy.deepcopy(scripted())
    assert not any(isinstance(p, nn.Parameter) for p in model.parameters())
    tr = _trace(model)
    assert list(tr.layers()) == PAPER and tr.param_count == 60965224


@pytest.mark.parametrize("form", ["einsum", "addmm", "mm"])
def test_hand_written_products_with_parameters_are_linear_layers(form):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.W = nn.Parameter(torch.randn(4, 8))
            self.b = nn.Parameter(torch.zeros(4))

        def forward(self, x):
            if form == "einsum":
                return torch.einsum("bi,oi->bo", x, self.W) + self.b
            if form == "addmm":
                return torch.addmm(self.b, x, self.W.t())
            return x.mm(self.W.t()) + self.b

    tr = _trace(Net(), (8,))
    fc6 = tr.layers()["fc6"]
    assert (fc6.attrs["in_features"], fc6.attrs["out_features"], fc6.params) == (8, 4, 36)
    assert [op.kind for op in tr.ops] == ["linear"]


def test_a_sum_over_the_channel_dimension_is_a_non_local_window():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3, padding=1)

        def forward(self, x):
            x = F.relu(self.conv(x))
            return x / (2.0 + 1e-4 * x.pow(2).sum(1, keepdim=True)) ** 0.75

    tr = _trace(Net(), (3, 8, 8))
    lrn = next(op for op in tr.ops if op.kind == "lrn")
    assert (lrn.attrs["local"], lrn.attrs["n"], lrn.attrs["channels"]) == (False, 16, 16)


def test_distributed_data_parallel_is_traced_through_its_module():
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from tests.catalogues.wild.wrapped import reference
    assert not dist.is_initialized()
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        tr = _trace(DistributedDataParallel(reference()))
    finally:
        dist.destroy_process_group()
    assert list(tr.layers()) == PAPER and tr.param_count == 60965224


def test_an_exported_program_errors_in_one_line_saying_what_to_pass():
    from tests.catalogues.wild.wrapped import reference
    gm = torch.export.export(reference().eval(), (torch.randn(2, 3, 224, 224),)).module()
    with pytest.raises(ValueError, match=r"^cannot trace: the model cannot be put in eval mode .*pass the eager "
                                         r"nn.Module \(before torch.export\)$"):
        _trace(gm)
