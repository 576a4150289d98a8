"""Narrow fakes for the firmware host tests.

Each fake implements exactly the interface the firmware uses (see
``fluxfleet/firmware/README.md``) and records what was done to it; nothing is a blanket
mock, so a call the firmware is not supposed to make fails with AttributeError.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fluxfleet.firmware import protocol
from fluxfleet.firmware.clock import ManualClock
from fluxfleet.firmware.controller import Controller
from fluxfleet.firmware.drivers import scd30
from fluxfleet.firmware.storage import MemoryStore

WALL0 = 1_700_000_000_000 - (1_700_000_000_000 % 600_000) + 300_000  # mid-period


class FakeCO2:
    """The controller-facing side of an SCD30: a CO2 curve as a function of ticks."""

    def __init__(self, clock: ManualClock, curve: Callable[[int], float | None]) -> None:
        self.clock = clock
        self.curve = curve
        self.fail = False
        self.pressures: list[int] = []
        self.frcs: list[tuple[int, int]] = []

    def read(self) -> tuple[float, float, float] | None:
        if self.fail:
            raise OSError(5, "EIO")
        c = self.curve(self.clock.ticks)
        if c is None:
            return None
        return (c, 24.0, 55.0)

    def set_pressure(self, hpa: int) -> None:
        self.pressures.append(hpa)

    def frc(self, ppm: int) -> None:
        if self.fail:
            raise OSError(5, "EIO")
        self.frcs.append((self.clock.ticks, ppm))


class FakeBaro:
    def read(self) -> tuple[float, float]:
        return (970.3, 21.5)


class FakeLight:
    lux = 2.0

    def read(self) -> float:
        return self.lux


class FakeServo:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.moves: list[tuple[int, int]] = []

    def angle(self, deg: int) -> None:
        self.moves.append((self.clock.ticks, deg))


class FakeFan:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.duties: list[tuple[int, int]] = []

    def duty(self, pct: int) -> None:
        self.duties.append((self.clock.ticks, pct))


class FakeHal:
    def __init__(self, clock: ManualClock, curve: Callable[[int], float | None]) -> None:
        self.clock = clock
        self.co2 = FakeCO2(clock, curve)
        self.baro = FakeBaro()
        self.light = FakeLight()
        self.servo = FakeServo(clock)
        self.fan = FakeFan(clock)
        self.store = MemoryStore()
        self.wifi = True
        self.ntp_offset_ms: int | None = 0  # NTP = wall clock + offset; None = no answer
        self.reboots: list[int] = []
        self.confirms: list[int] = []

    def net_up(self) -> bool:
        return self.wifi

    def net_connect(self) -> None:
        pass

    def ntp_ms(self) -> int | None:
        if self.ntp_offset_ms is None or not self.wifi:
            return None
        return self.clock.time_ms() + self.ntp_offset_ms

    def reboot(self) -> None:
        self.reboots.append(self.clock.ticks)

    def confirm(self) -> None:
        self.confirms.append(self.clock.ticks)


@dataclass
class Published:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    pid: int = 0

    @property
    def kind(self) -> str:
        return protocol.parse_topic(self.topic)[1]

    def decoded(self) -> dict[str, Any]:
        return protocol.decode(self.kind, self.payload)


@dataclass
class FakeLink:
    """The controller-facing MQTT link, with a broker that PUBACKs on the next poll."""

    up: bool = True
    auto_ack: bool = True
    published: list[Published] = field(default_factory=list)
    inbox: list[tuple[Any, ...]] = field(default_factory=list)  # (topic, payload[, retained])
    subscriptions: list[str] = field(default_factory=list)
    will: tuple[str, bytes] | None = None
    connects: int = 0
    pings: int = 0
    answer_pings: bool = True
    _pid: int = 0
    _unacked: list[int] = field(default_factory=list)
    _pingresp: bool = False
    connected: bool = False
    acked: list[tuple[int, int]] = field(default_factory=list)  # (sample seq, publish index)

    def connect(
        self, client_id: str, will_topic: str, will_payload: bytes, keepalive_s: int
    ) -> None:
        if not self.up:
            raise OSError(113, "EHOSTUNREACH")
        self.connects += 1
        self.connected = True
        self.will = (will_topic, will_payload)

    def subscribe(self, topic: str, qos: int) -> None:
        self._check()
        self.subscriptions.append(topic)

    def _check(self) -> None:
        if not self.up or not self.connected:
            self.connected = False
            raise OSError(104, "ECONNRESET")

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        self._check()
        pid = 0
        if qos:
            self._pid = self._pid % 65535 + 1
            pid = self._pid
            self._unacked.append(pid)
        self.published.append(Published(topic, bytes(payload), qos, retain, pid))
        return pid

    def poll(self) -> list[tuple[Any, ...]]:
        self._check()
        events: list[tuple[Any, ...]] = []
        if self.auto_ack:
            for pid in self._unacked:
                events.append(("puback", pid))
                for p in reversed(self.published):
                    if p.pid == pid:
                        if p.kind == "telemetry":
                            n = len(self.published)
                            self.acked += [(s["seq"], n) for s in p.decoded()["samples"]]
                        break
            self._unacked = []
        if self._pingresp:
            events.append(("pingresp",))
            self._pingresp = False
        events += [("msg", *m) for m in self.inbox]
        self.inbox = []
        return events

    def ping(self) -> None:
        self._check()
        self.pings += 1
        self._pingresp = self.answer_pings

    def disconnect(self) -> None:
        self.connected = False

    def close(self) -> None:
        self.connected = False
        self._unacked = []

    def of_kind(self, kind: str) -> list[Published]:
        return [p for p in self.published if p.kind == kind]

    def samples(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in self.of_kind("telemetry"):
            out += p.decoded()["samples"]
        return out

    def resent_after_puback(self) -> list[int]:
        """Sample seqs published again after the broker's PUBACK for them was delivered."""
        last_published: dict[int, int] = {}
        for i, p in enumerate(self.published):
            if p.kind == "telemetry":
                for smp in p.decoded()["samples"]:
                    last_published[smp["seq"]] = i
        return [seq for seq, n in self.acked if last_published[seq] >= n]

    def acks(self) -> list[tuple[str, str]]:
        return [(d["cmd_id"], d["state"]) for d in (p.decoded() for p in self.of_kind("ack"))]

    def send_cmd(self, dev: str, **kw: Any) -> None:
        self.inbox.append(
            (protocol.topic(dev, "cmd"), json.dumps(protocol.make_cmd(**kw)).encode())
        )


