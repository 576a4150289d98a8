"""soilflux on the simulator's samples vs the simulator's truth, in-process.

The issue's target (±5 % for ≥ 95 % of valid night closures) with the datasheet sensor
is in ``test_mqtt.py`` (through Mosquitto). Here the same chain with a noise-free CO2
sensor (with and without its 20-s response) checks that everything between the chamber
and soilflux —
firmware timing, protocol, store-and-forward, segmentation, the wet/dry, pressure and
temperature conversions — adds no error of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from fluxfleet.flux_options import FLEET_FLUX_OPTIONS
from fluxfleet.sim.collect import Gather
from fluxfleet.sim.compare import Comparison, compare
from fluxfleet.sim.fleet import Fleet, FleetConfig
from fluxfleet.sim.sensors import SensorSpec

START = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC).timestamp()


def night_run(
    chambers: int, hours: float, seed: int, noise_ppm: float, tau_s: float = 20.0
) -> Comparison:
    """A fleet from 20:00 in September, in-process, compared with the fleet's options told
    the sensor's time constant (as the platform is: measured per device from the flushes;
    the shared-κ model takes the lag as known)."""
    gather = Gather()
    spec = SensorSpec(co2_noise_ppm=noise_ppm, scd30_tau_s=tau_s)
    cfg = FleetConfig(
        chambers=chambers, start_s=START, duration_s=hours * 3600.0, seed=seed, sensors=spec
    )
    fleet = Fleet(cfg, [], None, gather)
    fleet.run()
    options = replace(FLEET_FLUX_OPTIONS, sensor_lag_s=tau_s)
    return compare(gather.samples(), gather.cycles(), fleet.truth.closures(), options)


@pytest.mark.slow
@pytest.mark.parametrize("tau_s", [1e-6, 20.0], ids=["no-lag", "scd30-lag"])
def test_noise_free_sensor_chain_meets_the_issue_target(tau_s: float) -> None:
    """No noise: the chain (and soilflux's handling of the SCD30's 20-s lag) adds < 5 %."""
    cmp = night_run(12, 4, seed=4, noise_ppm=0.0, tau_s=tau_s)
    night = cmp.night_valid()
    assert len(night) >= 12 * 22
    assert cmp.within(0.05) >= 0.95
    # no systematic bias (the first closure after each boot reads −4 %: the firmware gives
    # the SCD30 its pressure compensation only after the first flush)
    assert abs(float(night["rel_error"].median())) < 0.015


@pytest.mark.slow
def test_reported_standard_errors_cover_the_truth_with_the_scd30_model() -> None:
    """With the datasheet sensor (3 ppm, 20-s lag) the fleet's flux (soilflux's
    chamber-shared HM) is within two of its own standard errors of the truth for ≥ 90 % of
    valid night closures (honest errors: 95.4 % within 2 SE, 68.3 % within 1 SE; measured
    here 94.9 % and 67.6 %) — the uncertainty soilflux reports is the one the closures
    have, even where ±5 % is out of reach (66.8 % here; benchmarks/RESULTS.md)."""
    cmp = night_run(12, 8, seed=7, noise_ppm=3.0)
    assert len(cmp.night_valid()) >= 12 * 40
    assert cmp.within_se(2.0) >= 0.90
    assert cmp.within_se(1.0) >= 0.60


@pytest.mark.slow
def test_a_one_ppm_sensor_meets_the_issue_target() -> None:
    """The issue's target (±5 % for ≥ 95 % of valid night closures), met where the sensor
    allows it: 24 chambers × 8 night hours, SCD30 model with 1 ppm of white noise per 3-s
    reading (measured 97.3 %; 96.6 % with seed 5). With the datasheet's 3 ppm no estimator
    of one closure's flux can reach it (≤ 81 % for an ideal line; test_mqtt.py, xfail)."""
    cmp = night_run(24, 8, seed=7, noise_ppm=1.0)
    night = cmp.night_valid()
    assert len(night) > 0.8 * 24 * 47
    assert (night["model"] == "hm_shared").all()
    assert cmp.within(0.05) >= 0.95
    assert abs(float(night["rel_error"].median())) < 0.01
