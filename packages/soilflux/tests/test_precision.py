"""Analyser precision from steady air: σ_white, Allan deviation, lag-1, drift, gaps, CLI.

Statistical tolerances are 4 standard errors of the estimator at the sample size used
(a false failure has probability < 1e-4 for a fresh seed; the seeds are fixed).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from soilflux.cli import app
from soilflux.precision import (
    allan_deviation,
    allan_edf_white,
    allan_table,
    drift_per_h,
    lag1_autocorrelation,
    noise_summary,
    sigma_white,
    sigma_white_se,
    split_at_gaps,
)
from typer.testing import CliRunner

DT_S = 3.0
T0 = pd.Timestamp("2024-03-01T10:00:00Z")


def _table(
    sigmas: dict[str, float], n: int, seed: int = 0, drift_ppm_h: float = 0.0
) -> pd.DataFrame:
    """A calibration room: one white-noise sensor per chamber at 420 ppm, 3-s readings."""
    rng = np.random.default_rng(seed)
    t_s = np.arange(n) * DT_S
    parts = []
    for chamber, sigma in sigmas.items():
        co2 = 420.0 + drift_ppm_h * t_s / 3600.0 + rng.normal(0.0, sigma, n)
        time = T0 + pd.to_timedelta(t_s, unit="s")
        parts.append(pd.DataFrame({"time": time, "chamber": chamber, "co2_ppm": co2}))
    return pd.concat(parts, ignore_index=True)


def _naive_adev(y: np.ndarray, m: int) -> float:
    """Riley (2008) eq. 11 term by term: overlapping averages of m readings."""
    terms = []
    for j in range(len(y) - 2 * m + 1):
        first = sum(y[j : j + m]) / m
        second = sum(y[j + m : j + 2 * m]) / m
        terms.append((second - first) ** 2)
    return math.sqrt(sum(terms) / (2 * len(terms)))


# --- white noise ------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.5, 3.0])
def test_white_noise_sigma_is_recovered_within_its_standard_error(sigma: float) -> None:
    n = 20_000
    y = 420.0 + np.random.default_rng(1).normal(0.0, sigma, n)
    estimate = sigma_white(y)
    se = float(sigma_white_se(sigma, n - 1))
    assert se == pytest.approx(1.2845 * sigma / math.sqrt(n - 1), rel=1e-3)
    assert abs(estimate - sigma) < 4 * se


def test_standard_error_of_sigma_white_matches_monte_carlo() -> None:
    """The MAD-of-differences SE formula (with the ρ = −½ correction) against 4000 series."""
    n, replicates = 1000, 4000
    y = np.random.default_rng(2).normal(0.0, 1.0, (replicates, n))
    d = np.diff(y, axis=1)
    mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1)
    estimates = 1.482602218505602 * mad / math.sqrt(2)
    assert float(np.mean(estimates)) == pytest.approx(1.0, abs=4 * 1.2845 / math.sqrt(n * 4000))
    # the SD of an SD estimate from 4000 replicates has relative SE 1/√(2·3999) ≈ 1.1 %
    observed = float(np.std(estimates, ddof=1))
    expected = float(sigma_white_se(1.0, n - 1))
    assert observed == pytest.approx(expected, rel=4 / math.sqrt(2 * (replicates - 1)) + 0.01)
    # and the iid formula (without the correlation of consecutive differences) is too small
    assert observed > 1.02 * 1.1664 / math.sqrt(n - 1)


def test_sigma_white_is_the_value_each_sensor_of_a_table_was_given() -> None:
    sigmas = {"c01": 1.0, "c02": 3.0, "c03": 0.3}
    n = 4000
    summary = noise_summary(_table(sigmas, n)).set_index("chamber")
    for chamber, sigma in sigmas.items():
        row = summary.loc[chamber]
        assert row["n"] == n
        assert row["dt_s"] == pytest.approx(DT_S)
        assert row["n_segments"] == 1
        assert abs(row["sigma_white_ppm"] - sigma) < 4 * row["sigma_white_se_ppm"]
        # ADEV at one step: relative SE 1/√(2·edf)
        rel = 1 / math.sqrt(2 * float(allan_edf_white(n, 1)))
        assert row["adev_1step_ppm"] == pytest.approx(sigma, rel=4 * rel)
        rel60 = 1 / math.sqrt(2 * float(allan_edf_white(n, 20)))
        assert row["tau_s"] == pytest.approx(60.0)
        assert row["adev_60s_ppm"] == pytest.approx(sigma / math.sqrt(20), rel=4 * rel60)
        assert abs(row["lag1_autocorr"]) < 4 / math.sqrt(n)


# --- drift and spikes ---------------------------------------------------------------------


def test_linear_drift_leaves_sigma_white_unchanged_and_is_measured() -> None:
    n, sigma = 5000, 2.0
    t_s = np.arange(n) * DT_S
    noise = np.random.default_rng(3).normal(0.0, sigma, n)
    flat = sigma_white(420.0 + noise)
    drifting = 420.0 + 30.0 * t_s / 3600.0 + noise  # 30 ppm h⁻¹, 125 ppm over the record
    # a constant added to every difference drops out of the MAD exactly
    assert sigma_white(drifting) == pytest.approx(flat, rel=1e-9)
    # slope SE of a line through white noise: σ/√Σ(t − t̄)²
    slope_se = sigma / math.sqrt(float(np.sum((t_s - t_s.mean()) ** 2))) * 3600.0
    assert drift_per_h(t_s, drifting) == pytest.approx(30.0, abs=4 * slope_se)
    # the plain standard deviation is ruined by the drift: the test can tell
    assert np.std(drifting) > 10 * sigma


def test_slow_wander_does_not_change_sigma_white_beyond_its_error() -> None:
    n, sigma = 5000, 2.0
    t_s = np.arange(n) * DT_S
    wander = 25.0 * np.sin(2 * np.pi * t_s / 7200.0)  # the room air, ±25 ppm over 2 h
    y = 420.0 + wander + np.random.default_rng(4).normal(0.0, sigma, n)
    # the wander changes consecutive readings by at most 25·2π·3/7200 = 0.065 ppm
    assert abs(sigma_white(y) - sigma) < 4 * float(sigma_white_se(sigma, n - 1))
    assert np.std(y) > 5 * sigma


def test_a_few_spikes_move_sigma_white_only_by_the_contamination_bias() -> None:
    n, sigma = 20_000, 1.0
    rng = np.random.default_rng(5)
    y = 420.0 + rng.normal(0.0, sigma, n)
    spikes = rng.choice(np.arange(1, n - 1), size=n // 200, replace=False)  # 0.5 %
    y[spikes] += 200.0
    # each spike spoils two differences: a fraction ε = 2·0.005 of |Δ| is huge, so the
    # median of |Δ| becomes the clean distribution's quantile 0.5/(1 − ε)
    eps = 2 * len(spikes) / (n - 1)
    bias = stats.norm.ppf(0.5 + 0.25 / (1 - eps)) / stats.norm.ppf(0.75)
    estimate = sigma_white(y)
    assert estimate == pytest.approx(sigma * bias, abs=4 * float(sigma_white_se(sigma, n - 1)))
    assert np.std(np.diff(y)) / math.sqrt(2) > 10 * sigma  # the plain estimator is ruined


# --- correlated noise ---------------------------------------------------------------------


@pytest.mark.parametrize("phi", [0.3, 0.7])
def test_ar1_noise_gives_its_lag1_autocorrelation(phi: float) -> None:
    n = 20_000
    rng = np.random.default_rng(6)
    e = rng.normal(0.0, 1.0, n)
    y = np.empty(n)
    y[0] = e[0] / math.sqrt(1 - phi**2)
    for i in range(1, n):
        y[i] = phi * y[i - 1] + e[i]
    t_s = np.arange(n) * DT_S
    y = 420.0 + 5.0 * t_s / 3600.0 + y  # with a drift that the line removes
    # SE of the lag-1 sample autocorrelation of AR(1): √((1 − φ²)/n) (Bartlett)
    assert lag1_autocorrelation(t_s, y) == pytest.approx(phi, abs=4 * math.sqrt((1 - phi**2) / n))


# --- Allan deviation ----------------------------------------------------------------------


def test_allan_deviation_equals_the_term_by_term_definition() -> None:
    y = np.random.default_rng(7).normal(420.0, 2.0, 157)
    ms = np.array([1, 2, 3, 7, 20, 78])
    adev, n_terms = allan_deviation(y, ms)
    for value, k, m in zip(adev, n_terms, ms, strict=True):
        assert value == pytest.approx(_naive_adev(y, int(m)), rel=1e-10)
        assert k == len(y) - 2 * m + 1
    too_long, none = allan_deviation(y, np.array([79]))
    assert np.isnan(too_long[0])
    assert none[0] == 0


def test_allan_deviation_of_white_noise_falls_as_tau_to_the_minus_half() -> None:
    n, sigma = 50_000, 3.0
    y = np.random.default_rng(8).normal(420.0, sigma, n)
    ms = np.array([1, 2, 4, 8, 16, 32, 64, 128])
    adev, _ = allan_deviation(y, ms)
    rel_se = 1 / np.sqrt(2 * allan_edf_white(n, ms))
    np.testing.assert_array_less(np.abs(adev * np.sqrt(ms) / sigma - 1), 4 * rel_se)


def test_allan_edf_formula_matches_monte_carlo() -> None:
    """Riley's white-FM edf: Var(σ̂²)/σ⁴ = 2/edf, checked on 3000 series of 300 readings."""
    n, replicates = 300, 3000
    y = np.random.default_rng(9).normal(0.0, 1.0, (replicates, n))
    for m in (1, 5, 30):
        avar = np.array([allan_deviation(row, np.array([m]))[0][0] ** 2 for row in y]) * m
        observed_edf = 2 / float(np.var(avar, ddof=1))
        # the variance of a variance from 3000 samples of a near-χ² has relative SE
        # √((κ − 1)/3000)·…; with κ ≈ 3 + 12/edf this is < 3.5 % for these edf
        assert observed_edf == pytest.approx(float(allan_edf_white(n, m)), rel=4 * 0.035)


