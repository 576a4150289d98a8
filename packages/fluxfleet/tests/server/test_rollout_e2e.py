"""Firmware rollout end to end: ``fluxfleet bundle``'s signed bundles → ``fluxfleet serve
--bundles`` → simulated chambers that boot through the real loader over HTTP and run the
controller of the slot they installed → ``fluxfleet rollout`` (reboots through ``cmd``,
confirmations from the retained ``meta``) on Mosquitto and PostgreSQL.

Six chambers start on 6.1.0 (the fleet's assigned version). Then:

1. 6.2.0 (signed with ``--min-version 6.2.0``) goes to two canaries, then to the rest:
   every chamber runs it, confirmed; the rest got it only after the canaries confirmed.
2. 6.3.0, whose controller never confirms itself to the loader, goes to one canary: the
   rollout stops at that canary and rolls it back to 6.2.0; no other chamber ever runs it.
3. The older signed 6.1.0 is refused: by ``fluxfleet rollout`` (below the minimum
   version), and - served to a chamber anyway, as by a compromised update server - by the
   chamber's loader, which keeps running 6.2.0 after the reboot.

The simulator starts 8 h in the past at 30x: the devices' clocks stay behind the wall
clock for the whole test, so the reboots' expiry (the rollout's window, wall clock) is
still ahead for them.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fluxfleet import keys
from fluxfleet.ops import firmware
from fluxfleet.sim.broker import free_port
from fluxfleet.store import open_store
from paho.mqtt.enums import CallbackAPIVersion

from .conftest import FLUXFLEET
from .test_commands_e2e import _iso

pytestmark = pytest.mark.slow

CHAMBERS = 6
DEVICES = [f"ch{i:03d}" for i in range(CHAMBERS)]
SPEED = 30


@pytest.fixture
def pg_url(postgres: Any) -> str:
    import uuid

    import psycopg

    name = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"


class Metas:
    """Every ``meta`` each chamber publishes (version, slot, boot, confirmed)."""

    def __init__(self, host: str, port: int) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, list[dict[str, Any]]] = {}
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-metas")
        self.c.on_message = self._on_message
        self.c.connect(host, port)
        self.c.subscribe("fluxfleet/v1/+/meta", 1)
        self.c.loop_start()

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        d = json.loads(msg.payload)
        d["received_ms"] = int(time.time() * 1000)
        with self.lock:
            self.seen.setdefault(d["dev"], []).append(d)

    def latest(self, dev: str) -> dict[str, Any] | None:
        with self.lock:
            got = self.seen.get(dev, [])
            return max(got, key=lambda d: (d["boot"], d["seq"])) if got else None

    def versions(self, dev: str) -> set[str]:
        with self.lock:
            return {d["fw"] for d in self.seen.get(dev, [])}

    def wait(self, what: str, ok: Any, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ok():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.seen}"
            time.sleep(0.2)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _never_confirms(tmp: Path) -> Path:
    """The firmware with a controller that never confirms itself to the loader."""
    src = tmp / "fw-bad"
    shutil.copytree(keys.FIRMWARE_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
    hk = src / "housekeeping.py"
    text = hk.read_text()
    assert "if not self.confirmed and self.cycle_done:" in text
    hk.write_text(text.replace("if not self.confirmed and self.cycle_done:", "if False:"))
    return src


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLUXFLEET, *args], capture_output=True, text=True, timeout=900)


def test_rollout_canaries_fleet_rollback_and_replay(
    broker: Any, pg_url: str, tmp_path: Path
) -> None:
    key = keys.generate_key()
    keys.save_key(key, tmp_path / "fleet.key")
    www = tmp_path / "www"
    keys.write_bundle(www, "6.1.0", key)
    keys.write_bundle(www, "6.2.0", key, min_version="6.2.0")
    keys.write_bundle(www, "6.3.0", key, src=_never_confirms(tmp_path))
    with open_store(pg_url) as st:  # the fleet runs 6.1.0
        st.execute(firmware.assign_statements([firmware.FLEET], "6.1.0", 0, None))

    port = free_port()
    serve_log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [FLUXFLEET, "serve", "--store", pg_url, "--bundles", str(www), "--port", str(port)],
        stdout=serve_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    metas = Metas("127.0.0.1", broker.port)
    sim = None
    sim_log = (tmp_path / "sim.log").open("w")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/firmware/manifest.json", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        start_ms = int(time.time() * 1000) - 8 * 3600 * 1000
        sim = subprocess.Popen(
            [FLUXFLEET, "sim", "--chambers", str(CHAMBERS), "--hours", "6", "--speed",
             str(SPEED), "--start", _iso(start_ms), "--faults", "none", "--broker", broker.url,
             "--truth", str(tmp_path / "truth.parquet"), "--seed", "7",
             "--update-url", f"http://127.0.0.1:{port}/firmware/d/{{dev}}",
             "--fleet-key", str(tmp_path / "fleet.key.pub")],
            stdout=sim_log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def runs(dev: str, version: str) -> bool:
            m = metas.latest(dev)
            return m is not None and m["fw"] == version and m.get("conf") is True

        metas.wait("6.1.0 everywhere", lambda: all(runs(d, "6.1.0") for d in DEVICES))
        common = ["--bundles", str(www), "--store", pg_url, "--broker", broker.url,
                  "--operator", "tester", "--json"]  # fmt: skip

        # 1. a good version: canaries, then everyone
        good = _run("rollout", "6.2.0", "--canary", "ch000,ch001", "--then-all-after", "20s",
                    "--window", "4m", *common)  # fmt: skip
        print(good.stderr)
        assert good.returncode == 0, good.stdout + good.stderr
        view = json.loads(good.stdout)
        assert view["state"] == "done"
        assert {d["device"]: d["state"] for d in view["devices"]} == dict.fromkeys(
            DEVICES, "confirmed"
        )
        canaries_ok = max(d["confirmed_ms"] for d in view["devices"] if d["stage"] == "canary")
        for d in view["devices"]:
            if d["stage"] == "fleet":  # told only once the canaries had confirmed
                assert d["assigned_ms"] >= canaries_ok + 20_000
        for dev in DEVICES:
            assert runs(dev, "6.2.0"), metas.latest(dev)
        first_62 = {
            dev: min(m["received_ms"] for m in metas.seen[dev] if m["fw"] == "6.2.0")
            for dev in DEVICES
        }
        assert min(first_62[d] for d in DEVICES[2:]) > canaries_ok
        with open_store(pg_url) as st:
            assert firmware.assignments(st) == {firmware.FLEET: "6.2.0"}

        # 2. a version whose controller never confirms: stopped at the canary, rolled back
        bad = _run("rollout", "6.3.0", "--canary", "ch002", "--then-all-after", "20s",
                   "--window", "90s", *common)  # fmt: skip
        print(bad.stderr)
        assert bad.returncode == 1, bad.stdout + bad.stderr
        view = json.loads(bad.stdout)
        assert view["state"] == "rolled_back"
        states = {d["device"]: (d["stage"], d["state"]) for d in view["devices"]}
        assert states["ch002"] == ("canary", "rolled_back")
        assert all(states[d] == ("fleet", "waiting") for d in DEVICES if d != "ch002")
        ran_bad = [m for m in metas.seen["ch002"] if m["fw"] == "6.3.0"]
        assert ran_bad, "the canary never ran 6.3.0"
        assert all(m["conf"] is False for m in ran_bad)
        assert runs("ch002", "6.2.0")
        for dev in DEVICES:
            if dev != "ch002":
                assert "6.3.0" not in metas.versions(dev), dev
        status = _run("rollout", "status", "--store", pg_url, "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["state"] == "rolled_back"

        # 3. an older signed bundle: refused by the rollout, and by the chamber itself
        old = _run("rollout", "6.1.0", "--canary", "ch003", *common)
        assert old.returncode == 2, old.stdout + old.stderr
        assert "minimum version 6.2.0" in old.stderr
        with open_store(pg_url) as st:  # a compromised update server serves it anyway
            st.execute(firmware.assign_statements(["ch003"], "6.1.0", 0, None))
        boot_before = metas.latest("ch003")["boot"]  # type: ignore[index]
        reboot = _run("cmd", "reboot", "ch003", "--store", pg_url, "--broker", broker.url,
                      "--expires", "30m")  # fmt: skip
        assert reboot.returncode == 0, reboot.stderr
        metas.wait(
            "ch003 back after its reboot",
            lambda: (
                (metas.latest("ch003") or {}).get("boot", 0) > boot_before
                and (metas.latest("ch003") or {}).get("conf") is True
            ),
        )
        assert runs("ch003", "6.2.0"), metas.latest("ch003")
        assert "6.1.0" not in {m["fw"] for m in metas.seen["ch003"] if m["boot"] > boot_before}
    finally:
        if sim is not None and sim.poll() is None:
            sim.send_signal(signal.SIGINT)
            try:
                sim.wait(60)
            except subprocess.TimeoutExpired:  # slow to stop on a loaded machine
                sim.kill()
                sim.wait()  # reaped: no ResourceWarning for a child still running
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        serve_log.close()
        sim_log.close()
        metas.close()
    print((tmp_path / "sim.log").read_text()[-2000:])
