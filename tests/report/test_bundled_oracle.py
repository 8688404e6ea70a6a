"""The bundled targets' verdicts against an oracle written from the paper and each target's source, not
from the committed reports (tests/report/test_reports_current.py only says those are current: a
regression regenerated with `make report` would pass it).

torchvision: `torchvision.models.alexnet` is the "One weird trick" net (64/192/384/256/256 channels, no
grouping, no LRN, conv1 padding 2, AdaptiveAvgPool2d((6, 6)), dropout on pool5 features and fc6 outputs,
PyTorch default init), trained by torchvision's references/classification recipe (SGD momentum 0.9,
lr 0.01, weight decay 1e-4 on every parameter, StepLR(30, 0.1) over 90 epochs, batch 256,
RandomResizedCrop(224) + flip + Normalize(mean, std), one centre crop at test time). Each expected
status below follows from one of those facts and the paper's §3-§5; every item is listed.

The seeds (checks/target/bundled/seeds.py, rebuilt from ../shared/seeds/NNN_*.txt): the key findings
each document implies, with the line of the document (or the rebuild's stated stand-in) behind each.
"""
from __future__ import annotations

from typing import Any

import pytest

P, V, D, S = "pass", "variant", "deviation", "skip"

# ------------------------------------------------------------------------------ torchvision ---
_CONVS = {  # (out_channels, kernel, stride, groups) as torchvision builds them; the paper: 96/256/384/384/256
    1: (D, P, P, P),  # 64 kernels (paper 96), 11x11 stride 4, groups 1 as in the paper
    2: (D, P, P, V),  # 192 kernels (paper 256); ungrouped: the single-GPU variant of the paper's groups=2
    3: (P, P, P, P),  # 384, 3x3, groups 1: the paper's conv3 sees both halves
    4: (D, P, P, V),  # 256 kernels (paper 384); ungrouped
    5: (P, P, P, V),  # 256 as in the paper; ungrouped
}
TORCHVISION: dict[str, str] = {
    "arch.input_size": P,  # 224 input, conv1 padding 2: 55x55, the paper's map
    "arch.layer_sequence": P,  # the missing LRNs and the dropout order are the lrn/dropout items' findings
    **{f"arch.conv{n}.{attr}": s for n, row in _CONVS.items()
       for attr, s in zip(("out_channels", "kernel_size", "stride", "groups"), row, strict=True)},
    "arch.feature_maps": P,  # 55, 27, 27, 13, 13, 13, 13, 6: paddings keep the paper's sizes
    "arch.fc6.out_features": P, "arch.fc7.out_features": P, "arch.fc8.out_features": P,  # 4096, 4096, 1000
    "arch.activation": P, "arch.relu_placement": P,  # ReLU after every conv and fc6/fc7, none on fc8
    "arch.params_total": D, "arch.params_per_layer": D, "arch.neurons": D,  # follow from conv1/2/4's widths
    "arch.mode_consistency": P,
    "lrn.placement": D,  # no LRN at all
    "lrn.size": S, "lrn.k": S, "lrn.alpha": S, "lrn.beta": S,  # nothing to measure without an LRN
    "pool.type": P, "pool.kernel_size": P, "pool.stride": P,  # MaxPool2d(3, 2), overlapping
    "pool.placement": V,  # after conv1, conv2, conv5, then AdaptiveAvgPool2d((6, 6)): an identity at 224
    "dropout.p": P,  # 0.5
    "dropout.placement": D,  # Dropout before fc6 and fc7: drops pool5 features and fc6 outputs, not fc6/fc7's
    "dropout.eval": P,
    "init.weights": D, "init.biases": D,  # PyTorch default (Kaiming-uniform) init, not N(0, 0.01) and 0/1 biases
    "train.loss": P,  # CrossEntropyLoss, label smoothing 0
    "train.optimizer": P, "train.momentum": P, "train.lr": P,  # SGD, momentum 0.9, lr 0.01 (README: --lr 1e-2)
    "train.weight_decay": D,  # 1e-4, the paper's 5e-4
    "train.lr_schedule": D,  # StepLR(30, 0.1) over 90 epochs: two fixed drops, not "divide by 10 on plateau"
    "train.batch_size": D,  # 32 per GPU x 8 = 256, the paper's 128
    "train.epochs": P,  # 90
    "train.update_rule": V,  # torch.optim.SGD: lr outside the momentum buffer, the accepted PyTorch form
    "train.extra_techniques": P,  # no AMP, EMA, clipping, mixup, label smoothing
    "data.resize": D, "data.random_crop": D,  # RandomResizedCrop(224): random scale/aspect, not 256 then 224 crops
    "data.mean_subtraction": D,  # Normalize(mean, std) divides by a std
    "data.hflip": P,  # RandomHorizontalFlip(0.5)
    "data.pca_lighting": D,  # no PCA colour noise
    "data.extra_augmentation": P,  # no auto-augment, no random erasing
    "eval.ten_crop": D,  # one centre crop, not ten patches
    "info.hardware": S, "info.results": S,  # paper context
}
# Derived counts name their primaries (one defect, counted once).
TORCHVISION_CAUSES = {i: ["arch.conv1.out_channels", "arch.conv2.out_channels", "arch.conv4.out_channels"]
                      for i in ("arch.params_total", "arch.params_per_layer", "arch.neurons")}

