"""Defect #10: the update path (loader, http, ed25519) is updatable over the air.

``boot.py`` runs on the host as in ``test_boot.py`` (fake board whose ``reboot()`` never
returns), but the board's TCP serves a real update-server directory written by
``keys.write_bundle``, so bundles are fetched with the real ``http`` client, verified with
the real loader and Ed25519 and installed into the A/B slots on disk. A bundle is the real
firmware tree with a stand-in ``main.py`` (records what it was started with) and a
``loader.py`` that is the real one plus a variant (logs that it runs, crashes, hangs...).
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from fluxfleet import keys

from .test_boot import APP, BOOT_PY, Board, HardReset, Transport, flash  # noqa: F401

SELF_LOG = "own loader of version %s runs the update"

VARIANTS = {
    # the real loader, saying that it runs
    "good": "\n_real_boot = Loader.boot\n\n\ndef _boot(self, update=True):\n"
    "    self.log(%r)\n    return _real_boot(self, update)\n\n\nLoader.boot = _boot\n",
    # a loader that does not even import
    "import_error": "\nraise ImportError('a loader module that does not load')\n",
    # a loader whose boot raises
    "raises": "\n\ndef _boot(self, update=True):\n    raise RuntimeError('new loader bug')\n\n\n"
    "Loader.boot = _boot\n",
    # a loader that returns no decision
    "no_decision": "\n\ndef _boot(self, update=True):\n    return None\n\n\nLoader.boot = _boot\n",
    # a loader that hangs until the watchdog resets the board (the fake board raises
    # HardReset when it logs "HANG")
    "hangs": "\n\ndef _boot(self, update=True):\n    self.log('HANG')\n\n\nLoader.boot = _boot\n",
}


class ServingTransport(Transport):
    """One TCP connection to the update server: answers the GET with a file of ``www``."""

    def __init__(self, www: Path) -> None:
        super().__init__(b"")
        self.www = www

    def write(self, data: bytes) -> None:
        path = data.split(b" ")[1].decode()
        f = self.www / path[len("/fleet/") :]
        if f.is_file():
            body = f.read_bytes()
            self.reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        else:
            self.reply = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class ServedBoard(Board):
    def __init__(self, flash_dir: Path, key: bytes, www: Path) -> None:
        super().__init__(flash_dir, key, b"")
        self.www = www

    def tcp(self, host: str, port: int) -> Transport:
        return ServingTransport(self.www)

    def confirm(self) -> None:
        """What the app's first healthy cycle does (``hal.confirm()``)."""
        self.confirm_cb()  # type: ignore[attr-defined]

    def log(self, msg: str) -> None:
        if msg == "HANG":  # the slot's loader hangs: the watchdog resets the board
            raise HardReset
        super().log(msg)


def publish(tmp: Path, www: Path, key: keys.FleetKey, version: str, variant: str) -> None:
    """The real firmware as ``version``, its loader.py changed by ``variant``."""
    src = tmp / ("src-" + version)
    shutil.copytree(keys.FIRMWARE_DIR, src, ignore=shutil.ignore_patterns("__pycache__", "boot.py"))
    # records which slot's module really ran (not only what the decision says)
    (src / "main.py").write_text(
        f"VERSION = {version!r}\n\n\ndef run(board, info):\n"
        "    board.ran = dict(info, module_version=VERSION)\n"
    )
    code = VARIANTS[variant]
    if variant == "good":
        code = code % (SELF_LOG % version,)
    (src / "loader.py").write_text((src / "loader.py").read_text() + code)
    keys.write_bundle(www, version, key, src=src)


def boot(fl: Path, key: keys.FleetKey, www: Path) -> ServedBoard:
    board = ServedBoard(fl, key.public_bytes, www)
    sys.modules["firmware.hal.core2"].Board = lambda: board  # type: ignore[attr-defined]
    path0 = list(sys.path)
    try:
        runpy.run_path(str(BOOT_PY), run_name="boot")
    finally:
        for name in [n for n in sys.modules if n == "app" or n.startswith("app.")]:
            sys.modules.pop(name)
        sys.path[:] = path0
    return board


def state(fl: Path) -> dict[str, Any]:
    return json.loads((fl / "loader.json").read_text())


def ran_version(board: ServedBoard) -> str:
    """The version that ran; for a published one, its main.py must be the one imported."""
    assert board.ran is not None, board.logs
    if "module_version" in board.ran:  # the fixture's 6.0.0 has no VERSION
        assert board.ran["module_version"] == board.ran["version"]
    return str(board.ran["version"])


@pytest.fixture
def www(flash, tmp_path: Path) -> Path:  # noqa: F811
    return tmp_path / "www"


