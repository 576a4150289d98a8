"""Decode and validate fleet messages and gather the rows of one store commit.

Every message is checked with the firmware's own :mod:`~fluxfleet.firmware.protocol`
(schema version, types, units, ranges, the device in the payload equal to the device in
the topic), plus what the store needs beyond the protocol: times within
:data:`TIME_RANGE_MS` and integers that fit 64 bits. A message that fails any check goes,
whole, to the dead letters with its topic, raw bytes and the reason; nothing about a
payload can raise out of :meth:`BatchBuilder.add`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from fluxfleet.firmware import protocol as _protocol
from fluxfleet.ingest.fastcheck import TelemetryRows, prove_telemetry
from fluxfleet.store import schema
from fluxfleet.store.base import Batch

protocol: Any = _protocol  # MicroPython module without annotations

KINDS = ("telemetry", "cycle", "status", "meta", "ack")
"""Message kinds the ingestor subscribes to (``ack``: the command audit trail)."""

TIME_RANGE_MS = (946_684_800_000, 4_102_444_800_000)
"""Device times the store accepts: 2000-01-01 to 2100-01-01 UTC [ms since the epoch]."""

_INT_MAX = (1 << 62) - 1
CLOSURE_PHASES = ("closing", "closed", "extended")
_CLOSING_ARROW = pa.array(CLOSURE_PHASES, pa.string())


class Rejected(ValueError):
    """A message the ingestor refuses; ``str()`` is the dead letter's reason."""


@dataclass
class Dirty:
    """What a batch changed that the live fluxes care about, per device."""

    times_ms: dict[str, list[int]] = field(default_factory=dict)
    """Lid-close times of closures whose ``cycle`` message arrived [ms]."""
    samples: dict[str, dict[int, int]] = field(default_factory=dict)
    """Closure samples that arrived: cycle number → latest sample time [ms]. They matter
    only for a closure already finished (a late or replayed sample): the samples of a
    running closure are followed by its cycle message."""

    def add(self, device: str, t_ms: int) -> None:
        self.times_ms.setdefault(device, []).append(t_ms)

    def add_sample(self, device: str, cyc: int, t_ms: int) -> None:
        cycles = self.samples.setdefault(device, {})
        cycles[cyc] = max(cycles.get(cyc, t_ms), t_ms)

    def merge(self, other: Dirty) -> None:
        for device, times in other.times_ms.items():
            self.times_ms.setdefault(device, []).extend(times)
        for device, cycles in other.samples.items():
            for cyc, t in cycles.items():
                self.add_sample(device, cyc, t)

    def __bool__(self) -> bool:
        return bool(self.times_ms) or bool(self.samples)


def _time_ok(t: int, where: str) -> None:
    lo, hi = TIME_RANGE_MS
    if not lo <= t < hi:
        raise Rejected(f"{where}: time {t} ms is outside 2000-01-01 .. 2100-01-01 UTC")


def _int_ok(d: dict[str, Any], keys: tuple[str, ...], path: str = "") -> None:
    for k in keys:
        x = d.get(k)
        if isinstance(x, int) and not -_INT_MAX <= x <= _INT_MAX:
            raise Rejected(f"{path}{k}: {x} does not fit a 64-bit integer")


def _text_ok(d: dict[str, Any], keys: tuple[str, ...]) -> None:
    for k in keys:
        x = d.get(k)
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                raise Rejected(f"{k}: not valid Unicode text") from None
            if "\x00" in x:
                raise Rejected(f"{k}: contains a NUL character")


