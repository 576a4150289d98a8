"""A simulated fleet on per-device accounts through ``fluxfleet broker``, ingested with the
ingest account: every sample stored (``fluxfleet sim --credentials``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fluxfleet.ops.broker import PLUGIN
from fluxfleet.sim.broker import find_mosquitto, free_port
from fluxfleet.sim.truth import device_id
from fluxfleet.store import open_store

FLUXFLEET = str(Path(sys.executable).parent / "fluxfleet")
CHAMBERS = 3


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLUXFLEET, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_sim_on_device_accounts_every_sample_stored() -> None:
    if find_mosquitto() is None or not PLUGIN.is_file():
        from testsupport.services import missing_service

        missing_service("mosquitto with its dynamic-security plugin is not installed")
    top = Path(tempfile.mkdtemp(prefix="fluxfleet-ops-sim-"))
    top.chmod(0o711)  # Mosquitto's own account must reach the data directory
    data, port = top / "var", free_port()
    env = {**os.environ, "FLUXFLEET_DATA_DIR": str(data)}
    broker = subprocess.Popen(
        [FLUXFLEET, "broker", "--port", str(port)], stderr=subprocess.PIPE, text=True, env=env
    )
    ingest = None
    try:
        assert broker.stderr is not None
        assert "accounts in" in broker.stderr.readline()
        creds = []
        for i in range(CHAMBERS):
            added = _run("devices", "add", device_id(i), "--json", env=env)
            assert added.returncode == 0, added.stderr
            creds.append(json.loads(added.stdout))
        cred_file = top / "credentials.json"
        cred_file.write_text(json.dumps(creds))
        ingest_acc = json.loads((data / "accounts.json").read_text())["accounts"]["ingest"]
        ing_env = {
            **env,
            "FLUXFLEET_MQTT_USERNAME": ingest_acc["username"],
            "FLUXFLEET_MQTT_PASSWORD": ingest_acc["password"],
        }
        url = f"mqtt://127.0.0.1:{port}"
        ingest = subprocess.Popen(
            [FLUXFLEET, "ingest", "--broker", url, "--idle-exit-s", "5", "--no-fluxes"],
            stderr=subprocess.PIPE,
            text=True,
            env=ing_env,
        )
        assert ingest.stderr is not None
        while "subscribed:" not in (line := ingest.stderr.readline()):
            assert line, "the ingestor exited before subscribing"
        truth = top / "truth.parquet"
        sim = _run(
            "sim", "--chambers", str(CHAMBERS), "--hours", "1", "--faults", "none",
            "--broker", url, "--truth", str(truth), "--credentials", str(cred_file),
            env=env,
        )  # fmt: skip
        assert sim.returncode == 0, sim.stdout + sim.stderr
        taken = int(sim.stdout.split(" samples in ")[0].replace(",", "").split()[-1])
        assert ingest.wait(300) == 0
        with open_store(f"duckdb:///{data / 'fluxfleet.duckdb'}") as st:
            samples = st.read("samples").select(["device", "seq"]).to_pandas()
        print(f"\ntaken {taken}, stored {len(samples)} from {samples['device'].nunique()} devices")
        assert taken > 0
        assert len(samples) == taken
        assert not samples.duplicated().any()
        assert set(samples["device"]) == {device_id(i) for i in range(CHAMBERS)}
    finally:
        for p in (ingest, broker):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
            if p is not None and p.stderr is not None:
                p.stderr.close()
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("content", ["not json", '[{"device": "c01"}]', '"x"'])
def test_bad_credentials_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    f = tmp_path / "c.json"
    f.write_text(content)
    done = _run(
        "sim", "--broker", "mqtt://127.0.0.1:1", "--truth", str(tmp_path / "t.parquet"),
        "--credentials", str(f), env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert str(f) in done.stderr
    assert "Traceback" not in done.stderr
