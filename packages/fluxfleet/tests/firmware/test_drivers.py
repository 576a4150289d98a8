"""Sensor drivers on fake I2C buses that speak each chip's protocol byte by byte."""

from __future__ import annotations

import random
import struct

import pytest
from fluxfleet.firmware.drivers import bh1750, bmp280, qmp6988, scd30

from .conftest import FakeSCD30Bus, RegisterBus


def make() -> tuple[scd30.SCD30, FakeSCD30Bus, list[int]]:
    bus = FakeSCD30Bus()
    sleeps: list[int] = []
    return scd30.SCD30(bus, sleep_ms=sleeps.append), bus, sleeps


def test_crc8_matches_the_datasheet_vectors():
    # start measurement without pressure compensation, from the interface description
    assert scd30.crc8(b"\x00\x00") == 0x81
    assert scd30.crc8(b"\xbe\xef") == 0x92  # Sensirion's canonical CRC example


@pytest.mark.parametrize(
    ("call", "frame"),
    [
        (lambda d: d.start(0), "00 10 00 00 81"),
        (lambda d: d.start(970), "00 10 03 ca 30"),
        (lambda d: d.set_interval(2), "46 00 00 02 e3"),
        (lambda d: d.set_asc(False), "53 06 00 00 81"),
        (lambda d: d.frc(420), "52 04 01 a4 4d"),
        (lambda d: d.stop(), "01 04"),
        (lambda d: d.soft_reset(), "d3 04"),
    ],
)
def test_command_bytes(call, frame):
    d, bus, _ = make()
    call(d)
    assert bus.written[-1] == bytes.fromhex(frame)


def test_crc_of_interval_2_is_e3():
    assert scd30.crc8(b"\x00\x02") == 0xE3


def test_setup_turns_asc_off_sets_interval_and_starts_with_pressure():
    d, bus, _ = make()
    d.setup(interval_s=2, pressure_mbar=970)
    assert (bus.interval, bus.asc, bus.pressure, bus.measuring) == (2, 0, 970, True)
    assert [w[:2] for w in bus.written] == [b"\x46\x00", b"\x53\x06", b"\x00\x10"]
    assert d.interval() == 2
    assert d.asc() is False


def test_read_waits_3_ms_between_command_and_read_and_decodes_floats():
    d, bus, sleeps = make()
    co2, t, rh = d.read()
    assert (co2, t, rh) == bus.values  # exactly representable float32s
    assert bus.written == [b"\x02\x02", b"\x03\x00"]  # data ready, then read measurement
    assert sleeps == [3, 3]


def test_read_returns_none_when_no_data_is_ready():
    d, bus, _ = make()
    bus.ready = 0
    assert d.read() is None
    assert bus.written == [b"\x02\x02"]


def test_a_corrupted_word_raises_crc_error_which_is_an_oserror():
    d, bus, _ = make()
    bus.ready = 1
    d.data_ready()
    bus.corrupt_next_read = True
    with pytest.raises(scd30.CRCError, match="CRC mismatch in word 0"):
        d.measurement()
    assert issubclass(scd30.CRCError, OSError)


def test_frc_and_pressure_ranges_are_enforced_before_anything_is_sent():
    d, bus, _ = make()
    with pytest.raises(ValueError, match=r"400\.\.2000"):
        d.frc(399)
    with pytest.raises(ValueError, match=r"700\.\.1400"):
        d.start(1500)
    assert bus.written == []
    d.frc(420)
    assert d.frc_value() == 420


def test_set_pressure_reissues_start_with_the_new_pressure():
    d, bus, _ = make()
    d.set_pressure(968.6)
    assert bus.pressure == 968
    assert bus.written[-1][:2] == b"\x00\x10"


def test_a_missing_sensor_is_an_oserror():
    d, bus, _ = make()
    bus.nack = True
    with pytest.raises(OSError, match="ENODEV"):
        d.read()


def test_bmp280_reproduces_the_datasheet_example():
    cal = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
    p_hpa, t_c = bmp280.compensate(cal, 519888, 415148)
    assert t_c == pytest.approx(25.08, abs=0.005)  # BMP280 datasheet section 8.1
    assert p_hpa * 100 == pytest.approx(100653.27, abs=0.01)


def test_bmp280_driver_reads_calibration_and_raw_registers():
    cal = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
    regs = {0xD0: 0x58}
    for i, b in enumerate(struct.pack("<HhhHhhhhhhhh", *cal)):
        regs[0x88 + i] = b
    adc_p, adc_t = 415148, 519888
    for i, b in enumerate(
        [
            adc_p >> 12,
            (adc_p >> 4) & 0xFF,
            (adc_p & 0xF) << 4,
            adc_t >> 12,
            (adc_t >> 4) & 0xFF,
            (adc_t & 0xF) << 4,
        ]
    ):
        regs[0xF7 + i] = b
    p_hpa, t_c = bmp280.BMP280(RegisterBus(0x76, regs)).read()
    assert (p_hpa, t_c) == pytest.approx((1006.5327, 25.0825), abs=1e-3)


