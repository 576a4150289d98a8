"""Fleet commands: build them with the protocol's own functions, record, publish, follow.

A command gets a ``cmd_id`` (the devices de-duplicate on it), an expiry and optionally a
synchronised ``exec_at``. It is stored (who sent it, what, to whom) *before* it is
published, so no command ever reaches a device without its audit row; it is published
with QoS 1 and never retained (a retained reboot would run at every connect). The
devices' acks are stored by the ingestor (``command_acks``); :func:`command_status` joins
them with the targets.

Devices connect with a clean session: a command published while a device is off the
network never reaches it. :class:`Follower` therefore publishes the command again, on the
device's own topic, whenever a target that has not answered comes back online — even
after the expiry, so that the device itself answers ``expired`` and the audit trail tells
"saw it too late" from "never answered".
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from fluxfleet.firmware import protocol as _protocol
from fluxfleet.store import schema
from fluxfleet.store.base import Batch, Store

protocol: Any = _protocol  # MicroPython module without annotations

FINAL_STATES = ("done", "failed", "expired")
"""Ack states after which a device does nothing more about a command."""
STATE_ORDER = {"accepted": 1, "expired": 2, "failed": 2, "done": 2}

_OPTIONS = {"args.ppm": "--ppm", "args.sweeps": "--sweeps", "args.loc": "LOCATION"}
"""The command-line name of a payload field the protocol refuses."""
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class CommandError(ValueError):
    """A command the server refuses to send; ``option`` names what is wrong."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


def parse_duration_ms(text: str, option: str) -> int:
    """``90s``, ``10m``, ``2h``, ``1d``, ``500ms`` as milliseconds [ms] (> 0)."""
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise CommandError(option, f"expected a duration like 90s, 10m, 2h or 1d, got {text!r}")
    return round(float(m.group(1)) * _UNIT_MS[m.group(2)])


def parse_time_ms(text: str, option: str) -> int:
    """An ISO 8601 time (``2026-12-07T03:00:00Z``; no zone = UTC) as ms since the epoch."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            option, f"expected an ISO 8601 time like 2026-12-07T03:00:00Z, got {text!r}"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return round(t.timestamp() * 1000)


def parse_expires_ms(text: str, now_ms: int) -> int:
    """``--expires``: a duration from now, or an absolute ISO 8601 time [ms since epoch]."""
    if _DURATION.match(text.strip()):
        return now_ms + parse_duration_ms(text, "--expires")
    try:
        t = parse_time_ms(text, "--expires")
    except CommandError:
        raise CommandError(
            "--expires", f"expected a duration (90s, 10m, 2h, 1d) or an ISO 8601 time, got {text!r}"
        ) from None
    if t <= now_ms:
        raise CommandError("--expires", f"{text} is already past")
    return t


def schedule_args(pairs: Iterable[str]) -> dict[str, int]:
    """``KEY=VALUE`` pairs as a ``set_schedule`` argument, checked against the protocol's
    limits (:data:`fluxfleet.firmware.protocol.SCHEDULE_LIMITS`) before anything is sent."""
    args: dict[str, int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError("KEY=VALUE", f"expected KEY=VALUE, got {pair!r}")
        if key not in protocol.SCHEDULE_LIMITS:
            raise CommandError(
                key, f"unknown schedule key; one of {', '.join(protocol.SCHEDULE_LIMITS)}"
            )
        try:
            args[key] = int(value)
        except ValueError:
            raise CommandError(key, f"expected an integer, got {value!r}") from None
    if not args:
        raise CommandError("KEY=VALUE", "set-schedule needs at least one KEY=VALUE")
    try:
        protocol.check_schedule(args, "", True)
    except protocol.ProtocolError as exc:
        raise CommandError(exc.field, exc.message) from None
    return args


def new_cmd_id(cmd: str, now_ms: int) -> str:
    """A unique, readable command id: ``frc-20261207T031500Z-3f9a1c``."""
    stamp = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{cmd.replace('_', '-')}-{stamp}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Command:
    """One command as sent (times in ms since the epoch, UTC)."""

    cmd_id: str
    cmd: str
    args: dict[str, Any]
    broadcast: bool
    devices: tuple[str, ...]
    """The devices expected to answer (for a broadcast: those the store knew)."""
    operator: str
    sent_ms: int
    expires_ms: int
    exec_at_ms: int | None
    payload: bytes

    def topics(self) -> list[str]:
        """Where it is published: the fleet topic, or each device's own."""
        if self.broadcast:
            return [protocol.topic(protocol.BROADCAST, "cmd")]
        return [protocol.topic(d, "cmd") for d in self.devices]


