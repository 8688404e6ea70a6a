"""Local response normalisation probes (§3.3): where it runs and its n, k, alpha, beta.

The parameters are FITTED: crafted inputs go through each executed normalisation (an
`F.local_response_norm` call or a hand-written module found by its behaviour) and
b = a / (k + alpha * sum a^2)^beta is fitted, alpha being the coefficient of the plain sum of
squares as printed in the paper (PyTorch's LocalResponseNorm(5, alpha=1e-4) measures 2e-5).

The fit is exact up to the op's own arithmetic: k and alpha come out to ~1e-15 relative on a
float64 op and ~1e-8 on a float32 one (beta to the grid step, 4e-8). They are reported to 4
significant digits: at least 20x finer than the spec's tolerances (k 1%, alpha 2%, beta 0.005) and
far above that noise. The fit's rms log error prints as "< 1e-9" (float64 rounding) or "< 1e-6"
(float32 rounding) when it is no more than that.
"""
from __future__ import annotations

from typing import Any

from ..core.findings import Observation, Skip
from ..core.numbers import FLOAT32_FLOOR, magnitude, sig
from ..spec.load import Item
from ..trace import ACTIVATIONS, POOLS, get_trace
from . import probe
from .arch import blocks
from .context import Context

_PARAMS = {"n": "n", "size": "n", "k": "k", "alpha": "alpha", "beta": "beta"}
# two layers "agree" when they differ by less than this (then one scalar is reported)
_AGREE = {"n": 0.0, "k": 1e-3, "alpha": 1e-3, "beta": 1e-4}
DIGITS = 4  # k, alpha, beta as reported (see the module docstring)
ALL_MAPS = "all maps"  # lrn.size of a normalisation whose sum runs over every channel
IRREGULAR = "irregular"  # lrn.size of one whose channels do not all sum the same window around them


def _fitted(v: Any) -> Any:
    """A fitted constant as reported: 4 significant digits (n, None and non-numbers unchanged)."""
    return sig(v, DIGITS) if isinstance(v, float) else v


def _fit_error(v: Any) -> str:
    return magnitude(v, 2, FLOAT32_FLOOR) if isinstance(v, int | float) else str(v)


def _role(kind: str) -> str | None:
    if kind in ACTIVATIONS:
        return "relu"
    if kind == "lrn":
        return "lrn"
    if kind in POOLS:
        return "pool"
    return None


@probe("lrn_placement")
def lrn_placement(ctx: Context, item: Item) -> Observation:
    """Per conv block holding a response normalisation: the order of non-linearity, LRN and pooling."""
    tr = get_trace(ctx)
    value: dict[str, str] = {}
    where: list[str] = []
    seen: list[str] = []
    for name, idx in blocks(tr):
        roles = [r for r in (_role(tr.ops[i].kind) for i in idx) if r]
        if "lrn" in roles:
            value[name] = ">".join(roles)
            seen.append(f"{name}: {value[name]}")
            where.extend(tr.where(i) for i in idx if tr.ops[i].kind == "lrn")
            missing = _missing_stages(roles)
            if missing:  # the LRN is where the paper has it; the missing stage is its own item's finding
                seen[-1] += (f" (no {' or '.join(missing)} in this block: "
                             + ", ".join(_REPORTED_BY[m] for m in missing) + " reports it; the LRN itself sits "
                             "where the paper has it)")
                value[name] = ">".join(_ORDER)
    if not value:
        return Observation(value, "no response normalisation executed (checked every op whose output has its "
                                  "input's shape by its measured input/output relation)", "")
    ev = "; ".join(seen) + " (relu = the non-linearity, whatever its type)"
    return Observation(value, ev, ", ".join(where))


_ORDER = ("relu", "lrn", "pool")  # §3.5's block
_REPORTED_BY = {"relu": "arch.relu_placement", "pool": "pool.placement"}


def _missing_stages(roles: list[str]) -> list[str]:
    """The paper's stages missing from a block whose present stages keep the paper's order around its
    one LRN (relu>lrn without the pool): a missing pooling or non-linearity is reported by its own item,
    so that one defect is one deviation. Empty when nothing is missing or the order itself differs."""
    if roles.count("lrn") != 1 or len(set(roles)) != len(roles) or not set(roles) <= set(_ORDER):
        return []
    if roles != [r for r in _ORDER if r in roles]:
        return []
    return [r for r in _ORDER if r not in roles]


def _close(a: Any, b: Any, param: str) -> bool:
    if a is None or b is None:
        return a is b
    if param == "n":
        return a == b
    return abs(a - b) <= _AGREE[param] * max(abs(a), abs(b), 1e-12)


@probe("lrn_params")
def lrn_params(ctx: Context, item: Item) -> Observation:
    """One LRN parameter (n, k, alpha on the plain sum, beta) fitted from crafted inputs through each LRN."""
    param = _PARAMS.get(item.params.get("param", ""))
    if param is None:
        raise ValueError(f"lrn_params: unknown param '{item.params.get('param')}' (one of n, k, alpha, beta)")
    tr = get_trace(ctx)
    labels = tr.labels()
    lrns = [(labels[i], i, op) for i, op in enumerate(tr.ops) if op.kind == "lrn"]
    if not lrns:
        raise Skip("no LRN layer to measure; see lrn.placement")
    per: dict[str, Any] = {}
    notes = []
    for lab, _i, op in lrns:
        a = op.attrs
        if "fit_error" in a:
            raise RuntimeError(f"{lab}: the LRN fit failed: {a['fit_error']}")
        per[lab] = a.get(param)
        if param == "n" and a.get("local") is False:  # §3.3's window is n ADJACENT maps; this one is every map
            per[lab] = ALL_MAPS
            notes.append(f"{lab}: the sum runs over all {a.get('channels')} maps, not a local window")
        elif param == "n" and a.get("irregular"):  # measured channel by channel: not one window for every map
            per[lab] = IRREGULAR
            notes.append(f"{lab}: the window, measured channel by channel, is {a.get('window_text')}")
        towers = a.get("towers") or []
        if towers and any(not _close(t.get(param), a.get(param), param) for t in towers):
            notes.append(f"{lab} towers differ: {[_fitted(t.get(param)) for t in towers]}")
        fit = (f"{lab}: n={a.get('n')} k={_fitted(a.get('k'))} alpha={_fitted(a.get('alpha'))} "
               f"beta={_fitted(a.get('beta'))} (window {a.get('window')}, fit rms log error "
               f"{_fit_error(a.get('fit_residual'))}"
               + (f", {len(towers)} per-tower LRNs" if towers else "") + ")")
        if "declared" in a:
            fit += f" [declared {a['declared']}]"
        notes.append(fit)
    vals = list(per.values())
    if all(_close(v, vals[0], param) for v in vals):
        value = vals[0] if param == "n" or vals[0] is None else sig(sum(vals) / len(vals), DIGITS)
    else:
        value = {lab: _fitted(v) for lab, v in per.items()}
    where = ", ".join(dict.fromkeys(tr.where(i) for _, i, _ in lrns))
    return Observation(value, "; ".join(notes), where)
