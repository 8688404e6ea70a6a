"""Does the run show a net that trains: a sane first loss, gradients everywhere, a clear fall.

Works on the JSON result, so a saved result can be judged again.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

INIT_LOSS_MARGIN = 2.0  # |initial_loss - ln C| above this flags the init / input scaling
FALL_RATIO = 0.75  # loss_falls: tail mean < FALL_RATIO * min(initial, ln C)
MAX_TAIL = 5


def tail_mean(curve: Sequence[float]) -> float:
    """Mean of the last quarter of the curve (1 to MAX_TAIL steps): dropout makes single steps noisy."""
    n = max(1, min(MAX_TAIL, len(curve) // 4))
    tail = curve[-n:]
    return sum(tail) / len(tail)


def loss_falls(curve: Sequence[float], ln_c: float) -> bool:
    """A clear fall: the tail mean is below FALL_RATIO x min(initial, ln C), and everything finite.

    A net stuck at ln C, the loss of a uniform prediction and the classic failure, never shows it.
    """
    if len(curve) < 2 or not all(math.isfinite(v) for v in curve):
        return False
    return tail_mean(curve) < FALL_RATIO * min(curve[0], ln_c)


def judge(result: Mapping[str, Any], no_grad_names: Sequence[str] | None = None) -> list[str]:
    """One line per problem found in a smoke result (empty: the target trains)."""
    problems: list[str] = []
    init, ln_c = result["initial_loss"], result["ln_num_classes"]
    c = round(math.exp(ln_c))
    if init is None or not math.isfinite(init):
        problems.append(f"initial loss is {init} (not finite)")
    elif abs(init - ln_c) > INIT_LOSS_MARGIN:
        side = "above" if init > ln_c else "below"
        problems.append(f"initial loss {init:.2f} is more than {INIT_LOSS_MARGIN:g} {side} ln({c})={ln_c:.2f}: "
                        "broken init or input scaling")
    if result["nonfinite"]:
        problems.append("NaN/Inf in the loss, the outputs or the gradients")
    n = result["params_without_grad"]
    if n:
        names = ", ".join((no_grad_names or [])[:5]) + (", ..." if no_grad_names and len(no_grad_names) > 5 else "")
        problems.append(f"{n} parameter{'s' if n != 1 else ''} received no finite non-zero gradient"
                        + (f" ({names})" if names else ""))
    if not result["loss_falls"]:
        curve = result["loss_curve"]
        tail = tail_mean(curve) if curve else float("nan")
        bound = FALL_RATIO * min(init, ln_c) if init is not None and math.isfinite(init) else float("nan")
        problems.append(f"loss did not fall: mean of the last steps {tail:.3g} is not below "
                        f"{FALL_RATIO:g} x min(initial {init:.3g}, ln C {ln_c:.3g}) = {bound:.3g}")
    return problems
