# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""BH1750 ambient light sensor (M5Stack DLight unit) on an injected I2C bus.

Continuous high-resolution mode (0x10): 1 lx resolution, 120 ms per measurement;
illuminance [lx] = raw / 1.2 (ROHM BH1750FVI datasheet, measurement accuracy 1.2).
"""

ADDR = 0x23
POWER_ON = 0x01
RESET = 0x07
CONT_H_RES = 0x10


def lux_from_raw(raw):
    """Illuminance [lx] from the 16-bit count in H-resolution mode (MTreg 69)."""
    return raw / 1.2


class BH1750:
    """The controller's ``hal.light``: ``read() -> lux``."""

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr

    def setup(self):
        self.i2c.writeto(self.addr, bytes((POWER_ON,)))
        self.i2c.writeto(self.addr, bytes((RESET,)))
        self.i2c.writeto(self.addr, bytes((CONT_H_RES,)))

    def read(self):
        b = self.i2c.readfrom(self.addr, 2)
        return lux_from_raw((b[0] << 8) | b[1])
