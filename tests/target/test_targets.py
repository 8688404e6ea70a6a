"""The bundled targets: each builds, with the documented class count, input size and recipe keys.

Shapes are checked on the meta device (no memory, no init cost); seed-004's init on real tensors.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import RECIPE_KEYS
from alexnet_audit.target.resolve import load_target

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"

# name -> (num_classes, input_size, recipe keys given, parameters)
EXPECTED = {
    "reference": (1000, (3, 224, 224), set(RECIPE_KEYS), 60_965_224),
    "torchvision": (1000, (3, 224, 224), set(RECIPE_KEYS), 61_100_840),
    "seed-000": (101, (3, 224, 224), {"optimizer", "loss", "epochs", "train_transform", "eval_transform"}, None),
    "seed-001": (10, (3, 32, 32), {"epochs"}, 58_322_314),  # the document's own parameter count
    "seed-002": (10, (3, 227, 227), {"train_transform", "eval_transform"}, None),
    "seed-003": (5, (3, 227, 227), {"optimizer", "loss", "batch_size", "epochs", "train_transform"}, None),
    "seed-004": (1000, (3, 227, 227), {"optimizer", "scheduler", "train_transform"}, 62_378_344),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_target_builds_with_documented_shape(name: str) -> None:
    classes, size, keys, params = EXPECTED[name]
    t = load_target(name)
    assert (t.name, t.num_classes, t.input_size) == (name, classes, size)
    assert set(t.recipe) == keys
    with torch.device("meta"):
        model = t.model()
        out = model.eval()(torch.empty(2, *size))
    assert isinstance(model, nn.Module) and tuple(out.shape) == (2, classes)
    if params is not None:
        assert sum(p.numel() for p in model.parameters()) == params
    if name.startswith("seed-"):
        assert t.notes, "every seed says what its document leaves out or contradicts"


def _opt(name: str) -> torch.optim.Optimizer:
    t = load_target(name)
    return t.recipe["optimizer"]([nn.Parameter(torch.zeros(2))])


def test_torchvision_recipe_is_the_published_reference_recipe() -> None:
    t = load_target("torchvision")
    opt = _opt("torchvision")
    g = opt.param_groups[0]
    assert type(opt) is torch.optim.SGD and (g["lr"], g["momentum"], g["weight_decay"]) == (0.01, 0.9, 1e-4)
    sched = t.recipe["scheduler"](opt)
    assert isinstance(sched, torch.optim.lr_scheduler.StepLR) and (sched.step_size, sched.gamma) == (30, 0.1)
    assert (t.recipe["batch_size"], t.recipe["epochs"]) == (256, 90)
    assert t.recipe["loss"].label_smoothing == 0.0
    names = [type(s).__name__ for s in t.recipe["train_transform"].transforms]
    assert names == ["RandomResizedCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    names = [type(s).__name__ for s in t.recipe["eval_transform"].transforms]
    assert names == ["Resize", "CenterCrop", "ToTensor", "Normalize"]


def test_seed_recipes_follow_their_documents() -> None:
    g = _opt("seed-003").param_groups[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (0.01, 0.9, 0.0005)
    g = _opt("seed-000").param_groups[0]
    assert (g["momentum"], g["weight_decay"]) == (0.9, 0)  # no weight_decay in the shown call
    assert type(_opt("seed-004")) is torch.optim.Adam
    t = load_target("seed-004")
    assert [type(s).__name__ for s in t.recipe["train_transform"].transforms] == ["CenterCrop", "ToTensor"]
    assert load_target("seed-001").recipe == {"epochs": 50}
    assert load_target("seed-000").recipe["epochs"] == 5 and load_target("seed-003").recipe["batch_size"] == 32


def _layers(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def test_seed_architecture_details() -> None:
    with torch.device("meta"):
        s0, s1, s2, s3, s4 = (load_target(f"seed-00{i}").model() for i in range(5))
    assert _layers(s0, nn.Conv2d)[0].padding == (2, 2) and not _layers(s0, nn.LocalResponseNorm)
    assert _layers(s1, nn.Conv2d)[0].padding == (4, 4) and _layers(s1, nn.AdaptiveAvgPool2d)
    assert len(_layers(s1, nn.MaxPool2d)) == 2  # no pool after conv1 in seed-001
    for m in (s2, s3, s4):
        assert _layers(m, nn.Conv2d)[0].padding == (0, 0) and len(_layers(m, nn.LocalResponseNorm)) == 2
    lrn = _layers(s4, nn.LocalResponseNorm)[0]
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 1e-4, 0.75, 2)
    # dropout order: before the linears (001, 002, 004) or after the ReLUs (000 by forward, 003)
    assert isinstance(s4.classifier[0], nn.Dropout) and isinstance(s2.classifier[0], nn.Dropout)
    assert isinstance(s3.classifier[2], nn.Dropout) and isinstance(s3.classifier[0], nn.Linear)


def test_seed_004_init_bias_is_conv_only() -> None:
    torch.manual_seed(0)
    m = load_target("seed-004").model()
    convs = _layers(m.net, nn.Conv2d)
    assert [float(c.bias.detach().mean()) for c in convs] == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert abs(float(convs[0].weight.detach().std()) - 0.01) < 0.001
    fc6 = m.classifier[1]
    assert float(fc6.bias.detach().abs().max()) < 0.02  # PyTorch default, not 1: the analysis missed it


def test_seed_004_claims_name_spec_items_and_quote_the_analysis() -> None:
    t = load_target("seed-004")
    ids = set(load_spec(None).ids)
    assert set(t.claims) <= ids
    assert {c["said"] for c in t.claims.values()} <= {"pass", "variant", "deviation"}
    # the three corrections the issue names are recorded as the analysis states them
    assert t.claims["lrn.alpha"]["said"] == "pass" and "directly corresponds" in t.claims["lrn.alpha"]["quote"]
    assert "37,748,736" in t.claims["arch.params_per_layer"]["quote"]
    assert "37,752,832" in t.claims["arch.params_per_layer"]["correction"]
    assert t.claims["dropout.placement"]["said"] == "pass"
    assert t.claims["train.optimizer"]["said"] == "deviation"
    notes = " ".join(t.notes)
    assert "alpha/n" in notes and "37,752,832" in notes and "60,965,224" in notes and "fc7 outputs" in notes


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents (../shared/seeds) are not in this checkout")
def test_seed_004_quotes_are_verbatim() -> None:
    doc = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")

    def flat(s: str) -> str:
        return re.sub(r"\s+", " ", s.replace("`", "").replace("\\", "").replace("*", ""))

    text = flat(doc)
    for cid, claim in load_target("seed-004").claims.items():
        for piece in claim["quote"].split(" ... "):
            assert flat(piece).strip(" .") in text, (cid, piece)
