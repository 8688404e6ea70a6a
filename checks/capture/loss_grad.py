"""A hand-written loss, measured from its gradient at `loss.backward()` (child side).

A loss written without a loss module or a `torch.nn.functional` loss (`-(F.log_softmax(z, 1) *
onehot).sum(1).mean()`, a hand-made smoothed target, MSE on one-hot) is not seen by name. Its
gradient with respect to the model's output is: for softmax cross-entropy (§3.5's multinomial
logistic regression) towards a target distribution t, ∂L/∂z = c·(softmax(z) − t), with c = 1/B for
a batch mean. Taken with `torch.autograd.grad(..., retain_graph=True)` before the script's own
backward, it gives c (fitted on the non-target classes, where t is one constant) and then t: one-hot
for the paper's objective, (1 − ε)·onehot + ε/K for label smoothing ε, anything else "other".
On log-probabilities the gradient is −c·t and on probabilities −c·t/p, so those are read too.
"""
from __future__ import annotations

from typing import Any

TOL = 1e-4  # on the recovered target distribution (float32 gradients)
MIN_SPREAD = 1e-6  # variance of softmax values below which the scale c is taken from the usual reductions


def install(st: Any, nn: Any) -> None:
    """Hold the model's last training output (what the loss is computed from; the loop may drop its own
    reference before backward) until a loss is recorded."""
    import torch

    def post(module: Any, args: Any, out: Any) -> None:
        if "loss" in st.rec.data:
            st.model_out_held = None
            return
        model = st.model() if st.model is not None else None
        if module is model and isinstance(out, torch.Tensor) and out.requires_grad:
            st.model_out_held = out

    nn.modules.module.register_module_forward_hook(post)


def measure(st: Any, loss: Any) -> None:
    """At the first backward with no loss recorded: the loss's target distribution, from its gradient."""
    import torch

    rec = st.rec
    z = getattr(st, "model_out_held", None)
    st.model_out_held = None
    if "loss" in rec.data or z is None or not isinstance(loss, torch.Tensor) or loss.numel() != 1 \
            or not loss.requires_grad or z.dim() != 2 or z.shape[1] < 3:
        return
    try:
        (g,) = torch.autograd.grad(loss, z, retain_graph=True, allow_unused=True)
    except RuntimeError:
        return
    if g is None:
        return
    from .hooks import _fed

    emitted = _fed(z)
    precision = float(torch.finfo(g.dtype).eps) if g.is_floating_point() else 0.0
    got = target_of(z.detach().double(), g.detach().double(), emitted, precision)
    where = rec.where()
    rec.set("loss", {"kind": "measured", "emitted": emitted, **got, "at": where,
                     "line": rec.source_line(where)})


def target_of(z: Any, g: Any, emitted: str, precision: float = 0.0) -> dict[str, Any]:
    """{target: one_hot | label_smoothing | other, label_smoothing, reduction, evidence} from z and ∂L/∂z;
    `precision` is the gradient's float epsilon (autocast's bfloat16 rounds t to about 4·eps)."""
    import torch

    from ..core.numbers import sig

    b, k = z.shape
    tol = max(TOL, 4 * precision)
    if emitted == "logits":
        s = torch.softmax(z, 1)
        y = g.argmin(1)  # the target class: the most negative gradient (t_y is t's largest entry)
        others = torch.ones_like(g, dtype=torch.bool)
        others[torch.arange(b), y] = False
        sv, gv = s[others], g[others]
        # the batch mean first, then the sum (a near-uniform softmax leaves c and ε unidentifiable together,
        # and a wrong one of these leaves negative targets), then the slope of g = c·s − c·β on the
        # non-target classes (a scaled loss: GradScaler, gradient accumulation)
        cands = [1.0 / b, 1.0]
        if float(sv.var()) > MIN_SPREAD:
            sc = sv - sv.mean()
            cands.append(float((sc * (gv - gv.mean())).sum() / (sc * sc).sum()))
        best: dict[str, Any] | None = None
        for c in cands:
            best = _fit(s - g / c, y, others, c, b, tol) if c > 0 else None
            if best is not None:
                break
    else:
        best = _nonlogits(z, g, emitted, tol)
    if best is None:
        return {"target": "other", "evidence": f"the gradient of the loss with respect to the model's {emitted} is not "
                "that of softmax cross-entropy towards one-hot or smoothed targets"}
    eps = best["eps"]
    rt = max(1e-3, tol)
    red = "mean" if abs(best["c"] * b - 1) < rt else "sum" if abs(best["c"] - 1) < rt else "scaled"
    digits = 3 if tol <= TOL else 2
    out: dict[str, Any] = {"target": "one_hot" if eps == 0.0 else "label_smoothing", "reduction": red,
                           "scale": sig(best["c"] * b, 4)}
    if out["target"] == "label_smoothing":
        out["label_smoothing"] = sig(eps, digits)
    shown = "one-hot" if eps == 0.0 else f"(1 - {sig(eps, digits):g})·onehot + {sig(eps, digits):g}/{k}"
    how = {"mean": "averaged over the batch", "sum": "summed over the batch"}.get(red, f"scaled by {out['scale']:g}/B")
    out["evidence"] = (f"the gradient with respect to the model's {emitted} ({b}x{k}) is that of softmax "
                       f"cross-entropy towards {shown} targets (largest misfit {best['error']:.1e}), {how}")
    return out


