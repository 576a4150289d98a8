"""``hal/core2.py`` (device only) imported with fake ``machine``/``network``/``M5`` modules.

Checks what does not need silicon: the servo's first pulse, the socket write deadline
that feeds the watchdog, and the keypad's time-out.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, ClassVar

import pytest
from fluxfleet.firmware.controller import DEFAULT_SCHEDULE


class FakeTime:
    """MicroPython's ``time``: ms ticks that move only when someone waits."""

    def __init__(self) -> None:
        self.t = 0

    def ticks_ms(self) -> int:
        return self.t

    def ticks_diff(self, a: int, b: int) -> int:
        return a - b

    def sleep_ms(self, ms: int) -> None:
        self.t += ms

    def time(self) -> int:
        return 0

    def gmtime(self, t: int) -> tuple[int, ...]:
        return (1970,)


class PWM:
    made: ClassVar[list[tuple[Any, dict[str, Any]]]] = []

    def __init__(self, pin: Any, **kw: Any) -> None:
        PWM.made.append((pin, kw))
        self.ns: list[int] = []

    def duty_ns(self, ns: int) -> None:
        self.ns.append(ns)

    def duty_u16(self, v: int) -> None:
        pass


@pytest.fixture
def core2(monkeypatch: pytest.MonkeyPatch) -> Any:
    machine = types.ModuleType("machine")
    machine.PWM = PWM  # type: ignore[attr-defined]
    machine.Pin = lambda n: ("pin", n)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "machine", machine)
    monkeypatch.setitem(sys.modules, "network", types.ModuleType("network"))
    m5 = types.ModuleType("M5")
    monkeypatch.setitem(sys.modules, "M5", m5)
    name = "fluxfleet.firmware.hal.core2"
    monkeypatch.delitem(sys.modules, name, raising=False)
    mod = importlib.import_module(name)
    monkeypatch.delitem(sys.modules, name)  # never leak the faked module to other tests
    ft = FakeTime()
    monkeypatch.setattr(mod, "time", ft)
    PWM.made = []
    return mod


def test_the_servo_pwm_starts_at_the_open_pulse_not_at_50_percent_duty(core2):
    servo = core2.Servo(26, open_deg=90)
    ((pin, kw),) = PWM.made
    assert pin == ("pin", 26)
    assert kw["freq"] == 50
    assert kw.get("duty_ns") == core2.servo_us(90) * 1000  # 1.17 ms, from the first period
    assert 500_000 <= kw["duty_ns"] <= 2_500_000
    servo.angle(0)
    assert servo.pwm.ns == [500_000]


class StalledSocket:
    """lwIP's send buffer is full and stays full: write() takes nothing."""

    def __init__(self, accept: int = 0) -> None:
        self.accept = accept
        self.sent = b""

    def write(self, mv: memoryview) -> int | None:
        n = min(self.accept, len(mv))
        self.sent += bytes(mv[:n])
        return n or None

    def setblocking(self, flag: bool) -> None:
        pass


class Poll:
    def __init__(self, ft: FakeTime) -> None:
        self.ft = ft

    def register(self, s: Any, mask: int) -> None:
        pass

    def poll(self, timeout_ms: int) -> list[Any]:
        self.ft.sleep_ms(timeout_ms)
        return []


def transport(core2: Any, sock: StalledSocket, feeds: list[int]) -> Any:
    t = core2.TcpTransport.__new__(core2.TcpTransport)
    core2.select = types.SimpleNamespace(poll=lambda: Poll(core2.time), POLLIN=1, POLLOUT=4)
    t._setup(sock, lambda: feeds.append(core2.time.t), core2.IO_TIMEOUT_MS)
    return t


def test_a_stalled_link_is_a_timeout_error_within_the_deadline_and_feeds_the_watchdog(core2):
    feeds: list[int] = []
    t = transport(core2, StalledSocket(), feeds)
    with pytest.raises(OSError, match="ETIMEDOUT") as e:
        t.write(b"x" * 9000)  # a 50-sample telemetry batch
    assert e.value.args[0] == core2.ETIMEDOUT
    assert core2.time.t <= core2.IO_TIMEOUT_MS + core2.SLICE_MS
    gaps = [b - a for a, b in zip([0, *feeds], feeds, strict=False)]
    assert max(gaps) <= core2.SLICE_MS  # never 30 s without a feed
    assert core2.IO_TIMEOUT_MS + core2.SLICE_MS < core2.WDT_MS


def test_a_slow_link_delivers_everything(core2):
    feeds: list[int] = []
    sock = StalledSocket(accept=1460)
    t = transport(core2, sock, feeds)
    t.write(b"y" * 9000)
    assert sock.sent == b"y" * 9000


