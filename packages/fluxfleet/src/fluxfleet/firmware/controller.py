# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""The chamber controller: a pure state machine on an injected clock.

The same class runs on the M5Stack Core2 (driven by ``main.py``), under CPython in the
host tests (fake clock, fake sensors, fake MQTT link) and inside the simulated greenhouse
(simulated HAL, accelerated clock). It never sleeps and never touches hardware itself:
every call of :meth:`Controller.step` does what is due at ``clock.ticks_ms()`` and
returns the tick at which it next wants to be called.

Cycle (defaults; all times in ms; ``set_schedule`` may change them)::

    open ──(aligned cycle start, every period_ms = 600 000)──> closing (servo to 0°)
    closing ──(servo_move_ms)──> closed            fan: 500 ms pulses every 4 s
    closed ──(closed_ms = 180 000)──> extended if |fitted CO2 change| < 5 ppm
    extended ──(change >= 5 ppm, or extend_ms = 120 000 more)──> opening
    opening: servo 0→270→0→270→0→90 (twice through the full 270°), fan 100 %
    flush ──(flush_ms = 60 000, fan 100 %)──> open (fan open_fan_pct, ambient air)

"Fitted CO2 change": the change of the least-squares line through the closure's valid
samples so far between its first and its last sample (:class:`LineFit`, running sums).

Cycle starts are aligned to the wall clock (multiples of period_ms since the epoch), so
controls and treatments close together; ``cyc`` = cycle start // period_ms.