def _fit(t: Any, y: Any, others: Any, c: float, b: int, tol: float) -> dict[str, Any] | None:
    """t = α·onehot(y) + β with t's rows a distribution, within tol; ε = K·β, zero when β is within four
    standard errors of its mean over the non-target entries (or under TOL)."""
    k = t.shape[1]
    rest = t[others]
    beta = float(rest.mean())
    alpha = 1.0 - k * beta
    ideal = beta + alpha * (~others).double()
    err = float((t - ideal).abs().max())
    if err > tol * max(1.0, 1.0 / (c * b)) or beta < -tol or alpha <= 0:
        return None
    se = float(rest.std()) / max(1.0, rest.numel() ** 0.5) if rest.numel() > 1 else 0.0
    return {"eps": k * beta if beta > max(TOL, 4 * se) else 0.0, "c": c, "error": err}


def _nonlogits(z: Any, g: Any, emitted: str, tol: float) -> dict[str, Any] | None:
    """On log-probabilities ∂L/∂z = −c·t; on probabilities −c·t/p: t's rows sum to 1 give c."""
    import torch

    b = z.shape[0]
    raw = -g if emitted == "log_probabilities" else -g * z
    c_rows = raw.sum(1)
    c = float(c_rows.mean())
    if c <= 0 or float((c_rows - c).abs().max()) > tol * abs(c):
        return None
    t = raw / c
    y = t.argmax(1)
    others = torch.ones_like(t, dtype=torch.bool)
    others[torch.arange(b), y] = False
    return _fit(t, y, others, c, b, tol)


def cross_entropy_of(input: Any, target: Any, emitted: str = "logits", label_smoothing: float = 0.0,
                     reduction: str = "mean") -> Any:
    """Softmax cross-entropy written on what the model emits (logits, probabilities or log-probabilities), as a
    captured manifest names a measured hand-written loss on a model that does not emit logits."""
    import torch
    import torch.nn.functional as F

    if emitted == "logits":
        logp = F.log_softmax(input, 1)
    elif emitted == "log_probabilities":
        logp = input
    else:
        logp = torch.log(input.clamp(min=1e-30))
    per = (1 - label_smoothing) * F.nll_loss(logp, target, reduction="none") - label_smoothing * logp.mean(1)
    return per.sum() if reduction == "sum" else per.mean()


def manifest_loss(loss: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the manifest's loss value, techniques to add) for a measured loss; None when it is "other"."""
    if loss.get("target") not in ("one_hot", "label_smoothing"):
        return None, {}
    eps = float(loss.get("label_smoothing") or 0.0)
    extra: dict[str, Any] = {"reduction": "sum"} if loss.get("reduction") == "sum" else {}
    emitted = loss.get("emitted", "logits")
    if emitted == "logits":
        return {"type": "CrossEntropyLoss", **({"label_smoothing": eps} if eps else {}), **extra}, {}
    if emitted == "log_probabilities" and not eps:
        return {"function": "torch.nn.functional:nll_loss", **extra}, {}
    value = {"function": "alexnet_audit.capture.loss_grad:cross_entropy_of", "emitted": emitted,
             **({"label_smoothing": eps} if eps else {}), **extra}
    return value, ({"label_smoothing": eps} if eps else {})  # the loss probe reads smoothing only on logits