def test_random_walk_allan_deviation_rises_as_tau_to_the_plus_half() -> None:
    """Not white: a random walk's Allan deviation grows — the plot shows where noise stops
    averaging down. For y = Σe (σ_e = 1): σ_A²(m) = (2m² + 1)/(6m)."""
    n, m = 20_000, 100
    y = 420.0 + np.cumsum(np.random.default_rng(10).normal(0.0, 1.0, n))
    adev, _ = allan_deviation(y, np.array([1, m]))
    # random-walk edf (Riley 2008 §5.3.3): (N − 2)/m · ((N − 1)² − 3m(N − 1) + 4m²)/(N − 3)²
    big_n = n + 1
    edf = (big_n - 2) / m * ((big_n - 1) ** 2 - 3 * m * (big_n - 1) + 4 * m**2) / (big_n - 3) ** 2
    assert adev[1] == pytest.approx(math.sqrt((2 * m**2 + 1) / (6 * m)), rel=4 / math.sqrt(2 * edf))
    assert adev[0] == pytest.approx(math.sqrt(0.5), rel=4 / math.sqrt(n))


# --- gaps ---------------------------------------------------------------------------------


def test_gaps_split_the_series_and_nothing_is_taken_across_them() -> None:
    n, sigma = 3000, 1.0
    rng = np.random.default_rng(11)
    t_s = np.arange(n) * DT_S
    t_s[1000:] += 600.0  # a 10-min gap
    t_s[2000:] += 30.0  # an 11-step gap
    t_s[2500:] += 6.0  # a 3-step pause: not a gap (> 3× median is)
    y = 420.0 + rng.normal(0.0, sigma, n)
    y[1000:2000] += 150.0  # the sensor restarted with another offset
    segment, dt_s = split_at_gaps(t_s)
    assert dt_s == DT_S
    assert segment.tolist() == [0] * 1000 + [1] * 1000 + [2] * 1000

    frame = pd.DataFrame({"time": t_s, "chamber": "c01", "co2_ppm": y})
    row = noise_summary(frame).iloc[0]
    assert row["n_segments"] == 3
    edf = float(np.sum(allan_edf_white(np.array([1000, 1000, 1000]), 1)))
    assert row["adev_1step_ppm"] == pytest.approx(sigma, rel=4 / math.sqrt(2 * edf))
    assert abs(row["lag1_autocorr"]) < 4 / math.sqrt(n)
    # the same readings taken as one unbroken series see the steps
    adev_joined, _ = allan_deviation(y, np.array([1]))
    assert adev_joined[0] > 1.5 * sigma
    assert lag1_autocorrelation(np.arange(n) * DT_S, y) > 0.5
    # and segments are pooled: at m = 400 only starts inside one segment count
    _, n_terms = allan_deviation(y, np.array([400]), segment=segment)
    assert n_terms[0] == 3 * (1000 - 800 + 1)


