"""Probes of issue 22: one defect charged once (a missing pool is not also an LRN placement), the padding
mode as evidence, and PCA lighting present but different (a probability, an epoch set by attribute or
through a wrapper, the censored alpha of an 8-bit per-image colour map)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import transforms as T

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Status
from alexnet_audit.probes.lighting import applied_draws, epoch_hooks
from alexnet_audit.probes.pca_forms import censored
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object


@pytest.fixture(scope="module")
def spec():
    return load_spec()


class Blocks(nn.Module):
    """conv1-relu-lrn(-pool), conv2-relu-lrn-pool, one linear layer; padding in the given mode."""

    def __init__(self, pool1=True, order="relu>lrn>pool", mode="zeros"):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1, padding_mode=mode)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, padding_mode=mode)
        self.norm = nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)
        self.fc = nn.Linear(8 * 4 * 4 if pool1 else 8 * 8 * 8, 10)
        self.pool1, self.order = pool1, order

    def forward(self, x):
        x = F.relu(self.c1(x))
        if self.order == "relu>pool>lrn":
            x = self.norm(F.max_pool2d(x, 2))
        else:
            x = self.norm(x)
            x = F.max_pool2d(x, 2) if self.pool1 else x
        x = F.max_pool2d(self.norm(F.relu(self.c2(x))), 2)
        return self.fc(x.flatten(1))


def _one(spec, model, item):
    target = from_object("t", {"model": lambda: model, "input_size": (3, 16, 16)}, "t")
    return verify(spec, target, only=[item]).by_id()[item]


def test_a_missing_pool_is_not_also_an_lrn_placement(spec):
    f = _one(spec, Blocks(pool1=False), "lrn.placement")
    assert f.status is Status.PASS, f.message
    assert "conv1: relu>lrn (no pool in this block: pool.placement reports it" in f.evidence


def test_an_lrn_in_another_order_is_still_its_own_deviation(spec):
    f = _one(spec, Blocks(order="relu>pool>lrn"), "lrn.placement")
    assert f.status is Status.DEVIATION and f.observed["conv1"] == "relu>pool>lrn"


def test_the_padding_mode_is_evidence_never_a_layer(spec):
    f = _one(spec, Blocks(mode="reflect"), "arch.layer_sequence")
    assert "pad" not in f.observed
    assert "padding mode (measured): reflect at conv1, conv2 (the paper states no padding mode" in f.evidence
    assert "padding mode" not in _one(spec, Blocks(), "arch.layer_sequence").evidence


def test_draws_left_alone_by_a_probability_are_told_apart():
    gen = torch.Generator().manual_seed(0)
    on = torch.randn(32, 3, generator=gen, dtype=torch.float64) * 0.02
    deltas = torch.cat([on, torch.full((32, 3), 0.001, dtype=torch.float64)])
    p, applied = applied_draws(deltas)
    assert p == pytest.approx(0.5) and sum(applied) == 32 and not any(applied[32:])
    p, applied = applied_draws(on)  # every draw changed: no probability
    assert p is None and all(applied)


def test_alpha_and_probability_survive_8_bit_rounding():
    gen = torch.Generator().manual_seed(1)
    for p_true in (0.5, 1.0):
        alpha = torch.randn(400, generator=gen, dtype=torch.float64) * 0.1
        applied = torch.rand(400, generator=gen, dtype=torch.float64) < p_true
        seen = alpha[applied & (alpha.abs() >= 0.02)]  # smaller changes round away
        p, sigma = censored(seen.tolist(), 400 - len(seen), 0.02)
        assert p == pytest.approx(p_true, abs=0.08) and sigma == pytest.approx(0.1, rel=0.15)
    assert math.isfinite(censored([0.1, -0.2, 0.05, 0.3], 0, 0.01)[1])


class Noise:
    def __init__(self):
        self.epoch = 0

    def new_epoch(self):
        pass

    def __call__(self, t):
        return t


def test_epoch_hooks_are_found_through_wrappers_and_attributes():
    noise = Noise()
    names = [n for n, _ in epoch_hooks(T.Compose([T.ToTensor(), T.Lambda(noise)]))]
    assert names == ["calling Noise.new_epoch()", "setting Noise.epoch = epoch"]
    dict(epoch_hooks(T.Lambda(noise)))["setting Noise.epoch = epoch"](3)
    assert noise.epoch == 3
