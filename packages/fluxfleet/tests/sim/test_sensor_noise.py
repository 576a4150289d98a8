"""Round trip: the simulator's SCD30s in a calibration room → soilflux.precision → the noise.

The fleet calibration session (docs/fleet/hardware.md) leaves every chamber in one room of
fresh air after a forced recalibration to 420 ppm. Simulated with the SensorBank that the
fleet simulator uses, `soilflux.precision` must give back the `co2_noise_ppm` the sensors
were built with — the number a user then passes to `fluxfleet sim --co2-noise-ppm`.
Tolerances are 4 standard errors of the estimators at the record's length.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fluxfleet.sim.sensors import SensorBank, SensorSpec
from soilflux.precision import allan_edf_white, noise_summary, sigma_white_se

DT_S = 3.0
N_STEPS = 600  # 30 minutes of 3-s readings
N_CHAMBERS = 8
T0 = pd.Timestamp("2024-03-01T08:00:00Z")


def calibration_room(
    co2_noise_ppm: float, *, seed: int, wander_ppm: float = 0.0, substeps: int = 3
) -> pd.DataFrame:
    """Readings of N_CHAMBERS SCD30s in one room after an FRC to 420 ppm, as a long table.

    The room air is 430 ppm, optionally wandering by ±``wander_ppm`` with a 20-min period
    (ventilation); the sensors follow it through their 20-s response, advanced at
    ``substeps`` physics steps per reading.
    """
    bank = SensorBank(
        N_CHAMBERS, np.random.default_rng(seed), SensorSpec(co2_noise_ppm=co2_noise_ppm)
    )
    h2o = np.full(N_CHAMBERS, 0.012)

    def room(t_s: float) -> np.ndarray:
        return np.full(N_CHAMBERS, 430.0 + wander_ppm * math.sin(2 * math.pi * t_s / 1200.0))

    bank.advance(DT_S, room(0.0))
    for device in range(N_CHAMBERS):
        bank.forced_recalibration(device, 420.0)
    rows: list[tuple[pd.Timestamp, str, float]] = []
    for k in range(N_STEPS):
        for j in range(1, substeps + 1):
            bank.advance(DT_S / substeps, room(k * DT_S + j * DT_S / substeps))
        co2 = bank.read(h2o, 20.0, 970.0, 0.0).co2_ppm
        time = T0 + pd.Timedelta(seconds=(k + 1) * DT_S)
        rows.extend((time, f"c{i:02d}", float(co2[i])) for i in range(N_CHAMBERS))
    return pd.DataFrame(rows, columns=["time", "chamber", "co2_ppm"])


@pytest.mark.parametrize("co2_noise_ppm", [1.0, 3.0])
def test_precision_recovers_the_simulated_scd30_noise(co2_noise_ppm: float) -> None:
    summary = noise_summary(calibration_room(co2_noise_ppm, seed=int(co2_noise_ppm * 10)))
    assert len(summary) == N_CHAMBERS
    assert (summary["n"] == N_STEPS).all()
    assert (summary["dt_s"] == DT_S).all()
    se = float(sigma_white_se(co2_noise_ppm, N_STEPS - 1))
    for _, row in summary.iterrows():
        assert abs(row["sigma_white_ppm"] - co2_noise_ppm) < 4 * se, row["chamber"]
        rel = 1 / math.sqrt(2 * float(allan_edf_white(N_STEPS, 1)))
        assert row["adev_1step_ppm"] == pytest.approx(co2_noise_ppm, rel=4 * rel)
        assert abs(row["lag1_autocorr"]) < 4 / math.sqrt(N_STEPS)
    # the fleet median: SE of a median of N normal estimates ≈ 1.2533·se/√N
    median = float(np.median(summary["sigma_white_ppm"]))
    assert median == pytest.approx(co2_noise_ppm, abs=4 * 1.2533 * se / math.sqrt(N_CHAMBERS))


def test_the_two_noise_levels_are_told_apart() -> None:
    """1 ppm (the fleet can reach its target) and 3 ppm (it cannot) do not overlap."""
    low = noise_summary(calibration_room(1.0, seed=3))["sigma_white_ppm"]
    high = noise_summary(calibration_room(3.0, seed=4))["sigma_white_ppm"]
    assert float(low.max()) < float(high.min())


def test_room_air_wander_does_not_inflate_the_measured_noise() -> None:
    """Ventilation moves the room's CO2 by ±15 ppm over 20 min: the readings' spread grows,
    the first-difference noise estimate does not."""
    noise = 1.0
    table = calibration_room(noise, seed=5, wander_ppm=15.0)
    summary = noise_summary(table)
    se = float(sigma_white_se(noise, N_STEPS - 1))
    for _, row in summary.iterrows():
        # wander changes consecutive readings by δ ≤ 15·2π·3/1200 = 0.24 ppm: Var(Δy) =
        # 2σ² + δ² ≤ 2 + 0.06 ppm², σ_white up by ≤ 1.4 %, well inside 4 SE (21 %)
        assert abs(row["sigma_white_ppm"] - noise) < 4 * se, row["chamber"]
    spread = table.groupby("chamber")["co2_ppm"].std()
    assert (spread > 5 * noise).all()  # the plain standard deviation would be ruined
    # …and the wander shows where it belongs: correlated readings, Allan deviation at 60 s
    # well above white noise's σ/√20
    assert (summary["lag1_autocorr"] > 0.5).all()
    assert (summary["adev_60s_ppm"] > 3 * summary["adev_white_60s_ppm"]).all()