def test_missing_values_are_dropped_and_counted() -> None:
    frame = _table({"c01": 1.0}, 500)
    frame.loc[[10, 11, 300], "co2_ppm"] = np.nan
    row = noise_summary(frame).iloc[0]
    assert row["n"] == 497
    assert row["n_missing"] == 3


# --- bad input ----------------------------------------------------------------------------


def test_non_monotonic_time_is_refused_naming_the_series() -> None:
    with pytest.raises(ValueError, match=r"c07: time is not strictly increasing at reading 3"):
        split_at_gaps([0.0, 3.0, 6.0, 5.0, 9.0], name="c07")
    frame = _table({"c01": 1.0, "c02": 1.0}, 100)
    times = frame["time"].to_numpy().copy()
    times[150] = times[151]  # two readings of c02 at once
    frame["time"] = times
    with pytest.raises(ValueError, match=r"chamber 'c02': time is not strictly increasing"):
        noise_summary(frame)


def test_too_short_series_are_refused_naming_the_group() -> None:
    frame = pd.concat([_table({"c01": 1.0}, 100), _table({"c09": 1.0}, 12)])
    with pytest.raises(ValueError, match=r"chamber 'c09': 12 readings of 'co2_ppm', need at least"):
        noise_summary(frame)
    with pytest.raises(ValueError, match=r"c03: need at least 2 readings, got 1"):
        split_at_gaps([1.0], name="c03")
    with pytest.raises(ValueError, match=r"need at least 2 consecutive differences"):
        sigma_white([1.0, 2.0])


