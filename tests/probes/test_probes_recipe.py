"""Recipe probes (alexnet_audit.probes.optimizer, .schedule, .recipe and .loss): loss, optimizer kind and
hyper-parameters, lr schedule, batch size / epochs and the update rule, measured on small targets."""
from __future__ import annotations

import math
import textwrap
from typing import Any

import pytest
import torch
from torch import nn

import alexnet_ref
from alexnet_audit.audit.verify import _one
from alexnet_audit.core.findings import Finding
from alexnet_audit.probes.context import Context
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import Target, from_object

SPEC = load_spec()
RECIPE_IDS = [it.id for it in SPEC.items if it.group in ("training", "data", "evaluation")]


def probes() -> dict[str, Any]:
    """The probe registry, every probe module imported."""
    from alexnet_audit.probes import all_probes

    return all_probes()


def tiny_model() -> nn.Module:
    """Two weights and two biases are all the optimizer probes need of a model."""
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4, 10))


def audit(target: Any, ids: list[str] | str, model: nn.Module | None = None) -> dict[str, Finding]:
    """Findings for `ids` on a target (plain dict, module or Target); `model` replaces the factory."""
    if not isinstance(target, Target):
        target = from_object("t", target, "test")
    if model is not None:
        target.model = lambda: model
    ctx = Context(target, SPEC)
    table = probes()
    ids = [ids] if isinstance(ids, str) else ids
    return {i: _one(SPEC.item(i), ctx, table) for i in ids}


def one(target: Any, item_id: str, model: nn.Module | None = None) -> Finding:
    return audit(target, [item_id], model)[item_id]


def recipe(**changes: Any) -> dict[str, Any]:
    """A small target: tiny model, the paper's optimizer and schedule, plus `changes`."""
    out: dict[str, Any] = {
        "model": tiny_model,
        "optimizer": lambda p: alexnet_ref.PaperSGD(p, lr=0.01, momentum=0.9, weight_decay=5e-4),
        "scheduler": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.1),
        "loss": nn.CrossEntropyLoss(),
        "batch_size": 128,
        "epochs": 90,
    }
    out.update(changes)
    return out


# ------------------------------------------------------------------------------ skips ---

def test_bare_model_skips_every_recipe_item_never_deviates() -> None:
    found = audit(tiny_model(), RECIPE_IDS)
    assert {i: f.status.value for i, f in found.items()} == {i: "skip" for i in RECIPE_IDS}
    for f in found.values():
        assert f.message.startswith("the target gives no "), f.message


def test_missing_scheduler_is_skip_not_deviation() -> None:
    target = recipe()
    del target["scheduler"]
    f = one(target, "train.lr_schedule")
    assert f.status.value == "skip" and f.message == "the target gives no scheduler"


def test_context_items_skip_with_reason() -> None:
    found = audit(tiny_model(), ["info.hardware", "info.results"])
    assert all(f.status.value == "skip" for f in found.values())
    assert "smoke" in found["info.hardware"].message and "ILSVRC-2010" in found["info.results"].message


# ------------------------------------------------------------------------------- loss ---

@pytest.mark.parametrize("loss, observed", [
    (nn.CrossEntropyLoss(), "softmax_cross_entropy_mean"),
    (nn.CrossEntropyLoss, "softmax_cross_entropy_mean"),  # a class: callable() -> nn.Module
    (nn.functional.cross_entropy, "softmax_cross_entropy_mean"),  # a plain loss function
    (nn.CrossEntropyLoss(reduction="sum"), "softmax_cross_entropy_sum"),
    (nn.CrossEntropyLoss(label_smoothing=0.1), "softmax_cross_entropy_mean+label_smoothing=0.1"),
    (nn.CrossEntropyLoss(label_smoothing=0.25), "softmax_cross_entropy_mean+label_smoothing=0.25"),
    (lambda z, t: nn.functional.cross_entropy(z.softmax(1), t), "softmax_cross_entropy_mean_on_probabilities"),
    (nn.NLLLoss(), "nll_on_logits"),
    (nn.MSELoss(), "mse"),
    (nn.BCEWithLogitsLoss(), "bce_with_logits"),
    (lambda z, t: 2 * nn.functional.cross_entropy(z, t), "other"),
])
def test_loss_is_classified_from_its_value(loss: Any, observed: str) -> None:
    f = one(recipe(loss=loss), "train.loss")
    assert f.observed == observed
    assert f.status.value == ("pass" if observed == "softmax_cross_entropy_mean" else "deviation")


def test_loss_with_reduction_none() -> None:
    f = one(recipe(loss=nn.CrossEntropyLoss(reduction="none")), "train.loss")
    assert f.observed == "softmax_cross_entropy_none"


# -------------------------------------------------------------------------- optimizer ---

