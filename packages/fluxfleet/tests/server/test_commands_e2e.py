"""Fleet commands end to end: ``fluxfleet cmd`` → Mosquitto → simulated chambers running
the real firmware → acks → ``fluxfleet ingest`` → the store's audit trail.

12 chambers run at 30× real time from *now* (so the server's wall clock and the devices'
clocks agree on what "expires" means; the simulator is always ahead of the wall clock).
Chamber 5 loses its WiFi from 72 s to 3,300 s (simulated): it never sees the broadcast
recalibration (sent at ~180 s), is held offline past its expiry (3,000 s; the margin
covers the commands' start-up on a loaded machine, measured up to ~30 wall s = 900
simulated s) and, once back, answers
``expired`` to the re-delivery. Chamber 2 is also told to reboot, and receives that
command a second time (a QoS 1 duplicate), which it must not run again.

Everything runs on accounts, as deployed: ``fluxfleet broker``'s Mosquitto with dynamic
security, each chamber on the credentials ``fluxfleet devices add`` made for it, ingestion
on the ``ingest`` account, the commands and the test's own watcher on ``operator``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fluxfleet.store import open_store
from paho.mqtt.enums import CallbackAPIVersion

from .conftest import FLUXFLEET, IngestProcess

pytestmark = pytest.mark.slow

CHAMBERS = 12
SPEED = 30  # simulated s per wall s
OFFLINE = "ch005"
OFFLINE_FROM_S, OFFLINE_TO_S = 72.0, 3300.0
SEND_AFTER_S = 180.0  # simulated s from the start: chamber 5 is off the network by then
EXPIRES_AT_S = 3000.0  # simulated s from the start: 4.5 cycles of 600 s after sending
REBOOTED = "ch002"
# 1.1 h left 660 simulated s (22 wall s) after chamber 5's return for the duplicate reboot
# and its answer; a CI run once ran out of it. 1.3 h leaves 1,380 s (46 wall s).
SIM_HOURS = 1.3


@pytest.fixture
def pg_url(postgres: Any) -> str:
    import uuid

    import psycopg

    name = f"c_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"


class Accounts:
    """``fluxfleet broker`` (Mosquitto with dynamic security) with every chamber registered
    (``fluxfleet devices add``): its URL, the chambers' credentials file, and config files
    holding the ingest and operator accounts (a password never on a command line)."""

    def __init__(self, broker: Any, tmp_path: Path, pg_url: str) -> None:
        from fluxfleet.ops.broker import load_accounts
        from fluxfleet.ops.devices import add_device
        from fluxfleet.sim.truth import device_id

        self.host, self.port = broker.host, broker.port
        self.url = f"mqtt://{broker.host}:{broker.port}"
        with broker.admin() as ds, open_store(pg_url) as st:
            creds = [add_device(ds, st, device_id(i), None, self.url) for i in range(CHAMBERS)]
        self.credentials = tmp_path / "credentials.json"
        self.credentials.write_text(json.dumps(creds))
        accounts = load_accounts(broker.data_dir)["accounts"]
        self.operator = accounts["operator"]
        self.config: dict[str, Path] = {}
        for role in ("ingest", "operator"):
            path = tmp_path / f"{role}.toml"
            path.write_text(
                f'mqtt_username = "{accounts[role]["username"]}"\n'
                f'mqtt_password = "{accounts[role]["password"]}"\n'
            )
            path.chmod(0o600)
            self.config[role] = path


@pytest.fixture
def accounts(pg_url: str, tmp_path: Path) -> Iterator[Accounts]:
    from fluxfleet.ops.broker import PLUGIN, Broker
    from fluxfleet.sim.broker import find_mosquitto, free_port

    from testsupport.services import missing_service

    exe = find_mosquitto()
    if exe is None or not PLUGIN.is_file():
        missing_service("mosquitto with its dynamic-security plugin is not installed")
    data = Path(tempfile.mkdtemp(prefix="fluxfleet-cmd-"))  # short: a socket path inside
    try:
        with Broker(data, port=free_port(), exe=str(exe)) as broker:
            yield Accounts(broker, tmp_path, pg_url)
    finally:
        shutil.rmtree(data, ignore_errors=True)


class Watch:
    """A test-side subscriber: the devices' clock (latest sample time), every ack, every
    meta (boot counts)."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self.lock = threading.Lock()
        self.sim_ms = 0
        self.acks: list[dict[str, Any]] = []
        self.boots: dict[str, set[int]] = {}
        self.log: list[str] = []  # (simulated time) what each device said, for diagnosis
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-watch")
        self.c.on_message = self._on_message
        self.c.username_pw_set(username, password)
        self.c.connect(host, port)
        self.c.subscribe([("fluxfleet/v1/+/telemetry", 1), ("fluxfleet/v1/+/ack", 1),
                          ("fluxfleet/v1/+/meta", 1), ("fluxfleet/v1/+/status", 1)])  # fmt: skip
        self.c.loop_start()

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        d = json.loads(msg.payload)
        kind = msg.topic.rsplit("/", 1)[1]
        with self.lock:
            if kind == "telemetry":
                self.sim_ms = max(self.sim_ms, d["samples"][-1]["ts"])
            elif kind == "ack":
                self.acks.append(d)
                self.log.append(f"{self.sim_ms} {d['dev']} ack {d['cmd_id']} {d['state']}")
            elif kind == "status":
                self.log.append(f"{self.sim_ms} {d['dev']} status {d['state']} {msg.retain}")
            else:
                self.boots.setdefault(d["dev"], set()).add(d["boot"])

    def wait_sim(self, t_ms: int, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.sim_ms < t_ms:
            assert time.monotonic() < deadline, "the simulator did not get there"
            time.sleep(0.1)

    def wait_ack(self, dev: str, cmd_id: str, state: str, count: int, timeout_s: float) -> bool:
        """True once ``count`` acks (dev, cmd_id, state) arrived; False at ``timeout_s`` [s]."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                n = sum(
                    1 for a in self.acks
                    if (a["dev"], a["cmd_id"], a["state"]) == (dev, cmd_id, state)
                )  # fmt: skip
            if n >= count:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _iso(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLUXFLEET, "cmd", *args], capture_output=True, text=True, timeout=600)


def test_fleet_recalibration_and_reboot(accounts: Accounts, pg_url: str, tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{
        "kind": "wifi_outage", "chamber": int(OFFLINE[2:]),
        "start_h": OFFLINE_FROM_S / 3600, "end_h": OFFLINE_TO_S / 3600,
    }]))  # fmt: skip
    ingest = IngestProcess(accounts.url, pg_url, tmp_path, "--client-id", "cmd-e2e",
                           "--idle-exit-s", "10", "--config",
                           str(accounts.config["ingest"]))  # fmt: skip
    op = accounts.operator
    watch = Watch(accounts.host, accounts.port, op["username"], op["password"])
    start_ms = int(time.time() * 1000)
    sim_log = (tmp_path / "sim.log").open("w")
    sim = subprocess.Popen(
        [FLUXFLEET, "sim", "--chambers", str(CHAMBERS), "--hours", str(SIM_HOURS),
         "--speed", str(SPEED), "--start", _iso(start_ms), "--faults", str(faults),
         "--broker", accounts.url, "--truth", str(tmp_path / "truth.parquet"), "--seed", "4",
         "--credentials", str(accounts.credentials)],
        stdout=sim_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        watch.wait_sim(start_ms + int(SEND_AFTER_S * 1000))
        with open_store(pg_url) as st:  # every chamber known to the store, 5 included
            deadline = time.monotonic() + 60
            while st.read("devices").num_rows < CHAMBERS:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        store_opts = ["--broker", accounts.url, "--store", pg_url, "--operator", "tester",
                      "--config", str(accounts.config["operator"])]  # fmt: skip
        expires = _iso(start_ms + EXPIRES_AT_S * 1000)
        frc = subprocess.Popen(
            [FLUXFLEET, "cmd", "frc", "--all", "--ppm", "420", "--expires", expires,
             "--wait", "300s", "--json", *store_opts],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        reboot = _cmd("reboot", REBOOTED, "--expires", expires, "--json", *store_opts)
        assert reboot.returncode == 0, reboot.stderr
        reboot_id = json.loads(reboot.stdout)["cmd_id"]
        frc_out, frc_err = frc.communicate(timeout=600)
        assert frc.returncode == 0, frc_err
        report = json.loads(frc_out)
        # the QoS 1 duplicate of the reboot: the device must not run it again
        with open_store(pg_url) as st:
            rows = st.read("commands").to_pylist()
        payload = next(r["payload"] for r in rows if r["cmd_id"] == reboot_id)
        dup_at_s = (watch.sim_ms - start_ms) / 1000
        # The device's session is clean (as on the real controller): a copy published while
        # its link is down (a keep-alive lost on a loaded machine, then a reconnect) is
        # never delivered. So the duplicate goes out again every 10 wall s until answered;
        # every copy is the same QoS 1 duplicate, and none may run the reboot again.
        redone = False
        for _ in range(12):
            watch.c.publish(f"fluxfleet/v1/{REBOOTED}/cmd", payload, qos=1).wait_for_publish(10)
            redone = watch.wait_ack(REBOOTED, reboot_id, "done", count=2, timeout_s=10)
            if redone:
                break
        said = "\n".join(x for x in watch.log if REBOOTED in x)
        assert redone, f"no 2nd 'done' for the duplicate reboot (sent {dup_at_s:.0f} s):\n{said}"
        assert sim.wait(600) == 0, (tmp_path / "sim.log").read_text()
    finally:
        if sim.poll() is None:
            sim.kill()
        sim_log.close()
    ingest.wait()
    watch.close()

    frc_id = report["cmd_id"]
    others = sorted(f"ch{i:03d}" for i in range(CHAMBERS) if f"ch{i:03d}" != OFFLINE)
    out = _cmd("status", frc_id, "--store", pg_url)
    print(f"\nfrc --all report: {report}\n{out.stdout}{out.stderr}")
    # what the sending command reported once every target had a final answer
    assert report["summary"]["done"] == others
    assert report["summary"]["expired"] == [OFFLINE]
    assert report["summary"]["failed"] == report["summary"]["no_answer"] == []
    assert report["resent"].get(OFFLINE, 0) >= 1

    # the audit trail in the store, through `cmd status`
    out = _cmd("status", frc_id, "--store", pg_url, "--json")
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["operator"] == "tester"
    assert status["target"] == "all"
    assert status["summary"]["done"] == others
    assert status["summary"]["expired"] == [OFFLINE]
    for dev in others:
        assert [a["state"] for a in status["devices"][dev]] == ["accepted", "done"]
    assert [a["state"] for a in status["devices"][OFFLINE]] == ["expired"]

    with open_store(pg_url) as st:
        acks = st.read("command_acks").to_pylist()
        devices = {r["device"]: r for r in st.read("devices").to_pylist()}
    keys = Counter((a["device"], a["cmd_id"], a["state"]) for a in acks)
    assert max(keys.values()) == 1  # each ack stored once
    sent = Counter((a["dev"], a["cmd_id"], a["state"]) for a in watch.acks)
    assert set(sent) == set(keys)  # every ack a device sent is stored
    # the duplicate reboot was re-acked ("not run again") but stored once
    assert sent[(REBOOTED, reboot_id, "done")] >= 2
    reboot_acks = [a for a in acks if a["cmd_id"] == reboot_id]
    assert sorted(a["state"] for a in reboot_acks) == ["accepted", "done"]
    # rebooted exactly once: boot 1 then boot 2 in its meta; no other chamber rebooted
    assert watch.boots[REBOOTED] == {1, 2}
    assert devices[REBOOTED]["boot"] == 2
    for dev in [*others, OFFLINE]:
        if dev != REBOOTED:
            assert watch.boots[dev] == {1}, dev
