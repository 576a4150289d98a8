"""SCD30 ambient-pressure compensation by the controller, seen as bytes on a fake I2C bus.

The SCD30 assumes 1013.25 hPa until it is (re)started with 0x0010 and the ambient
pressure; at the greenhouse's ~970 hPa an uncompensated reading is ~4 % low. The
controller must give the sensor the QMP6988's pressure before the first sample it takes
after a boot, and change it only while the lid is open (a step in the middle of a closure
would bend the CO2 curve the flux is fitted to).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fluxfleet.firmware.controller import DEFAULT_SCHEDULE
from fluxfleet.firmware.drivers import scd30

from .conftest import FakeHal, FakeSCD30Bus

PERIOD = DEFAULT_SCHEDULE["period_ms"]

# Frames from the SCD30 interface description (also checked in test_drivers.py):
# 0x0010 "trigger continuous measurement" with argument 970 mbar = 0x03CA, CRC 0x30.
START_970 = bytes.fromhex("00 10 03 ca 30")
START_OFF = bytes.fromhex("00 10 00 00 81")  # what main.setup_sensors sends at boot
READ = bytes.fromhex("03 00")  # read measurement


def crc8_reference(data: bytes) -> int:
    """CRC-8/NRSC-5 (poly 0x31, init 0xFF) by polynomial long division, bit by bit."""
    reg = int.from_bytes(data, "big") << 8
    reg ^= 0xFF << (8 * len(data))  # init 0xFF = the first byte inverted
    poly = 0x131
    for bit in range(8 * len(data) + 7, 7, -1):
        if reg >> bit & 1:
            reg ^= poly << (bit - 8)
    return reg & 0xFF


def start_frame(mbar: int) -> bytes:
    arg = mbar.to_bytes(2, "big")
    return b"\x00\x10" + arg + bytes((crc8_reference(arg),))


def test_reference_crc_agrees_with_the_datasheet():
    assert crc8_reference(b"\xbe\xef") == 0x92
    assert start_frame(970) == START_970
    assert start_frame(0) == START_OFF


def scd30_on_bus(bus: FakeSCD30Bus) -> Callable[[FakeHal], None]:
    """hal.co2 = the real driver on the fake bus, set up as main.setup_sensors does."""

    def hook(hal: FakeHal) -> None:
        bus.clock = hal.clock
        drv = scd30.SCD30(bus, sleep_ms=lambda ms: None)
        drv.setup(interval_s=2, pressure_mbar=0)
        hal.co2 = drv  # type: ignore[assignment]

    return hook


def closure_windows(rig: Any) -> list[tuple[int, int]]:
    """(tick the lid started closing, tick the lid started opening) of every closure."""
    out = []
    start = None
    prev = None
    for t, deg in rig.hal.servo.moves:
        if deg == 0 and prev == 90:
            start = t
        elif deg == 270 and start is not None:
            out.append((start, t))
            start = None
        prev = deg
    return out


def starts(bus: FakeSCD30Bus) -> list[tuple[int, bytes]]:
    return [
        (t, w) for t, w in zip(bus.written_at, bus.written, strict=True) if w[:2] == b"\x00\x10"
    ]


def test_pressure_is_sent_before_the_first_sample_and_the_first_closure(rig_factory):
    bus = FakeSCD30Bus()
    rig = rig_factory(hal_hook=scd30_on_bus(bus))
    rig.run_until(3 * PERIOD)  # the fake SCD30 reads a flat 612.5 ppm: closures are extended

    assert bus.written[2] == START_OFF  # boot: measuring, no compensation (1013.25 hPa)
    first_read = bus.written.index(READ)
    comp = bus.written.index(START_970)  # FakeBaro: 970.3 hPa -> 970 mbar
    assert 2 < comp < first_read  # compensated before the first CO2 reading
    assert bus.pressure == 970
    samples = rig.link.samples()
    assert samples[0]["seq"] == 1
    assert samples[0]["p_hpa"] == 970.3
    # the first closure starts after the compensation, which is not repeated (same pressure)
    windows = closure_windows(rig)
    assert len(windows) >= 2
    assert bus.written_at[comp] < windows[0][0]
    assert [w for _, w in starts(bus)] == [START_OFF, START_970]


def test_pressure_updates_only_while_the_lid_is_open(rig_factory):
    bus = FakeSCD30Bus()
    rig = rig_factory(hal_hook=scd30_on_bus(bus))
    rig.run_until(PERIOD // 2 + 60_000)  # inside the first closure (it starts at +300 s)
    assert rig.ctl.phase in ("closed", "extended")
    rig.hal.baro.read = lambda: (985.2, 21.0)  # type: ignore[method-assign]  # a front arrives
    rig.run_until(4 * PERIOD)

    sent = starts(bus)
    assert [w for _, w in sent] == [START_OFF, START_970, start_frame(985)]
    t_new = sent[-1][0]
    windows = closure_windows(rig)
    assert len(windows) >= 3
    for t_close, t_open in windows:  # never while the lid is closed or closing
        assert all(not t_close <= t < t_open for t, _ in sent)
    # the new pressure goes out once the first closure is over and the chamber flushed:
    # before the second closure starts
    assert windows[0][1] < t_new < windows[1][0]


def test_a_pressure_chip_silent_at_boot_is_used_from_its_first_reading(rig_factory):
    bus = FakeSCD30Bus()
    rig = rig_factory(hal_hook=scd30_on_bus(bus))
    answers = iter([None, None])  # not ready for the first two reads

    def baro() -> tuple[float, float] | None:
        return next(answers, (968.6, 21.0))

    rig.hal.baro.read = baro  # type: ignore[method-assign]
    rig.run_until(2 * PERIOD)
    sent = starts(bus)
    assert [w for _, w in sent] == [START_OFF, start_frame(969)]
    samples = rig.link.samples()
    assert [s["p_hpa"] for s in samples[:3]] == [None, None, 968.6]
    # the third sample is the first with a pressure: it compensates before its CO2 reading
    reads = [i for i, w in enumerate(bus.written) if w == READ]
    comp = bus.written.index(start_frame(969))
    assert reads[1] < comp < reads[2]
    assert sent[-1][0] == 6000 < closure_windows(rig)[0][0]


def test_a_pressure_chip_that_never_answers_leaves_compensation_off_without_crashing(rig_factory):
    bus = FakeSCD30Bus()
    rig = rig_factory(hal_hook=scd30_on_bus(bus))

    def baro() -> tuple[float, float]:
        raise OSError(5, "EIO")

    rig.hal.baro.read = baro  # type: ignore[method-assign]
    rig.run_until(2 * PERIOD)
    assert [w for _, w in starts(bus)] == [START_OFF]
    assert len(rig.link.of_kind("cycle")) == 1
    assert all(s["p_hpa"] is None for s in rig.link.samples())