# ------------------------------------------------------------------------------ the seeds ---
SEEDS: dict[str, dict[str, str]] = {
    "seed-000": {  # 000: a from-scratch ConvNet for Caltech-101
        "arch.conv1.out_channels": P, "arch.conv2.groups": V,  # 96 kernels, ungrouped
        "arch.fc8.out_features": V,  # 101 classes, declared
        "lrn.placement": D, "lrn.k": S,  # no LRN in the ConvNet
        "dropout.placement": P,  # dropout after fc1's and fc2's ReLU: the paper's place
        "init.weights": D, "init.biases": D,  # no init code: PyTorch defaults
        "train.optimizer": P, "train.momentum": P,  # SGD(momentum=0.9)
        "train.weight_decay": D,  # no weight_decay argument: 0
        "train.lr": S,  # learning_rate is never given (unstated)
        "train.batch_size": S, "train.lr_schedule": S,  # not stated
        "train.epochs": D,  # epochs = 5
        "data.resize": D,  # Resize((224, 224)) warps
        "data.mean_subtraction": D,  # Normalize(0, 1) subtracts nothing
        "data.random_crop": D, "data.hflip": D, "data.pca_lighting": D,  # no augmentation at all
        "eval.ten_crop": D,  # the same single transform at test time
    },
    "seed-001": {  # 001: "AlexNet From Scratch" on CIFAR-10's own 32x32 images
        "arch.input_size": D,  # 32x32 input: conv1 (padding 4) gives 8x8, not 55x55
        "pool.placement": D,  # no max-pool after conv1
        "arch.feature_maps": D,  # follows from the input and the missing pool1
        "lrn.placement": D,  # no LRN
        "dropout.placement": D,  # nn.Dropout() before both large linears (torchvision order)
        "dropout.p": P,  # nn.Dropout()'s default 0.5
        "arch.fc8.out_features": V,  # 10 classes, declared
        "train.epochs": D,  # 50 epochs
        "train.optimizer": S, "train.loss": S, "train.batch_size": S,  # not stated
        "data.resize": S, "eval.ten_crop": S,  # no transforms stated
    },
    "seed-002": {  # 002: UP_ALEXNET, CIFAR-10 upsampled to 227x227
        "arch.input_size": V,  # 227 input, unpadded conv1: the Caffe variant
        "lrn.placement": P, "lrn.size": P, "lrn.k": P, "lrn.beta": P,  # LRN(5, 1e-4, 0.75, 2) after ReLU1/2
        "lrn.alpha": V,  # PyTorch's alpha=1e-4 is alpha/n: the accepted convention
        "dropout.placement": D,  # dropout before each large FC layer (torchvision order)
        "init.weights": D,  # no init stated: PyTorch defaults
        "train.optimizer": S, "train.lr": S, "train.epochs": S,  # values said to be in config.yaml, not given
        "data.resize": D,  # Resize((227, 227)) warps
        "data.random_crop": D,  # no random crop
        "data.hflip": P,  # RandomHorizontalFlip()
        "data.mean_subtraction": D,  # ImageNet Normalize divides by a std
        "data.pca_lighting": D,
        "eval.ten_crop": D,  # one resized view
    },
    "seed-003": {  # 003: a README for a 5-class image-folder dataset
        "arch.input_size": V,  # 227x227 input
        "lrn.placement": P, "lrn.alpha": V,
        "dropout.placement": P,  # fc -> ReLU -> Dropout(0.5): the paper's order
        "train.optimizer": P, "train.momentum": P, "train.weight_decay": P, "train.lr": P,  # SGD 0.9, 5e-4, 0.01
        "train.batch_size": D,  # BATCH_SIZE = 32
        "train.lr_schedule": S,  # no schedule stated
        "data.resize": D,  # Resize((256, 256)) warps
        "data.random_crop": V,  # random 227 crops: the 227-input variant
        "data.hflip": P,
        "data.mean_subtraction": D,  # ImageNet Normalize
        "data.pca_lighting": D,
        "eval.ten_crop": S,  # no validation transform stated
    },
    "seed-004": {  # 004: a paper-vs-code analysis of alexnet-pytorch
        "arch.input_size": V,  # 227 input
        "arch.conv2.groups": V, "arch.conv4.groups": V, "arch.conv5.groups": V,  # ungrouped
        "arch.params_total": V,  # 62,378,344: the ungrouped count
        "lrn.placement": P, "lrn.alpha": V,
        "dropout.placement": D,  # dropout before the first two linears
        "init.weights": D,  # init_bias leaves fc6-fc8 at PyTorch defaults
        "init.biases": D,  # fc6/fc7 biases are not 1
        "train.optimizer": D, "train.update_rule": D,  # Adam
        "train.lr_schedule": D,  # StepLR(30, 0.1): two fixed drops
        "train.lr": S, "train.weight_decay": S,  # Adam's arguments not given (unstated)
        "train.loss": S, "train.batch_size": S, "train.epochs": S,  # not stated
        "data.random_crop": D, "data.hflip": D,  # CenterCrop(227) only; the random ones are commented out
        "data.mean_subtraction": D,  # nothing subtracted
        "data.pca_lighting": D,
    },
}
# seed-004's analysis on the items it speaks about: what it gets wrong, by the paper and the code it quotes.
SEED_004_WRONG = {
    "dropout.placement",  # "before the first two linear layers" is torchvision's order, presented as the paper's
    "init.weights", "init.biases",  # init_bias never touches the linear layers
    "lrn.alpha",  # "directly corresponds": PyTorch's alpha is alpha/n (a variant, not a pass)
    "arch.conv2.groups", "arch.conv4.groups", "arch.conv5.groups",  # quotes 5x5x48 / 3x3x192, counts ungrouped
    "arch.params_total",  # 62.3M is the ungrouped count, not "60 million rounded"
}
SEED_004_RIGHT = {"train.optimizer", "data.hflip", "data.random_crop", "data.pca_lighting", "lrn.size", "pool.type"}