@pytest.mark.parametrize("make, value", [
    (lambda p: alexnet_ref.PaperSGD(p), {"type": "sgd", "nesterov": False, "dampening": 0.0}),
    (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=5e-4),
     {"type": "sgd", "nesterov": False, "dampening": 0.0}),
    (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
     {"type": "sgd", "nesterov": True, "dampening": 0.0}),
    (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=1e-3),
     {"type": "sgd", "nesterov": False, "dampening": 0.3}),
    (lambda p: torch.optim.Adam(p, lr=1e-3), {"type": "adam", "nesterov": False, "dampening": 0.0}),
    (lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.05), {"type": "adam", "nesterov": False, "dampening": 0.0}),
    (lambda p: torch.optim.RMSprop(p, lr=1e-3), {"type": "rmsprop", "nesterov": False, "dampening": 0.0}),
    (lambda p: torch.optim.Adagrad(p, lr=1e-2), {"type": "adagrad", "nesterov": False, "dampening": 0.0}),
])
def test_optimizer_kind_is_measured(make: Any, value: dict[str, Any]) -> None:
    f = one(recipe(optimizer=make), "train.optimizer")
    assert f.observed == value, f.evidence
    assert f.status.value == ("pass" if value == {"type": "sgd", "nesterov": False, "dampening": 0.0} else "deviation")


class HandWritten(torch.optim.Optimizer):
    """The §5 rule written from scratch, with an unusual state layout and no `momentum` key."""

    def __init__(self, params: Any, eps: float = 0.01) -> None:
        super().__init__(params, {"lr": eps})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                v.mul_(0.9).add_(p, alpha=-0.0005 * g["lr"]).add_(p.grad, alpha=-g["lr"])
                p.add_(v)


def test_hand_written_paper_rule_is_measured_like_paper_sgd() -> None:
    found = audit(recipe(optimizer=HandWritten), ["train.optimizer", "train.momentum", "train.weight_decay",
                                                  "train.lr", "train.update_rule"])
    assert {i: f.status.value for i, f in found.items()} == dict.fromkeys(found, "pass")
    assert found["train.momentum"].observed == 0.9
    assert found["train.weight_decay"].observed == {"weights": 0.0005, "biases": 0.0005}


def test_momentum_is_measured_not_read() -> None:
    f = one(recipe(optimizer=lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.5)), "train.momentum")
    assert f.observed == 0.5 and f.status.value == "deviation"
    nest = one(recipe(optimizer=lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)), "train.momentum")
    assert nest.observed == 0.9


def test_momentum_skips_for_adaptive_optimizers() -> None:
    f = one(recipe(optimizer=lambda p: torch.optim.Adam(p)), "train.momentum")
    assert f.status.value == "skip" and "adam" in f.message


def _groups(weights: dict[str, Any], biases: dict[str, Any]) -> Any:
    def make(params: Any) -> Any:
        params = list(params)
        return torch.optim.SGD([{"params": [p for p in params if p.dim() > 1], **weights},
                                {"params": [p for p in params if p.dim() <= 1], **biases}],
                               lr=0.01, momentum=0.9, weight_decay=5e-4)
    return make


@pytest.mark.parametrize("make, lr, wd, lr_status, wd_status", [
    (_groups({}, {}), {"weights": 0.01, "biases": 0.01}, {"weights": 0.0005, "biases": 0.0005}, "pass", "pass"),
    (_groups({}, {"lr": 0.02, "weight_decay": 0.0}), {"weights": 0.01, "biases": 0.02},
     {"weights": 0.0005, "biases": 0.0}, "variant", "variant"),
    (_groups({"lr": 0.1}, {"weight_decay": 1e-4}), {"weights": 0.1, "biases": 0.01},
     {"weights": 0.0005, "biases": 0.0001}, "deviation", "deviation"),
    (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True),
     {"weights": 0.01, "biases": 0.01}, {"weights": 0.0005, "biases": 0.0005}, "pass", "pass"),
])
def test_lr_and_decay_per_weights_and_biases(make: Any, lr: Any, wd: Any, lr_status: str, wd_status: str) -> None:
    found = audit(recipe(optimizer=make), ["train.lr", "train.weight_decay"])
    assert found["train.lr"].observed == lr and found["train.lr"].status.value == lr_status
    assert found["train.weight_decay"].observed == wd and found["train.weight_decay"].status.value == wd_status
    assert "real model" in found["train.lr"].evidence


def test_per_layer_lr_is_reported_per_layer() -> None:
    def make(params: Any) -> Any:
        params = list(params)
        return alexnet_ref.PaperSGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.001}])

    f = one(recipe(optimizer=make), "train.lr")
    assert f.status.value == "deviation"
    assert f.observed == {"weights": {"0": 0.01, "2": 0.001}, "biases": {"0": 0.01, "2": 0.001}}


def test_adaptive_optimizer_lr_is_read_from_param_groups() -> None:
    f = one(recipe(optimizer=lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=5e-4)), "train.lr")
    assert f.observed == {"weights": 0.01, "biases": 0.01} and "param_groups" in f.evidence