def decode(topic: str, payload: bytes) -> tuple[str, str, dict[str, Any]]:
    """``(device, kind, payload dict)`` of a valid message; :class:`Rejected` otherwise."""
    try:
        device, kind = protocol.parse_topic(topic)
        if kind not in KINDS:
            raise Rejected(f"topic: {kind!r} messages are not ingested")
        d = protocol.decode(kind, payload)
        if d["dev"] != device:
            raise Rejected(f"dev: payload device {d['dev']!r} differs from the topic's {device!r}")
    except protocol.ProtocolError as exc:
        raise Rejected(str(exc)) from None
    except Rejected:
        raise
    except Exception as exc:  # whatever a hostile payload provokes
        raise Rejected(f"payload: {type(exc).__name__}: {exc}") from None
    _int_ok(d, ("ts", "boot", "seq"))
    _time_ok(d["ts"], "ts")
    if kind == "telemetry":
        for i, s in enumerate(d["samples"]):
            _int_ok(s, ("seq", "cyc"), f"samples[{i}].")
            _time_ok(s["ts"], f"samples[{i}].ts")
    elif kind == "cycle":
        _int_ok(d, ("cyc", "closed_ms", "ext_ms", "n"))
        _time_ok(d["t_close"], "t_close")
        _time_ok(d["t_open"], "t_open")
    elif kind == "meta":
        _int_ok(d, ("uptime_ms", "skew_ms", "lost"))
        _text_ok(d, ("fw", "reset"))
    return device, kind, d


_SAMPLE_KEYS = (
    ("seq", "seq"),
    ("ts", "time"),
    ("cyc", "cyc"),
    ("ph", "phase"),
    ("co2_ppm", "co2_ppm"),
    ("rh_pct", "rh_percent"),
    ("t_c", "scd30_temperature_c"),
    ("ta_c", "temperature_c"),
    ("p_hpa", "pressure_hpa"),
    ("lux", "lux"),
    ("lid_deg", "lid_deg"),
    ("fan_pct", "fan_pct"),
    ("fl", "flags"),
)


