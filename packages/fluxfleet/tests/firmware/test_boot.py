"""Stage 0 (``boot.py``) on the host: its last-resort handler keeps a chamber running.

``boot.py`` imports ``firmware.*`` and ``firmware.hal.core2`` as on the device; here
``firmware`` is this package and ``core2`` a fake board whose ``reboot()`` never returns
(it raises :class:`HardReset`, which no ``except Exception`` can swallow).
"""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from fluxfleet import firmware, keys
from fluxfleet.firmware import hal, loader, tls
from fluxfleet.firmware import http as fw_http

BOOT_PY = Path(firmware.__file__).parent / "boot.py"
BASE = "http://updates.example/fleet"


class HardReset(BaseException):
    """machine.reset(): the board is gone; only the test's top level catches this."""


class Transport:
    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def write(self, data: bytes) -> None:
        pass

    def read(self, n: int, timeout_ms: int) -> bytes:
        out, self.reply = self.reply[:n], self.reply[n:]
        return out

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 0

    def ticks_ms(self) -> int:
        return self.t


class Board:
    def __init__(self, flash: Path, key: bytes, reply: bytes) -> None:
        self.config = {"fleet_key": key.hex(), "update_url": BASE, "flash_root": str(flash)}
        self.reply = reply
        self.clock = Clock()
        self.wdt = None
        self.logs: list[str] = []
        self.texts: list[str] = []
        self.feeds = 0
        self.ran: dict[str, Any] | None = None

    def show_text(self, text: str) -> None:
        self.texts.append(text)

    def wait_net(self, timeout_ms: int) -> bool:
        return True

    def tcp(self, host: str, port: int) -> Transport:
        return Transport(self.reply)

    def feed(self) -> None:
        self.feeds += 1

    def sleep_ms(self, ms: int) -> None:
        self.clock.t += ms

    def log(self, msg: str) -> None:
        self.logs.append(msg)

    def reboot(self) -> None:
        raise HardReset


APP = """
def run(board, info):
    if board.config.get("crash"):
        raise RuntimeError("app bug")
    board.ran = info
"""


