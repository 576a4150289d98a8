# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Clocks for the controller.

The controller only needs ``ticks_ms()`` (monotonic, never wrapping, ms), ``time_ms()``
(wall clock, ms since the Unix epoch, UTC) and ``set_time_ms(ms)`` (NTP correction).
:class:`ManualClock` is the clock of host tests and of the simulator: time moves only when
told to, and its wall clock may drift (``drift_ppm``) so clock skew can be simulated.
The device clock (on ``time.ticks_ms`` and the RTC) lives in ``hal/core2.py``.
"""


class ManualClock:
    """A clock that advances only by :meth:`advance` / :meth:`set_ticks`."""

    def __init__(self, wall_ms=1700000000000, ticks_ms=0, drift_ppm=0):
        self.ticks = ticks_ms
        self._wall0 = wall_ms  # wall clock at ticks == _t0
        self._t0 = ticks_ms
        self.drift_ppm = drift_ppm

    def ticks_ms(self):
        return self.ticks

    def time_ms(self):
        dt = self.ticks - self._t0
        return self._wall0 + dt + (dt * self.drift_ppm) // 1000000

    def set_time_ms(self, ms):
        self._wall0 = ms
        self._t0 = self.ticks

    def advance(self, ms):
        self.ticks += ms
        return self.ticks

    def set_ticks(self, ticks):
        if ticks < self.ticks:
            raise ValueError("a monotonic clock cannot go back")
        self.ticks = ticks
        return self.ticks