@pytest.fixture(scope="module")
def audits() -> dict[str, dict[str, Any]]:
    """Audited on first use, in this process, through the pipeline `audit` and `compare` run."""
    return {}


def audited(audits: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    if name not in audits:
        from alexnet_audit.audit.pipeline import run_audit
        from alexnet_audit.report import report_to_dict
        from alexnet_audit.spec.load import load_spec
        from alexnet_audit.target.resolve import load_target

        spec = load_spec()
        result = run_audit(spec, load_target(name), fail_on="never")
        audits[name] = report_to_dict(result.report, spec, result.gate)
    return audits[name]


def test_the_torchvision_oracle_names_every_item() -> None:
    from alexnet_audit.spec.load import load_spec

    assert sorted(TORCHVISION) == sorted(load_spec().ids)


def test_seed_oracles_name_real_items() -> None:
    from alexnet_audit.spec.load import load_spec

    ids = set(load_spec().ids)
    assert {name: sorted(set(o) - ids) for name, o in SEEDS.items() if set(o) - ids} == {}


@pytest.mark.slow  # one in-process audit, a few seconds
def test_torchvision_deviates_where_its_source_departs_from_the_paper(audits: dict[str, dict[str, Any]]) -> None:
    report = audited(audits, "torchvision")
    got = {f["id"]: f["status"] for f in report["findings"]}
    assert {i: (s, got.get(i)) for i, s in TORCHVISION.items() if got.get(i) != s} == {}
    causes = {f["id"]: f["caused_by"] for f in report["findings"] if f.get("caused_by")}
    assert {i: sorted(c) for i, c in causes.items()} == {i: sorted(c) for i, c in TORCHVISION_CAUSES.items()}
    observed = {f["id"]: f["observed"] for f in report["findings"]}
    assert [observed[f"arch.conv{n}.out_channels"] for n in range(1, 6)] == [64, 192, 384, 256, 256]
    assert observed["train.weight_decay"] == {"weights": 0.0001, "biases": 0.0001}
    assert observed["train.batch_size"] == 256
    assert observed["dropout.placement"] == ["pool5", "fc6"]
    assert observed["data.resize"]["rule"] == "random_resized_crop"
    assert observed["data.pca_lighting"]["present"] is False
    assert observed["eval.ten_crop"] == {"crops": 1, "layout": "center"}
    assert observed["lrn.placement"] == {}


@pytest.mark.slow  # one in-process audit per seed, a few seconds each
@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_findings_follow_from_its_document(audits: dict[str, dict[str, Any]], name: str) -> None:
    report = audited(audits, name)
    got = {f["id"]: f["status"] for f in report["findings"]}
    assert {i: (s, got.get(i)) for i, s in SEEDS[name].items() if got.get(i) != s} == {}
    assert "error" not in got.values()


@pytest.mark.slow
def test_seed_001_feature_maps_name_the_input_and_the_missing_pool(audits: dict[str, dict[str, Any]]) -> None:
    found = {f["id"]: f for f in audited(audits, "seed-001")["findings"]}
    assert sorted(found["arch.feature_maps"]["caused_by"]) == ["arch.input_size", "pool.placement"]
    assert found["arch.input_size"]["observed"] == {"input": 32, "conv1_out": 8}


@pytest.mark.slow
def test_seed_004_claims_review_marks_what_the_analysis_got_wrong(audits: dict[str, dict[str, Any]]) -> None:
    rows = {r["id"]: r["verdict"] for r in audited(audits, "seed-004")["claims_review"]}
    assert {i: rows.get(i) for i in SEED_004_WRONG if rows.get(i) != "wrong"} == {}
    assert {i: rows.get(i) for i in SEED_004_RIGHT if rows.get(i) != "right"} == {}
    # deviations the analysis never speaks about: the transform's missing mean subtraction, for one
    assert rows.get("data.mean_subtraction") == "missed"


@pytest.mark.slow
def test_reference_has_no_deviation(audits: dict[str, dict[str, Any]]) -> None:
    """The paper as code: nothing deviates; only alexnet_ref's placeholder mean is a variant."""
    got = {f["id"]: f["status"] for f in audited(audits, "reference")["findings"]}
    assert {i for i, s in got.items() if s not in (P, S)} == {"data.mean_subtraction"}
    assert got["data.mean_subtraction"] == V
    assert {i for i, s in got.items() if s == S} == {"info.hardware", "info.results"}
