"""The record-shape flags: a clock step inside the window, a flux that stopped (soilflux.qc_record).

The fleet simulator's demo had a clock-skewed closure read −43 % with only ``gap`` (which
drops nothing) and a pot that clogged 33 s into a closure read 0.20 against 1.61 with no flag
at all: ``gap`` cannot tell a hole in the data from a clock that stepped, and ``clogged``
looked only at the selected flux being near zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from soilflux.fit._batch import make_batch
from soilflux.pipeline import compute_fluxes
from soilflux.qc import DEFAULT_DROP
from soilflux.qc_record import clock_step, flux_stopped
from soilflux.synthetic import accuracy_closures, synthetic_closures


def _records(
    n: int, seed: int, noise: float = 3.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3-s readings over 270 s of straight rises (0.1–0.5 ppm/s) and their noise."""
    rng = np.random.default_rng(seed)
    t = np.tile(np.arange(0.0, 271.0, 3.0), (n, 1))
    slope = rng.uniform(0.1, 0.5, n)[:, None]
    return t, 450.0 + slope * t, rng.normal(0.0, noise, t.shape), slope


def test_a_clock_step_is_told_from_a_data_gap() -> None:
    t, c, noise, slope = _records(200, 1)
    keep = (t <= 48.0) | (t >= 141.0)  # a 90-s hole in the elapsed times
    # a data gap: the times are right, the gas rose meanwhile
    gap = make_batch(t, c + noise, keep)
    # a clock step: the device clock jumped +90 s after t = 48 s; for the gas no time passed
    c_step = np.where(t >= 141.0, c - slope * 90.0, c)
    step = make_batch(t, c_step + noise, keep)
    assert clock_step(gap).mean() < 0.01
    assert clock_step(step).mean() > 0.95


def test_no_clock_step_without_a_hole_or_without_a_slope() -> None:
    t, c, noise, _ = _records(100, 2)
    assert not clock_step(make_batch(t, c + noise)).any()
    flat = make_batch(t, 450.0 + noise, (t <= 48.0) | (t >= 141.0))
    assert clock_step(flat).mean() < 0.02  # a flat record cannot tell the two apart


def test_a_flux_that_stopped_mid_closure_is_told_from_a_saturating_curve() -> None:
    rng = np.random.default_rng(3)
    k = 200
    t = np.tile(np.arange(0.0, 181.0, 3.0), (k, 1))
    stop = rng.uniform(25.0, 60.0, (k, 1))
    co2_stopped = 450.0 + 0.3 * np.minimum(t, stop) + rng.normal(0, 3.0, t.shape)
    h2o_stopped = 15.0 + 0.01 * np.minimum(t, stop) + rng.normal(0, 0.02, t.shape)
    mask = np.ones_like(t, dtype=bool)
    # measured 73 % at 3 ppm (an early stop leaves little rise to compare with)
    assert flux_stopped(t, co2_stopped, h2o_stopped, mask).mean() > 0.6
    # a saturating HM curve (κT = 3): CO2 slows, water keeps rising
    kappa = 3.0 / 180.0
    co2_curve = 450.0 + 0.3 * -np.expm1(-kappa * t) / kappa + rng.normal(0, 3.0, t.shape)
    h2o_rising = 15.0 + 0.01 * t + rng.normal(0, 0.02, t.shape)
    assert not flux_stopped(t, co2_curve, h2o_rising, mask).any()
    # no H2O record: no judgement
    assert not flux_stopped(t, co2_stopped, np.full_like(t, np.nan), mask).any()


def test_the_flags_reach_the_output_and_drop_the_closure() -> None:
    syn = synthetic_closures(40, seed=4, flux_umol_m2_s=(3.0, 6.0), kappa_s=(0, 0), noise_ppm=1.0)
    s = syn.samples.copy()
    # closures 0–9: the clock stepped +90 s at t = 60 s (samples after it read 90 s late)
    late = (s["closure"] < 10) & (s["elapsed_s"] > 60.0)
    s.loc[late, "elapsed_s"] += 90.0
    closures = syn.closures.copy()
    closures["end"] = closures["end"] + pd.to_timedelta(90, unit="s")
    # closures 10–19: the pot clogged at 60 s (CO2 and H2O stop rising)
    stopped = s["closure"].between(10, 19)
    first = s[stopped].groupby("closure")["elapsed_s"].transform("min")
    at = s.loc[stopped, "elapsed_s"].clip(upper=60.0)
    ratio = (at - first) / (s.loc[stopped, "elapsed_s"] - first).where(lambda x: x > 0, 1.0)
    for col in ("co2_ppm", "h2o_mmol_mol"):
        base = s[stopped].groupby("closure")[col].transform("first")
        s.loc[stopped, col] = base + (s.loc[stopped, col] - base) * ratio.where(
            s.loc[stopped, "elapsed_s"] > 60.0, 1.0
        )
    out = compute_fluxes(s, closures)
    flags = out["flags"].astype(str)
    assert flags[:10].str.contains("clock_skew").all()
    assert flags[10:20].str.contains("clogged").all()
    assert not flags[20:].str.contains("clock_skew|clogged").any()
    assert "clock_skew" in DEFAULT_DROP
    assert "clogged" in DEFAULT_DROP


def test_no_false_record_flags_on_ordinary_closures() -> None:
    for population in ("curved", "straight"):
        out = compute_fluxes(*_frames(accuracy_closures(population, 3.0, 300, 71)))
        flags = out["flags"].astype(str)
        assert not flags.str.contains("clock_skew").any()
        assert flags.str.contains("clogged").mean() < 0.01


def _frames(syn: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    return syn.samples, syn.closures  # type: ignore[attr-defined]