def test_bmp280_wrong_chip_id_is_an_oserror():
    with pytest.raises(OSError, match="no BMP280"):
        bmp280.BMP280(RegisterBus(0x76, {0xD0: 0x60})).setup()


def _qmp_fixed_point(b: bytes, raw_t: int, raw_p: int) -> tuple[float, float]:
    """The vendor's fixed-point QMP6988 compensation (QST/M5Stack C driver), as an oracle."""

    def s16(i: int) -> int:
        v = (b[i] << 8) | b[i + 1]
        return v - 0x10000 if v & 0x8000 else v

    def div(a: int, d: int) -> int:  # C division truncates toward zero
        q = abs(a) // d
        return q if a >= 0 else -q

    a0 = qmp6988._s20((b[18] << 12) | (b[19] << 4) | (b[24] & 0x0F))
    b00 = qmp6988._s20((b[0] << 12) | (b[1] << 4) | ((b[24] & 0xF0) >> 4))
    a1, a2 = 3608 * s16(20) - 1731677965, 16889 * s16(22) - 87619360
    bt1, bt2 = 2982 * s16(2) + 107370906, 329854 * s16(4) + 108083093
    bp1, b11 = 19923 * s16(6) + 1133836764, 2406 * s16(8) + 118215883
    bp2, b12 = 3079 * s16(10) - 181579595, 6846 * s16(12) + 85590281
    b21, bp3 = 13836 * s16(14) + 79333336, 2915 * s16(16) + 157155561
    dt, dp = raw_t - 2**23, raw_p - 2**23
    wk2 = ((a2 * dt) >> 14) * dt >> 10
    tx = (a0 + (div(a1 * dt + wk2, 32767) >> 19)) >> 4
    wk1 = bt1 * tx + ((bp1 * dp) >> 5)
    wk3 = (((bt2 * tx) >> 1) * tx) >> 8
    wk3 += (((b11 * tx) >> 4) * dp) >> 1
    wk3 += (((bp2 * dp) >> 13) * dp) >> 1
    wk1 += wk3 >> 14
    wk3 = (((b12 * tx * tx) >> 22) * dp) >> 1
    wk3 += (((((b21 * tx) >> 6) * dp) >> 23) * dp) >> 1
    wk3 += ((((bp3 * dp) >> 12) * dp) >> 23) * dp
    wk1 += wk3 >> 15
    p = (div(wk1, 32767) >> 11) + b00
    return p / 16 / 100, tx / 256


def test_qmp6988_float_compensation_agrees_with_the_vendor_fixed_point_code():
    rng = random.Random(6988)
    for _ in range(50):
        otp = bytes(rng.randrange(256) for _ in range(25))
        raw_t = 2**23 + rng.randrange(-300000, 300000)
        raw_p = 2**23 + rng.randrange(-3000000, 3000000)
        p_ref, t_ref = _qmp_fixed_point(otp, raw_t, raw_p)
        p, t = qmp6988.compensate(qmp6988.parse_calibration(otp), raw_t, raw_p)
        assert t == pytest.approx(t_ref, abs=1 / 256 + 1e-9)  # fixed point truncates to 1/256
        assert p == pytest.approx(p_ref, abs=0.05)


def test_qmp6988_driver_checks_the_chip_id_and_reads_six_data_bytes():
    otp = bytes(range(25))
    regs = {0xD1: 0x5C, **{0xA0 + i: b for i, b in enumerate(otp)}}
    raw_p, raw_t = 2**23 + 1000, 2**23 - 2000
    for i, b in enumerate(raw_p.to_bytes(3, "big") + raw_t.to_bytes(3, "big")):
        regs[0xF7 + i] = b
    bus = RegisterBus(0x70, regs)
    p, t = qmp6988.QMP6988(bus).read()
    assert (p, t) == qmp6988.compensate(qmp6988.parse_calibration(otp), raw_t, raw_p)
    assert regs[0xF4] & 0x03 == 3  # normal mode
    with pytest.raises(OSError, match="no QMP6988"):
        qmp6988.QMP6988(RegisterBus(0x70, {0xD1: 0x00})).setup()


def test_bh1750_h_resolution_conversion_and_commands():
    class Bus:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def writeto(self, addr: int, buf: bytes) -> None:
            assert addr == 0x23
            self.writes.append(bytes(buf))

        def readfrom(self, addr: int, n: int) -> bytes:
            return bytes((0x30, 0x00))  # 12288 counts

    bus = Bus()
    light = bh1750.BH1750(bus)
    light.setup()
    assert bus.writes == [b"\x01", b"\x07", b"\x10"]
    assert light.read() == pytest.approx(12288 / 1.2)
