"""train.loss is measured on what the model emits (issue 12, Build 3): the model's own eval output
goes through the declared loss, so a softmax head trained with CrossEntropyLoss (a double softmax)
deviates and a log_softmax head with NLLLoss (the paper's objective, §3.5) passes."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Status
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_mapping


class Net(nn.Module):
    """A small AlexNet-shaped classifier as repositories write it; `head` is what forward ends in."""

    def __init__(self, head: str = "scores"):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 5, 2, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(8 * 7 * 7, 32), nn.ReLU(inplace=True),
                                        nn.Linear(32, 10))
        if head == "LogSoftmax":
            self.classifier.append(nn.LogSoftmax(dim=1))
        self.head = head

    def forward(self, x):
        x = self.classifier(torch.flatten(self.features(x), 1))
        if self.head == "softmax":
            return F.softmax(x, dim=1)
        if self.head == "log_softmax":
            return x.log_softmax(-1)
        return x


def _loss(head: str, loss):
    spec = load_spec()
    target = from_mapping("t", {"model": lambda: Net(head), "input_size": (3, 32, 32), "loss": loss}, "test")
    return verify(spec, target, only=["train.loss"]).by_id()["train.loss"]


@pytest.mark.parametrize("head, loss", [
    ("scores", nn.CrossEntropyLoss()),
    ("LogSoftmax", nn.NLLLoss()),  # nn.LogSoftmax last + NLLLoss: exactly softmax cross-entropy
    ("log_softmax", F.nll_loss),
    ("log_softmax", nn.CrossEntropyLoss()),  # CE of log-probabilities: softmax is shift-invariant
    ("softmax", lambda p, t: F.nll_loss(torch.log(p), t)),  # the log taken in the loss
])
def test_the_papers_objective_passes_however_it_is_split(head, loss):
    f = _loss(head, loss)
    assert f.status is Status.PASS, f.message
    assert f.observed == "softmax_cross_entropy_mean"
    assert "on the model's own eval output" in f.evidence


@pytest.mark.parametrize("head", ["softmax"])
def test_a_softmax_head_with_cross_entropy_is_a_double_softmax(head):
    f = _loss(head, nn.CrossEntropyLoss())
    assert f.status is Status.DEVIATION
    assert f.observed == "softmax_cross_entropy_mean_on_probabilities"
    assert "double softmax" in f.evidence and "probabilities" in f.evidence


def test_nll_on_raw_scores_still_deviates():
    f = _loss("scores", nn.NLLLoss())
    assert f.status is Status.DEVIATION and f.observed == "nll_on_logits"


def test_a_log_softmax_head_with_a_summed_nll_is_the_sum():
    f = _loss("log_softmax", nn.NLLLoss(reduction="sum"))
    assert f.status is Status.DEVIATION and f.observed == "softmax_cross_entropy_sum"
