# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Sampling: one reading of every sensor into the ring, the SCD30's pressure compensation
and the CO2 alert.

A part of :class:`~fluxfleet.firmware.controller.Controller` (methods only; the state is
set up in ``Controller.__init__``).
"""

from . import protocol
from .cycle import LID_CLOSED

ALERT_AFTER = 10  # samples without a CO2 reading before status turns to "alert"


class SamplerMixin:
    def _pressure_compensation(self):
        """Give the SCD30 the last measured pressure (0x0010) if it changed by >= 1 hPa.

        Called for the first valid pressure after boot (before that sample's CO2 reading,
        lid not closed) and then each time the lid is open after a flush - never while
        the lid is closed, where a step in the readings would bend the closure's curve.
        """
        p = self.last_p
        if p is None or not 700 <= p <= 1400:
            return  # the SCD30 accepts 700..1400 mbar; outside that, keep the last value
        if self.last_p_comp is None or abs(p - self.last_p_comp) >= 1.0:
            try:
                self.hal.co2.set_pressure(int(p + 0.5))
                self.last_p_comp = p
            except Exception:  # a failing driver: retried at the next opportunity
                self.i2c_errors += 1

    def _sample(self, now):
        fl = 0
        co2 = rh = t = p = ta = lux = None
        hal = self.hal
        rd = protocol.reading
        # pressure first: until the SCD30 has had an ambient pressure since this boot (it
        # assumes 1013.25 hPa: ~4 % low at 970 hPa), the first valid pressure with the lid
        # not closed (re)starts its measurement with it before the CO2 reading below
        try:
            r = hal.baro.read()
            if r is None:
                fl |= protocol.FL_BARO_MISSING
            else:
                p, ta = r
        except Exception:  # any driver failure is a missing reading, never a crash
            fl |= protocol.FL_BARO_MISSING | protocol.FL_I2C_ERROR
            self.i2c_errors += 1
        if p is not None and rd("p_hpa", p) is None:
            p = None
            fl |= protocol.FL_BARO_MISSING
        if p is not None:
            self.last_p = p
            if self.last_p_comp is None and self.phase not in LID_CLOSED:
                self._pressure_compensation()
        try:
            r = hal.co2.read()
            if r is None:
                fl |= protocol.FL_CO2_MISSING
            else:
                co2, t, rh = r
        except Exception:
            fl |= protocol.FL_CO2_MISSING | protocol.FL_I2C_ERROR
            self.i2c_errors += 1
        try:
            lux = hal.light.read()
            if lux is None:
                fl |= protocol.FL_LIGHT_MISSING
        except Exception:
            fl |= protocol.FL_LIGHT_MISSING | protocol.FL_I2C_ERROR
            self.i2c_errors += 1
        # a reading outside the protocol's range (a glitch, a dead sensor) is no reading
        if co2 is not None and rd("co2_ppm", co2) is None:
            co2 = None
            fl |= protocol.FL_CO2_MISSING
        t, rh = rd("t_c", t), rd("rh_pct", rh)
        ta = rd("ta_c", ta)
        if lux is not None and rd("lux", lux) is None:
            lux = None
            fl |= protocol.FL_LIGHT_MISSING
        if not self.synced:
            fl |= protocol.FL_NOT_SYNCED
        self._health(co2 is None)
        s = {
            "ts": self._wall(),
            "cyc": self.cyc,
            "ph": self.phase,
            "co2_ppm": co2,
            "rh_pct": rh,
            "t_c": t,
            "ta_c": ta,
            "p_hpa": p,
            "lux": lux,
            "lid_deg": self.lid_deg,
            "fan_pct": self.fan_pct,
            "fl": fl,
        }
        self.ring.append(s)
        if co2 is not None and (self.phase == "closed" or self.phase == "extended"):
            if self.co2_start is None:
                self.co2_start = co2
            self.co2_last = co2
            self.fit.add((now - self.t_closed) / 1000.0, co2)
        return s

    def _health(self, co2_missing):
        """Retained status "alert" after ALERT_AFTER samples without CO2, "online" when back."""
        self.co2_missing_run = self.co2_missing_run + 1 if co2_missing else 0
        if not self.alert and self.co2_missing_run >= ALERT_AFTER:
            self.alert = True
            self._queue(
                "status", self._status("alert", "no CO2 reading for %d samples" % ALERT_AFTER), True
            )
        elif self.alert and not co2_missing:
            self.alert = False
            if self.refused is None:
                self._queue("status", self._status("online", "CO2 readings are back"), True)
