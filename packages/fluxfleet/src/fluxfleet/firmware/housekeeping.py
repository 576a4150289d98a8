# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Housekeeping: NTP, firmware confirmation on local health, saves and reboots.

A part of :class:`~fluxfleet.firmware.controller.Controller` (methods only; the state is
set up in ``Controller.__init__``).
"""


class HousekeepingMixin:
    def _maybe_confirm(self):
        if not self.confirmed and self.cycle_done:
            self.confirmed = True
            try:
                self.hal.confirm()
            except OSError:
                self.confirmed = False
                return
            if self.cfg["pending"]:  # tell the server (fluxfleet rollout waits for it)
                self._queue("meta", self.meta(), True)

    def _ntp(self, now):
        if now < self.next_ntp:
            return
        if not self.hal.net_up():
            self.next_ntp = now + 60000
            return
        t = self.hal.ntp_ms()
        if t is None:
            self.next_ntp = now + 60000
            return
        self.skew_ms = t - self.clock.time_ms()
        self.clock.set_time_ms(t)
        self.synced = True
        if self.phase == "open" and not self.servo_q and self.skew_ms != 0:
            # the clock stepped with the lid open (typically the first sync after a cold
            # boot): the next closure goes back on the fleet's wall-clock grid
            late = t - self.cyc * self.sched["period_ms"]
            gap = self.cfg["min_first_cycle_ms"]
            if 0 <= late < gap and now - self.t_boot >= gap:
                self.phase_end = now  # stepped just past the planned start: close now
            else:
                self._plan_cycle(now, gap if not self.flushed else 0)
        self.next_ntp = now + self.cfg["ntp_every_ms"]
        self._queue("meta", self.meta(), True)

    def _reboot(self, now, why):
        self._queue("status", self._status("rebooting", why), True)
        if self.connected:
            try:
                self._send(now)
            except OSError:
                pass
            self._drop_link(now, True)
        self.save(True)
        self.halted = True
        self.hal.reboot()

    def save(self, clean=False):
        """Persist the ring (every save_every_ms; ``clean`` before a planned reboot)."""
        self.ring.save(clean)
