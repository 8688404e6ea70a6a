"""One defect, one deviation (issue 13): the layer sequence reports only what no other item reports,
derived counts and sizes name their cause, and the fidelity score charges a defect once."""
from __future__ import annotations

import pytest
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Finding, Observation, Severity, Status
from alexnet_audit.judge.causes import link_causes
from alexnet_audit.judge.verdict import judge
from alexnet_audit.report.document import fidelity, report_to_dict
from alexnet_audit.report.markdown import render
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object

SPEC = load_spec()
PAPER = list(SPEC.item("arch.layer_sequence").expected)
ROLES = {"relu": "activation", "maxpool": "pool", "lrn": "lrn", "dropout": "dropout"}


def _seq(observed, roles=None):
    return judge(SPEC.item("arch.layer_sequence"), Observation(observed, "", "", detail={"roles": roles or ROLES}))


def test_missing_lrn_passes_naming_lrn_placement():
    obs = [t for t in PAPER if t != "lrn"]
    f = _seq(obs)
    assert f.status is Status.PASS
    assert "lrn.placement reports no response normalisation after conv1's ReLU" in f.message


def test_torchvision_dropout_order_passes_naming_dropout_placement():
    obs = list(PAPER)
    obs.remove("dropout")  # the one after fc6
    obs.remove("dropout")  # and after fc7 ...
    obs.insert(obs.index("fc6"), "dropout")  # ... moved before fc6 and fc7 (torchvision)
    obs.insert(obs.index("fc7"), "dropout")
    f = _seq(obs)
    assert f.status is Status.PASS, f.message
    assert "dropout.placement" in f.message and "...." not in f.message


def test_batchnorm_where_the_paper_has_lrn_is_the_sequences_own_deviation():
    obs = ["batchnorm" if t == "lrn" else t for t in PAPER]
    f = _seq(obs, {**ROLES, "batchnorm": "batchnorm"})
    assert f.status is Status.DEVIATION
    assert ("batch normalisation after conv1's ReLU, after conv2's ReLU, where the paper has response "
            "normalisation" in f.message)
    assert "lrn.placement reports" not in f.message.split("Reported by other items")[0]


def test_softmax_after_fc8_and_a_second_activation_are_extra():
    obs = list(PAPER)
    obs.insert(obs.index("conv4"), "tanh")  # conv3 already has its ReLU
    obs.append("softmax")
    f = _seq(obs, {**ROLES, "tanh": "activation", "softmax": "softmax"})
    assert f.status is Status.DEVIATION
    assert "extra tanh after conv3's ReLU" in f.message
    assert "extra softmax after fc8" in f.message


def test_long_sequence_messages_are_never_cut():
    obs = [t for t in PAPER if t not in ("lrn", "dropout")] + ["softmax"] * 6
    f = _seq(obs, {**ROLES, "softmax": "softmax"})
    assert f.message.count("after fc8's softmax") == 5  # like edits in one line, none dropped
    assert "...." not in f.message and "; ..." not in f.message


# ------------------------------------------------------------------ models as repos write them --

class BNAlexNet(nn.Module):
    """A common 'modernised' AlexNet: BatchNorm after each conv's ReLU, softmax in forward."""

    def __init__(self, classes=1000):
        super().__init__()
        self.c1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.bn1 = nn.BatchNorm2d(96)
        self.c2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.n2 = nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)
        self.c3 = nn.Conv2d(256, 384, 3, padding=1)
        self.c4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.c5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.f6, self.f7, self.f8 = nn.Linear(9216, 4096), nn.Linear(4096, 4096), nn.Linear(4096, classes)

    def forward(self, x):
        x = F.max_pool2d(self.bn1(F.relu(self.c1(x))), 3, 2)
        x = F.max_pool2d(self.n2(F.relu(self.c2(x))), 3, 2)
        x = F.relu(self.c4(F.relu(self.c3(x))))
        x = F.max_pool2d(F.relu(self.c5(x)), 3, 2).flatten(1)
        x = F.dropout(F.relu(self.f6(x)), 0.5, self.training)
        x = F.dropout(F.relu(self.f7(x)), 0.5, self.training)
        return F.softmax(self.f8(x), dim=1)


def _audit(target, ids):
    return verify(SPEC, target, only=ids).by_id()


@pytest.mark.slow
def test_batchnorm_and_softmax_in_forward_deviate_on_the_sequence_only():
    found = _audit(from_object("bn", BNAlexNet, "tests:BN"), ["arch.layer_sequence", "lrn.placement",
                                                               "arch.params_total", "arch.params_per_layer"])
    seq = found["arch.layer_sequence"]
    assert seq.status is Status.DEVIATION
    assert "batch normalisation after conv1's ReLU, where the paper has response normalisation" in seq.message
    assert "extra softmax after fc8" in seq.message
    assert found["lrn.placement"].status is Status.DEVIATION  # the missing LRN is lrn.placement's
    assert "lrn.placement reports" in seq.message
    total = found["arch.params_total"]  # BatchNorm's 192 parameters: explained by the sequence
    assert total.status is Status.DEVIATION and total.caused_by == ["arch.layer_sequence"]
    assert "executed: conv1 relu batchnorm maxpool" in seq.evidence


class PaperLogSoftmax(nn.Module):
    """The paper net in one Sequential ending in nn.LogSoftmax, as repositories trained with NLLLoss write it."""

    def __init__(self):
        super().__init__()
        from tests.catalogues.mutants.model import make

        self.net = make()
        self.out = nn.LogSoftmax(dim=1)

    def forward(self, x):
        return self.out(self.net(x))


