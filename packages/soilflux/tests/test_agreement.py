"""Agreement of two methods: Bland–Altman, OLS and Deming lines, the ±15 % band, matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from soilflux.agreement import bland_altman, deming, match_reference, ols, share_within_band

# Bland & Altman (1986), Lancet 327, 307-310, Table 1: peak expiratory flow rate [l/min] of
# 17 subjects, first reading with the Wright and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_bland_altman_reproduces_the_1986_worked_example() -> None:
    # The paper: mean difference -2.1, sd 38.8, limits -2.1 ± 2 × 38.8 = -79.7 to 75.5;
    # 95 % CI of the bias -2.1 ± 2.12 × 9.4 = -22.0 to 17.8; of each limit ± 2.12 × 16.3.
    ba = bland_altman(WRIGHT, MINI, k=2.0)
    assert ba.n == 17
    assert round(ba.bias, 1) == -2.1
    assert round(ba.sd, 1) == 38.8
    # the paper forms the limits from the rounded d̄ = -2.1 and s = 38.8; unrounded they are
    # -2.118 ∓ 77.530 = -79.65 and 75.41
    assert round(ba.bias, 1) - 2 * round(ba.sd, 1) == pytest.approx(-79.7)
    assert round(ba.bias, 1) + 2 * round(ba.sd, 1) == pytest.approx(75.5)
    assert (ba.loa_low, ba.loa_high) == (
        pytest.approx(-79.648, abs=1e-3),
        pytest.approx(75.413, abs=1e-3),
    )
    assert (round(ba.bias_ci95_low, 1), round(ba.bias_ci95_high, 1)) == (-22.0, 17.8)
    assert ba.loa_ci95_halfwidth == pytest.approx(2.12 * 16.3, abs=0.1)
    normal = bland_altman(WRIGHT, MINI)
    assert normal.loa_high - normal.loa_low == pytest.approx(2 * 1.96 * ba.sd)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, st.integers(3, 30), elements=finite), st.data())
def test_swapping_the_methods_flips_the_bias(x: np.ndarray, data: st.DataObject) -> None:
    y = data.draw(arrays(np.float64, len(x), elements=finite))
    a, b = bland_altman(x, y), bland_altman(y, x)
    assert b.bias == pytest.approx(-a.bias, abs=1e-9)
    assert b.sd == pytest.approx(a.sd, abs=1e-9)
    assert b.loa_low == pytest.approx(-a.loa_high, abs=1e-9)


@given(arrays(np.float64, st.integers(3, 30), elements=finite), finite)
def test_a_constant_offset_is_all_bias(x: np.ndarray, offset: float) -> None:
    ba = bland_altman(x + offset, x)
    assert ba.bias == pytest.approx(offset, abs=1e-9)
    assert ba.sd == pytest.approx(0.0, abs=1e-9)


def test_ols_and_deming_recover_an_exact_line() -> None:
    x = np.array([1.0, 2.0, 4.0, 5.0, 9.0])
    y = 0.5 + 1.2 * x
    for line in (ols(x, y), deming(x, y), deming(x, y, variance_ratio=4.0)):
        assert line.slope == pytest.approx(1.2)
        assert line.intercept == pytest.approx(0.5)
        assert line.r2 == pytest.approx(1.0)


def test_ols_matches_hand_computed_values() -> None:
    # x = 1..4, y = 1, 3, 2, 5: Sxx = 5, Sxy = 5.5, b = 1.1, a = 2.75 - 1.1 * 2.5 = 0;
    # residuals -0.1, 0.8, -1.3, 0.6: SSE = 2.7, s² = 1.35, SE(b) = sqrt(1.35 / 5) = 0.519615,
    # t(0.975, 2) = 4.302653 -> b ± 2.235724.
    line = ols([1, 2, 3, 4], [1, 3, 2, 5])
    assert (line.slope, line.intercept) == (pytest.approx(1.1), pytest.approx(0.0, abs=1e-12))
    assert line.slope_ci95_low == pytest.approx(1.1 - 4.302653 * 0.519615, rel=1e-6)
    assert line.slope_ci95_high == pytest.approx(1.1 + 4.302653 * 0.519615, rel=1e-6)


def test_deming_with_equal_errors_is_the_major_axis() -> None:
    # λ = 1: the direction of the covariance matrix's largest eigenvector (computed apart).
    x = np.array([512, 430, 520, 428, 500, 600, 364, 380, 658, 445.0])
    y = np.array([494, 395, 516, 434, 476, 557, 413, 442, 650, 433.0])
    w, v = np.linalg.eigh(np.cov(x, y))
    major = v[:, np.argmax(w)]
    line = deming(x, y)
    assert line.slope == pytest.approx(major[1] / major[0], rel=1e-9)
    assert line.slope_ci95_low < line.slope < line.slope_ci95_high


@given(arrays(np.float64, st.integers(4, 20), elements=st.floats(1, 100)), st.data())
@example(x=np.array([1.0, 2.0, 2.0, 2.0]), data=None).via("a degenerate leave-one-out sample")
def test_deming_is_symmetric_in_the_methods_for_equal_errors(
    x: np.ndarray, data: st.DataObject
) -> None:
    noise = (
        np.zeros(len(x))
        if data is None
        else data.draw(arrays(np.float64, len(x), elements=st.floats(-5, 5)))
    )
    y = x + noise
    if np.ptp(x) < 1 or np.ptp(y) < 1 or abs(np.corrcoef(x, y)[0, 1]) < 0.1:
        return
    assert deming(y, x).slope == pytest.approx(1.0 / deming(x, y).slope, rel=1e-6)


def test_share_within_band() -> None:
    ref = np.array([1.0, 1.0, 2.0, 2.0])
    assert share_within_band([1.1, 1.2, 2.3, 1.6], ref) == 0.5  # 2.3 is exactly 15 % off
    with pytest.raises(ValueError, match="band"):
        share_within_band(ref, ref, band=0.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        bland_altman([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="one length"):
        ols([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        deming([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="constant"):
        ols([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])


def test_match_reference_takes_the_nearest_closure_at_the_same_location() -> None:
    t = pd.Timestamp("2023-09-16T00:00Z")
    fleet = pd.DataFrame(
        {
            "location": ["9.1.A", "9.1.A", "9.1.B", "9.2.A"],
            "start": [t, t + pd.Timedelta("40min"), t + pd.Timedelta("5min"), t],
            "flux_umol_m2_s": [1.0, 2.0, 3.0, 4.0],
            "device": ["a", "a", "b", "c"],
        }
    )
    reference = pd.DataFrame(
        {
            "location": ["9.1.A", "9.2.A", "9.3.A"],
            "time": [t + pd.Timedelta("30min"), t + pd.Timedelta("2h"), t],
            "flux_umol_m2_s": [1.9, 4.1, 5.0],
        }
    )
    m = match_reference(fleet, reference, max_gap_s=1800)
    assert len(m) == 1  # 9.2.A is 2 h off, 9.3.A has no chamber
    row = m.iloc[0]
    assert (row["location"], row["flux_umol_m2_s_fleet"], row["device_fleet"]) == (
        "9.1.A",
        2.0,
        "a",
    )
    assert (row["flux_umol_m2_s_reference"], row["gap_s"]) == (1.9, 600.0)


@given(
    st.lists(st.tuples(st.sampled_from(["1.1.A", "1.1.B"]), st.integers(0, 600)), max_size=20),
    st.lists(
        st.tuples(st.sampled_from(["1.1.A", "1.1.B", "1.2.A"]), st.integers(0, 600)), max_size=20
    ),
    st.integers(1, 120),
)
def test_matches_keep_location_and_gap(
    fleet_rows: list[tuple[str, int]], ref_rows: list[tuple[str, int]], gap_min: int
) -> None:
    t0 = pd.Timestamp("2023-09-16T00:00Z")
    fleet = pd.DataFrame(
        {
            "location": [loc for loc, _ in fleet_rows],
            "start": [t0 + pd.Timedelta(minutes=m) for _, m in fleet_rows],
            "flux_umol_m2_s": np.arange(len(fleet_rows), dtype=float),
        }
    )
    ref = pd.DataFrame(
        {
            "location": [loc for loc, _ in ref_rows],
            "time": [t0 + pd.Timedelta(minutes=m) for _, m in ref_rows],
            "flux_umol_m2_s": np.ones(len(ref_rows)),
        }
    )
    m = match_reference(fleet, ref, max_gap_s=60.0 * gap_min)
    for _, row in m.iterrows():
        assert abs(row["gap_s"]) <= 60.0 * gap_min
        # the paired closure is at the same location and none there is nearer
        same = [mm for loc, mm in fleet_rows if loc == row["location"]]
        t = (row["time_reference"] - t0).total_seconds() / 60
        assert min(abs(mm - t) for mm in same) == abs(row["gap_s"]) / 60
    # every reference observation with a closure at its location in reach is matched
    reachable = sum(
        any(loc == fl and abs(mm - fm) <= gap_min for fl, fm in fleet_rows) for loc, mm in ref_rows
    )
    assert len(m) == reachable