def test_optimizer_probes_leave_the_shared_model_alone() -> None:
    model = tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    audit(recipe(), ["train.lr", "train.weight_decay", "train.optimizer", "train.update_rule"], model=model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


# -------------------------------------------------------------------------- schedule ---

@pytest.mark.parametrize("sched, value, status", [
    (lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.1),
     {"trigger": "plateau", "factor": 0.1}, "pass"),
    (lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=3),
     {"trigger": "plateau", "factor": 0.5}, "deviation"),
    (lambda o: torch.optim.lr_scheduler.StepLR(o, 30, 0.1),
     {"trigger": "step", "factor": 0.1, "drops": 2}, "deviation"),
    (lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [30, 60, 80], 0.1),
     {"trigger": "step", "factor": 0.1, "drops": 3}, "variant"),
    (lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0), {"trigger": "none", "factor": 1.0}, "deviation"),
])
def test_lr_schedule(sched: Any, value: dict[str, Any], status: str) -> None:
    f = one(recipe(scheduler=sched), "train.lr_schedule")
    assert f.observed == value, f.evidence
    assert f.status.value == status


def test_smooth_schedule_and_run_length() -> None:
    f = one(recipe(scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 90)), "train.lr_schedule")
    assert f.observed["trigger"] == "smooth" and f.status.value == "deviation"
    # StepLR(30) over a 60-epoch run drops once: the run length comes from the recipe's epochs.
    short = one(recipe(epochs=60, scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 30)), "train.lr_schedule")
    assert short.observed == {"trigger": "step", "factor": 0.1, "drops": 1}


def test_plateau_scheduler_with_a_custom_step_signature() -> None:
    class Manual:
        """Divide by 10 after 5 epochs without improvement: step(val_error) required."""

        def __init__(self, opt: Any) -> None:
            self.opt, self.best, self.bad = opt, math.inf, 0

        def step(self, val_error: float) -> None:
            if val_error < self.best:
                self.best, self.bad = val_error, 0
                return
            self.bad += 1
            if self.bad > 5:
                for g in self.opt.param_groups:
                    g["lr"] *= 0.1
                self.bad = 0

    assert one(recipe(scheduler=Manual), "train.lr_schedule").observed == {"trigger": "plateau", "factor": 0.1}


# ------------------------------------------------------------------------- plain values ---

def test_recipe_values() -> None:
    found = audit(recipe(batch_size=256, epochs=88), ["train.batch_size", "train.epochs"])
    assert found["train.batch_size"].status.value == "deviation" and found["train.batch_size"].observed == 256
    assert found["train.epochs"].status.value == "pass"  # within about 90 (±10)
    assert "declared" not in found["train.batch_size"].evidence


# -------------------------------------------------------------------------- update rule ---

@pytest.mark.parametrize("make, value, status", [
    (lambda p: alexnet_ref.PaperSGD(p), "paper", "pass"),
    (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=5e-4), "pytorch_sgd", "variant"),
    (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True), "other", "deviation"),
    (lambda p: torch.optim.Adam(p), "other", "deviation"),
])
def test_update_rule(make: Any, value: str, status: str) -> None:
    f = one(recipe(optimizer=make), "train.update_rule")
    assert (f.observed, f.status.value) == (value, status), f.evidence


def test_update_rule_with_momentum_zero_is_both_forms() -> None:
    # Without momentum the two rules coincide even across a drop: the first match ('paper') is reported.
    f = one(recipe(optimizer=lambda p: torch.optim.SGD(p, lr=0.01)), "train.update_rule")
    assert f.observed == "paper"


# ---------------------------------------------------------------------- declared literals ---

def test_declared_literal_optimizer_is_judged_and_says_declared(tmp_path: Any) -> None:
    from alexnet_audit.target.manifest.load import load_manifest

    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        def net():
            return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4, 10))
    """))
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""
        model: net.py:net
        optimizer: {type: SGD, lr: 0.01, momentum: 0.9, weight_decay: 0.0001}
        scheduler: {type: StepLR, step_size: 30, gamma: 0.1}
        loss: {type: CrossEntropyLoss, label_smoothing: 0.1}
        batch_size: 128
        epochs: 90
    """))
    target = load_manifest(tmp_path / "t.yaml")
    ids = ["train.optimizer", "train.momentum", "train.weight_decay", "train.lr", "train.update_rule",
           "train.lr_schedule", "train.loss", "train.batch_size"]
    found = audit(target, ids)
    status = {i: f.status.value for i, f in found.items()}
    assert status == {"train.optimizer": "pass", "train.momentum": "pass", "train.weight_decay": "deviation",
                      "train.lr": "pass", "train.update_rule": "variant", "train.lr_schedule": "deviation",
                      "train.loss": "deviation", "train.batch_size": "pass"}
    for f in found.values():
        assert "declared, not measured" in f.evidence, (f.id, f.evidence)