def build(
    cmd: str,
    args: dict[str, Any] | None,
    devices: list[str] | None,
    operator: str,
    now_ms: int,
    expires_ms: int,
    exec_at_ms: int | None = None,
    known_devices: Iterable[str] = (),
) -> Command:
    """A checked command; ``devices=None`` sends it to the whole fleet (``all/cmd``).

    Raises
    ------
    CommandError
        Bad device id, no operator, expiry or exec_at not in the future, or a payload the
        protocol refuses (the option or field is named).
    """
    if not operator or len(operator) > 64:
        raise CommandError("--operator", "who sends the command must be 1-64 characters")
    if expires_ms <= now_ms:
        raise CommandError("--expires", "the expiry must be in the future")
    if exec_at_ms is not None:
        if exec_at_ms <= now_ms:
            raise CommandError("--at", "the execution time must be in the future")
        if exec_at_ms >= expires_ms:
            raise CommandError("--at", "the execution time must come before the expiry")
    if devices is not None:
        if not devices:
            raise CommandError("DEV", "name at least one device, or --all")
        for d in devices:
            try:
                protocol.check_device_id(d, "DEV")
            except protocol.ProtocolError as exc:
                raise CommandError("DEV", exc.message) from None
        targets = tuple(dict.fromkeys(devices))
    else:
        targets = tuple(sorted(set(known_devices)))
    cmd_id = new_cmd_id(cmd, now_ms)
    try:
        d = protocol.make_cmd(cmd_id, cmd, expires_ms, args or None, exec_at_ms, now_ms)
    except protocol.ProtocolError as exc:
        raise CommandError(_OPTIONS.get(exc.field, exc.field), exc.message) from None
    return Command(
        cmd_id=cmd_id,
        cmd=cmd,
        args=dict(args or {}),
        broadcast=devices is None,
        devices=targets,
        operator=operator,
        sent_ms=now_ms,
        expires_ms=expires_ms,
        exec_at_ms=exec_at_ms,
        payload=protocol.encode("cmd", d),
    )


def record(store: Store, command: Command) -> None:
    """Store the command and its targets (before it is published: the audit trail)."""
    c = command
    row = {
        "cmd_id": c.cmd_id,
        "cmd": c.cmd,
        "args": protocol.dumps(c.args),
        "target": protocol.BROADCAST if c.broadcast else ",".join(c.devices),
        "operator": c.operator,
        "sent": c.sent_ms,
        "expires": c.expires_ms,
        "exec_at": c.exec_at_ms,
        "payload": c.payload.decode(),
    }
    targets = [{"cmd_id": c.cmd_id, "device": d} for d in c.devices]
    store.write(
        Batch(
            commands=pa.Table.from_pylist([row], schema=schema.COMMANDS),
            command_targets=pa.Table.from_pylist(targets, schema=schema.COMMAND_TARGETS),
        )
    )


def known_devices(store: Store) -> list[str]:
    """Devices the store has heard from (the targets of a broadcast)."""
    return sorted(set(store.read("devices")["device"].to_pylist()))


# --- MQTT -----------------------------------------------------------------------------------


def _client(client_id: str, username: str | None, password: str | None) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username:
        c.username_pw_set(username, password)
    return c


