"""The device's own main loop end to end: drivers on fake I2C chips, real MQTT to Mosquitto.

Only the physical layer is faked (an I2C bus with an SCD30, a QMP6988 and a BH1750 that
speak their byte protocols; a servo and a fan that record; a virtual clock advanced by
the loop's own sleeps). Everything above it - ``main.run``, the drivers, the controller,
the ring buffer on a flash directory, the MQTT client over TCP - is the firmware itself.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fluxfleet.firmware import main, protocol, sntp
from fluxfleet.firmware import ring as ringmod
from fluxfleet.firmware.clock import ManualClock
from fluxfleet.firmware.drivers import qmp6988
from fluxfleet.firmware.hal.host import TcpTransport
from fluxfleet.firmware.storage import FileStore

from testsupport.mqtt import MqttWatcher

from .conftest import WALL0, FakeSCD30Bus, RegisterBus


class MultiBus:
    """One I2C bus with several chips; an address nobody answers is ENODEV."""

    def __init__(self, chips: dict[int, Any]) -> None:
        self.chips = chips

    def _chip(self, addr: int) -> Any:
        if addr not in self.chips:
            raise OSError(19, "ENODEV")
        return self.chips[addr]

    def writeto(self, addr: int, buf: bytes) -> None:
        self._chip(addr).writeto(addr, buf)

    def readfrom(self, addr: int, n: int) -> bytes:
        return self._chip(addr).readfrom(addr, n)


QMP_OTP = bytes([0] * 18 + [0x19, 0x00] + [0] * 5)  # a0 = 0x19000 / 16: 25 degC at Dt = 0


def qmp6988_chip() -> RegisterBus:
    """A QMP6988 whose raw pressure reads ~970 hPa with these coefficients."""
    k = qmp6988.parse_calibration(QMP_OTP)
    lo, hi = 0, 2**23 - 1  # bisect the raw count that the compensation maps to 970 hPa
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if qmp6988.compensate(k, 2**23, 2**23 + mid)[0] < 970 else (lo, mid)
    regs = {0xD1: 0x5C, **{0xA0 + i: b for i, b in enumerate(QMP_OTP)}}
    for i, b in enumerate((2**23 + hi).to_bytes(3, "big") + (2**23).to_bytes(3, "big")):
        regs[0xF7 + i] = b
    return RegisterBus(0x70, regs)


class Recorder:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.log: list[tuple[int, int]] = []

    def angle(self, deg: int) -> None:
        self.log.append((self.clock.ticks, deg))

    def duty(self, pct: int) -> None:
        self.log.append((self.clock.ticks, pct))


class FakeBoard:
    """What hal.core2.Board offers main.run, minus the silicon."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.clock = ManualClock(wall_ms=WALL0)
        self.scd30 = FakeSCD30Bus()
        self.i2c = MultiBus({0x61: self.scd30, 0x70: qmp6988_chip(), 0x23: RegisterBus(0x23, {})})
        self.servo = Recorder(self.clock)
        self.fan = Recorder(self.clock)
        self.store: Any = None
        self.co2 = self.baro = self.light = None
        self.feeds = 0
        self.confirmed = 0
        self.reboots = 0
        self.hooks: list[tuple[int, Any]] = []
        self.logged: list[str] = []

    def feed(self) -> None:
        self.feeds += 1

    def sleep_ms(self, ms: int) -> None:
        self.clock.advance(ms)
        time.sleep(0.0002)  # let the broker's packets arrive; virtual time runs ahead
        while self.hooks and self.clock.ticks >= self.hooks[0][0]:
            self.hooks.pop(0)[1]()

    def net_up(self) -> bool:
        return True

    def net_connect(self) -> None:
        pass

    def ntp_ms(self) -> int:
        # a real SNTP answer, built like a server's, parsed by the firmware
        t = self.clock.time_ms() + 250
        sec, ms = divmod(t, 1000)
        pkt = bytearray(48)
        pkt[0], pkt[1] = 0x24, 2
        pkt[40:44] = (sec + sntp.NTP_TO_UNIX_S).to_bytes(4, "big")
        pkt[44:48] = ((ms << 32) // 1000 + 1).to_bytes(4, "big")
        return sntp.parse(bytes(pkt), 0)

    def tcp(self, host: str, port: int) -> TcpTransport:
        return TcpTransport(host, port)

    def reboot(self) -> None:
        self.reboots += 1

    def confirm(self) -> None:
        self.confirmed += 1

    def reset_cause(self) -> str:
        return "power_on"

    def wants_location_entry(self) -> bool:
        return False

    def ask_location(self, current: str | None, timeout_ms: int | None = None) -> str | None:
        return current

    def show_text(self, text: str) -> None:
        pass

    def log(self, msg: str) -> None:
        self.logged.append(msg)


class Watcher(MqttWatcher):
    """Everything this test's device publishes, decoded with the protocol module.

    Only its own topics: other tests share the broker and may leave retained messages.
    """

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port, "fluxfleet/v1/core2-test/#")

    def decoded(self, kind: str) -> list[dict[str, Any]]:
        with self.cond:
            return [
                protocol.decode(kind, p)
                for t, p, _ in self.messages
                if protocol.parse_topic(t)[1] == kind
            ]

    def wait(self, pred: Any, what: str) -> None:
        with self.cond:
            assert self.cond.wait_for(pred, 15), f"timed out waiting for {what}"


