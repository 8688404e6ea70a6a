"""verify: one finding per item, always, in spec order; failures become findings, never crashes."""
from __future__ import annotations

import torch.nn as nn

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Status
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_mapping


def _sgd(params):
    import torch

    return torch.optim.SGD(params, lr=0.001)


def test_unstated_items_are_skipped_with_the_reason() -> None:
    target = from_mapping("t", {"model": lambda: nn.Linear(2, 2), "optimizer": _sgd}, "test",
                          unstated={"train.lr": "the README never gives the rate"})
    report = verify(load_spec(), target, only=["train.lr", "train.momentum"])
    lr, momentum = report.findings[1], report.findings[0]
    assert (lr.id, lr.status) == ("train.lr", Status.SKIP)
    assert "the README never gives the rate" in lr.message
    assert momentum.status is Status.DEVIATION  # measured: plain SGD has momentum 0


def test_a_model_that_cannot_be_built_gives_errors_not_a_crash() -> None:
    def broken():
        raise RuntimeError("no weights here")

    report = verify(load_spec(), from_mapping("t", {"model": broken}, "test"))
    spec_ids = load_spec().ids
    assert [f.id for f in report.findings] == spec_ids
    arch = [f for f in report.findings if f.id.startswith("arch.")]
    assert all(f.status is Status.ERROR and "no weights here" in f.message for f in arch)
    assert all(f.status is Status.SKIP for f in report.findings if f.id.startswith(("train.", "data.", "eval.")))


class _NaNNet(nn.Module):
    """Finite weights, NaN outputs: the structure is measurable, the function is not."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 4)

    def forward(self, x):
        return self.fc(x.flatten(1)) * float("nan")


def test_a_model_with_non_finite_outputs_is_an_error_naming_the_nan() -> None:
    report = verify(load_spec(), from_mapping("t", {"model": _NaNNet, "input_size": (3, 8, 8)}, "test"),
                    only=["arch.layer_sequence", "arch.fc6.out_features"])
    for f in report.findings:
        assert f.status is Status.ERROR and "non-finite outputs (8 of 8 are NaN)" in f.message, f.message