def test_the_active_slots_own_loader_runs_the_next_update(flash, www, tmp_path):  # noqa: F811
    fl, key = flash  # 6.0.0 in slot a: a bundle without a loader of its own
    publish(tmp_path, www, key, "6.1.0", "good")
    b1 = boot(fl, key, www)  # the golden loader installs 6.1.0
    assert ran_version(b1) == "6.1.0"
    assert not any("own loader" in m for m in b1.logs)
    b1.confirm()
    publish(tmp_path, www, key, "6.2.0", "good")
    b2 = boot(fl, key, www)  # 6.1.0's own loader installs 6.2.0
    assert SELF_LOG % "6.1.0" in b2.logs
    assert ran_version(b2) == "6.2.0"
    assert (b2.ran["slot"], b2.ran["updated"]) == ("a", True)  # type: ignore[index]
    b2.confirm()
    b3 = boot(fl, key, www)  # and now 6.2.0's loader runs, finds it up to date
    assert SELF_LOG % "6.2.0" in b3.logs
    assert ran_version(b3) == "6.2.0"
    assert not (fl / "loader.try").exists()
    assert state(fl)["bad"] == []


@pytest.mark.parametrize("variant", ["import_error", "raises", "no_decision"])
def test_a_new_loader_that_fails_at_boot_is_rejected_and_the_golden_one_takes_over(
    flash,  # noqa: F811
    www,
    tmp_path,
    variant,
):
    fl, key = flash
    publish(tmp_path, www, key, "6.1.0", variant)
    b1 = boot(fl, key, www)  # the golden loader installs it (it cannot know the loader is bad)
    assert ran_version(b1) == "6.1.0"
    b1.confirm()  # its app is healthy: from the next boot its own loader runs the update
    b2 = boot(fl, key, www)  # its loader fails: golden loader, back to the verified 6.0.0
    assert any("the loader of version 6.1.0 failed" in m for m in b2.logs), b2.logs
    assert ran_version(b2) == "6.0.0"
    st = state(fl)
    assert "6.1.0" in st["bad"]
    assert st["active"] == "a"
    b3 = boot(fl, key, www)  # not installed again
    assert ran_version(b3) == "6.0.0"
    assert "reverted before" in str(b3.ran["reason"])  # type: ignore[index]
    publish(tmp_path, www, key, "6.2.0", "good")  # a fixed release still comes over the air
    b4 = boot(fl, key, www)
    assert ran_version(b4) == "6.2.0"


def test_a_failing_new_loader_without_a_fallback_slot_keeps_its_app_with_the_golden_loader(
    flash,  # noqa: F811
    www,
    tmp_path,
):
    fl, key = flash
    publish(tmp_path, www, key, "6.1.0", "raises")
    b1 = boot(fl, key, www)
    assert ran_version(b1) == "6.1.0"
    b1.confirm()
    shutil.rmtree(fl / "slot_a")  # the previous version is gone (corrupt flash)
    b2 = boot(fl, key, www)
    assert ran_version(b2) == "6.1.0"  # never bricked: the only version runs
    assert "6.1.0" in state(fl)["bad"]
    b3 = boot(fl, key, www)  # later boots go straight to the golden loader
    assert ran_version(b3) == "6.1.0"
    assert not any("failed" in m for m in b3.logs)


def test_a_new_loader_that_hangs_is_rejected_after_3_watchdog_resets(
    flash,  # noqa: F811
    www,
    tmp_path,
):
    fl, key = flash
    publish(tmp_path, www, key, "6.1.0", "hangs")
    b1 = boot(fl, key, www)
    assert ran_version(b1) == "6.1.0"
    b1.confirm()
    for _ in range(3):
        with pytest.raises(HardReset):
            boot(fl, key, www)
    b = boot(fl, key, www)
    assert any("never finished" in m for m in b.logs), b.logs
    assert ran_version(b) == "6.0.0"
    assert "6.1.0" in state(fl)["bad"]
    assert not (fl / "loader.try").exists()


def test_an_unconfirmed_version_never_runs_its_own_loader(flash, www, tmp_path):  # noqa: F811
    """Its revert after 3 unconfirmed boots is decided by the golden loader, not by itself."""
    fl, key = flash
    publish(tmp_path, www, key, "6.1.0", "hangs")  # would hang if it ever ran
    runs = [ran_version(boot(fl, key, www)) for _ in range(5)]  # never confirms
    assert runs == ["6.1.0", "6.1.0", "6.1.0", "6.0.0", "6.0.0"]
    assert "6.1.0" in state(fl)["bad"]


def test_a_slot_that_does_not_verify_never_runs_its_loader(flash, www, tmp_path):  # noqa: F811
    fl, key = flash
    publish(tmp_path, www, key, "6.1.0", "good")
    b1 = boot(fl, key, www)
    assert ran_version(b1) == "6.1.0"
    b1.confirm()
    loader_py = fl / "slot_b" / "app" / "loader.py"
    loader_py.write_text(loader_py.read_text() + "\nraise SystemExit('unverified code ran')\n")
    b = boot(fl, key, www)  # the golden loader refuses slot b and runs 6.0.0
    assert SELF_LOG % "6.1.0" not in b.logs
    assert ran_version(b) == "6.0.0"
