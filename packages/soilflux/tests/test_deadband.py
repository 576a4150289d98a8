"""Automatic dead band: the rule documented in soilflux.deadband."""

from __future__ import annotations

import numpy as np
import pytest
from soilflux.deadband import auto_deadband
from soilflux.synthetic import lagged_curve

RNG = np.random.default_rng(7)
T = np.tile(np.arange(0.0, 241.0, 3.0), (100, 1))


def _records(lag_s: float, noise_ppm: float, kappa: float = 0.0) -> np.ndarray:
    k = T.shape[0]
    c = lagged_curve(T, np.full(k, 420.0), np.full(k, 0.3), np.full(k, kappa), lag_s)
    return c + RNG.normal(0.0, noise_ppm, T.shape)


def test_straight_record_keeps_the_smallest_deadband() -> None:
    d = auto_deadband(T, _records(0.0, 2.0), np.ones(T.shape, bool), min_s=0, max_s=90)
    assert np.all(d == 0.0)


def test_sensor_lag_moves_the_start_past_the_transient() -> None:
    d = auto_deadband(T, _records(20.0, 0.5), np.ones(T.shape, bool), min_s=0, max_s=90)
    assert 10.0 <= np.median(d) <= 60.0
    assert np.all(d > 0)


def test_range_is_respected_and_candidates_are_on_the_grid() -> None:
    d = auto_deadband(T, _records(20.0, 0.5), np.ones(T.shape, bool), min_s=30, max_s=45)
    assert np.all((d >= 30) & (d <= 45))
    assert np.all(np.isin(d, 30 + 3 * np.arange(6)))


def test_no_usable_samples_gives_min_s() -> None:
    mask = np.zeros(T.shape, bool)
    d = auto_deadband(T, _records(0.0, 1.0), mask, min_s=12.0, max_s=60.0)
    assert np.all(d == 12.0)


def test_window_end_limits_the_candidates() -> None:
    c = _records(20.0, 0.5)
    end = np.full(T.shape[0], 60.0)  # only 60 s of record: late starts leave < 5 samples
    d = auto_deadband(T, c, np.ones(T.shape, bool), min_s=0, max_s=90, end_s=end)
    assert np.all(d <= 60.0 - 3 * 4)


def test_bad_range_is_refused() -> None:
    with pytest.raises(ValueError, match="min_s"):
        auto_deadband(T, _records(0.0, 1.0), np.ones(T.shape, bool), min_s=50, max_s=10)
