"""Sensor models: SCD30 response and noise, calibration offset and FRC, BH1750."""

from __future__ import annotations

import numpy as np
import pytest
from fluxfleet.sim.sensors import (
    SCD30_TAU_S,
    SensorBank,
    SensorSpec,
    first_order_lag,
)


def test_step_response_reaches_63_percent_after_tau() -> None:
    y = np.array([400.0])
    x0 = np.array([400.0])
    x1 = np.array([1400.0])
    y = first_order_lag(y, x0, x1, 1e-9, SCD30_TAU_S)  # the step
    for _ in range(20):
        y = first_order_lag(y, x1, x1, 1.0, SCD30_TAU_S)
    assert float(y[0]) == pytest.approx(400.0 + 1000.0 * (1 - np.exp(-1.0)), rel=1e-6)


def test_ramp_response_lags_by_tau() -> None:
    """After the transient a first-order sensor reads a ramp τ seconds late."""
    slope = 0.3  # ppm/s
    y = np.array([450.0])
    for k in range(100):  # 300 s in 3-s steps, exact for linear input
        x0 = 450.0 + slope * 3.0 * k
        y = first_order_lag(y, np.array([x0]), np.array([x0 + 3.0 * slope]), 3.0, SCD30_TAU_S)
    expected = 450.0 + slope * (300.0 - SCD30_TAU_S) + slope * SCD30_TAU_S * np.exp(-300 / 20)
    assert float(y[0]) == pytest.approx(expected, abs=1e-6)


def _bank(n: int, seed: int = 0, **spec: float) -> SensorBank:
    bank = SensorBank(n, np.random.default_rng(seed), SensorSpec(**spec))
    bank.advance(3.0, np.full(n, 450.0))
    return bank


def test_scd30_noise_and_factory_offsets_follow_the_spec() -> None:
    bank = _bank(4000)
    reads = np.array([bank.read(np.full(4000, 0.015), 20.0, 970.0, 0.0).co2_ppm for _ in range(5)])
    # white noise: σ = 3 ppm between consecutive readings of one sensor
    noise = np.std(np.diff(reads, axis=0)) / np.sqrt(2)
    assert noise == pytest.approx(3.0, rel=0.05)
    # factory offset: σ = 30 ppm across devices
    assert np.std(reads.mean(axis=0) - 450.0) == pytest.approx(30.0, rel=0.08)


def test_forced_recalibration_sets_reading_to_reference_with_fleet_spread() -> None:
    n = 3000
    bank = _bank(n, seed=2)
    for i in range(n):
        bank.forced_recalibration(i, 420.0)
    assert bank.calibrated.all()
    r = np.array([bank.read(np.full(n, 0.015), 20.0, 970.0, 0.0).co2_ppm for _ in range(4)])
    # a fleet FRC in 450-ppm air reads ≈ 420 ppm afterwards, spread 15 ppm (seed: 14–17)
    assert float(np.mean(r)) == pytest.approx(420.0, abs=1.5)
    assert float(np.std(r.mean(axis=0))) == pytest.approx(15.0, rel=0.1)


def test_scd30_is_self_heated_and_reads_rh_at_its_own_temperature() -> None:
    bank = _bank(500, scd_t_offset_c=0.0, rh_offset_pct=0.0, baro_t_offset_c=0.0)
    r = bank.read(np.full(500, 0.0152), 20.0, 970.0, 0.0)
    assert float(np.mean(r.scd_t_c - r.air_t_c)) == pytest.approx(1.5, abs=0.02)
    assert float(np.mean(r.rh_pct)) < 63.0  # 65 % at 20 °C is < 63 % at 21.5 °C


def test_bh1750_resolution_range_and_gain_spread() -> None:
    bank = _bank(2000)
    r = bank.read(np.full(2000, 0.015), 20.0, 970.0, 1234.4)
    assert np.all(r.lux == np.round(r.lux))
    assert float(np.std(r.lux / 1234.4)) == pytest.approx(0.07, rel=0.1)
    bright = bank.read(np.full(2000, 0.015), 20.0, 970.0, 90_000.0)
    assert bright.lux.max() == 65_535.0
    dark = bank.read(np.full(2000, 0.015), 20.0, 970.0, 0.0)
    assert np.all(dark.lux == 0.0)


def test_pressure_sensor_near_970_hpa() -> None:
    bank = _bank(1000)
    r = bank.read(np.full(1000, 0.015), 20.0, 970.0, 0.0)
    assert float(np.std(r.pressure_hpa - 970.0)) == pytest.approx(0.5, rel=0.12)
