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
from .commands import CommandsMixin
from .cycle import LID_CLOSED, CycleMixin
from .housekeeping import HousekeepingMixin
from .linefit import LineFit
from .ring import DEFAULT_SLOTS, Ring
from .sampler import ALERT_AFTER, SamplerMixin
from .uplink import UplinkMixin

__all__ = [
    "ALERT_AFTER",
    "DEFAULT_CONFIG",
    "DEFAULT_SCHEDULE",
    "Controller",
    "LineFit",
    "stagger_ms",
]

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
    "pending": False,  # the loader runs this version unconfirmed (a new install)
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
    "connack_ms": 5000,  # a CONNECT unanswered this long is dropped (then backoff) [ms]
    "ring_slots": DEFAULT_SLOTS,
    "outq_max": 200,
    "min_first_cycle_ms": 20000,
}


def stagger_ms(dev, max_ms):
    """Deterministic per-device offset in [0, max_ms) that spreads the 6-h reboots."""
    if max_ms <= 0:
        return 0
    h = 0
    for c in dev:
        h = (h * 31 + ord(c)) & 0xFFFFFFFF
    return h % max_ms


class Controller(CycleMixin, SamplerMixin, UplinkMixin, CommandsMixin, HousekeepingMixin):
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
        self.link_error = None  # why the last (re)connect failed (a TLS refusal, ...), logged once

        # link state
        self.connected = False
        self.connecting = None  # tick the CONNECT was sent, while its CONNACK is awaited
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
        elif self.connecting is not None:
            w = min(w, now + self.cfg["poll_ms"])
        elif self.next_connect < w and self.phase not in LID_CLOSED:
            w = self.next_connect
        if w < now:
            w = now
        return w
