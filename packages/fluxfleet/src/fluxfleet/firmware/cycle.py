# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""The chamber cycle: lid and fan, the phase state machine, the cycle plan on the wall
clock and the ``cycle`` summary.

A part of :class:`~fluxfleet.firmware.controller.Controller` (methods only; the state is
set up in ``Controller.__init__``).
"""

from . import protocol
from .linefit import LineFit

LID_CLOSED = ("closing", "closed", "extended")  # no pressure-compensation change here


class CycleMixin:
    def _wall(self):
        return self.clock.time_ms()

    def _servo(self, deg):
        self.lid_deg = deg
        try:
            self.hal.servo.angle(deg)
        except Exception:  # a failing actuator must not stop the measurements
            pass

    def _fan(self, pct):
        self.fan_pct = pct
        try:
            self.hal.fan.duty(pct)
        except Exception:
            pass

    def _closure_reset(self):
        self.t_close_wall = 0
        self.t_closed = None
        self.co2_start = None
        self.co2_last = None
        self.fit = LineFit()  # CO2 [ppm] against s since the lid closed, valid samples only

    def _plan_cycle(self, now, min_gap):
        """Set the tick of the next cycle start, aligned to the wall clock."""
        period = self.sched["period_ms"]
        wall = self._wall()
        start = (wall // period + 1) * period
        while start - wall < min_gap:
            start += period
        self.cyc = start // period
        self.phase_end = now + (start - wall)

    def _enter(self, phase, now):
        self.phase = phase
        s = self.sched
        if phase == "closing":
            self.flushed = False
            self._closure_reset()
            self.t_close_wall = self._wall()
            self._fan(0)
            self._servo(self.cfg["closed_deg"])
            self.phase_end = now + self.cfg["servo_move_ms"]
        elif phase == "closed":
            self.t_closed = now
            self.fan_next = now + s["pulse_every_ms"]
            self.phase_end = now + s["closed_ms"]
        elif phase == "extended":
            self.phase_end = self.t_closed + s["closed_ms"] + s["extend_ms"]
        elif phase == "opening":
            self.fan_next = None
            self.fan_on = False
            self._fan(100)
            self._publish_cycle(now)
            c = self.cfg
            q = []
            for _ in range(c["sweeps"]):
                q.append(c["full_deg"])
                q.append(c["closed_deg"])
            q.append(c["open_deg"])
            self.servo_q = q
            self.servo_next = now
            self.phase_end = None  # ends when the servo queue is empty
        elif phase == "flush":
            self._fan(100)
            self.phase_end = now + s["flush_ms"]
        elif phase == "open":
            self.flushed = True
            # local health, not the network: a whole cycle with CO2 read in the closure and
            # the ring written and read back (a broker outage must not revert good firmware)
            rg = self.ring
            if self.fit.n > 0 and rg.committed > 0 and rg.read(rg.committed) is not None:
                self.cycle_done = True
            self._fan(s["open_fan_pct"])
            self._pressure_compensation()
            self._plan_cycle(now, 0)
            self._maybe_confirm()
        self._show()

    def _show(self):
        show = getattr(self.hal, "show", None)
        if show is not None:
            try:
                show(
                    {
                        "dev": self.dev,
                        "loc": self.loc,
                        "phase": self.phase,
                        "online": self.connected,
                        "pending": self.ring.pending(),
                        "fw": self.cfg["fw"],
                        "link_error": self.link_error,
                    }
                )
            except Exception:
                pass

    def _rise(self):
        """|CO2 change since closing| by the least-squares line through the closed samples.

        The fitted line's change between the first and the last valid sample of the
        closure so far, as a magnitude (a photosynthetic fall counts like a rise); None
        with fewer than 3 valid samples. With 3 ppm noise per reading its standard error
        after 3 min (60 samples) is ~1.3 ppm, against ~4.2 ppm for the difference of two
        single readings.
        """
        d = self.fit.change()
        if d is None:
            return None
        return abs(d)

    def _servo_moves(self, now):
        # servo moves (opening sequence and servo_test), one every servo_move_ms
        if self.servo_q and now >= self.servo_next:
            self._servo(self.servo_q.pop(0))
            self.servo_next = now + self.cfg["servo_move_ms"]

    def _run_phase(self, now):
        self._servo_moves(now)
        if self.servo_test_id is not None and not self.servo_q and now >= self.servo_next:
            cid = self.servo_test_id
            self.servo_test_id = None
            self._ack(cid, "done", "servo swept through %d deg" % self.cfg["full_deg"])
        # fan pulses while closed
        if self.fan_next is not None and now >= self.fan_next:
            if self.fan_on:
                self._fan(0)
                self.fan_on = False
                self.fan_next += self.sched["pulse_every_ms"] - self.sched["pulse_ms"]
            else:
                self._fan(100)
                self.fan_on = True
                self.fan_next += self.sched["pulse_ms"]
            if self.fan_next <= now:
                self.fan_next = now + self.sched["pulse_every_ms"]
        ph = self.phase
        if ph == "open":
            if now >= self.phase_end and not self.servo_q:
                self._enter("closing", now)
        elif ph == "closing":
            if now >= self.phase_end:
                self._enter("closed", now)
        elif ph == "closed":
            if now >= self.phase_end:
                rise = self._rise()
                if (
                    rise is not None
                    and rise < self.sched["min_rise_ppm"]
                    and self.sched["extend_ms"] > 0
                ):
                    self._enter("extended", now)
                else:
                    self._enter("opening", now)
        elif ph == "extended":
            rise = self._rise()
            if now >= self.phase_end or (rise is not None and rise >= self.sched["min_rise_ppm"]):
                self._enter("opening", now)
        elif ph == "opening":
            if not self.servo_q and now >= self.servo_next:
                self._enter("flush", now)
        elif ph == "flush":
            if now >= self.phase_end:
                self._enter("open", now)
        self._servo_moves(now)  # a phase entered just now may have queued a move

    def _publish_cycle(self, now):
        if self.t_closed is None:
            return
        n = self.fit.n
        slope = self.fit.slope()
        r2 = self.fit.r2()
        closed = now - self.t_closed
        ext = closed - self.sched["closed_ms"]
        fl = 0 if self.synced else protocol.FL_NOT_SYNCED
        if self.co2_start is None:
            fl |= protocol.FL_CO2_MISSING
        d = self._head("cycle")
        d["loc"] = self.loc
        d["cyc"] = self.cyc
        d["t_close"] = self.t_close_wall
        d["t_open"] = self._wall()
        d["closed_ms"] = closed
        d["ext_ms"] = ext if ext > 0 else 0
        d["n"] = n
        d["co2_start"] = self.co2_start
        d["co2_end"] = self.co2_last
        d["slope_ppm_s"] = slope
        d["r2"] = r2
        d["fl"] = fl
        if self.loc is not None:
            self._queue("cycle", d, False)
