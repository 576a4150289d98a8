# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""The uplink: message headers and the RAM queue, the MQTT connection, its in-flight
window of telemetry batches read from the ring, keepalive and SUBACKs.

A part of :class:`~fluxfleet.firmware.controller.Controller` (methods only; the state is
set up in ``Controller.__init__``).
"""

from . import protocol
from .cycle import LID_CLOSED


class UplinkMixin:
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
        # confirmed to the loader: before this boot, or by this boot's first healthy cycle
        d["conf"] = self.confirmed or not self.cfg["pending"]
        d["sched"] = dict(self.sched)
        return d

    def _status(self, state, detail=None):
        d = self._head("status")
        d["state"] = state
        if detail:
            d["detail"] = detail
        return d

    def _drop_link(self, now, graceful=False):
        try:
            if graceful:
                self.link.disconnect()
            else:
                self.link.close()
        except OSError:
            pass
        self.connected = False
        self.connecting = None
        self.inflight = []
        self.ping_out = None
        self.next_send = self.ring.sent + 1
        self.next_connect = now + self.backoff
        self.backoff = min(self.backoff * 2, self.cfg["reconnect_max_ms"])

    def _link_failed(self, now, e):
        """A (re)connect failed: log why once per reason (a refused TLS certificate must be
        visible on the console and the screen, not a silent retry), then back off."""
        why = str(e) or repr(e)
        if why != self.link_error:
            self.link_error = why
            log = getattr(self.hal, "log", None)
            if log is not None:
                log("MQTT connect failed: %s (retrying with back-off)" % why)
        self._drop_link(now)
        self._show()

    def _connect(self, now):
        """Start a (re)connect. A link with ``start``/``connack`` (``mqtt.MqttLink``) only
        opens the TCP connection and sends CONNECT here; :meth:`_connack` takes the answer
        at the following steps, so the loop never waits for the broker (sampling and fan
        pulses stay on time). Other links connect in one blocking call."""
        hal = self.hal
        if not hal.net_up():
            hal.net_connect()
            self.next_connect = now + self.backoff
            self.backoff = min(self.backoff * 2, self.cfg["reconnect_max_ms"])
            return
        will = protocol.encode("status", self._status("offline"))
        args = (self.dev, protocol.topic(self.dev, "status"), will, self.cfg["keepalive_s"])
        if hasattr(self.link, "start"):
            try:
                self.link.start(*args)
            except OSError as e:
                self._link_failed(now, e)
                return
            self.connecting = now
            return
        try:
            self.link.connect(*args)
        except OSError as e:
            self._link_failed(now, e)
            return
        self._connected(now)

    def _connack(self, now):
        """A step of a connect in progress: never waits for the broker."""
        try:
            if not self.link.connack():
                if now - self.connecting >= self.cfg["connack_ms"]:
                    raise OSError("no CONNACK within %d ms" % self.cfg["connack_ms"])
                return
        except OSError as e:
            self._link_failed(now, e)
            return
        self.connecting = None
        self._connected(now)

    def _connected(self, now):
        try:
            self.subs = {}  # SUBSCRIBE pid -> topic, until its SUBACK
            for t in (protocol.topic(self.dev, "cmd"), protocol.topic(protocol.BROADCAST, "cmd")):
                pid = self.link.subscribe(t, 1)
                if isinstance(pid, int):
                    self.subs[pid] = t
        except OSError:
            self._drop_link(now)
            return
        self.connected = True
        if self.link_error is not None:
            log = getattr(self.hal, "log", None)
            if log is not None:
                log("MQTT connected (the last failure was: %s)" % self.link_error)
            self.link_error = None
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
            # opening the TCP connection still blocks briefly (DNS, the SYN: bounded by the
            # transport): never while the lid is closed, where it would delay samples and
            # stretch the fan pulses; the samples wait in the ring, the closure is over
            # within minutes. The CONNACK is awaited step by step (_connack), never blocking
            if self.connecting is not None:
                self._connack(now)
            elif now >= self.next_connect and self.phase not in LID_CLOSED:
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
