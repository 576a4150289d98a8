"""``fluxfleet cmd`` on a secured ``fluxfleet broker``: with the operator account from the
settings a command reaches its device; without it the broker refuses and nothing is sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fluxfleet.firmware.protocol import topic
from fluxfleet.ops.broker import Broker
from fluxfleet.ops.devices import add_device
from fluxfleet.store import open_store

from .conftest import Peer, account

FLUXFLEET = str(Path(sys.executable).parent / "fluxfleet")


def _cmd(broker: Broker, store: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLUXFLEET, "cmd", "reboot", "k01", "--broker", f"mqtt://{broker.host}:{broker.port}",
         "--store", store],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip


def test_cmd_uses_the_operator_account_and_is_refused_without_it(
    broker: Broker, tmp_path: Path
) -> None:
    store = f"duckdb:///{tmp_path / 's.duckdb'}"
    with open_store(store) as st, broker.admin() as ds:
        cred = add_device(ds, st, "k01", "T1.V1.R1", f"mqtt://{broker.host}:{broker.port}")
    device = Peer(broker, cred["username"], cred["password"], "k01-peer")
    try:
        assert device.subscribe(topic("k01", "cmd"))
        anonymous = _cmd(broker, store, {})
        assert anonymous.returncode == 1, anonymous.stderr
        assert "refused" in anonymous.stderr
        assert "Traceback" not in anonymous.stderr
        user, password = account(broker, "operator")
        sent = _cmd(
            broker, store, {"FLUXFLEET_MQTT_USERNAME": user, "FLUXFLEET_MQTT_PASSWORD": password}
        )
        assert sent.returncode == 0, sent.stderr
        cmd_id = sent.stdout.split("sent ", 1)[1].split(":", 1)[0]
        operator = Peer(broker, user, password, "k01-operator")
        try:
            operator.publish(topic("k01", "cmd"), b"sentinel")  # after the command, in order
        finally:
            operator.close()
        got = device.wait_for(b"sentinel")
        assert [t for t, _ in got] == [topic("k01", "cmd")]  # the refused try sent nothing
        assert cmd_id.encode() in got[0][1]
    finally:
        device.close()
