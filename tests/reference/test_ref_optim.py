"""alexnet_ref.PaperSGD against the §5 update rule and torch.optim.SGD (paper notes §6.1, §6.2)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from alexnet_ref import PaperSGD, alexnet, recipe

MOMENTUM, WD = 0.9, 5e-4


def _small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).double()


def _batches(steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [
        (torch.randn(32, 8, generator=gen, dtype=torch.float64), torch.randint(0, 3, (32,), generator=gen))
        for _ in range(steps)
    ]


def _backward(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model.zero_grad()
    x, y = batch
    nn.functional.cross_entropy(model(x), y).backward()


def _pair(lr: float) -> tuple[nn.Module, PaperSGD, nn.Module, torch.optim.SGD]:
    paper_model = _small_model()
    sgd_model = copy.deepcopy(paper_model)
    paper = PaperSGD(paper_model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WD)
    sgd = torch.optim.SGD(sgd_model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WD)
    return paper_model, paper, sgd_model, sgd


def _assert_models_close(a: nn.Module, b: nn.Module, **tol: float) -> None:
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, **tol)


def test_defaults_and_param_groups() -> None:
    opt = PaperSGD([nn.Parameter(torch.zeros(2))])
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 5e-4)
    assert group["dampening"] == 0 and group["nesterov"] is False
    with pytest.raises(ValueError):
        PaperSGD([nn.Parameter(torch.zeros(2))], nesterov=True)
    with pytest.raises(ValueError):
        PaperSGD([nn.Parameter(torch.zeros(2))], dampening=0.1)


def test_update_rule_by_hand() -> None:
    """Two steps of v <- 0.9 v - 0.0005 lr w - lr g; w <- w + v on a quadratic."""
    w = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = PaperSGD([w], lr=0.1)
    w_ref, v_ref = w.detach().clone(), torch.zeros(2, dtype=torch.float64)
    for _ in range(2):
        opt.zero_grad()
        (w**2).sum().backward()
        grad = 2 * w_ref
        v_ref = 0.9 * v_ref - 5e-4 * 0.1 * w_ref - 0.1 * grad
        w_ref = w_ref + v_ref
        opt.step()
        torch.testing.assert_close(w.detach(), w_ref, rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(opt.state[w]["velocity"], v_ref, rtol=1e-14, atol=1e-14)


def test_equals_sgd_at_constant_lr() -> None:
    paper_model, paper, sgd_model, sgd = _pair(lr=0.05)
    for batch in _batches(20):
        _backward(paper_model, batch)
        _backward(sgd_model, batch)
        paper.step()
        sgd.step()
        _assert_models_close(paper_model, sgd_model, rtol=1e-10, atol=1e-12)
    # the velocity is SGD's buffer times -lr (paper notes §6.2)
    for pp, ps in zip(paper_model.parameters(), sgd_model.parameters(), strict=True):
        torch.testing.assert_close(paper.state[pp]["velocity"], -0.05 * sgd.state[ps]["momentum_buffer"])


def test_differs_after_lr_drop_as_predicted() -> None:
    """§6.2: after lr_a -> lr_b the paper keeps the velocity's old scale; SGD rescales it at once."""
    lr_a, lr_b = 0.05, 0.005
    paper_model, paper, sgd_model, sgd = _pair(lr=lr_a)
    batches = _batches(11)
    for batch in batches[:10]:
        _backward(paper_model, batch)
        _backward(sgd_model, batch)
        paper.step()
        sgd.step()
    _assert_models_close(paper_model, sgd_model, rtol=1e-10, atol=1e-12)

    for opt in (paper, sgd):
        for group in opt.param_groups:
            group["lr"] = lr_b
    before = [p.detach().clone() for p in paper_model.parameters()]
    v_old = [paper.state[p]["velocity"].clone() for p in paper_model.parameters()]
    b_old = [sgd.state[p]["momentum_buffer"].clone() for p in sgd_model.parameters()]
    _backward(paper_model, batches[10])
    _backward(sgd_model, batches[10])
    grads = [p.grad.clone() for p in paper_model.parameters()]
    paper.step()
    sgd.step()

    after = zip(paper_model.parameters(), sgd_model.parameters(), strict=True)
    for w, v, b, g, (pp, ps) in zip(before, v_old, b_old, grads, after, strict=True):
        paper_update = pp.detach() - w
        sgd_update = ps.detach() - w
        torch.testing.assert_close(paper_update, MOMENTUM * v - lr_b * (g + WD * w))
        torch.testing.assert_close(sgd_update, -lr_b * (MOMENTUM * b + g + WD * w))
        # the gap is the carried momentum at the old minus the new scale: 0.9 (lr_b - lr_a) b
        gap = MOMENTUM * (lr_b - lr_a) * b
        torch.testing.assert_close(paper_update - sgd_update, gap, rtol=1e-6, atol=1e-12)
        assert (paper_update - sgd_update).abs().max() > 1e-4 * b.abs().max()


def test_sgd_with_rescaled_buffers_reproduces_paper() -> None:
    """§6.2's fix: multiply SGD's momentum buffers by lr_a / lr_b at the drop to follow the paper."""
    lr_a, lr_b = 0.05, 0.005
    paper_model, paper, sgd_model, sgd = _pair(lr=lr_a)
    for i, batch in enumerate(_batches(20)):
        if i == 10:
            for opt in (paper, sgd):
                opt.param_groups[0]["lr"] = lr_b
            for p in sgd_model.parameters():
                sgd.state[p]["momentum_buffer"].mul_(lr_a / lr_b)
        _backward(paper_model, batch)
        _backward(sgd_model, batch)
        paper.step()
        sgd.step()
    _assert_models_close(paper_model, sgd_model, rtol=1e-9, atol=1e-12)


def test_works_with_reduce_lr_on_plateau() -> None:
    model = _small_model()
    opt = PaperSGD(model.parameters())
    sched = ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=0)
    batches = _batches(1)
    for val_error in (0.5, 0.5, 0.5):
        _backward(model, batches[0])
        opt.step()
        sched.step(val_error)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_state_dict_round_trip() -> None:
    model = _small_model()
    opt = PaperSGD(model.parameters())
    _backward(model, _batches(1)[0])
    opt.step()
    clone = PaperSGD(model.parameters())
    clone.load_state_dict(opt.state_dict())
    for p in model.parameters():
        torch.testing.assert_close(clone.state[p]["velocity"], opt.state[p]["velocity"])


def test_recipe() -> None:
    r = recipe(10)
    assert r["input_size"] == (3, 224, 224) and r["num_classes"] == 10
    assert (r["batch_size"], r["epochs"]) == (128, 90)
    assert isinstance(r["loss"], nn.CrossEntropyLoss)
    params = [nn.Parameter(torch.zeros(3))]
    opt = r["optimizer"](params)
    assert isinstance(opt, PaperSGD)
    assert (opt.defaults["lr"], opt.defaults["momentum"], opt.defaults["weight_decay"]) == (0.01, 0.9, 5e-4)
    sched = r["scheduler"](opt)
    assert isinstance(sched, ReduceLROnPlateau)
    assert sched.mode == "min" and sched.factor == pytest.approx(0.1)
    # three drops at most (§5), then the floor holds
    for _ in range(200):
        sched.step(1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5)
    assert r["model"].func is alexnet and r["model"].args == (10,)  # a fresh net per call
    assert callable(r["train_transform"]) and callable(r["eval_transform"])