class BatchBuilder:
    """Gathers the rows of one commit from raw messages.

    Parameters
    ----------
    locations : dict
        Each device's last stored location (``Store.last_locations``); a meta or
        telemetry message carrying another one adds a ``device_locations`` row. Updated
        in place.
    """

    def __init__(self, locations: dict[str, str]) -> None:
        self.locations = locations
        self.messages = 0
        self.rejected = 0
        self.dirty = Dirty()
        self._samples: dict[str, list[Any]] = {name: [] for name in schema.SAMPLES.names}
        self._order: list[int] = []  # each row's message number, to merge with the fast rows
        self._fast: list[pa.Table] = []  # samples proven by fastcheck, with "_order"
        self._closures: list[dict[str, Any]] = []
        self._devices: dict[str, dict[str, Any]] = {}
        self._locations: list[dict[str, Any]] = []
        self._dead: dict[tuple[str, bytes], dict[str, Any]] = {}
        self._acks: list[dict[str, Any]] = []

    def add(self, topic: str, payload: bytes, received_ms: int) -> bool:
        """Take one message; False (and a dead letter) if it is rejected. Never raises."""
        self.messages += 1
        try:
            device, kind, d = decode(topic, payload)
        except Rejected as exc:
            self.reject(topic, payload, received_ms, str(exc))
            return False
        dev = self._devices.setdefault(device, {"device": device})
        dev["last_seen"] = max(dev.get("last_seen", 0), received_ms)
        if kind == "telemetry":
            self._telemetry(device, d, received_ms)
        elif kind == "cycle":
            self._cycle(device, d, received_ms)
        elif kind == "status":
            if d["ts"] >= dev.get("state_time", 0):
                dev["state"] = d["state"]
                dev["state_time"] = d["ts"]
        elif kind == "ack":
            self._acks.append(
                {
                    "device": device,
                    "cmd_id": d["cmd_id"],
                    "state": d["state"],
                    "time": d["ts"],
                    "boot": d["boot"],
                    "detail": d.get("detail"),
                    "received": received_ms,
                }
            )
        else:
            self._meta(device, d)
        return True

    def add_many(self, messages: Sequence[tuple[str, bytes, int]]) -> int:
        """Take ``(topic, payload, received_ms)`` messages, in order, like :meth:`add` each;
        the number accepted. Telemetry that :func:`~fluxfleet.ingest.fastcheck.prove_telemetry`
        proves valid is taken as columns; every other message goes through :meth:`add`, so
        verdicts and reasons are the protocol's. Never raises on a payload."""
        rows = prove_telemetry([(t, p) for t, p, _ in messages], TIME_RANGE_MS, _INT_MAX)
        proven = dict(zip(rows.message, range(len(rows.message)), strict=True))
        first = self.messages
        accepted = 0
        received = np.empty(len(rows.message), dtype=np.int64)
        for i, (topic, payload, received_ms) in enumerate(messages):
            k = proven.get(i)
            if k is None:
                accepted += self.add(topic, payload, received_ms)
                continue
            self.messages += 1
            accepted += 1
            device = rows.device[k]
            dev = self._devices.setdefault(device, {"device": device})
            dev["last_seen"] = max(dev.get("last_seen", 0), received_ms)
            dev["boot"] = int(rows.boot[k])
            self._location(device, rows.loc[k], int(rows.ts[k]))
            dev["location"] = self.locations[device]
            received[k] = received_ms
        if rows.message:
            self._fast.append(self._fast_samples(rows, received, first))
        return accepted

    def _fast_samples(self, rows: TelemetryRows, received: Any, first: int) -> pa.Table:
        """The samples table of proven telemetry (plus ``_order``); marks closures dirty."""
        counts = np.diff(rows.starts)
        c = rows.columns
        message_of_row = pa.array(np.repeat(np.arange(len(counts)), counts))
        per_row = {  # strings taken from one per message: no Python string per row
            "device": pa.array(rows.device, pa.string()).take(message_of_row),
            "location": pa.array(rows.loc, pa.string()).take(message_of_row),
            "boot": np.repeat(rows.boot, counts),
            "received": np.repeat(received, counts),
            "_order": np.repeat(np.array(rows.message, np.int64) + first, counts),
        }
        arrays: dict[str, Any] = {}
        for key, name in _SAMPLE_KEYS:
            if key == "ph":
                arrays[name] = c[key]  # already an Arrow string array
            elif key in ("co2_ppm", "rh_pct", "t_c", "ta_c", "p_hpa", "lux"):
                arrays[name] = pa.array(c[key], type=pa.float64(), mask=np.isnan(c[key]))
            else:
                arrays[name] = pa.array(c[key]).cast(schema.SAMPLES.field(name).type)
        arrays["device"], arrays["location"] = per_row["device"], per_row["location"]
        for name in ("boot", "received"):
            arrays[name] = pa.array(per_row[name]).cast(schema.SAMPLES.field(name).type)
        table = pa.table(
            {name: arrays[name] for name in schema.SAMPLES.names}
            | {"_order": pa.array(per_row["_order"])}
        )
        closing = pc.fill_null(pc.is_in(c["ph"], _CLOSING_ARROW), False).to_numpy(
            zero_copy_only=False
        )
        if closing.any():  # latest closure-sample time per (device, cyc), vectorised
            _, device_no = np.unique(np.array(rows.device, object), return_inverse=True)
            dev_row = np.repeat(device_no, counts)[closing]
            cyc, ts = c["cyc"][closing], c["ts"][closing]
            order = np.lexsort((cyc, dev_row))
            dev_row, cyc, ts = dev_row[order], cyc[order], ts[order]
            new = np.ones(len(order), dtype=bool)
            new[1:] = (dev_row[1:] != dev_row[:-1]) | (cyc[1:] != cyc[:-1])
            heads = np.flatnonzero(new)
            latest = np.maximum.reduceat(ts, heads)
            names = np.array(rows.device, object)[message_of_row.to_numpy()]
            names = names[closing][order][heads]
            for device, cy, t in zip(names, cyc[heads], latest, strict=True):
                self.dirty.add_sample(str(device), int(cy), int(t))
        return table

    def reject(self, topic: str, payload: bytes, received_ms: int, reason: str) -> None:
        """Store a message as a dead letter (the same topic and bytes again: counted)."""
        self.rejected += 1
        key = (topic, payload)
        row = self._dead.get(key)
        if row is not None:
            row["received_count"] += 1
            row["last_received"] = max(row["last_received"], received_ms)
            return
        self._dead[key] = {
            "received": received_ms, "topic": topic, "payload": payload, "reason": reason,
            "last_received": received_ms, "received_count": 1,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }  # fmt: skip

    def _location(self, device: str, loc: str | None, ts: int) -> None:
        if loc is not None and self.locations.get(device) != loc:
            self.locations[device] = loc
            self._locations.append({"device": device, "location": loc, "since": ts})

    def _telemetry(self, device: str, d: dict[str, Any], received_ms: int) -> None:
        cols = self._samples
        n = len(d["samples"])
        for s in d["samples"]:
            for key, name in _SAMPLE_KEYS:
                cols[name].append(s[key])
            if s["ph"] in CLOSURE_PHASES:
                self.dirty.add_sample(device, s["cyc"], s["ts"])
        cols["device"].extend([device] * n)
        cols["location"].extend([d["loc"]] * n)
        cols["boot"].extend([d["boot"]] * n)
        cols["received"].extend([received_ms] * n)
        self._order.extend([self.messages - 1] * n)
        self._devices[device]["boot"] = d["boot"]
        self._location(device, d["loc"], d["ts"])
        self._devices[device]["location"] = self.locations[device]

    def _cycle(self, device: str, d: dict[str, Any], received_ms: int) -> None:
        self._closures.append(
            {
                "device": device,
                "cyc": d["cyc"],
                "boot": d["boot"],
                "location": d["loc"],
                "time_close": d["t_close"],
                "time_open": d["t_open"],
                "closed_ms": d["closed_ms"],
                "extended_ms": d["ext_ms"],
                "n": d["n"],
                "co2_start_ppm": d["co2_start"],
                "co2_end_ppm": d["co2_end"],
                "slope_ppm_s": d["slope_ppm_s"],
                "r2": d["r2"],
                "flags": d["fl"],
                "received": received_ms,
            }
        )
        self.dirty.add(device, d["t_close"])

    def _meta(self, device: str, d: dict[str, Any]) -> None:
        dev = self._devices[device]
        dev.update(
            firmware=d["fw"],
            slot=d["slot"],
            boot=d["boot"],
            reset_cause=d["reset"],
            uptime_ms=d["uptime_ms"],
            skew_ms=d["skew_ms"],
            ntp=d["ntp"],
            lost=d["lost"],
        )
        self._location(device, d["loc"], d["ts"])
        if d["loc"] is not None:
            dev["location"] = d["loc"]

    def build(self) -> Batch:
        """The Arrow tables of everything added."""
        samples = pa.table(
            {
                name: pa.array(self._samples[name], type=schema.SAMPLES.field(name).type)
                for name in schema.SAMPLES.names
            }
        )
        if self._fast:
            slow = samples.append_column("_order", pa.array(self._order, pa.int64()))
            merged = pa.concat_tables([slow, *self._fast])
            order = merged["_order"].to_numpy()
            if (np.diff(order) < 0).any():  # rows in the order their messages came
                merged = merged.take(np.argsort(order, kind="stable"))
            samples = merged.drop_columns(["_order"])
        return Batch(
            samples=samples,
            closures=pa.Table.from_pylist(self._closures, schema=schema.CLOSURES),
            devices=pa.Table.from_pylist(list(self._devices.values()), schema=schema.DEVICES),
            device_locations=pa.Table.from_pylist(self._locations, schema=schema.DEVICE_LOCATIONS),
            dead_letters=pa.Table.from_pylist(
                list(self._dead.values()), schema=schema.DEAD_LETTERS
            ),
            command_acks=pa.Table.from_pylist(self._acks, schema=schema.COMMAND_ACKS),
        )