@pytest.mark.service
def test_the_device_main_loop_measures_publishes_and_obeys(mosquitto, tmp_path: Path):
    cfg = {
        "device_id": "core2-test",
        "broker_host": mosquitto.host,
        "broker_port": mosquitto.port,
        "location": "5.3.A",
        "data_dir": str(tmp_path / "data"),
    }
    board = FakeBoard(cfg)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "location").write_text("5.3.A")  # entered on the touch screen
    watcher = Watcher(mosquitto.host, mosquitto.port)
    sent: list[int] = []

    def send_servo_test() -> None:
        cmd = protocol.make_cmd("st-9", "servo_test", expires=board.clock.time_ms() + 600_000)
        watcher.client.publish("fluxfleet/v1/all/cmd", json.dumps(cmd), qos=1)
        sent.append(board.clock.ticks)

    board.hooks.append((560_000, send_servo_test))  # lid open after the first flush
    ctl = None
    try:
        ctl = main.run(board, {"version": "6.1.0", "slot": "a", "boots": 4}, max_steps=4_000)
        assert sent
        assert board.confirmed == 1  # first cycle + first PUBACK: the loader may keep us
        assert board.feeds >= 4_000  # the watchdog is fed every turn of the loop
        # the SCD30 was configured over the bus exactly as the interface description says
        assert [w[:2] for w in board.scd30.written[:3]] == [b"\x46\x00", b"\x53\x06", b"\x00\x10"]
        assert board.scd30.asc == 0
        watcher.wait(
            lambda: any(t.endswith("/ack") and b'"done"' in p for t, p, _ in watcher.messages),
            "servo_test done",
        )
        watcher.wait(lambda: len(watcher.decoded("telemetry")) >= 10, "telemetry")
        # the chamber loses power: the broker publishes its retained last will
        ctl.link.close()
        watcher.wait(
            lambda: watcher.decoded("status")[-1]["state"] == "offline", "last will 'offline'"
        )
    finally:
        watcher.stop()
        if ctl is not None:
            ctl.link.disconnect()
        if board.store is not None:
            board.store.close()
    assert ctl is not None

    samples = [s for m in watcher.decoded("telemetry") for s in m["samples"]]
    assert samples[0]["seq"] == 1
    s = samples[-1]
    assert (s["co2_ppm"], s["t_c"], s["rh_pct"]) == (612.5, 24.25, 55.5)  # through CRC'd words
    assert s["p_hpa"] == pytest.approx(970.0, abs=0.01)
    assert s["ta_c"] == 25.0
    assert s["lux"] == 0.0
    assert all(m["loc"] == "5.3.A" for m in watcher.decoded("telemetry"))
    (cycle, *_) = watcher.decoded("cycle")
    assert cycle["closed_ms"] >= 180_000
    meta = watcher.decoded("meta")[-1]
    assert (meta["fw"], meta["slot"], meta["loc"], meta["boot"]) == ("6.1.0", "a", "5.3.A", 4)
    assert meta["skew_ms"] == 250
    acks = [(a["cmd_id"], a["state"]) for a in watcher.decoded("ack")]
    assert acks == [("st-9", "accepted"), ("st-9", "done")]
    moves = [d for t, d in board.servo.log if t >= sent[0]]
    assert moves[:5] == [270, 0, 270, 0, 90]
    assert ctl.ring.head >= len(samples)
    # the ring is append-only segment files of whole 50-byte records, at most one block each
    segs = sorted((tmp_path / "data").glob("ring.[0-9]*"))
    assert segs
    assert all(p.stat().st_size % 50 == 0 and p.stat().st_size <= 4000 for p in segs)
    assert not (tmp_path / "data" / "ring.dat").exists()


def test_the_main_loop_survives_controller_exceptions_then_resets(tmp_path: Path):
    cfg = {"device_id": "c9", "broker_host": "nowhere", "data_dir": str(tmp_path / "d")}
    (tmp_path / "d").mkdir()
    board = FakeBoard(cfg)
    broken = {"on": False}

    def net_up() -> bool:
        if broken["on"]:
            raise ValueError("WiFi driver bug")
        return False

    board.net_up = net_up  # type: ignore[method-assign]
    board.hooks.append((60_000, lambda: broken.update(on=True)))
    try:
        ctl = main.run(board, {"version": "6.1.0", "slot": "a", "boots": 1}, max_steps=5_000)
    finally:
        if board.store is not None:
            board.store.close()
    assert ctl.ring.head >= 20  # it measured for a minute before the bug struck
    assert board.reboots == 1  # then ten failures in a row: reset instead of hanging
    assert len(board.logged) == main.MAX_ERRORS
    assert "WiFi driver bug" in board.logged[0]
    # the samples still in RAM went to flash first: the next boot continues without a gap
    assert ctl.ring.committed == ctl.ring.head
    again = ringmod.Ring(FileStore(cfg["data_dir"]))
    assert again.head == ctl.ring.head


class ScreenBoard(FakeBoard):
    """A board with a touch screen and nobody at it (no location stored, none provisioned)."""

    def ask_location(self, current: str | None, timeout_ms: int | None = None) -> str | None:
        if timeout_ms is None:  # the real keypad would wait here forever
            raise AssertionError("the keypad waits forever: no sampling, no MQTT")
        self.clock.advance(timeout_ms)  # nobody touched it
        return current


def test_nobody_at_the_keypad_times_out_and_the_chamber_runs_unlabelled(tmp_path: Path):
    cfg = {"device_id": "c7", "broker_host": "nowhere", "data_dir": str(tmp_path / "d")}
    (tmp_path / "d").mkdir()
    board = ScreenBoard(cfg)
    board.net_up = lambda: False  # type: ignore[method-assign]
    try:
        ctl = main.run(board, {"version": "6.1.0", "slot": "a", "boots": 1}, max_steps=400)
    finally:
        if board.store is not None:
            board.store.close()
    assert ctl.loc is None  # unlabelled: set_location will label it
    assert ctl.ring.head >= 10  # measuring, samples kept for when the location arrives