class Rig:
    """A controller with its fakes, and a way to run it on the fake clock."""

    def __init__(
        self,
        curve: Callable[[int], float | None] | None = None,
        *,
        hal_hook: Callable[[FakeHal], None] | None = None,
        **config: Any,
    ) -> None:
        self.clock = ManualClock(wall_ms=WALL0)
        self.hal = FakeHal(self.clock, curve or (lambda t: 420.0))
        if hal_hook is not None:  # e.g. swap a fake for a real driver on a fake bus
            hal_hook(self.hal)
        self.link = FakeLink()
        self.config = {"dev": "c01", "loc": "9.2.B", **config}
        self.ctl = Controller(self.clock, self.hal, self.link, self.config)
        self.wakes: list[int] = []

    def run_until(self, ticks: int) -> None:
        """Step the controller at every wake time it asks for, up to ``ticks``."""
        same = 0
        while True:
            wake = self.ctl.step()
            if wake is None:
                return
            assert wake >= self.clock.ticks
            if wake > ticks:
                self.clock.set_ticks(ticks)
                return
            self.wakes.append(wake)
            same = same + 1 if wake == self.clock.ticks else 0
            assert same < 5, "controller asks to be called again at the same tick forever"
            self.clock.set_ticks(wake)

    def reboot(self) -> None:
        """A new boot on the same flash (store) and a fresh link, as after hal.reboot()."""
        self.link = FakeLink()
        boots = self.config.get("boots", 0) + 1
        self.config["boots"] = boots
        self.ctl = Controller(self.clock, self.hal, self.link, self.config)