@pytest.mark.slow
def test_trailing_log_softmax_with_nll_loss_is_the_objective_and_softmax_is_not():
    nll = _audit(from_object("nll", {"model": PaperLogSoftmax, "loss": nn.NLLLoss}, "t"), ["arch.layer_sequence"])
    assert nll["arch.layer_sequence"].status is Status.PASS, nll["arch.layer_sequence"].message
    assert "paper's objective" in nll["arch.layer_sequence"].evidence
    ce = _audit(from_object("ce", {"model": PaperLogSoftmax, "loss": nn.CrossEntropyLoss()}, "t"),
                ["arch.layer_sequence"])
    assert ce["arch.layer_sequence"].status is Status.DEVIATION
    assert "extra log_softmax after fc8" in ce["arch.layer_sequence"].message


# ------------------------------------------------------------------ caused_by and the score -----

def _f(i, status, sev="minor", expected=None, observed=None):
    return Finding(id=i, status=status, severity=Severity(sev), expected=expected, observed=observed, message="")


def test_channel_defect_is_named_by_its_counts_and_charged_once():
    per = dict(SPEC.item("arch.params_per_layer").expected)
    obs = {**per, "conv1": 64 * 3 * 121 + 64, "conv2": 256 * 32 * 25 + 256}
    fs = [_f("arch.conv1.out_channels", Status.DEVIATION, "major", 96, 64),
          _f("arch.conv1.kernel_size", Status.PASS, "major", 11, 11),
          _f("arch.conv1.groups", Status.PASS, "minor", 1, 1),
          _f("arch.conv2.out_channels", Status.PASS, "major", 256, 256),
          _f("arch.conv2.kernel_size", Status.PASS, "major", 5, 5),
          _f("arch.conv2.groups", Status.PASS, "minor", 2, 2),
          _f("arch.params_per_layer", Status.DEVIATION, "minor", per, obs),
          _f("arch.params_total", Status.DEVIATION, "minor", 60965224, sum(obs.values()))]
    link_causes(fs, SPEC)
    by = {f.id: f for f in fs}
    assert by["arch.params_per_layer"].caused_by == ["arch.conv1.out_channels"]
    assert by["arch.params_total"].caused_by == ["arch.conv1.out_channels"]
    assert by["arch.conv1.out_channels"].caused_by is None
    score = fidelity([f.to_dict() for f in fs])
    assert score["weight_derived"] == 2 and score["score"] == round(100 * 11 / 14, 1)


def test_a_count_the_primaries_do_not_explain_keeps_counting():
    per = dict(SPEC.item("arch.params_per_layer").expected)
    obs = {**per, "conv3": per["conv3"] - 384}  # conv3 has no bias: no item checks biases' presence
    fs = [_f("arch.conv2.out_channels", Status.PASS, "major", 256, 256),
          _f("arch.conv3.out_channels", Status.PASS, "major", 384, 384),
          _f("arch.conv3.kernel_size", Status.PASS, "major", 3, 3),
          _f("arch.conv3.groups", Status.PASS, "minor", 1, 1),
          _f("arch.params_per_layer", Status.DEVIATION, "minor", per, obs)]
    link_causes(fs, SPEC)
    assert fs[-1].caused_by is None
    assert fidelity([f.to_dict() for f in fs])["weight_derived"] == 0


@pytest.mark.slow
def test_report_carries_caused_by_in_json_and_markdown():
    from tests.catalogues.mutants.model import make

    target = from_object("c1", lambda: make(channels=(64, 256, 384, 384, 256)), "t")
    report = verify(SPEC, target, only=[it.id for it in SPEC.items if it.group == "architecture"])
    d = report_to_dict(report, SPEC)
    by = {f["id"]: f for f in d["findings"]}
    assert by["arch.params_total"]["caused_by"] == ["arch.conv1.out_channels"]
    assert "caused_by" not in by["arch.conv1.out_channels"]
    md = render(d, SPEC)
    assert "- **Caused by**: [arch.conv1.out_channels](#arch-conv1-out_channels)" in md


def test_maps_moved_by_a_small_input_and_a_moved_pool_name_both_causes():
    exp = dict(SPEC.item("arch.feature_maps").expected)
    obs = {"conv1": 8, "conv2": 8, "pool2": 3, "conv3": 3, "conv4": 3, "conv5": 3, "pool5": 1}  # CIFAR, no pool1
    fs = [_f("arch.input_size", Status.DEVIATION, "minor", {"input": 224, "conv1_out": 55},
             {"input": 32, "conv1_out": 8}),
          _f("pool.placement", Status.DEVIATION, "major", ["conv1", "conv2", "conv5"], ["conv2", "conv5"]),
          _f("arch.feature_maps", Status.DEVIATION, "major", exp, obs)]
    link_causes(fs, SPEC)
    assert fs[-1].caused_by == ["pool.placement", "arch.input_size"]
    assert fs[0].caused_by is None  # the input itself differs: a primary finding


@pytest.mark.slow
def test_a_sequence_covered_elsewhere_passes_with_the_covering_items_in_json_and_markdown():
    from tests.catalogues.mutants.model import make

    target = from_object("nolrn", lambda: make(lrn=None), "t")
    report = verify(SPEC, target, only=["arch.layer_sequence", "lrn.placement"])
    d = report_to_dict(report, SPEC)
    seq = next(f for f in d["findings"] if f["id"] == "arch.layer_sequence")
    assert seq["status"] == "pass" and seq["covered_by"] == ["lrn.placement"]
    md = render(d, SPEC)
    assert "## Passed, with differences other items report" in md
    assert "- [arch.layer_sequence](#arch-layer_sequence): arch.layer_sequence matches the paper apart from" in md