def test_bad_columns_are_named() -> None:
    frame = _table({"c01": 1.0}, 100)
    with pytest.raises(ValueError, match=r"column 'co2' not found"):
        noise_summary(frame, column="co2")
    bad = frame.astype({"co2_ppm": object})
    bad.loc[42, "co2_ppm"] = "4x1"
    with pytest.raises(ValueError, match=r"column 'co2_ppm', line 43: not a number \('4x1'\)"):
        noise_summary(bad)
    bad_time = frame.assign(time=frame["time"].astype(str))
    bad_time.loc[7, "time"] = "yesterday"
    with pytest.raises(ValueError, match=r"column 'time', line 8: not an ISO 8601 time"):
        noise_summary(bad_time)
    with pytest.raises(ValueError, match=r"value of reading 2 is not finite"):
        allan_deviation([1.0, 2.0, np.nan, 3.0], np.array([1]))
    with pytest.raises(ValueError, match=r"m must be integers >= 1"):
        allan_deviation([1.0, 2.0, 3.0], np.array([0]))


# --- properties ---------------------------------------------------------------------------


def _noisy(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t_s = np.arange(n) * DT_S + rng.uniform(-0.2, 0.2, n)
    t_s[n // 2 :] += 100.0  # one gap
    y = 420.0 + 0.01 * t_s + rng.standard_t(5, n)  # drift, heavy-ish tails
    return t_s, y


def _stats(t_s: np.ndarray, y: np.ndarray) -> dict[str, float]:
    frame = pd.DataFrame({"time": t_s, "chamber": "c", "co2_ppm": y})
    row = noise_summary(frame).iloc[0]
    keys = ["sigma_white_ppm", "adev_1step_ppm", "adev_60s_ppm", "lag1_autocorr", "drift_ppm_h"]
    return {k: float(row[k]) for k in keys}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.floats(0.01, 100.0) | st.floats(-100.0, -0.01),
)
def test_scaling_the_readings_by_k_scales_sigma_and_allan_by_abs_k(seed: int, k: float) -> None:
    t_s, y = _noisy(seed)
    base, scaled = _stats(t_s, y), _stats(t_s, k * y)
    for name in ("sigma_white_ppm", "adev_1step_ppm", "adev_60s_ppm"):
        assert scaled[name] == pytest.approx(abs(k) * base[name], rel=1e-9)
    assert scaled["drift_ppm_h"] == pytest.approx(k * base["drift_ppm_h"], rel=1e-9)
    assert scaled["lag1_autocorr"] == pytest.approx(base["lag1_autocorr"], rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(-1e4, 1e4))
def test_adding_a_constant_changes_nothing(seed: int, c: float) -> None:
    t_s, y = _noisy(seed)
    base, shifted = _stats(t_s, y), _stats(t_s, y + c)
    for name, value in base.items():
        assert shifted[name] == pytest.approx(value, rel=1e-7, abs=1e-9), name


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), order_seed=st.integers(0, 10_000))
def test_row_order_of_the_long_table_does_not_matter(seed: int, order_seed: int) -> None:
    frame = _table({"c01": 1.0, "c02": 2.0, "AA:03": 0.5}, 200, seed=seed, drift_ppm_h=3.0)
    frame.loc[frame.index[::37], "co2_ppm"] = np.nan
    shuffled = frame.sample(frac=1.0, random_state=order_seed)
    pd.testing.assert_frame_equal(noise_summary(frame), noise_summary(shuffled))
    pd.testing.assert_frame_equal(allan_table(frame), allan_table(shuffled))


