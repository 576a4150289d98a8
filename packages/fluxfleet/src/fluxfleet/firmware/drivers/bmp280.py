# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Bosch BMP280 pressure/temperature sensor on an injected I2C bus.

Compensation in floating point after the BMP280 datasheet (BST-BMP280-DS001, section
8.1, "Compensation formula in double precision floating point"); the datasheet's worked
example (dig_T1 = 27504 ..., adc_T = 519888, adc_P = 415148 -> 25.08 degC, 100653.27 Pa)
is the unit test.
"""

import struct

ADDR = 0x76
REG_ID = 0xD0
CHIP_ID = 0x58
REG_CALIB = 0x88
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7


def parse_calibration(buf):
    """dig_T1..dig_P9 from the 24 bytes at 0x88 (little-endian, T1/P1 unsigned)."""
    return struct.unpack("<HhhHhhhhhhhh", bytes(buf[:24]))


def compensate(cal, adc_t, adc_p):
    """(p_hpa, t_c) from raw 20-bit readings and the calibration tuple."""
    T1, T2, T3, P1, P2, P3, P4, P5, P6, P7, P8, P9 = cal
    var1 = (adc_t / 16384.0 - T1 / 1024.0) * T2
    var2 = (adc_t / 131072.0 - T1 / 8192.0) ** 2 * T3
    t_fine = var1 + var2
    t = t_fine / 5120.0
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * P6 / 32768.0
    var2 = var2 + var1 * P5 * 2.0
    var2 = var2 / 4.0 + P4 * 65536.0
    var1 = (P3 * var1 * var1 / 524288.0 + P2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * P1
    if var1 == 0:
        raise OSError("BMP280 calibration gives division by zero")
    p = 1048576.0 - adc_p
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = P9 * p * p / 2147483648.0
    var2 = p * P8 / 32768.0
    p = p + (var1 + var2 + P7) / 16.0
    return (p / 100.0, t)


class BMP280:
    """The controller's ``hal.baro``: ``read() -> (p_hpa, t_c)``."""

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self.cal = None

    def _read(self, reg, n):
        self.i2c.writeto(self.addr, bytes((reg,)))
        return self.i2c.readfrom(self.addr, n)

    def setup(self):
        chip = self._read(REG_ID, 1)[0]
        if chip != CHIP_ID:
            raise OSError("no BMP280 at 0x%02x (chip id 0x%02x)" % (self.addr, chip))
        self.cal = parse_calibration(self._read(REG_CALIB, 24))
        # normal mode, T x2, P x16; standby 500 ms, IIR filter 16
        self.i2c.writeto(self.addr, bytes((REG_CONFIG, (4 << 5) | (4 << 2))))
        self.i2c.writeto(self.addr, bytes((REG_CTRL_MEAS, (2 << 5) | (5 << 2) | 3)))

    def read(self):
        if self.cal is None:
            self.setup()
        d = self._read(REG_DATA, 6)
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        return compensate(self.cal, adc_t, adc_p)
