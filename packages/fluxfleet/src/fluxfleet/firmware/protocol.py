# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""The fleet's MQTT protocol: topics, payload codec and validation.

One module, imported by the chamber firmware (MicroPython) and by the server (CPython)
alike, so the two can never disagree about a topic or a field.

Topics::

    fluxfleet/v1/<device>/telemetry   device -> server  QoS 1, not retained
    fluxfleet/v1/<device>/cycle       device -> server  QoS 1, not retained
    fluxfleet/v1/<device>/status      device -> server  QoS 1, RETAINED (last will "offline")
    fluxfleet/v1/<device>/meta        device -> server  QoS 1, RETAINED
    fluxfleet/v1/<device>/ack         device -> server  QoS 1, not retained
    fluxfleet/v1/<device>/cmd         server -> device  QoS 1, NEVER retained
    fluxfleet/v1/all/cmd              server -> fleet   QoS 1, NEVER retained

Payloads are compact JSON objects (no spaces). Every payload carries ``v`` (the schema
version, :data:`SCHEMA_VERSION`) and ``ts`` (milliseconds since the Unix epoch, UTC).
Device payloads also carry ``dev``, ``boot`` (the device's boot count) and ``seq``:
for ``telemetry`` the sequence number of the first sample in the message (samples have
their own ``seq``, one counter per device that survives reboots); for the others a
per-boot message counter, so ``(dev, boot, seq)`` identifies a message.

:func:`encode` checks a payload against its schema and returns bytes; :func:`decode`
parses bytes and checks them. A bad payload raises :class:`ProtocolError`, whose
``field`` names the offending field (e.g. ``samples[3].co2_ppm``).

This file must stay MicroPython-compatible (it is compiled with ``mpy-cross``).
"""

import json

SCHEMA_VERSION = 1
PREFIX = "fluxfleet/v1/"
BROADCAST = "all"

KINDS = ("telemetry", "cycle", "status", "meta", "ack", "cmd")
DEVICE_KINDS = ("telemetry", "cycle", "status", "meta", "ack")
RETAINED = ("status", "meta")

# Chamber phases, in cycle order.
PHASES = ("open", "closing", "closed", "extended", "opening", "flush")
STATES = ("online", "offline", "rebooting", "alert")
ACK_STATES = ("accepted", "done", "failed", "expired")
COMMANDS = ("frc", "reboot", "servo_test", "set_location", "set_schedule")

# Sample flag bits (``fl``).
FL_CO2_MISSING = 1
FL_BARO_MISSING = 2
FL_LIGHT_MISSING = 4
FL_NOT_SYNCED = 8
FL_I2C_ERROR = 16

# Schedule keys that ``set_schedule`` may change, with their allowed ranges (inclusive).
SCHEDULE_LIMITS = {
    "period_ms": (60000, 3600000),
    "closed_ms": (0, 1800000),
    "extend_ms": (0, 600000),
    "min_rise_ppm": (0, 1000),
    "flush_ms": (0, 600000),
    "sample_ms": (1000, 60000),
    "pulse_every_ms": (1000, 60000),
    "pulse_ms": (0, 5000),
    "open_fan_pct": (0, 100),
}

_MAX_ID = 32
_MAX_CMD_ID = 64
_MAX_BATCH = 500


class ProtocolError(ValueError):
    """A payload or topic that does not follow the protocol; ``field`` names what is wrong."""

    def __init__(self, field, message):
        super().__init__(field + ": " + message)
        self.field = field
        self.message = message


# --- topics -------------------------------------------------------------------------------


def _id_ok(s, maxlen):
    if not isinstance(s, str) or not 0 < len(s) <= maxlen:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-" or c == "_"):
            return False
    return True


def check_device_id(dev, field="dev"):
    """Return ``dev`` if it is a valid device id (``[a-z0-9_-]{1,32}``, not ``all``)."""
    if not _id_ok(dev, _MAX_ID) or dev == BROADCAST:
        raise ProtocolError(
            field, "device id must be 1-32 of [a-z0-9_-] and not 'all', got %r" % (dev,)
        )
    return dev


def topic(dev, kind):
    """The topic of message ``kind`` for device ``dev`` (``dev`` may be ``all`` for cmd)."""
    if kind not in KINDS:
        raise ProtocolError("kind", "unknown message kind %r" % (kind,))
    if dev == BROADCAST:
        if kind != "cmd":
            raise ProtocolError("dev", "only cmd may go to 'all'")
    else:
        check_device_id(dev)
    return PREFIX + dev + "/" + kind


def parse_topic(t):
    """Split a fleet topic into ``(device, kind)``; raise ProtocolError on a foreign topic."""
    if isinstance(t, bytes):
        t = t.decode()
    if not t.startswith(PREFIX):
        raise ProtocolError("topic", "not under %r: %r" % (PREFIX, t))
    parts = t[len(PREFIX) :].split("/")
    if len(parts) != 2:
        raise ProtocolError("topic", "expected fluxfleet/v1/<device>/<kind>, got %r" % (t,))
    dev, kind = parts
    if kind not in KINDS:
        raise ProtocolError("topic", "unknown message kind %r" % (kind,))
    if dev == BROADCAST:
        if kind != "cmd":
            raise ProtocolError("topic", "only cmd may go to 'all'")
    else:
        check_device_id(dev, "topic")
    return dev, kind


# --- location codes ----------------------------------------------------------------------


def check_location(loc, field="loc"):
    """Return ``loc`` if it is a location code ``table.variant.replica`` (e.g. ``9.2.B``).

    Table and variant are 1-4 digit numbers, the replica 1-4 letters or digits.
    """
    if not isinstance(loc, str):
        raise ProtocolError(
            field, "location must be a string 'table.variant.replica', got %r" % (loc,)
        )
    parts = loc.split(".")
    ok = len(parts) == 3
    if ok:
        for i in range(3):
            p = parts[i]
            if not 0 < len(p) <= 4:
                ok = False
            elif i < 2 and not p.isdigit():
                ok = False
            elif i == 2 and not all(
                c.isdigit() or ("A" <= c <= "Z") or ("a" <= c <= "z") for c in p
            ):
                ok = False
    if not ok:
        raise ProtocolError(
            field, "location must look like 'table.variant.replica' (e.g. 9.2.B), got %r" % (loc,)
        )
    return loc


# --- field checks ------------------------------------------------------------------------


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x):
    return (isinstance(x, int) or isinstance(x, float)) and not isinstance(x, bool)


def _int(d, key, path, lo=None, hi=None, required=True):
    if key not in d:
        if required:
            raise ProtocolError(path + key, "missing")
        return
    x = d[key]
    if not _is_int(x):
        raise ProtocolError(path + key, "expected an integer, got %r" % (x,))
    if lo is not None and x < lo:
        raise ProtocolError(path + key, "%d is below %d" % (x, lo))
    if hi is not None and x > hi:
        raise ProtocolError(path + key, "%d is above %d" % (x, hi))


def _num(d, key, path, lo, hi, nullable=True):
    if key not in d:
        raise ProtocolError(path + key, "missing")
    x = d[key]
    if x is None:
        if nullable:
            return
        raise ProtocolError(path + key, "must not be null")
    if not _is_num(x) or x != x:
        raise ProtocolError(path + key, "expected a number or null, got %r" % (x,))
    if x < lo or x > hi:
        raise ProtocolError(path + key, "%r is outside [%r, %r]" % (x, lo, hi))


def _str(d, key, path, choices=None, maxlen=64, required=True):
    if key not in d:
        if required:
            raise ProtocolError(path + key, "missing")
        return
    x = d[key]
    if not isinstance(x, str):
        raise ProtocolError(path + key, "expected a string, got %r" % (x,))
    if choices is not None and x not in choices:
        raise ProtocolError(path + key, "%r is not one of %s" % (x, ", ".join(choices)))
    if len(x) > maxlen:
        raise ProtocolError(path + key, "longer than %d characters" % maxlen)


def _bool(d, key, path):
    if key not in d:
        raise ProtocolError(path + key, "missing")
    if not isinstance(d[key], bool):
        raise ProtocolError(path + key, "expected true or false, got %r" % (d[key],))


_TS_MAX = 1 << 53


def _header(d, device):
    _int(d, "v", "", 1, None)
    if d["v"] != SCHEMA_VERSION:
        raise ProtocolError(
            "v", "schema version %d is not supported (this is %d)" % (d["v"], SCHEMA_VERSION)
        )
    _int(d, "ts", "", 0, _TS_MAX)
    if device:
        if "dev" not in d:
            raise ProtocolError("dev", "missing")
        check_device_id(d["dev"])
        _int(d, "boot", "", 0, None)
        _int(d, "seq", "", 0, None)


# Valid ranges of the sample readings (inclusive); outside them a reading is not a
# measurement. The firmware turns such readings into null + the "missing" flag.
READING_LIMITS = {
    "co2_ppm": (0, 100000),
    "rh_pct": (0, 100),
    "t_c": (-50, 100),
    "ta_c": (-50, 100),
    "p_hpa": (300, 1200),
    "lux": (0, 200000),
}


def _check_sample(s, path):
    if not isinstance(s, dict):
        raise ProtocolError(path[:-1], "expected an object, got %r" % (s,))
    _int(s, "seq", path, 0, None)
    _int(s, "ts", path, 0, _TS_MAX)
    _int(s, "cyc", path, 0, None)
    _str(s, "ph", path, PHASES)
    for k in ("co2_ppm", "rh_pct", "t_c", "ta_c", "p_hpa", "lux"):
        lo, hi = READING_LIMITS[k]
        _num(s, k, path, lo, hi)
    _int(s, "lid_deg", path, 0, 270)
    _int(s, "fan_pct", path, 0, 100)
    _int(s, "fl", path, 0, 255)


def _check_telemetry(d):
    _header(d, True)
    check_location(d.get("loc"), "loc")
    if "samples" not in d:
        raise ProtocolError("samples", "missing")
    samples = d["samples"]
    if not isinstance(samples, list) or not samples:
        raise ProtocolError("samples", "expected a non-empty list of samples")
    if len(samples) > _MAX_BATCH:
        raise ProtocolError("samples", "more than %d samples in one message" % _MAX_BATCH)
    prev = -1
    for i in range(len(samples)):
        path = "samples[%d]." % i
        _check_sample(samples[i], path)
        if samples[i]["seq"] <= prev:
            raise ProtocolError(path + "seq", "sample seq must increase within a message")
        prev = samples[i]["seq"]
    if d["seq"] != samples[0]["seq"]:
        raise ProtocolError("seq", "must equal the first sample's seq")


def _check_cycle(d):
    _header(d, True)
    check_location(d.get("loc"), "loc")
    _int(d, "cyc", "", 0, None)
    _int(d, "t_close", "", 0, _TS_MAX)
    _int(d, "t_open", "", 0, _TS_MAX)
    _int(d, "closed_ms", "", 0, None)
    _int(d, "ext_ms", "", 0, None)
    _int(d, "n", "", 0, None)
    _num(d, "co2_start", "", 0, 100000)
    _num(d, "co2_end", "", 0, 100000)
    _num(d, "slope_ppm_s", "", -1000, 1000)
    _num(d, "r2", "", 0, 1)
    _int(d, "fl", "", 0, 255)


def _check_status(d):
    _header(d, True)
    _str(d, "state", "", STATES)
    _str(d, "detail", "", None, 200, False)


def _check_meta(d):
    _header(d, True)
    _str(d, "fw", "", None, 32)
    _str(d, "slot", "", ("a", "b", "dev"))
    if d.get("loc") is not None:
        check_location(d["loc"], "loc")
    elif "loc" not in d:
        raise ProtocolError("loc", "missing (null when not yet entered)")
    _str(d, "reset", "", None, 32)
    _int(d, "uptime_ms", "", 0, None)
    if "skew_ms" not in d:
        raise ProtocolError("skew_ms", "missing (null before the first NTP sync)")
    if d["skew_ms"] is not None and not _is_int(d["skew_ms"]):
        raise ProtocolError("skew_ms", "expected an integer or null, got %r" % (d["skew_ms"],))
    _bool(d, "ntp", "")
    if "conf" in d:  # optional (firmware 6.2+): the running version confirmed to the loader
        _bool(d, "conf", "")
    _int(d, "lost", "", 0, None)
    if "sched" not in d:
        raise ProtocolError("sched", "missing")
    check_schedule(d["sched"], "sched.", partial=False)


def _check_ack(d):
    _header(d, True)
    _str(d, "cmd_id", "", None, _MAX_CMD_ID)
    _str(d, "state", "", ACK_STATES)
    _str(d, "detail", "", None, 200, False)


def check_schedule(s, path="args.", partial=True):
    """Check a schedule dict (keys of :data:`SCHEDULE_LIMITS`, integers within their range)."""
    if not isinstance(s, dict):
        raise ProtocolError(path[:-1], "expected an object, got %r" % (s,))
    for k in s:
        if k not in SCHEDULE_LIMITS:
            raise ProtocolError(path + str(k), "unknown schedule key")
    for k in SCHEDULE_LIMITS:
        lo, hi = SCHEDULE_LIMITS[k]
        if k in s or not partial:
            _int(s, k, path, lo, hi)
    if "period_ms" in s and "closed_ms" in s:
        used = s["closed_ms"] + s.get("extend_ms", 0) + s.get("flush_ms", 0) + 30000
        if used > s["period_ms"]:
            raise ProtocolError(
                path + "period_ms", "closed + extension + flush + 30 s do not fit in the period"
            )
    if "pulse_ms" in s and "pulse_every_ms" in s and s["pulse_ms"] > s["pulse_every_ms"]:
        raise ProtocolError(path + "pulse_ms", "a fan pulse longer than its period")
    return s


def _check_cmd(d):
    _header(d, False)
    _str(d, "cmd_id", "", None, _MAX_CMD_ID)
    if not d["cmd_id"]:
        raise ProtocolError("cmd_id", "must not be empty")
    _str(d, "cmd", "", COMMANDS)
    _int(d, "expires", "", 0, _TS_MAX)
    _int(d, "exec_at", "", 0, _TS_MAX, False)
    args = d.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("args", "expected an object, got %r" % (args,))
    c = d["cmd"]
    if c == "frc":
        for k in args:
            if k != "ppm":
                raise ProtocolError("args." + str(k), "unknown argument of frc")
        if "ppm" in args:
            _int(args, "ppm", "args.", 400, 2000)
    elif c == "set_location":
        for k in args:
            if k != "loc":
                raise ProtocolError("args." + str(k), "unknown argument of set_location")
        check_location(args.get("loc"), "args.loc")
    elif c == "set_schedule":
        if not args:
            raise ProtocolError("args", "set_schedule needs at least one schedule key")
        check_schedule(args, "args.", True)
    elif c == "servo_test":
        for k in args:
            if k != "sweeps":
                raise ProtocolError("args." + str(k), "unknown argument of servo_test")
        if "sweeps" in args:
            _int(args, "sweeps", "args.", 1, 10)
    else:  # reboot
        for k in args:
            raise ProtocolError("args." + str(k), "reboot takes no arguments")


_CHECKS = {
    "telemetry": _check_telemetry,
    "cycle": _check_cycle,
    "status": _check_status,
    "meta": _check_meta,
    "ack": _check_ack,
    "cmd": _check_cmd,
}


def validate(kind, d):
    """Check payload dict ``d`` of message ``kind``; return it or raise ProtocolError."""
    if kind not in _CHECKS:
        raise ProtocolError("kind", "unknown message kind %r" % (kind,))
    if not isinstance(d, dict):
        raise ProtocolError("payload", "expected a JSON object, got %r" % (type(d).__name__,))
    _CHECKS[kind](d)
    return d


def reading(key, x):
    """``x`` if it is a plausible value of reading ``key``; None for NaN/inf/out of range."""
    if not _is_num(x) or x != x:
        return None
    lo, hi = READING_LIMITS[key]
    if x < lo or x > hi:
        return None
    return x


def dumps(d):
    """Compact JSON text of ``d`` (no validation)."""
    try:
        return json.dumps(d, separators=(",", ":"))
    except TypeError:  # MicroPython's ujson has no separators and is already compact
        return json.dumps(d)


def encode(kind, d, check=True):
    """Validate payload ``d`` of ``kind`` and return its compact JSON as bytes."""
    if check:
        validate(kind, d)
    return dumps(d).encode()


def decode(kind, data):
    """Parse and validate a payload of ``kind`` from bytes/str; raise ProtocolError if bad."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode()
        except Exception:
            raise ProtocolError("payload", "not UTF-8")
    try:
        d = json.loads(data)
    except Exception as e:
        raise ProtocolError("payload", "not JSON: %s" % (e,))
    return validate(kind, d)


# --- builders (what the firmware publishes) ------------------------------------------------


def make_cmd(cmd_id, cmd, expires, args=None, exec_at=None, ts=0):
    """A command payload dict (for the server and tests)."""
    d = {"v": SCHEMA_VERSION, "ts": ts, "cmd_id": cmd_id, "cmd": cmd, "expires": expires}
    if args:
        d["args"] = args
    if exec_at is not None:
        d["exec_at"] = exec_at
    return validate("cmd", d)
