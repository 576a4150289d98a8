# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Sensirion SCD30 (CO2, T, RH) over I2C, on an injected bus.

Interface Description SCD30 (Sensirion, v1.0 May 2020): address 0x61; each command is a
16-bit code, optionally followed by one 16-bit argument and its CRC; every 16-bit word
the sensor returns is followed by a CRC-8 (polynomial 0x31, init 0xFF, no final XOR).
No repeated start: write the command, STOP, wait >= 3 ms, then read. The sensor
stretches the clock up to 30 ms (150 ms once a day), so the bus must be slow (<= 50 kHz)
and stretch-tolerant - that is the HAL's job (``hal/core2.py``).

The bus needs ``writeto(addr, buf)`` and ``readfrom(addr, n)`` (``machine.I2C``'s API).
A CRC mismatch raises :class:`CRCError`, an ``OSError``, so callers treat it like any
other bus error.
"""

import struct

ADDR = 0x61
CMD_START = 0x0010  # trigger continuous measurement, arg = ambient pressure [mbar], 0 = off
CMD_STOP = 0x0104
CMD_DATA_READY = 0x0202
CMD_READ = 0x0300
CMD_INTERVAL = 0x4600  # measurement interval [s], 2..1800
CMD_ASC = 0x5306  # automatic self-calibration, 1 on / 0 off
CMD_FRC = 0x5204  # forced recalibration reference [ppm], 400..2000
CMD_TEMP_OFFSET = 0x5403
CMD_ALTITUDE = 0x5102
CMD_FIRMWARE = 0xD100
CMD_RESET = 0xD304


class CRCError(OSError):
    pass


def crc8(data):
    """CRC-8 of ``data`` as the SCD30 computes it (poly 0x31, init 0xFF, MSB first)."""
    crc = 0xFF
    for b in data:
        crc ^= b
        for _ in range(8):
            if crc & 0x80:
                crc = ((crc << 1) ^ 0x31) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
    return crc


def frame(cmd, arg=None):
    """The bytes written for command ``cmd`` with optional 16-bit ``arg``."""
    if arg is None:
        return bytes(((cmd >> 8) & 0xFF, cmd & 0xFF))
    a = bytes(((arg >> 8) & 0xFF, arg & 0xFF))
    return bytes(((cmd >> 8) & 0xFF, cmd & 0xFF)) + a + bytes((crc8(a),))


def words(buf):
    """Split a response into 16-bit words, checking each word's CRC."""
    if len(buf) % 3:
        raise CRCError("SCD30 response of %d bytes is not a multiple of 3" % len(buf))
    out = []
    for i in range(0, len(buf), 3):
        if crc8(buf[i : i + 2]) != buf[i + 2]:
            raise CRCError("SCD30 CRC mismatch in word %d" % (i // 3))
        out.append((buf[i] << 8) | buf[i + 1])
    return out


def _sleep_ms_default(ms):
    import time

    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


class SCD30:
    """The controller's ``hal.co2``: ``read()``, ``set_pressure(hpa)``, ``frc(ppm)``."""

    def __init__(self, i2c, addr=ADDR, sleep_ms=None):
        self.i2c = i2c
        self.addr = addr
        self.sleep_ms = sleep_ms or _sleep_ms_default
        self.pressure_mbar = 0

    def command(self, cmd, arg=None):
        self.i2c.writeto(self.addr, frame(cmd, arg))

    def query(self, cmd, nwords):
        self.i2c.writeto(self.addr, frame(cmd))
        self.sleep_ms(3)
        return words(self.i2c.readfrom(self.addr, 3 * nwords))

    def start(self, pressure_mbar=0):
        """Continuous measurement with ambient-pressure compensation (0 = off, 700..1400)."""
        if pressure_mbar and not 700 <= pressure_mbar <= 1400:
            raise ValueError("pressure_mbar must be 0 or 700..1400, got %r" % (pressure_mbar,))
        self.command(CMD_START, pressure_mbar)
        self.pressure_mbar = pressure_mbar

    def stop(self):
        self.command(CMD_STOP)

    def set_interval(self, seconds):
        if not 2 <= seconds <= 1800:
            raise ValueError("interval must be 2..1800 s, got %r" % (seconds,))
        self.command(CMD_INTERVAL, seconds)

    def interval(self):
        return self.query(CMD_INTERVAL, 1)[0]

    def set_asc(self, on):
        self.command(CMD_ASC, 1 if on else 0)

    def asc(self):
        return self.query(CMD_ASC, 1)[0] == 1

    def frc(self, ppm):
        """Forced recalibration: the sensor is in air of ``ppm`` right now (400..2000)."""
        if not 400 <= ppm <= 2000:
            raise ValueError("FRC reference must be 400..2000 ppm, got %r" % (ppm,))
        self.command(CMD_FRC, ppm)

    def frc_value(self):
        return self.query(CMD_FRC, 1)[0]

    def firmware(self):
        w = self.query(CMD_FIRMWARE, 1)[0]
        return (w >> 8, w & 0xFF)

    def soft_reset(self):
        self.command(CMD_RESET)

    def setup(self, interval_s=2, pressure_mbar=0):
        """Our configuration: ASC off (chamber air is never a fresh-air baseline)."""
        self.set_interval(interval_s)
        self.sleep_ms(10)
        self.set_asc(False)
        self.sleep_ms(10)
        self.start(pressure_mbar)

    def data_ready(self):
        return self.query(CMD_DATA_READY, 1)[0] == 1

    def measurement(self):
        """(co2_ppm, t_c, rh_pct) from the six words of 0x0300 (big-endian float32 each)."""
        w = self.query(CMD_READ, 6)
        vals = []
        for i in range(0, 6, 2):
            vals.append(struct.unpack(">f", struct.pack(">HH", w[i], w[i + 1]))[0])
        return (vals[0], vals[1], vals[2])

    def read(self):
        """A new measurement, or None if none is ready yet."""
        if not self.data_ready():
            return None
        return self.measurement()

    def set_pressure(self, hpa):
        """Update ambient-pressure compensation (re-issues 0x0010) - 1 hPa = 1 mbar."""
        self.start(int(hpa))
