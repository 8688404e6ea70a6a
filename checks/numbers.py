"""Rounding of measured numbers, so that reports are the same bytes on every machine.

A measurement is only as exact as its float arithmetic: values that depend on BLAS, thread count
or the CPU (residuals around 1e-16, the 7th digit of a fitted constant) are rounded to what the
measurement supports before they reach a report.
"""
from __future__ import annotations

import math

NOISE_FLOOR = 1e-9  # below this a measured magnitude is float noise, printed as "< 1e-9"


def sig(x: float, digits: int = 4) -> float:
    """`x` rounded to `digits` significant digits; 0, NaN and inf unchanged."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def magnitude(x: float, digits: int = 2) -> str:
    """A residual or spread for a message: "< 1e-9" below the noise floor, else `digits` significant digits."""
    x = float(x)
    if math.isfinite(x) and abs(x) < NOISE_FLOOR:
        return f"< {NOISE_FLOOR:.0e}"
    return f"{x:.{digits}g}"


def residual(x: float, digits: int = 2) -> float | str:
    """The value form of `magnitude` for JSON evidence: a rounded float, or "< 1e-9" for noise."""
    x = float(x)
    if math.isfinite(x) and abs(x) < NOISE_FLOOR:
        return f"< {NOISE_FLOOR:.0e}"
    return sig(x, digits)
