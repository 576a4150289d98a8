"""The simulated HAL and links against the firmware's interface contract."""

from __future__ import annotations

import pytest
from fluxfleet.sim.faults import Fault
from fluxfleet.sim.fleet import Fleet, FleetConfig
from fluxfleet.sim.hal import MemoryLink, SimClock


def _fleet(faults: list[Fault] | None = None) -> Fleet:
    fleet = Fleet(FleetConfig(chambers=2, duration_s=600.0, seed=1), faults or [], None)
    fleet.start()
    fleet.step()
    return fleet


def test_clock_ticks_from_boot_and_ntp_sets_the_wall_clock() -> None:
    fleet = _fleet()
    clk = SimClock(fleet, 0, boot_ms=fleet.now_ms - 5000, offset_ms=1234)
    assert clk.ticks_ms() == 5000
    assert clk.time_ms() == fleet.now_ms + 1234
    clk.set_time_ms(fleet.now_ms)
    assert clk.time_ms() == fleet.now_ms
    fleet.step()
    assert clk.ticks_ms() == 8000


def test_scd30_reads_low_until_given_the_ambient_pressure() -> None:
    """Without compensation the SCD30 assumes 1013.25 hPa: at ~970 hPa it reads ~4 % low."""
    fleet = _fleet()
    hal = fleet.devices[0].hal
    assert hal is not None
    hal.co2.pressure_comp_hpa = 1013.25
    low = hal.co2.read()
    p = fleet.true_pressure_hpa
    hal.co2.set_pressure(round(p))
    right = hal.co2.read()
    assert low is not None
    assert right is not None
    assert low[0] == pytest.approx(right[0] * p / 1013.25, rel=1e-3)
    with pytest.raises(OSError, match="EINVAL"):
        hal.co2.set_pressure(500)


def test_bus_faults_raise_oserror_and_dropouts_return_none() -> None:
    fleet = _fleet([Fault("i2c_error", 0, 0.0, 600.0), Fault("sensor_dropout", 1, 0.0, 600.0)])
    h0, h1 = fleet.devices[0].hal, fleet.devices[1].hal
    assert h0 is not None
    assert h1 is not None
    for read in (h0.co2.read, h0.baro.read, h0.light.read):
        with pytest.raises(OSError, match="I2C bus error"):
            read()
    assert h1.co2.read() is None
    assert h1.baro.read() is not None  # only the SCD30 drops out


def test_servo_refuses_angles_outside_its_range_and_moves_the_lid() -> None:
    fleet = _fleet()
    hal = fleet.devices[0].hal
    assert hal is not None
    with pytest.raises(OSError, match="servo angle outside"):
        hal.servo.angle(300)
    hal.servo.angle(0)
    assert fleet.lid_sealed()[0]
    hal.servo.angle(270)
    assert not fleet.lid_sealed()[0]


def test_wifi_outage_takes_the_network_and_ntp_down() -> None:
    fleet = _fleet([Fault("wifi_outage", 1, 0.0, 600.0)])
    assert fleet.devices[0].hal is not None
    assert fleet.devices[1].hal is not None
    assert fleet.devices[0].hal.net_up()
    assert fleet.devices[0].hal.ntp_ms() == fleet.now_ms
    assert not fleet.devices[1].hal.net_up()
    assert fleet.devices[1].hal.ntp_ms() is None


def test_memory_link_follows_the_link_contract() -> None:
    got: list[tuple[str, bytes]] = []
    link = MemoryLink(lambda t, p: got.append((t, p)))
    with pytest.raises(OSError, match="ENOTCONN"):
        link.publish("a/b", b"x", 1, False)
    link.connect("dev", "fluxfleet/v1/dev/status", b"offline", 30)
    pid = link.publish("a/b", b"x", 1, False)
    assert link.poll() == [("puback", pid)]
    link.ping()
    assert link.poll() == [("pingresp",)]
    link.close()  # a drop without DISCONNECT: the broker publishes the will
    assert got[-1] == ("fluxfleet/v1/dev/status", b"offline")
    with pytest.raises(OSError, match="ENOTCONN"):
        link.poll()
