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

import pytest
from fluxfleet.sim.collect import Gather
from fluxfleet.sim.compare import compare
from fluxfleet.sim.fleet import Fleet, FleetConfig
from fluxfleet.sim.sensors import SensorSpec

START = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC).timestamp()


@pytest.mark.slow
@pytest.mark.parametrize("tau_s", [1e-6, 20.0], ids=["no-lag", "scd30-lag"])
def test_noise_free_sensor_chain_meets_the_issue_target(tau_s: float) -> None:
    """No noise: the chain (and soilflux's handling of the SCD30's 20-s lag) adds < 5 %."""
    gather = Gather()
    spec = SensorSpec(co2_noise_ppm=0.0, scd30_tau_s=tau_s)
    cfg = FleetConfig(chambers=12, start_s=START, duration_s=4 * 3600.0, seed=4, sensors=spec)
    fleet = Fleet(cfg, [], None, gather)
    fleet.run()
    cmp = compare(gather.samples(), gather.cycles(), fleet.truth.closures())
    night = cmp.night_valid()
    assert len(night) >= 12 * 22
    assert cmp.within(0.05) >= 0.95
    # no systematic bias (the first closure after each boot reads −4 %: the firmware gives
    # the SCD30 its pressure compensation only after the first flush)
    assert abs(float(night["rel_error"].median())) < 0.015
