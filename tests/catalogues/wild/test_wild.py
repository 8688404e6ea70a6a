"""The wild-form catalogue (issue 12): models written the way public repositories write them.

Separate from the single-defect mutants (tests/catalogues/mutants): each entry is a construct real code uses.
A faithful entry must audit with no deviation and no variant among the model groups; a defective one
must deviate on exactly its ids (and show exactly its variants), and exactly its `caused` ids among
them must name a cause (`caused_by`, primary deviations of the same entry); nothing may error.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch.nn as nn

import tests.catalogues.wild.models as w
import tests.catalogues.wild.wrapped as wr
from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Status
from alexnet_audit.target.record import from_object

MODEL_GROUPS = ("architecture", "normalisation", "pooling", "dropout", "init")
_PARAMS = ("arch.params_total", "arch.params_per_layer")


@dataclass(frozen=True)
class Wild:
    name: str
    doc: str  # one line: the construct, and the defect if any
    build: Callable[[], Any]
    deviates: frozenset[str] = frozenset()
    variants: frozenset[str] = frozenset()
    caused: frozenset[str] = frozenset()  # the derived ids among `deviates`: each names its primary cause


def _w(name: str, doc: str, build: Callable[[], Any], deviates=(), variants=(), caused=()) -> Wild:
    return Wild(name, doc, build, frozenset(deviates) | frozenset(caused), frozenset(variants), frozenset(caused))


WILD: list[Wild] = [
    # ------------------------------------------------------------ faithful: must be clean -----
    _w("plain_object_lrn", "LRN as a plain object; window sum = F.conv2d with a 0/1 kernel built per call",
       w.PlainLRNNet),
    _w("buffer_lrn", "LRN module whose 0/1 window kernel is a registered buffer (1x1 conv)", w.BufferLRNNet),
    _w("cumsum_lrn", "LRN window sums by a channel cumulative sum, differenced", lambda: w.PlainLRNNet(w.cumsum_lrn)),
    _w("avgpool_lrn", "LRN window mean by avg_pool3d over a channel axis, times the size",
       lambda: w.PlainLRNNet(w.avgpool_lrn)),
    _w("hand_linear", "fc6-fc8 as x @ W.t() + b on Parameters, ReLU as clamp(min=0), inverted bernoulli dropout",
       w.HandNet),
    _w("hand_where_noninverted", "ReLU as torch.where(x > 0, x, 0); non-inverted mask, x * (1 - p) at test time",
       lambda: w.HandNet(relu="where", inverted=False)),
    _w("rand_mask", "dropout as (torch.rand(x.shape) >= p).float() / (1 - p): a mask drawn from a shape",
       lambda: w.HandNet(rand=True)),
    _w("hand_towers", "conv2 as two F.conv2d towers on torch.split halves, bias added after, torch.cat",
       w.HandTowersNet),
    _w("unfold_conv", "conv1 and conv3 as F.unfold + matmul + bias + view", w.UnfoldNet),
    _w("nhwc_flatten", "flatten after permute(0, 2, 3, 1) (channels-last order into fc6)", w.NHWCNet),
    _w("channels_last", "the reference in channels_last memory format", wr.channels_last),
    _w("data_parallel", "the reference wrapped in nn.DataParallel", wr.data_parallel),
    _w("nested_script", "an eager net whose features are a torch.jit.script submodule", wr.nested_script),
    _w("nested_script_classifier", "an eager net whose classifier (dropout included) is torch.jit.script-ed",
       lambda: wr.nested_script("classifier")),
    _w("averaged_model", "the reference wrapped in torch.optim.swa_utils.AveragedModel", wr.averaged),
    _w("torchscript_script", "torch.jit.script of the reference", wr.scripted),
    _w("torch_compile", "torch.compile of the reference", wr.compiled),
    _w("dict_layers", "layers in nn.ModuleDicts under unrelated names, run in a plain list's order", w.DictNet),
    _w("nested_sequential", "nn.Sequential nested four deep", w.nested_four_deep),
    _w("unused_layer", "an nn.Linear defined but never called", w.UnusedLayerNet),
    _w("times_one", "an extra x * 1.0 in forward", w.ExtraScaleNet),
    _w("functional_paper_alpha", "F.local_response_norm with the paper's alpha passed to PyTorch (alpha/n reading)",
       lambda: w.FunctionalLRNNet(size=5, alpha=1e-4, beta=0.75, k=2.0), variants={"lrn.alpha"}),
    # ------------------------------------------------------------ defective: exactly these ids --
    _w("every_channel_lrn_k5", "plain-object constant-kernel LRN summing over every channel, k = 5",
       lambda: w.PlainLRNNet(w.ConvLRN(k=5.0, every_channel=True)), deviates={"lrn.size", "lrn.k"}),
    _w("buffer_lrn_size3", "registered-buffer LRN with a 3-map window", lambda: w.BufferLRNNet(size=3),
       deviates={"lrn.size"}),
    _w("functional_default_k", "F.local_response_norm(x, 5): PyTorch's defaults (k = 1)",
       lambda: w.FunctionalLRNNet(size=5), deviates={"lrn.k"}, variants={"lrn.alpha"}),
    _w("mask_p03", "hand-written bernoulli dropout with p = 0.3", lambda: w.HandNet(p=0.3), deviates={"dropout.p"}),
    _w("mask_in_eval", "hand-written bernoulli dropout applied in eval mode too",
       lambda: w.HandNet(always_drop=True), deviates={"dropout.eval"}),
    _w("hand_no_relu_fc7", "hand-written fc7 without its ReLU", lambda: w.HandNet(fc7_relu=False),
       deviates={"arch.relu_placement"}),
    _w("torchscript_trace", "torch.jit.trace of the eval-mode reference: tracing baked dropout out, so the traced "
       "module trains without it", wr.traced, deviates={"dropout.placement"}),
    _w("torchscript_tanh", "torch.jit.script of the reference with tanh after conv3", wr.scripted_tanh,
       deviates={"arch.activation"}),
    _w("nested_script_avgpool", "a torch.jit.script features part with average pooling, in an eager net",
       lambda: wr.nested_script(features__pool1=nn.AvgPool2d(3, 2), features__pool2=nn.AvgPool2d(3, 2),
                                features__pool5=nn.AvgPool2d(3, 2)), deviates={"pool.type"}),
    _w("data_parallel_avgpool", "nn.DataParallel around a net with average pooling", wr.data_parallel_avgpool,
       deviates={"pool.type"}),
    _w("shared_conv", "conv4's module called twice: an extra layer sharing conv4's parameters", w.SharedConvNet,
       deviates={"arch.layer_sequence", "arch.conv5.out_channels", "arch.relu_placement", "arch.params_per_layer",
                 "arch.neurons", "pool.placement", "init.weights", "init.biases"},
       caused={"arch.feature_maps"}),  # the extra layer moves pool5 (pool.placement), and the maps with it
    _w("div255", "an extra x / 255 in forward before conv1", lambda: w.ExtraScaleNet(1 / 255),
       deviates={"arch.layer_sequence"}),
    _w("unfold_dense_conv4", "conv4 as a dense (one-tower) unfold convolution", w.UnfoldDenseNet,
       deviates=set(_PARAMS), variants={"arch.conv4.groups"}),
]


def test_catalogue_is_well_formed(spec):
    names = [x.name for x in WILD]
    assert len(names) == len(set(names)) and len(names) >= 25
    assert sum(not x.deviates for x in WILD) >= 10 and sum(bool(x.deviates) for x in WILD) >= 10
    for x in WILD:
        assert x.doc and "\n" not in x.doc
        assert (x.deviates | x.variants) <= set(spec.ids), (x.deviates | x.variants) - set(spec.ids)
        assert not (x.deviates & x.variants)
        assert x.caused <= x.deviates and (not x.caused or x.deviates - x.caused), x.name


@pytest.mark.slow  # a few seconds per form
@pytest.mark.parametrize("form", WILD, ids=[x.name for x in WILD])
def test_wild_form(form, spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* is deprecated in this torch
        model = form.build()
    assert isinstance(model, nn.Module)
    target = from_object(form.name, model, f"tests.catalogues.wild.models:{form.name}")
    report = verify(spec, target, only=[it.id for it in spec.items if it.group in MODEL_GROUPS])
    found = report.by_id()
    errors = {i: f.message for i, f in found.items() if f.status is Status.ERROR}
    assert errors == {}
    deviating = {i for i, f in found.items() if f.status is Status.DEVIATION}
    assert deviating == form.deviates, {i: found[i].message for i in deviating ^ form.deviates if i in found}
    variants = {i for i, f in found.items() if f.status is Status.VARIANT}
    assert variants == form.variants, {i: found[i].message for i in variants ^ form.variants}
    caused = {i: found[i].caused_by for i in deviating if found[i].caused_by}
    assert set(caused) == form.caused, caused
    assert all(set(c) <= form.deviates - form.caused for c in caused.values()), caused


def test_every_channel_window_is_a_size_deviation_whose_evidence_names_it(spec):
    model = w.PlainLRNNet(w.ConvLRN(k=5.0, every_channel=True))
    report = verify(spec, from_object("every", model, "tests.catalogues.wild.models:PlainLRNNet"), only=["lrn.size"])
    f = report.by_id()["lrn.size"]
    assert f.status is Status.DEVIATION and f.observed == "all maps"
    assert "lrn1: the sum runs over all 96 maps" in f.evidence and "lrn2: the sum runs over all 256 maps" in f.evidence


def test_a_traced_module_without_dropout_says_why(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = wr.traced()
    report = verify(spec, from_object("traced", model, "tests.catalogues.wild.models:traced"),
                    only=["dropout.placement"])
    f = report.by_id()["dropout.placement"]
    assert f.status is Status.DEVIATION and "keeps the train/eval behaviour it was traced with" in f.evidence