@dataclass
class Follower:
    """Follows a command's acks over MQTT and re-delivers it to targets back online.

    :meth:`start` (connect, subscribe: no ack can be missed), :meth:`publish`,
    :meth:`wait`, :meth:`stop`.
    """

    host: str
    port: int
    command: Command
    username: str | None = None
    password: str | None = None
    states: dict[str, str] = field(default_factory=dict)
    """Each device's furthest ack state seen."""
    resent: dict[str, int] = field(default_factory=dict)
    """Re-deliveries per device."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ready = threading.Event()
        self._refused: str | None = None
        self._client = _client(
            f"fluxfleet-follow-{secrets.token_hex(4)}", self.username, self.password
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *a: self._ready.set()
        self._client.on_message = self._on_message

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:  # e.g. "Not authorized": no operator account, or a wrong password
            self._refused = str(rc)
            self._ready.set()
            return
        c.subscribe([(protocol.PREFIX + "+/ack", 1), (protocol.PREFIX + "+/status", 1)])

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        try:
            dev, kind = protocol.parse_topic(msg.topic)
            d = protocol.decode(kind, msg.payload)
        except protocol.ProtocolError:
            return
        targets = self.command.devices
        if kind == "ack" and d["cmd_id"] == self.command.cmd_id:
            with self._lock:
                old = self.states.get(dev)
                if old is None or STATE_ORDER[d["state"]] > STATE_ORDER[old]:
                    self.states[dev] = d["state"]
                if all(self.states.get(t) in FINAL_STATES for t in targets):
                    self._done.set()
        elif (
            kind == "status"
            and d["state"] == "online"
            and not msg.retain
            and dev in targets
            and dev not in self.states
        ):
            # a (re)connection of a target that has not answered: it gets the command again
            self.resent[dev] = self.resent.get(dev, 0) + 1
            c.publish(protocol.topic(dev, "cmd"), self.command.payload, qos=1, retain=False)

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe (raises OSError when the broker does not answer)."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise OSError(f"no subscription at the broker {self.host}:{self.port}")
        if self._refused is not None:
            self.stop()
            raise OSError(
                f"the broker refused the connection ({self._refused}): send commands with the "
                "operator account (FLUXFLEET_MQTT_USERNAME / FLUXFLEET_MQTT_PASSWORD or "
                "--config; see docs/fleet/operations.md)"
            )

    def publish(self, timeout_s: float = 10.0) -> None:
        """Publish the command (QoS 1, never retained); wait for the broker's PUBACKs."""
        infos = [
            self._client.publish(t, self.command.payload, qos=1, retain=False)
            for t in self.command.topics()
        ]
        for info in infos:
            info.wait_for_publish(timeout_s)
            if not info.is_published():
                raise OSError(f"the broker at {self.host}:{self.port} did not take the command")

    def wait(self, timeout_s: float) -> bool:
        """Wait until every target reached a final state; False at ``timeout_s`` [s]."""
        if not self.command.devices:
            return True
        return self._done.wait(timeout_s)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


# --- status ---------------------------------------------------------------------------------


def summarise(targets: Iterable[str], states: dict[str, str]) -> dict[str, list[str]]:
    """Targets grouped by their furthest state: done / failed / expired / accepted
    (answered, not finished) / no_answer. Devices that answered without being a target
    (a broadcast reaching a device the store did not know) are counted too."""
    out: dict[str, list[str]] = {
        "done": [],
        "failed": [],
        "expired": [],
        "accepted": [],
        "no_answer": [],
    }
    for dev in sorted(set(targets) | set(states)):
        out[states.get(dev, "no_answer")].append(dev)
    return out


def _rows(table: pa.Table, cmd_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.filter(pc.equal(table["cmd_id"], cmd_id)).to_pylist()
    return rows


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def command_status(store: Store, cmd_id: str) -> dict[str, Any] | None:
    """The command, each device's acks in order and the summary; None if unknown."""
    commands = _rows(store.read("commands"), cmd_id)
    if not commands:
        return None
    c = commands[0]
    targets = [r["device"] for r in _rows(store.read("command_targets"), cmd_id)]
    acks = sorted(
        _rows(store.read("command_acks"), cmd_id),
        key=lambda r: (r["device"], STATE_ORDER[r["state"]], r["time"]),
    )
    states: dict[str, str] = {}
    per_device: dict[str, list[dict[str, Any]]] = {}
    for a in acks:
        states[a["device"]] = a["state"]
        per_device.setdefault(a["device"], []).append(
            {"state": a["state"], "time": _iso(a["time"]), "boot": a["boot"], "detail": a["detail"]}
        )
    return {
        "cmd_id": c["cmd_id"],
        "cmd": c["cmd"],
        "args": json.loads(c["args"]),
        "target": c["target"],
        "operator": c["operator"],
        "sent": _iso(c["sent"]),
        "expires": _iso(c["expires"]),
        "exec_at": _iso(c["exec_at"]),
        "devices": {dev: per_device.get(dev, []) for dev in sorted(set(targets) | set(states))},
        "summary": summarise(targets, states),
    }


def now_ms() -> int:
    """The server's wall clock [ms since the epoch]."""
    return int(time.time() * 1000)
