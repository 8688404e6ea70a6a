"""Reports are the same bytes on any machine.

No reported number may depend on float noise, BLAS, the thread count, the CPU or the global RNG
state: probes round what they measure to what it supports (`alexnet_audit.core.numbers`), print float
noise as "< 1e-9" and seed every draw.
"""
from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

EPS = 2.0 ** -52


# ------------------------------------------------------------------------- the helpers ---

def test_sig_rounds_to_significant_digits() -> None:
    from alexnet_audit.core.numbers import sig

    assert sig(0.0123456, 3) == 0.0123
    assert sig(123456.0, 2) == 120000.0
    assert sig(0.009996503540119574, 3) == 0.01
    assert sig(2.0000000000000004) == 2.0
    assert sig(0.0) == 0.0 and math.copysign(1.0, sig(-0.0)) == 1.0  # never -0.0
    assert math.isnan(sig(math.nan)) and sig(math.inf) == math.inf


@pytest.mark.parametrize(("x", "digits"), [(0.0125, 2), (0.00857375, 4), (2.45846, 5), (0.5005, 3), (1e-4, 4)])
def test_sig_ignores_float64_noise_even_on_a_rounding_boundary(x: float, digits: int) -> None:
    """Values that differ by a few ulps (another summation order) round the same way."""
    from alexnet_audit.core.numbers import sig

    got = {sig(x * (1 + k * EPS), digits) for k in range(-8, 9)}
    assert len(got) == 1, got


def test_quantise_to_a_step() -> None:
    from alexnet_audit.core.numbers import quantise

    assert quantise(0.40498483, 0.005) == 0.405
    assert quantise(0.99947729, 0.005) == 1.0
    assert quantise(0.4850000212, 0.001) == 0.485
    assert quantise(0.50058365, 0.01) == 0.5
    assert quantise(-0.5674999952, 0.01) == -0.57
    zero = quantise(-3.7252902550938276e-09, 0.001)
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0
    assert len({quantise(0.0125 * (1 + k * EPS), 0.005) for k in range(-8, 9)}) == 1  # 2.5 steps: one way only


def test_magnitude_and_residual_bucket_float_noise() -> None:
    from alexnet_audit.core.numbers import FLOAT32_FLOOR, NOISE_FLOOR, magnitude, residual

    assert NOISE_FLOOR == 1e-9
    assert magnitude(1.2e-16) == magnitude(1.5e-16) == magnitude(0.0) == magnitude(-3e-12) == "< 1e-9"
    assert magnitude(4.4e-8) == "4.4e-08"
    assert magnitude(4.4e-8, floor=FLOAT32_FLOOR) == "< 1e-6"  # float32 rounding, not a measurement
    assert magnitude(1e-17, floor=FLOAT32_FLOOR) == "< 1e-9"
    assert magnitude(0.5123) == "0.51" and magnitude(1.1) == "1.1"
    assert residual(2.83e-16) == "< 1e-9" and residual(0.123456) == 0.12


# ------------------------------------------------------------------ the reference audit ---

def _audit_reference(threads: int, rng_seed: int) -> dict[str, Any]:
    """The reference's JSON report, audited in-process with `threads` torch threads after the global
    RNGs were seeded (and advanced) with `rng_seed`, so that nothing may depend on either."""
    import numpy as np
    import torch

    from alexnet_audit.audit.verify import verify
    from alexnet_audit.report import report_to_dict
    from alexnet_audit.spec.load import load_spec
    from alexnet_audit.target.resolve import load_target

    before = torch.get_num_threads()
    torch.manual_seed(rng_seed)
    torch.rand(rng_seed % 97 + 1)
    random.seed(rng_seed)
    np.random.seed(rng_seed)
    torch.set_num_threads(threads)
    try:
        spec = load_spec()
        return report_to_dict(verify(spec, load_target("reference")), spec)
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def reference_reports() -> tuple[dict[str, Any], dict[str, Any]]:
    return _audit_reference(threads=1, rng_seed=1), _audit_reference(threads=2, rng_seed=987654)


def test_reference_report_independent_of_threads_and_global_rng(
        reference_reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    one, two = (json.dumps(r, indent=2, ensure_ascii=False, allow_nan=False) for r in reference_reports)
    if one != two:
        a, b = one.splitlines(), two.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        pytest.fail(f"the report depends on the thread count or the global RNG; first difference at line "
                    f"{first + 1}:\n  1 thread:  {a[first] if first < len(a) else '<end>'}\n"
                    f"  2 threads: {b[first] if first < len(b) else '<end>'}")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


# a number written with an exponent, e.g. 2.83e-16, 1e-09 (and "< 1e-9", which is not below 1e-9)
_EXPONENT = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?[eE][-+]?\d+")


def _noise_in(value: Any) -> list[str]:
    """Numbers of magnitude below 1e-9 (other than 0) in a JSON leaf: float noise that reached a report."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [repr(value)] if value != 0 and abs(value) < 1e-9 else []
    if isinstance(value, str):
        found = [m for m in _EXPONENT.findall(value) if float(m) != 0 and abs(float(m)) < 1e-9]
        # and, whatever the parse, no exponent of -10..-19 (the usual size of float64 noise)
        return found or re.findall(r"\d[eE]-1[0-9]\b", value)
    return []


def test_reference_report_has_no_float_noise(reference_reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Every number in the reference's report is 0 or at least 1e-9 in size, in values and in text."""
    bad = [f"{path}: {', '.join(sorted(set(hits)))}" for path, leaf in _leaves(reference_reports[0])
           if (hits := _noise_in(leaf))]
    assert not bad, "float noise in the reference report:\n" + "\n".join(bad)


def test_noise_scan_catches_what_it_must() -> None:
    """The scanner itself: it flags the strings old reports carried and passes the bucketed forms."""
    assert "1.5e-16" in _noise_in("the same for every pixel (1.5e-16 within an image)")
    assert _noise_in("fit rms log error 2.83e-16")
    assert _noise_in("offset spread 3.4e-24")
    assert _noise_in(3.4e-24) and _noise_in(-1e-12)
    assert not _noise_in("fit rms log error < 1e-9") and not _noise_in("< 1e-6") and not _noise_in("alpha 2e-05")
    assert not _noise_in(0.0) and not _noise_in(0) and not _noise_in(1e-9) and not _noise_in(True)
