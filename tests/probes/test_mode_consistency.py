"""arch.mode_consistency (issue 11, Build 2): the trace also runs in train mode and at a second batch
size; a model that computes something else there (beyond dropout) deviates, with that evidence."""
from __future__ import annotations

import pytest
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Status
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object
from alexnet_audit.target.resolve import load_target
from tests.catalogues.wild.models import HandNet

ID = "arch.mode_consistency"


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def _finding(spec, target):
    return verify(spec, target, only=[ID]).by_id()[ID]


class _Net(nn.Module):
    """The paper's net with functional LRN, pools and dropout, as many repositories write it."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 96, 11, 4, 2), nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.conv3, self.conv4 = nn.Conv2d(256, 384, 3, 1, 1), nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.fc6, self.fc7, self.fc8 = nn.Linear(9216, 4096), nn.Linear(4096, 4096), nn.Linear(4096, 1000)

    def norm(self, x):
        return F.local_response_norm(x, 5, 5e-4, 0.75, 2.0)

    def pool(self, x):
        return F.max_pool2d(x, 3, 2)

    def forward(self, x):
        x = self.pool(self.norm(F.relu(self.conv1(x))))
        x = self.pool(self.norm(F.relu(self.conv2(x))))
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        x = self.pool(F.relu(self.conv5(x))).view(x.size(0), -1)
        x = F.dropout(F.relu(self.fc6(x)), 0.5, self.training)
        return self.fc8(F.dropout(F.relu(self.fc7(x)), 0.5, self.training))


class SkipsLRNInTraining(_Net):
    """Skips its LRN in train mode ("faster training"): eval mode is the paper's net."""

    def norm(self, x):
        return x if self.training else super().norm(x)


class AvgPoolsBigBatches(_Net):
    """Swaps max for average pooling at batches larger than 2."""

    def pool(self, x):
        return F.avg_pool2d(x, 3, 2) if x.size(0) > 2 else F.max_pool2d(x, 3, 2)


class DropsInEval(_Net):
    """F.dropout(x, 0.5) with training left at its default True: random masks in eval mode too."""

    def forward(self, x):
        x = self.pool(self.norm(F.relu(self.conv1(x))))
        x = self.pool(self.norm(F.relu(self.conv2(x))))
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        x = self.pool(F.relu(self.conv5(x))).flatten(1)
        return self.fc8(F.dropout(F.relu(self.fc7(F.dropout(F.relu(self.fc6(x)), 0.5))), 0.5))


def test_a_model_that_skips_its_lrn_in_train_mode_deviates(spec):
    f = _finding(spec, from_object("skip-lrn", SkipsLRNInTraining, "test"))
    assert f.status is Status.DEVIATION
    assert f.observed == {"train_mode": "differs", "batch_size": "same"}
    assert "in train mode: lrn1 (lrn) not run" in f.evidence and "lrn2 (lrn) not run" in f.evidence


def test_a_model_that_pools_otherwise_at_bigger_batches_deviates(spec):
    f = _finding(spec, from_object("avg-big", AvgPoolsBigBatches, "test"))
    assert f.status is Status.DEVIATION
    assert f.observed == {"train_mode": "same", "batch_size": "differs"}
    assert "at batch 3: pool1 (maxpool) becomes pool1 (avgpool)" in f.evidence
    assert "differ from batch 2 by" in f.evidence


def test_functional_dropout_that_only_runs_in_training_is_no_difference(spec):
    f = _finding(spec, from_object("plain", _Net, "test"))
    assert f.status is Status.PASS, f.evidence


def test_random_masks_in_eval_mode_are_not_a_batch_size_difference(spec):
    f = _finding(spec, from_object("drops", DropsInEval, "test"))  # dropout.eval reports that defect
    assert f.status is Status.PASS, f.evidence
    assert "scores not compared across batch sizes" in f.evidence


@pytest.mark.parametrize("inverted", [True, False])  # False: §4.2's test-time x * (1 - p)
def test_hand_written_dropout_is_no_difference(spec, inverted):
    f = _finding(spec, from_object("hand", lambda: HandNet(inverted=inverted), "test"))
    assert f.status is Status.PASS, f.evidence


@pytest.mark.parametrize("name", ["reference", "torchvision", "seed-000", "seed-001", "seed-002", "seed-003",
                                  "seed-004"])
def test_the_bundled_targets_are_one_network(spec, name):
    f = _finding(spec, load_target(name))
    assert f.status is Status.PASS, f.evidence
