"""The controller's incremental least-squares line (``LineFit``): O(1) memory, stable."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
from fluxfleet.firmware.controller import LineFit
from hypothesis import given, settings
from hypothesis import strategies as st


def reference(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Slope, r² and fitted change first→last x, in exact rational arithmetic.

    Exact, not numpy: on an almost flat line (variation near the last bits of a 5000-ppm
    reading) numpy's float64 ``corrcoef`` of the offset readings is itself wrong by far
    more than 1e-9 in r², which made this comparison fail at random (issue 16).
    """
    x = [Fraction(v) for v in xs]
    y = [Fraction(v) for v in ys]
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    syy = sum((b - my) ** 2 for b in y)
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy) if syy > 0 else Fraction(0)
    return float(slope), float(r2), float(slope * (x[-1] - x[0]))


@settings(max_examples=200, deadline=None)
@given(
    base=st.floats(min_value=300.0, max_value=5000.0),
    slope=st.floats(min_value=-1.0, max_value=1.0),
    noise=st.lists(st.floats(min_value=-10.0, max_value=10.0), min_size=3, max_size=100),
)
def test_matches_numpy_least_squares(base, slope, noise):
    xs = [1.5 + 3.0 * i for i in range(len(noise))]
    ys = [base + slope * x + e for x, e in zip(xs, noise, strict=True)]
    fit = LineFit()
    for x, y in zip(xs, ys, strict=True):
        fit.add(x, y)
    ref_slope, ref_r2, ref_change = reference(xs, ys)
    assert fit.n == len(xs)
    assert fit.slope() == pytest.approx(ref_slope, abs=1e-9)
    assert fit.change() == pytest.approx(ref_change, abs=1e-6)
    r2 = fit.r2()
    assert r2 is not None
    assert r2 == pytest.approx(ref_r2, abs=1e-9)


def test_no_line_from_fewer_than_three_points_or_one_time():
    fit = LineFit()
    assert (fit.slope(), fit.change(), fit.r2()) == (None, None, None)
    fit.add(0.0, 420.0)
    fit.add(3.0, 425.0)
    assert fit.change() is None
    same_x = LineFit()
    for y in (420.0, 421.0, 422.0):
        same_x.add(5.0, y)
    assert same_x.slope() is None


def test_flat_readings_give_exactly_zero():
    fit = LineFit()
    for i in range(60):
        fit.add(1.5 + 3 * i, 431.0)
    assert (fit.slope(), fit.r2(), fit.change()) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("level", [420.0, 2000.0, 20000.0])
def test_single_precision_keeps_the_fitted_change_to_a_thousandth_of_a_ppm(level):
    """The ESP32 port's float is 32-bit: run the same code on numpy float32 values.

    100 readings (5 min at 3 s) at ``level`` ppm with a 0.05 ppm/s rise and 3 ppm noise:
    the fitted change (~15 ppm, compared with the 5-ppm threshold) stays within 0.001 ppm
    of the float64 least squares of the same float32 readings. (The textbook
    n·Σxy − Σx·Σy form over raw readings was off by 0.0004, 0.002 and 0.03 ppm at the
    three levels when tried once - harmless for the decision, but not needed.)
    """
    rng = random.Random(7)
    xs = [1.5 + 3.0 * i for i in range(100)]
    ys = [level + 0.05 * x + rng.gauss(0.0, 3.0) for x in xs]
    fit = LineFit()
    for x, y in zip(xs, ys, strict=True):
        fit.add(np.float32(x), np.float32(y))
    assert isinstance(fit.cxy, np.float32)  # the arithmetic really was single precision
    ys32 = [float(np.float32(y)) for y in ys]
    _, _, ref_change = reference(xs, ys32)
    change = fit.change()
    assert change is not None
    assert float(change) == pytest.approx(ref_change, abs=0.001)