def test_the_keypad_times_out_with_nobody_touching_it(core2, monkeypatch):
    m5 = sys.modules["M5"]
    drawn: list[str] = []
    lcd = types.SimpleNamespace(
        fillScreen=lambda c: None,
        setTextSize=lambda n: None,
        drawString=lambda s, x, y: drawn.append(s),
        drawRect=lambda *a: None,
    )
    m5.Lcd = lcd  # type: ignore[attr-defined]
    m5.update = lambda: None  # type: ignore[attr-defined]
    m5.Touch = types.SimpleNamespace(getCount=lambda: 0)  # type: ignore[attr-defined]
    monkeypatch.setattr(core2, "HAVE_M5", True)
    board = core2.Board.__new__(core2.Board)
    feeds: list[int] = []
    board.feed = lambda: feeds.append(1)
    assert board.ask_location(None, 60_000) is None
    assert 60_000 <= core2.time.t <= 61_000
    assert feeds  # the watchdog was fed while waiting


class ConnectSocket:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.timeouts: list[float] = []
        self.closed = False

    def settimeout(self, t: float) -> None:
        self.timeouts.append(t)

    def connect(self, addr: Any) -> None:
        if self.fail:
            raise OSError(113, "EHOSTUNREACH")

    def setblocking(self, flag: bool) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_reconnect_resolves_the_broker_once_and_bounds_the_handshake(core2):
    """Issue 12 #11: a reconnect blocks the loop for the TCP handshake only, at most
    CONNECT_TIMEOUT_S (< the 3-s sample interval); DNS is asked once per boot."""
    lookups: list[tuple[str, int]] = []
    made: list[ConnectSocket] = []
    fail = [False]

    def getaddrinfo(host: str, port: int) -> list[Any]:
        lookups.append((host, port))
        return [(2, 1, 0, "", ("10.0.0.2", port))]

    def socket() -> ConnectSocket:
        made.append(ConnectSocket(fail[0]))
        return made[-1]

    core2.socket = types.SimpleNamespace(getaddrinfo=getaddrinfo, socket=socket)
    core2.select = types.SimpleNamespace(poll=lambda: Poll(core2.time), POLLIN=1, POLLOUT=4)
    core2.TcpTransport("broker.lan", 1883)
    fail[0] = True
    with pytest.raises(OSError, match="EHOSTUNREACH"):
        core2.TcpTransport("broker.lan", 1883)
    assert made[1].closed  # a failed handshake does not leak the socket
    fail[0] = False
    core2.TcpTransport("broker.lan", 1883)
    assert lookups == [("broker.lan", 1883)]
    assert all(s.timeouts == [core2.CONNECT_TIMEOUT_S] for s in made)
    assert DEFAULT_SCHEDULE["sample_ms"] > core2.CONNECT_TIMEOUT_S * 1000


def make_board(core2: Any, tmp_path: Any, config: dict[str, Any]) -> Any:
    """A real ``Board`` on fake silicon (watchdog, I2C, WiFi, screen)."""
    import json

    machine = sys.modules["machine"]
    machine.WDT = lambda timeout: types.SimpleNamespace(feed=lambda: None)  # type: ignore[attr-defined]
    machine.SoftI2C = lambda **kw: object()  # type: ignore[attr-defined]
    net = sys.modules["network"]
    net.STA_IF = 0  # type: ignore[attr-defined]
    net.WLAN = lambda i: types.SimpleNamespace(active=lambda on: None)  # type: ignore[attr-defined]
    sys.modules["M5"].begin = lambda: None  # type: ignore[attr-defined]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    opened: list[Any] = []

    def no_socket(*a: Any) -> Any:
        opened.append(a)
        raise AssertionError("a socket was opened")

    core2.socket = types.SimpleNamespace(socket=no_socket, getaddrinfo=no_socket)
    board = core2.Board(str(path))
    board.opened = opened
    return board


def test_an_unusable_tls_section_does_not_stop_the_boot_and_refuses_every_tls_connection(
    core2, tmp_path
):
    board = make_board(core2, tmp_path, {"tls": {"ca": "not a certificate"}})
    assert board.tls is None
    assert board.tls_error.startswith("config.json tls.ca: no PEM certificate")
    with pytest.raises(OSError, match=r"config\.json tls\.ca: no PEM certificate") as e:
        board.tcp("broker.fleet", 8883, True)
    assert type(e.value).__name__ == "TlsError"
    assert board.opened == []  # refused before any socket: never plaintext instead


def test_tls_asked_for_without_a_tls_section_is_refused(core2, tmp_path):
    board = make_board(core2, tmp_path, {})
    assert board.tls is None
    assert board.tls_error is None
    with pytest.raises(OSError, match="no tls section"):
        board.tcp("updates.fleet", 443, True)
    assert board.opened == []