# --- command line -------------------------------------------------------------------------

runner = CliRunner()


def test_cli_prints_each_sensor_and_the_fleet_median(tmp_path: Path) -> None:
    sigmas = {"c01": 1.0, "c02": 1.2, "c03": 3.0}
    n = 3000
    frame = _table(sigmas, n, seed=12, drift_ppm_h=2.0)
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = frame.rename(columns={"chamber": "Chamber"})  # names match case-insensitively
    source = tmp_path / "calibration.csv"
    frame.to_csv(source, index=False)
    out, plot = tmp_path / "noise.csv", tmp_path / "allan.png"
    result = runner.invoke(
        app, ["precision", str(source), "-o", str(out), "--plot", str(plot)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    for chamber in sigmas:
        assert chamber in result.output
    table = pd.read_csv(out)
    assert table["chamber"].tolist() == ["c01", "c02", "c03"]
    median = float(np.median(table["sigma_white_ppm"]))
    # the fleet median is c02's σ_white; printed, and suggested for both options
    assert median == pytest.approx(1.2, abs=4 * float(sigma_white_se(1.2, n - 1)))
    assert f"median σ_white over 3 sensor(s): {median:.3g} ppm" in result.output
    assert f"--precision-ppm {median:.2g}" in result.output
    assert f"--co2-noise-ppm {median:.2g}" in result.output
    assert (tmp_path / "noise.allan.csv").is_file()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_phase_filter_turns_closed_periods_into_gaps(tmp_path: Path) -> None:
    frame = _table({"c01": 1.0}, 1200, seed=13)
    closed = (np.arange(1200) // 100) % 2 == 1
    frame["phase"] = np.where(closed, "closed", "open")
    frame.loc[closed, "co2_ppm"] += np.linspace(0, 80, int(closed.sum()))  # a closure's rise
    source = tmp_path / "records.parquet"
    frame.to_parquet(source)
    out = tmp_path / "noise.parquet"
    result = runner.invoke(app, ["precision", str(source), "--phase", "open", "-o", str(out)])
    assert result.exit_code == 0, result.output
    row = pd.read_parquet(out).iloc[0]
    assert row["n"] == 600
    assert row["n_segments"] == 6


def test_cli_errors_name_the_file_and_column(tmp_path: Path) -> None:
    source = tmp_path / "calibration.csv"
    frame = _table({"c01": 1.0}, 100)
    frame.to_csv(source, index=False)
    result = runner.invoke(app, ["precision", str(source), "--column", "co2"])
    assert result.exit_code == 1
    assert f"{source}:1: field 'co2': column not found" in result.output
    assert "--column" in result.output
    bad = frame.astype({"co2_ppm": object})
    bad.loc[5, "co2_ppm"] = "oops"
    bad.to_csv(source, index=False)
    result = runner.invoke(app, ["precision", str(source)])
    assert result.exit_code == 1
    assert f"{source}: column 'co2_ppm', line 7: not a number ('oops')" in result.output
    short = tmp_path / "short.csv"
    _table({"c01": 1.0}, 5).to_csv(short, index=False)
    result = runner.invoke(app, ["precision", str(short)])
    assert result.exit_code == 1
    assert "chamber 'c01': 5 readings of 'co2_ppm'" in result.output


def test_cli_help_keeps_units_in_brackets() -> None:
    result = runner.invoke(app, ["precision", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "[s]" in result.output
    assert "[ppm]" in result.output
