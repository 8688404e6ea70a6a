"""Rounding of measured numbers, so that reports are the same bytes on every machine.

A measurement is only as exact as its float arithmetic: values that depend on BLAS, thread count
or the CPU (residuals around 1e-16, the 7th digit of a fitted constant) are rounded to what the
measurement supports before they reach a report.

- `sig(x, d)`: `d` significant digits, for fitted constants and estimates;
- `quantise(x, step)`: the nearest multiple of `step`, for ratios whose error is absolute;
- `magnitude(x)` / `residual(x)`: residuals and spreads, with float noise shown as "< 1e-9"
  (and, given `floor`, values at the rounding level of float32 data as "< 1e-6").
"""
from __future__ import annotations

import math

NOISE_FLOOR = 1e-9  # below this a measured magnitude is float noise, printed as "< 1e-9"
FLOAT32_FLOOR = 1e-6  # float32 carries about 7 digits: below this, a spread of float32 data is its rounding
_SNAP = 12  # float64 noise (BLAS, summation order) sits in the 14th-16th digit; snapped away first


def sig(x: float, digits: int = 4) -> float:
    """`x` rounded to `digits` significant digits; 0, NaN and inf unchanged; never -0.0.

    The value is first snapped to 12 significant digits, so that two results that differ only by
    float64 noise round the same way even when they sit exactly on a rounding boundary (0.0125 to
    3 digits is 0.0125000000000000001 on one machine and 0.0124999999999999999 on another).
    """
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x + 0.0
    if digits < _SNAP:
        x = float(f"{x:.{_SNAP}g}")
    return float(f"{x:.{digits}g}") + 0.0


def quantise(x: float, step: float) -> float:
    """`x` rounded to the nearest multiple of `step` (> 0), snapped like `sig`; NaN and inf unchanged."""
    x = float(x)
    if not math.isfinite(x):
        return x
    n = round(float(f"{x / step:.{_SNAP}g}"))
    decimals = max(0, -math.floor(math.log10(step)) + 3)
    return round(n * step, decimals) + 0.0


def _floor_text(floor: float) -> str:
    """"< 1e-9" for 1e-9 (a power of ten, written without the exponent's leading zero)."""
    mantissa, exponent = f"{floor:.0e}".split("e")
    return f"< {mantissa}e{int(exponent)}"


def magnitude(x: float, digits: int = 2, floor: float = NOISE_FLOOR) -> str:
    """A residual or spread for a message: "< 1e-9" below the noise floor, else `digits` significant digits.

    With a `floor` above the noise floor (e.g. FLOAT32_FLOOR for spreads of float32 data), values
    between the two print as "< {floor}": they are rounding of the data, not a measurement.
    """
    x = float(x)
    if math.isfinite(x) and abs(x) < NOISE_FLOOR:
        return _floor_text(NOISE_FLOOR)
    if math.isfinite(x) and abs(x) < floor:
        return _floor_text(floor)
    return f"{sig(x, digits):.{digits}g}"


def residual(x: float, digits: int = 2, floor: float = NOISE_FLOOR) -> float | str:
    """The value form of `magnitude` for JSON evidence: a rounded float, or "< 1e-9" for noise."""
    x = float(x)
    if math.isfinite(x) and abs(x) < max(NOISE_FLOOR, floor):
        return magnitude(x, digits, floor)
    return sig(x, digits)
