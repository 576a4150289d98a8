# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""QMP6988 pressure/temperature sensor (M5Stack BPS unit v1.1, ENV III) on an injected bus.

Compensation in floating point after the QMP6988 datasheet (QST): each OTP coefficient
k = A + S * OTP / 32767 with the datasheet's conversion factors A, S; a0 and b00 are
20-bit two's-complement values / 16. Temperature Tr [1/256 degC] =
a0 + a1 Dt + a2 Dt^2; pressure [Pa] = b00 + bt1 Tr + bp1 Dp + b11 Tr Dp + bt2 Tr^2 +
bp2 Dp^2 + b12 Dp Tr^2 + b21 Dp^2 Tr + bp3 Dp^3, with Dt, Dp the raw 24-bit readings
minus 2^23.
"""

ADDR = 0x70
REG_CHIP_ID = 0xD1
CHIP_ID = 0x5C
REG_CALIB = 0xA0
REG_IIR = 0xF1
REG_CTRL_MEAS = 0xF4
REG_DATA = 0xF7

# (A, S) conversion factors of the datasheet, in the order a1 a2 bt1 bt2 bp1 b11 bp2 b12 b21 bp3
_AS = (
    (-6.30e-03, 4.30e-04),
    (-1.90e-11, 1.20e-10),
    (1.00e-01, 9.10e-02),
    (1.20e-08, 1.20e-06),
    (3.30e-02, 1.90e-02),
    (2.10e-07, 1.40e-07),
    (-6.30e-10, 3.50e-10),
    (2.90e-13, 7.60e-13),
    (2.10e-15, 1.20e-14),
    (1.30e-16, 7.90e-17),
)


def _s16(hi, lo):
    v = (hi << 8) | lo
    return v - 0x10000 if v & 0x8000 else v


def _s20(v):
    return v - 0x100000 if v & 0x80000 else v


def parse_calibration(b):
    """Coefficients dict from the 25 OTP bytes at 0xA0."""
    a0 = _s20((b[18] << 12) | (b[19] << 4) | (b[24] & 0x0F)) / 16.0
    b00 = _s20((b[0] << 12) | (b[1] << 4) | ((b[24] & 0xF0) >> 4)) / 16.0
    otp = (
        _s16(b[20], b[21]),  # a1
        _s16(b[22], b[23]),  # a2
        _s16(b[2], b[3]),  # bt1
        _s16(b[4], b[5]),  # bt2
        _s16(b[6], b[7]),  # bp1
        _s16(b[8], b[9]),  # b11
        _s16(b[10], b[11]),  # bp2
        _s16(b[12], b[13]),  # b12
        _s16(b[14], b[15]),  # b21
        _s16(b[16], b[17]),  # bp3
    )
    names = ("a1", "a2", "bt1", "bt2", "bp1", "b11", "bp2", "b12", "b21", "bp3")
    k = {"a0": a0, "b00": b00}
    for i in range(10):
        a, s = _AS[i]
        k[names[i]] = a + s * otp[i] / 32767.0
    return k


def compensate(k, raw_t, raw_p):
    """(p_hpa, t_c) from the raw 24-bit readings."""
    dt = raw_t - 8388608
    dp = raw_p - 8388608
    tr = k["a0"] + k["a1"] * dt + k["a2"] * dt * dt
    p = (
        k["b00"]
        + k["bt1"] * tr
        + k["bp1"] * dp
        + k["b11"] * tr * dp
        + k["bt2"] * tr * tr
        + k["bp2"] * dp * dp
        + k["b12"] * dp * tr * tr
        + k["b21"] * dp * dp * tr
        + k["bp3"] * dp * dp * dp
    )
    return (p / 100.0, tr / 256.0)


class QMP6988:
    """The controller's ``hal.baro``: ``read() -> (p_hpa, t_c)``."""

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self.k = None

    def _read(self, reg, n):
        self.i2c.writeto(self.addr, bytes((reg,)))
        return self.i2c.readfrom(self.addr, n)

    def setup(self):
        chip = self._read(REG_CHIP_ID, 1)[0]
        if chip != CHIP_ID:
            raise OSError("no QMP6988 at 0x%02x (chip id 0x%02x)" % (self.addr, chip))
        self.k = parse_calibration(self._read(REG_CALIB, 25))
        self.i2c.writeto(self.addr, bytes((REG_IIR, 2)))  # IIR coefficient 4
        # T x1 (001), P x8 (100), normal mode (11)
        self.i2c.writeto(self.addr, bytes((REG_CTRL_MEAS, (1 << 5) | (4 << 2) | 3)))

    def read(self):
        if self.k is None:
            self.setup()
        d = self._read(REG_DATA, 6)
        raw_p = (d[0] << 16) | (d[1] << 8) | d[2]
        raw_t = (d[3] << 16) | (d[4] << 8) | d[5]
        return compensate(self.k, raw_t, raw_p)