@pytest.fixture
def rig_factory() -> Callable[..., Rig]:
    return Rig


class FakeSCD30Bus:
    """The I2C side of an SCD30 at 0x61: parses command frames, checks their CRC, answers.

    Implements only ``writeto``/``readfrom`` (what the driver may use) and records every
    frame written, so tests can compare bytes with the interface description.
    """

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock
        self.written: list[bytes] = []
        self.written_at: list[int] = []  # clock ticks of each frame (when given a clock)
        self.interval = 2
        self.asc = 1  # factory default: on
        self.pressure = None
        self.measuring = False
        self.frc = 400
        self.ready = 1
        self.values = (612.5, 24.25, 55.5)
        self.corrupt_next_read = False
        self.nack = False
        self._pending: bytes | None = None

    @staticmethod
    def _word(v: int) -> bytes:
        w = bytes(((v >> 8) & 0xFF, v & 0xFF))
        return w + bytes((scd30.crc8(w),))

    def writeto(self, addr: int, buf: bytes) -> None:
        if self.nack or addr != 0x61:
            raise OSError(19, "ENODEV")  # no device acknowledges
        buf = bytes(buf)
        self.written.append(buf)
        if self.clock is not None:
            self.written_at.append(self.clock.ticks)
        cmd = (buf[0] << 8) | buf[1]
        arg = None
        if len(buf) == 5:
            if scd30.crc8(buf[2:4]) != buf[4]:
                raise AssertionError("driver sent an argument with a wrong CRC")
            arg = (buf[2] << 8) | buf[3]
        elif len(buf) != 2:
            raise AssertionError(f"SCD30 frames are 2 or 5 bytes, got {len(buf)}")
        if cmd == scd30.CMD_START:
            self.pressure, self.measuring = arg, True
        elif cmd == scd30.CMD_INTERVAL and arg is not None:
            self.interval = arg
        elif cmd == scd30.CMD_ASC and arg is not None:
            self.asc = arg
        elif cmd == scd30.CMD_FRC and arg is not None:
            self.frc = arg
        responses = {
            scd30.CMD_DATA_READY: lambda: self._word(self.ready),
            scd30.CMD_INTERVAL: lambda: self._word(self.interval),
            scd30.CMD_ASC: lambda: self._word(self.asc),
            scd30.CMD_FRC: lambda: self._word(self.frc),
            scd30.CMD_FIRMWARE: lambda: self._word(0x0342),
            scd30.CMD_READ: self._measurement,
        }
        self._pending = responses[cmd]() if arg is None and cmd in responses else None

    def _measurement(self) -> bytes:
        out = b""
        for v in self.values:
            hi, lo = struct.unpack(">HH", struct.pack(">f", v))
            out += self._word(hi) + self._word(lo)
        return out

    def readfrom(self, addr: int, n: int) -> bytes:
        if self.nack or addr != 0x61:
            raise OSError(19, "ENODEV")
        assert self._pending is not None, "read without a preceding query command"
        data = bytearray(self._pending[:n])
        assert len(data) == n, f"driver read {n} bytes, sensor has {len(data)}"
        if self.corrupt_next_read:
            data[1] ^= 0x01
            self.corrupt_next_read = False
        return bytes(data)


class RegisterBus:
    """A register-file I2C device: write [reg] then read n bytes from reg on."""

    def __init__(self, addr: int, regs: dict[int, int]) -> None:
        self.addr = addr
        self.regs = regs
        self.ptr = 0
        self.writes: list[bytes] = []

    def writeto(self, addr: int, buf: bytes) -> None:
        assert addr == self.addr
        self.writes.append(bytes(buf))
        self.ptr = buf[0]
        for i, b in enumerate(buf[1:]):
            self.regs[self.ptr + i] = b

    def readfrom(self, addr: int, n: int) -> bytes:
        assert addr == self.addr
        return bytes(self.regs.get(self.ptr + i, 0) for i in range(n))