See ``README.md`` next to this file for the interfaces the controller is injected with.
"""

import json

from . import protocol
from .ring import DEFAULT_SLOTS, Ring

FW_VERSION = "6.1.0"

DEFAULT_SCHEDULE = {
    "period_ms": 600000,
    "closed_ms": 180000,
    "extend_ms": 120000,
    "min_rise_ppm": 5,
    "flush_ms": 60000,
    "sample_ms": 3000,
    "pulse_every_ms": 4000,
    "pulse_ms": 500,
    "open_fan_pct": 40,
}

DEFAULT_CONFIG = {
    "fw": FW_VERSION,
    "slot": "dev",
    "boots": 0,
    "reset": "unknown",
    "loc": None,
    "servo_move_ms": 1500,
    "closed_deg": 0,
    "open_deg": 90,
    "full_deg": 270,
    "sweeps": 2,
    "reboot_every_ms": 6 * 3600 * 1000,
    "stagger_max_ms": 30 * 60 * 1000,
    "frc_quiet_ms": 60000,
    "ntp_every_ms": 3600 * 1000,
    "keepalive_s": 30,
    "reconnect_min_ms": 2000,
    "reconnect_max_ms": 60000,
    "save_every_ms": 30000,
    "tele_batch": 1,
    "max_batch": 50,
    "max_inflight": 8,
    "poll_ms": 200,
    "ring_slots": DEFAULT_SLOTS,
    "outq_max": 200,
    "min_first_cycle_ms": 20000,
}

_SEEN_MAX = 64
_LID_CLOSED = ("closing", "closed", "extended")  # no pressure-compensation change here
ALERT_AFTER = 10  # samples without a CO2 reading before status turns to "alert"
MIN_RING_MS = 6 * 3600 * 1000  # the ring must hold at least 6 h of samples [ms]


class LineFit:
    """Least-squares line through points added one at a time, in O(1) memory.

    Welford-style running means and co-moments of the points taken relative to the first
    point: numerically stable in single precision (the ESP32 port's float), and the
    result depends on y only through ``y - y_first``, so a constant CO2 offset cannot
    change it (not even by rounding, when the offset and readings are exactly
    representable, as the SCD30's float32 readings are).
    """

    def __init__(self):
        self.n = 0
        self.x0 = 0.0
        self.y0 = 0.0
        self.mx = 0.0  # mean of u = x - x0
        self.my = 0.0  # mean of v = y - y0
        self.cxx = 0.0  # sum of (u - mean u)^2
        self.cxy = 0.0  # sum of (u - mean u)(v - mean v)
        self.cyy = 0.0  # sum of (v - mean v)^2
        self.span = 0.0  # x of the last point minus x of the first

    def add(self, x, y):
        if self.n == 0:
            self.x0 = x
            self.y0 = y
        u = x - self.x0
        v = y - self.y0
        self.n += 1
        du = u - self.mx
        dv = v - self.my
        self.mx += du / self.n
        self.my += dv / self.n
        self.cxx += du * (u - self.mx)
        self.cxy += du * (v - self.my)
        self.cyy += dv * (v - self.my)
        self.span = u

    def slope(self):
        """dy/dx of the fitted line; None with fewer than 3 points or a single x."""
        if self.n < 3 or self.cxx <= 0:
            return None
        return self.cxy / self.cxx

    def r2(self):
        if self.n < 3 or self.cxx <= 0:
            return None
        if self.cyy <= 0:
            return 0.0
        return min(1.0, self.cxy * self.cxy / (self.cxx * self.cyy))

    def change(self):
        """Change of the fitted line from the first to the last point's x (None: no line)."""
        b = self.slope()
        if b is None:
            return None
        return b * self.span


def stagger_ms(dev, max_ms):
    """Deterministic per-device offset in [0, max_ms) that spreads the 6-h reboots."""
    if max_ms <= 0:
        return 0
    h = 0
    for c in dev:
        h = (h * 31 + ord(c)) & 0xFFFFFFFF
    return h % max_ms


class Controller:
    """One chamber. ``step()`` is the whole main loop body.

    clock  -- ticks_ms() (monotonic ms), time_ms() (wall clock, ms since the epoch, UTC),
              set_time_ms(ms)
    hal    -- co2, baro, light, servo, fan, store; net_up(), net_connect(), ntp_ms(),
              reboot(), confirm(); optional show(dict)
    link   -- MQTT: connect(), subscribe(), publish(), poll(), ping(), disconnect(), close()
    config -- dict; "dev" is required, the rest defaults to DEFAULT_CONFIG
    """

    def __init__(self, clock, hal, link, config):
        cfg = dict(DEFAULT_CONFIG)
        cfg.update(config)
        self.cfg = cfg
        self.dev = protocol.check_device_id(cfg["dev"], "config.dev")
        self.clock = clock
        self.hal = hal
        self.link = link
        self.store = hal.store
        self.boot = cfg["boots"]
        self.ring = Ring(self.store, cfg["ring_slots"], "ring", getattr(hal, "feed", None))

        # schedule: defaults < config["sched"] (provisioning) < set_schedule (stored on flash)
        self.sched = dict(DEFAULT_SCHEDULE)
        if "sched" in config:
            s = dict(self.sched)
            s.update(config["sched"])
            self.sched = protocol.check_schedule(s, "config.sched.", False)
        raw = self.store.get("schedule")
        if raw:
            try:
                s = dict(self.sched)
                s.update(json.loads(raw))
                self.sched = protocol.check_schedule(s, "schedule.", False)
            except Exception:
                pass  # an unreadable stored schedule: keep the provisioned one

        self.loc = None
        raw = self.store.get("location")
        if raw:
            try:
                self.loc = protocol.check_location(raw.decode())
            except Exception:
                self.loc = None
        if self.loc is None and cfg["loc"] is not None:
            self.loc = protocol.check_location(cfg["loc"], "config.loc")

        self.seen = []  # [cmd_id, last ack state], oldest first, persisted
        raw = self.store.get("cmds")
        if raw:
            try:
                seen = json.loads(raw)
                if all(isinstance(e, list) and len(e) == 2 for e in seen):
                    self.seen = seen
            except Exception:
                self.seen = []

        self.pending = []  # accepted commands waiting for exec_at/conditions, persisted
        raw = self.store.get("pending")
        if raw:
            try:
                self.pending = [protocol.validate("cmd", d) for d in json.loads(raw)]
            except Exception:
                self.pending = []
        # a command whose final ack is already on flash is never run again
        final = [e[0] for e in self.seen if e[1] in ("done", "failed", "expired")]
        self.pending = [d for d in self.pending if d["cmd_id"] not in final]

        t0 = clock.ticks_ms()
        self.t_boot = t0
        self.halted = False
        self.msg_seq = 0
        self.synced = False
        self.skew_ms = None
        self.next_ntp = t0
        self.reboot_due = t0 + cfg["reboot_every_ms"] + stagger_ms(self.dev, cfg["stagger_max_ms"])
        self.no_reboot_until = t0
        self.confirmed = False
        self.cycle_done = False
        self.published = False
        self.i2c_errors = 0
        self.co2_missing_run = 0  # consecutive samples without CO2
        self.alert = False
        self.subs = {}
        self.refused = None  # the command topic the broker refused, if any

        # link state
        self.connected = False
        self.next_connect = t0
        self.backoff = cfg["reconnect_min_ms"]
        self.last_tx = t0
        self.ping_out = None
        self.next_send = self.ring.sent + 1
        self.inflight = []  # [pid, last seq, acked?]
        self.outq = []  # [topic, payload bytes, retain]
        self.outq_dropped = 0
        self.next_save = t0 + cfg["save_every_ms"]

        # chamber state
        self.phase = "open"
        self.flushed = False
        self.servo_q = []
        self.servo_next = t0
        self.lid_deg = cfg["open_deg"]
        self.servo_test_id = None
        self.fan_pct = 0
        self.fan_next = None
        self.fan_on = False
        self.phase_end = None
        self.cyc = 0
        self.next_sample = t0
        self.last_p_comp = None
        self.last_p = None
        self._closure_reset()
        self._servo(cfg["open_deg"])
        self._fan(self.sched["open_fan_pct"])
        self._plan_cycle(t0, cfg["min_first_cycle_ms"])

    # --- helpers ---------------------------------------------------------------------------

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

    # --- the cycle ---------------------------------------------------------------------------

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
            if self.last_p_comp is None and self.phase not in _LID_CLOSED:
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

    # --- messages -------------------------------------------------------------------------

    def _head(self, kind):
        if kind != "telemetry":  # telemetry carries its first sample's seq instead
            self.msg_seq += 1
        return {
            "v": protocol.SCHEMA_VERSION,
            "dev": self.dev,
            "ts": self._wall(),
            "boot": self.boot,
            "seq": self.msg_seq,
        }

    def _queue(self, kind, d, retain):
        """Queue a non-telemetry message; sent in order when the link is up."""
        payload = protocol.encode(kind, d)
        t = protocol.topic(self.dev, kind)
        if retain:  # only the newest retained value matters
            self.outq = [m for m in self.outq if m[0] != t]
        self.outq.append([t, payload, retain])
        if len(self.outq) > self.cfg["outq_max"]:
            self.outq.pop(0)
            self.outq_dropped += 1

    def meta(self):
        d = self._head("meta")
        d["fw"] = self.cfg["fw"]
        d["slot"] = self.cfg["slot"]
        d["loc"] = self.loc
        d["reset"] = self.cfg["reset"]
        d["uptime_ms"] = self.clock.ticks_ms() - self.t_boot
        d["skew_ms"] = self.skew_ms
        d["ntp"] = self.synced
        d["lost"] = self.ring.lost
        d["sched"] = dict(self.sched)
        return d

    def _status(self, state, detail=None):
        d = self._head("status")
        d["state"] = state
        if detail:
            d["detail"] = detail
        return d

    def _ack(self, cmd_id, state, detail=None):
        d = self._head("ack")
        d["cmd_id"] = cmd_id
        d["state"] = state
        if detail:
            d["detail"] = detail[:200]
        self._remember(cmd_id, state)
        self._queue("ack", d, False)

    def _remember(self, cmd_id, state):
        for e in self.seen:
            if e[0] == cmd_id:
                e[1] = state
                break
        else:
            self.seen.append([cmd_id, state])
            if len(self.seen) > _SEEN_MAX:
                self.seen.pop(0)
        self.store.put("cmds", protocol.dumps(self.seen).encode())

    # --- link -----------------------------------------------------------------------------

    def _drop_link(self, now, graceful=False):
        try:
            if graceful:
                self.link.disconnect()
            else:
                self.link.close()
        except OSError:
            pass
        self.connected = False
        self.inflight = []
        self.ping_out = None
        self.next_send = self.ring.sent + 1
        self.next_connect = now + self.backoff
        self.backoff = min(self.backoff * 2, self.cfg["reconnect_max_ms"])

    def _connect(self, now):
        hal = self.hal
        if not hal.net_up():
            hal.net_connect()
            self.next_connect = now + self.backoff
            self.backoff = min(self.backoff * 2, self.cfg["reconnect_max_ms"])
            return
        will = protocol.encode("status", self._status("offline"))
        try:
            self.link.connect(
                self.dev,
                protocol.topic(self.dev, "status"),
                will,
                self.cfg["keepalive_s"],
            )
            self.subs = {}  # SUBSCRIBE pid -> topic, until its SUBACK
            for t in (protocol.topic(self.dev, "cmd"), protocol.topic(protocol.BROADCAST, "cmd")):
                pid = self.link.subscribe(t, 1)
                if isinstance(pid, int):
                    self.subs[pid] = t
        except OSError:
            self._drop_link(now)
            return
        self.connected = True
        self.backoff = self.cfg["reconnect_min_ms"]
        self.last_tx = now
        self.next_send = self.ring.sent + 1
        self.inflight = []
        self._queue("status", self._status("online"), True)
        self._queue("meta", self.meta(), True)
        self._show()

    def _poll(self, now):
        events = self.link.poll()
        for ev in events:
            kind = ev[0]
            if kind == "puback":
                for e in self.inflight:
                    if e[0] == ev[1]:
                        e[2] = True
                while self.inflight and self.inflight[0][2]:
                    self.ring.mark_sent(self.inflight.pop(0)[1])
                    self.published = True
            elif kind == "pingresp":
                self.ping_out = None
            elif kind == "suback":  # ("suback", pid, code); 0x80: refused (broker ACL)
                t = self.subs.pop(ev[1], None)
                if t is not None and ev[2] >= 0x80:
                    self.refused = t
                    self._queue(
                        "status",
                        self._status(
                            "alert",
                            "subscription to %s refused by the broker (ACL?): commands "
                            "cannot arrive" % t,
                        ),
                        True,
                    )
            elif kind == "msg":  # ("msg", topic, payload[, retained])
                self._on_message(ev[1], ev[2], now, len(ev) > 3 and ev[3])

    def _send(self, now):
        link = self.link
        while self.outq:
            m = self.outq[0]
            link.publish(m[0], m[1], 1, m[2])
            self.outq.pop(0)
            self.last_tx = now
        cfg = self.cfg
        while len(self.inflight) < cfg["max_inflight"]:
            if self.next_send <= self.ring.sent:
                self.next_send = self.ring.sent + 1
            top = self.ring.head  # also the few not yet committed (see ring.py)
            avail = top - self.next_send + 1
            if avail <= 0 or avail < cfg["tele_batch"]:
                break
            if self.loc is None:
                break  # unlabelled samples wait in the ring until a location is entered
            samples = []
            seq = self.next_send
            while seq <= top and len(samples) < cfg["max_batch"]:
                s = self.ring.read(seq)
                if s is not None:
                    samples.append(s)
                seq += 1
            if not samples:
                self.next_send = seq
                continue
            d = self._head("telemetry")
            d["seq"] = samples[0]["seq"]
            d["loc"] = self.loc
            d["samples"] = samples
            pid = link.publish(
                protocol.topic(self.dev, "telemetry"),
                protocol.encode("telemetry", d, False),
                1,
                False,
            )
            self.inflight.append([pid, samples[-1]["seq"], False])
            self.next_send = seq
            self.last_tx = now

    def _net(self, now):
        if not self.connected:
            if now >= self.next_connect:
                self._connect(now)
            if not self.connected:
                return
        try:
            self._poll(now)
            if self.halted:
                return
            self._send(now)
            ka = self.cfg["keepalive_s"] * 1000
            if self.ping_out is not None and now - self.ping_out > ka:
                raise OSError("no PINGRESP within keepalive")
            if self.ping_out is None and now - self.last_tx >= ka // 2:
                self.link.ping()
                self.ping_out = now
                self.last_tx = now
        except OSError:
            self._drop_link(now)
            self._show()

    # --- commands -------------------------------------------------------------------------

    def _on_message(self, t, payload, now, retained=False):
        try:
            dev, kind = protocol.parse_topic(t)
        except protocol.ProtocolError:
            return
        if kind != "cmd" or (dev != self.dev and dev != protocol.BROADCAST):
            return
        try:
            d = protocol.decode("cmd", payload)
        except protocol.ProtocolError as e:
            cid = None
            try:
                raw = json.loads(payload)
                if isinstance(raw, dict) and isinstance(raw.get("cmd_id"), str) and raw["cmd_id"]:
                    cid = raw["cmd_id"][:64]
            except Exception:
                cid = None
            if cid is not None:
                self._ack(cid, "failed", "rejected: " + str(e))
            return
        cid = d["cmd_id"]
        if retained:  # a retained command would run again at every connect: refuse it
            for entry in self.seen:
                if entry[0] == cid:
                    return  # already refused once; the broker re-delivers it at every connect
            self._ack(cid, "failed", "retained commands are refused; publish with retain=0")
            return
        for entry in self.seen:
            if entry[0] == cid:  # duplicate delivery (QoS 1) or a repeat: never run twice
                self._ack(cid, entry[1], "duplicate cmd_id; not run again")
                return
        if self._wall() > d["expires"]:
            self._ack(cid, "expired", "expired before it arrived")
            return
        self._ack(cid, "accepted")
        self.pending.append(d)
        self._save_pending()

    def _commands(self, now):
        if not self.pending:
            return
        wall = self._wall()
        keep = []
        for d in self.pending:
            if self.halted:
                keep.append(d)
                continue
            if wall > d["expires"]:
                self._ack(d["cmd_id"], "expired", "conditions not met before expiry")
                continue
            if "exec_at" in d and wall < d["exec_at"]:
                keep.append(d)
                continue
            if not self._execute(d, now):
                keep.append(d)
        if len(keep) != len(self.pending):
            self.pending = keep
            self._save_pending()

    def _execute(self, d, now):
        """Run command ``d`` if its conditions hold; True when it is finished (acked)."""
        c = d["cmd"]
        cid = d["cmd_id"]
        args = d.get("args", {})
        if c == "frc":
            if self.phase != "open" or not self.flushed:
                return False  # only with the lid open after a flush
            ppm = args.get("ppm", 420)
            try:
                self.hal.co2.frc(ppm)
            except OSError as e:
                self.i2c_errors += 1
                self._ack(cid, "failed", "SCD30 forced recalibration: %s" % (e,))
                return True
            self.no_reboot_until = now + self.cfg["frc_quiet_ms"]
            self._ack(cid, "done", "recalibrated to %d ppm" % ppm)
            return True
        if c == "reboot":
            if now < self.no_reboot_until:
                return False
            # done and off the pending list on flash *before* acting: hal.reboot() never
            # returns, and a command still pending at the next boot would run again
            self.pending = [p for p in self.pending if p["cmd_id"] != cid]
            self._save_pending()
            self._ack(cid, "done", "rebooting")
            self._reboot(now, "command " + cid)
            return True
        if c == "servo_test":
            if self.phase != "open" or self.servo_q or self.servo_test_id is not None:
                return False
            q = []
            for _ in range(args.get("sweeps", self.cfg["sweeps"])):
                q.append(self.cfg["full_deg"])
                q.append(self.cfg["closed_deg"])
            q.append(self.cfg["open_deg"])
            self.servo_q = q
            self.servo_next = now
            self.servo_test_id = cid  # acked done when the sweeps are over
            return True
        if c == "set_location":
            self.loc = args["loc"]
            self.store.put("location", self.loc.encode())
            self._ack(cid, "done", "location " + self.loc)
            self._queue("meta", self.meta(), True)
            self._show()
            return True
        if c == "set_schedule":
            s = dict(self.sched)
            s.update(args)
            try:
                protocol.check_schedule(s, "args.", False)
                if self.ring.slots * s["sample_ms"] < MIN_RING_MS:
                    raise protocol.ProtocolError(
                        "args.sample_ms",
                        "the ring (%d samples) would hold less than 6 h at %d ms"
                        % (self.ring.slots, s["sample_ms"]),
                    )
            except protocol.ProtocolError as e:
                self._ack(cid, "failed", str(e))
                return True
            self.sched = s
            self.store.put("schedule", protocol.dumps(s).encode())
            self._ack(cid, "done", "schedule updated")
            self._queue("meta", self.meta(), True)
            return True
        self._ack(cid, "failed", "unknown command")  # pragma: no cover - decode() rejects it
        return True

    # --- housekeeping ---------------------------------------------------------------------

    def _save_pending(self):
        self.store.put("pending", protocol.dumps(self.pending).encode())

    def _maybe_confirm(self):
        if not self.confirmed and self.cycle_done:
            self.confirmed = True
            try:
                self.hal.confirm()
            except OSError:
                self.confirmed = False

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

    def step(self):
        """Do whatever is due now; return the tick of the next call, or None once rebooted."""
        if self.halted:
            return None
        now = self.clock.ticks_ms()
        self._ntp(now)  # first: command expiry and timestamps need the right wall clock
        self._net(now)
        if self.halted:
            return None
        self._run_phase(now)
        if now >= self.next_sample:
            self._sample(now)
            self.next_sample += self.sched["sample_ms"]
            if self.next_sample <= now:
                self.next_sample = now + self.sched["sample_ms"]
            self._run_phase(now)  # the sample may end an extension
        self._commands(now)
        if self.halted:
            return None
        if self.connected:
            try:
                self._send(now)
            except OSError:
                self._drop_link(now)
        if now >= self.next_save:
            self.save()
            self.next_save = now + self.cfg["save_every_ms"]
        if (
            now >= self.reboot_due
            and now >= self.no_reboot_until
            and self.phase == "open"
            and self.flushed
            and not self.servo_q
        ):
            self._reboot(now, "scheduled 6-h reboot")
            return None
        return self._next_wake(now)

    def _next_wake(self, now):
        w = self.next_sample
        for t in (self.phase_end, self.fan_next, self.next_save):
            if t is not None and t < w:
                w = t
        if self.servo_q and self.servo_next < w:
            w = self.servo_next
        if self.servo_test_id is not None and self.servo_next < w:
            w = self.servo_next
        if self.pending:
            wall = self._wall()
            for d in self.pending:
                ex = d.get("exec_at", 0)
                if ex > wall and now + (ex - wall) < w:
                    w = now + (ex - wall)
                if d["expires"] >= wall and now + (d["expires"] - wall) + 1 < w:
                    w = now + (d["expires"] - wall) + 1
        if self.connected:
            ready = self.ring.head - self.next_send + 1 >= self.cfg["tele_batch"] and self.loc
            if (
                self.outq
                or self.inflight
                or (ready and len(self.inflight) < self.cfg["max_inflight"])
            ):
                w = min(w, now + self.cfg["poll_ms"])
        elif self.next_connect < w:
            w = self.next_connect
        if w < now:
            w = now
        return w