@pytest.fixture
def flash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, keys.FleetKey]:
    """A flash with version 6.0.0 installed and confirmed in slot a."""
    key = keys.generate_key()
    src = tmp_path / "src"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "main.py").write_text(APP)
    www = tmp_path / "www"
    keys.write_bundle(www, "6.0.0", key, src=src)
    fl = tmp_path / "flash"
    fl.mkdir()

    def fetch(url: str, timeout_ms: int) -> Any:
        data = (www / url[len(BASE) + 1 :]).read_bytes()
        return fw_http.Response(Transport(b""), 200, {}, data, 10**9, lambda: 0, None, 5000)

    ld = loader.Loader(str(fl), key.public_bytes, BASE, fetch, lambda: 0)
    assert ld.boot()["version"] == "6.0.0"
    ld.confirm()
    fake_core2 = types.ModuleType("firmware.hal.core2")
    monkeypatch.setitem(sys.modules, "firmware", firmware)
    monkeypatch.setitem(sys.modules, "firmware.http", fw_http)
    monkeypatch.setitem(sys.modules, "firmware.loader", loader)
    monkeypatch.setitem(sys.modules, "firmware.tls", tls)
    monkeypatch.setitem(sys.modules, "firmware.hal", hal)
    monkeypatch.setitem(sys.modules, "firmware.hal.core2", fake_core2)
    # ``from firmware.hal import core2`` imports hal.__name__ + ".core2"
    monkeypatch.setitem(sys.modules, hal.__name__ + ".core2", fake_core2)
    monkeypatch.setattr(hal, "core2", fake_core2, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("app", "app.main"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return fl, key


def run_boot(
    fl: Path, key: keys.FleetKey, reply: bytes, crash: bool = False, board: Board | None = None
) -> Board:
    board = board or Board(fl, key.public_bytes, reply)
    if crash:
        board.config["crash"] = "yes"
    sys.modules["firmware.hal.core2"].Board = lambda: board  # type: ignore[attr-defined]
    try:
        runpy.run_path(str(BOOT_PY), run_name="boot")
    finally:
        for name in ("app", "app.main"):
            sys.modules.pop(name, None)
    return board


@pytest.mark.parametrize(
    "reply",
    [b"HTTP/1.1 OK\r\n\r\n", b"HTTP/1.0 200 OK\r\nContent-Length: x\r\n\r\n", b"\xff\xfe\r\n\r\n"],
)
def test_a_hostile_update_server_starts_the_cached_app(flash, reply):
    fl, key = flash
    board = run_boot(fl, key, reply)
    assert board.ran is not None
    assert (board.ran["slot"], board.ran["version"]) == ("a", "6.0.0")


def test_a_crash_inside_the_loader_still_starts_the_cached_app(flash, monkeypatch):
    fl, key = flash
    real_boot = loader.Loader.boot

    def boot(self: loader.Loader, update: bool = True) -> dict[str, Any]:
        if update:
            raise RuntimeError("a loader bug in the update path")
        return real_boot(self, update)

    monkeypatch.setattr(loader.Loader, "boot", boot)
    board = run_boot(fl, key, b"")
    assert board.ran is not None
    assert board.ran["version"] == "6.0.0"
    assert any("update path failed" in m for m in board.logs)


def test_an_app_that_fails_to_start_is_a_controlled_reset_after_a_fed_minute(flash):
    fl, key = flash
    with pytest.raises(HardReset):
        run_boot(fl, key, b"", crash=True)


def test_no_runnable_slot_is_safe_mode_fed_for_a_minute_then_reset(flash):
    fl, key = flash
    (fl / "slot_a" / "manifest.json").unlink()
    board = Board(fl, key.public_bytes, b"")
    sys.modules["firmware.hal.core2"].Board = lambda: board  # type: ignore[attr-defined]
    with pytest.raises(HardReset):
        runpy.run_path(str(BOOT_PY), run_name="boot")
    assert board.feeds >= 60
    assert any(t.startswith("no runnable firmware") for t in board.texts)


class TlsBoard(Board):
    """A board with a ``tls`` section whose TLS transport is refused (as ``hal.core2``'s
    is when the server's certificate does not chain to the pinned fleet CA)."""

    def __init__(self, flash: Path, key: bytes, url: str) -> None:
        super().__init__(flash, key, b"")
        self.config["update_url"] = url
        self.config["tls"] = {"ca": "(the fleet CA)"}
        self.opened: list[tuple[str, int, bool]] = []

    def tcp(self, host: str, port: int, secure: bool = False) -> Transport:  # type: ignore[override]
        self.opened.append((host, port, secure))
        if secure:
            raise tls.TlsError(
                f"TLS handshake with {host}:{port} (as {host}) failed: The certificate is "
                "not correctly signed by the trusted CA; not connecting in plaintext"
            )
        return Transport(b"HTTP/1.0 404 Not Found\r\n\r\n")


def test_with_tls_configured_a_plain_update_url_is_never_fetched(flash):
    fl, key = flash
    board = run_boot(fl, key, b"", board=TlsBoard(fl, key.public_bytes, BASE))
    assert board.opened == []  # not a byte in plaintext
    assert board.ran is not None
    assert board.ran["version"] == "6.0.0"  # the cached version runs
    assert any("not fetching updates in plaintext" in m for m in board.logs), board.logs


def test_a_refused_update_server_certificate_runs_the_cached_version(flash):
    fl, key = flash
    url = "https://updates.example/fleet"
    board = run_boot(fl, key, b"", board=TlsBoard(fl, key.public_bytes, url))
    assert board.opened == [("updates.example", 443, True)]  # once, over TLS, no retry
    assert board.ran is not None
    assert board.ran["version"] == "6.0.0"
    (line,) = [m for m in board.logs if "TLS handshake" in m]
    assert line.startswith("update server unavailable (TLS handshake with updates.example:443")
