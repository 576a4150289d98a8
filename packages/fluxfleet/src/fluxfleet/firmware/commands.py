# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Commands: de-duplication by ``cmd_id`` (``seen``, on flash), the persisted ``pending``
list, conditions and execution, acks.

A part of :class:`~fluxfleet.firmware.controller.Controller` (methods only; the state is
set up in ``Controller.__init__``).
"""

import json

from . import protocol

SEEN_MAX = 64  # cmd_ids remembered (on flash) for de-duplication
MIN_RING_MS = 6 * 3600 * 1000  # the ring must hold at least 6 h of samples [ms]


class CommandsMixin:
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
            if len(self.seen) > SEEN_MAX:
                self.seen.pop(0)
        self.store.put("cmds", protocol.dumps(self.seen).encode())

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

    def _save_pending(self):
        self.store.put("pending", protocol.dumps(self.pending).encode())
