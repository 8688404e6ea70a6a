"""The loss probe (§3.5): the objective is multinomial logistic regression, softmax cross-entropy
averaged over the batch. Measured on what the model emits (issue 12): the model's own eval output
goes through the declared loss, so a softmax head with cross-entropy (a double softmax) and a
log_softmax head with NLLLoss (the paper's objective in two steps) are told apart; the loss alone is
also classified from its value on known float64 logits (mean or sum, label smoothing, MSE, ...).
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any, cast

from ..core.errors import first_line
from ..core.findings import Observation
from ..core.numbers import sig
from ..spec.load import Item
from . import probe
from .context import Context, declared_note

SHOW_DIGITS = 4  # numbers quoted in evidence


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def _loss_fn(value: Any) -> Callable[..., Any]:
    """The loss as something called with (logits, target)."""
    import torch.nn as nn

    if isinstance(value, nn.Module):
        return value
    if inspect.isclass(value):
        return cast(Callable[..., Any], value())
    if not callable(value):
        raise TypeError(f"loss must be an nn.Module or a callable, got {type(value).__name__}")
    try:
        signature = inspect.signature(value)
        required = [p for p in signature.parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        required = []
    return value if len(required) >= 2 else value()


def _loss_on(fn: Callable[..., Any], z: Any, t: Any) -> tuple[Any, str]:
    import torch
    import torch.nn.functional as F

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.as_tensor(fn(z, t)).detach().to(torch.float64), "class indices"
        except Exception as first:
            onehot = F.one_hot(t, z.shape[1]).to(z.dtype)
            try:
                return torch.as_tensor(fn(z, onehot)).detach().to(torch.float64), "one-hot targets"
            except Exception:
                raise first from None


def _emitted(y: Any) -> str:
    """What the model's output rows are, by their values: probabilities (non-negative, sum 1),
    log-probabilities (logsumexp 0) or unnormalised scores (the paper's fc8 output, §3.5)."""
    import torch

    y = y.detach().to(torch.float64)
    if bool((y >= -1e-6).all()) and bool(((y.sum(1) - 1).abs() < 1e-4).all()):
        return "probabilities"
    if bool((y <= 1e-6).all()) and bool((torch.logsumexp(y, 1).abs() < 1e-4).all()):
        return "log-probabilities"
    return "scores"


def _paper_objective(y: Any, t: Any, emitted: str) -> float:
    """§3.5's objective, -log softmax(logits)[label] averaged, written on what the model emits."""
    import torch
    import torch.nn.functional as F

    y = y.detach().to(torch.float64)
    if emitted == "probabilities":
        logp = torch.log(y.clamp(min=1e-300))
    elif emitted == "log-probabilities":
        logp = y
    else:
        logp = F.log_softmax(y, 1)
    return float(-logp.gather(1, t[:, None]).mean())


def _composed(ctx: Context, fn: Callable[..., Any], alone: str) -> tuple[str, str] | None:
    """The loss on what the model emits (its eval output on the audited input): the value this
    composition amounts to and the evidence; None when the model's output cannot be had."""
    import torch

    from ..trace import get_trace

    try:
        y = get_trace(ctx).output
    except (Exception, SystemExit):  # structural items report the trace's failure; the loss is still judged
        return None
    if not isinstance(y, torch.Tensor) or y.dim() != 2 or not y.is_floating_point() or y.shape[1] < 2:
        return None
    emitted = _emitted(y)
    t = torch.randint(0, y.shape[1], (y.shape[0],), generator=torch.Generator().manual_seed(4321))
    try:
        got, _ = _loss_on(fn, y.detach().clone(), t)
    except Exception as exc:
        return "other", f"the loss fails on the model's own output ({first_line(exc)})"
    if got.numel() != 1:
        return None
    paper = _paper_objective(y, t, emitted)
    value, close = float(got), lambda a, b: abs(a - b) <= 1e-4 * max(1.0, abs(b))  # noqa: E731
    seen = (f"on the model's own eval output ({emitted}, {list(y.shape)}) {_name(fn)} gives {sig(value, 4):g}; "
            f"softmax cross-entropy on the logits behind it is {sig(paper, 4):g}")
    if emitted == "scores":  # the loss alone, on logits, already says what it does with them
        return alone, seen
    if close(value, paper):
        return "softmax_cross_entropy_mean", seen
    if close(value, paper * y.shape[0]):
        return "softmax_cross_entropy_sum", seen
    if emitted == "probabilities" and alone.startswith("softmax_cross_entropy"):
        name = alone.replace("softmax_cross_entropy_mean", "softmax_cross_entropy_mean_on_probabilities", 1) \
            if alone.startswith("softmax_cross_entropy_mean") else f"{alone}_on_probabilities"
        return name, seen + ": a double softmax (the model ends in softmax and the loss applies another)"
    return alone, seen


@probe("loss")
def loss_probe(ctx: Context, item: Item) -> Observation:
    """The loss on what the model emits: its eval output through the declared loss, plus the loss alone
    on known logits (CE mean or sum, label smoothing, extra softmax, NLL on logits, MSE)."""
    fn = _loss_fn(ctx.recipe_value("loss"))
    obs = _loss_alone(ctx, fn)
    composed = _composed(ctx, fn, str(obs.value))
    if composed is None:
        return obs
    value, seen = composed
    return Observation(value, f"{seen}. Alone, {obs.evidence[0].lower()}{obs.evidence[1:]}", where=obs.where)


def _loss_alone(ctx: Context, fn: Callable[..., Any]) -> Observation:
    """The loss classified from its value on known float64 logits."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(1234)
    batch, classes = 6, 7  # unequal, so no loss can broadcast a (B,) target against (B, C) logits
    sets = []
    for _ in range(2):
        z = torch.randn(batch, classes, generator=gen, dtype=torch.float64) * 2.0
        t = torch.randint(0, classes, (batch,), generator=gen)
        sets.append((z, t))
    observed, forms = [], []
    for z, t in sets:
        out, form = _loss_on(fn, z, t)
        observed.append(out)
        forms.append(form)
    if observed[0].numel() != 1:
        per = [F.cross_entropy(z, t, reduction="none") for z, t in sets]
        if all(o.shape == p.shape and torch.allclose(o, p, rtol=1e-6, atol=1e-9)
               for o, p in zip(observed, per, strict=True)):
            value = "softmax_cross_entropy_none"
        else:
            value = "other"
        return Observation(value, f"{declared_note(ctx, 'loss')}the loss returns shape {tuple(observed[0].shape)}, "
                                  "not a scalar", where=_name(fn))
    got = [float(o) for o in observed]

    def cands(z: Any, t: Any) -> dict[str, float]:
        onehot = F.one_hot(t, classes).to(z.dtype)
        logp = F.log_softmax(z, dim=1)
        ce = float(F.cross_entropy(z, t))
        return {
            "softmax_cross_entropy_mean": ce,
            "softmax_cross_entropy_sum": ce * len(t),
            "softmax_cross_entropy_mean_on_probabilities": float(F.cross_entropy(z.softmax(1), t)),
            "nll_on_logits": float(F.nll_loss(z, t)),
            "mse": float(F.mse_loss(z, onehot)),
            "mse_on_probabilities": float(F.mse_loss(z.softmax(1), onehot)),
            "bce_with_logits": float(F.binary_cross_entropy_with_logits(z, onehot)),
            "_uniform": float((-logp).mean()),
        }

    cs = [cands(z, t) for z, t in sets]
    close = lambda a, b: abs(a - b) <= 1e-6 * max(1.0, abs(b))  # noqa: E731
    value = "other"
    for name in cs[0]:
        if name != "_uniform" and all(close(g, c[name]) for g, c in zip(got, cs, strict=True)):
            value = name
            break
    eps = None
    if value == "other":
        # Label smoothing: L = (1 - eps) CE + eps * mean_k(-log p_k); solve on set 1, confirm on set 2.
        ce0, u0 = cs[0]["softmax_cross_entropy_mean"], cs[0]["_uniform"]
        eps = (got[0] - ce0) / (u0 - ce0)
        ce1, u1 = cs[1]["softmax_cross_entropy_mean"], cs[1]["_uniform"]
        if 0 < eps < 1 and close(got[1], (1 - eps) * ce1 + eps * u1):
            value = f"softmax_cross_entropy_mean+label_smoothing={sig(eps, 6):g}"
    ref = cs[0]["softmax_cross_entropy_mean"]

    def show(x: float) -> str:  # a loss the target may compute in float32: 4 digits
        return f"{sig(x, SHOW_DIGITS):g}"

    evidence = (f"{declared_note(ctx, 'loss')}{_name(fn)} on 6x7 float64 logits ({forms[0]}) gave {show(got[0])}; "
                f"softmax CE mean would be {show(ref)}, sum {show(cs[0]['softmax_cross_entropy_sum'])}, "
                f"CE of softmax outputs {show(cs[0]['softmax_cross_entropy_mean_on_probabilities'])}, "
                f"MSE to one-hot {show(cs[0]['mse'])}")
    if value == "other" and eps is not None:
        evidence += (f"; no label-smoothing fit either (eps would be {show(eps)} and does not hold on a second "
                     "batch)")
    return Observation(value, evidence, where=_name(fn))
