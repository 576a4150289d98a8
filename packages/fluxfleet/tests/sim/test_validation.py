"""soilflux on the simulator's samples vs the simulator's truth, in-process.

The issue's target (±5 % for ≥ 95 % of valid night closures) with the datasheet sensor
is in ``test_mqtt.py`` (through Mosquitto). Here the same chain with an ideal CO2 sensor
(no noise, no response lag) checks that everything between the chamber and soilflux —
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
def test_ideal_sensor_chain_meets_the_issue_target() -> None:
    gather = Gather()
    spec = SensorSpec(co2_noise_ppm=0.0, scd30_tau_s=1e-6)
    cfg = FleetConfig(chambers=12, start_s=START, duration_s=4 * 3600.0, seed=4, sensors=spec)
    fleet = Fleet(cfg, [], None, gather)
    fleet.run()
    cmp = compare(gather.samples(), gather.cycles(), fleet.truth.closures())
    night = cmp.night_valid()
    assert len(night) >= 12 * 22
    assert cmp.within(0.05) >= 0.95
    # the closures that miss are the first after each boot: the firmware sets the SCD30's
    # pressure compensation only after its first flush (−4 % at 970 hPa before that)
    assert abs(float(night["rel_error"].median())) < 0.01
