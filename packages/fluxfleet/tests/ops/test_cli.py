"""``fluxfleet broker`` and ``fluxfleet devices`` as an operator runs them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fluxfleet.ops.broker import PLUGIN, Broker
from fluxfleet.sim.broker import find_mosquitto, free_port

from .conftest import Peer

FLUXFLEET = [str(Path(sys.executable).parent / "fluxfleet")]  # the console script


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLUXFLEET, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def running() -> Iterator[tuple[Path, int, subprocess.Popen[str], dict[str, str]]]:
    if find_mosquitto() is None or not PLUGIN.is_file():
        from testsupport.services import missing_service

        missing_service("mosquitto with its dynamic-security plugin is not installed")
    # not under tmp_path: run as root, Mosquitto drops to its own account, which must reach
    # the data directory (pytest's are closed to other users)
    top = Path(tempfile.mkdtemp(prefix="fluxfleet-ops-cli-"))
    top.chmod(0o711)
    data, port = top / "var", free_port()
    env = {**os.environ, "FLUXFLEET_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [*FLUXFLEET, "broker", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the broker announces itself once the accounts exist
        assert "accounts in" in line, line
        yield data, port, proc, env
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(top, ignore_errors=True)


def _peer(data: Path, port: int, user: str, password: str) -> Peer:
    b = Broker(data, port=port)
    return Peer(b, user, password, f"{user}-{time.monotonic_ns()}")


def test_broker_devices_add_list_retire(
    running: tuple[Path, int, subprocess.Popen[str], dict[str, str]],
) -> None:
    data, port, proc, env = running
    accounts = data / "accounts.json"
    assert accounts.stat().st_mode & 0o777 == 0o600
    acc = json.loads(accounts.read_text())
    assert set(acc["accounts"]) == {"admin", "ingest", "operator"}
    assert acc["broker"] == f"mqtt://127.0.0.1:{port}"

    added = _run("devices", "add", "c01", "--location", "T1.V2.R3", "--json", env=env)
    assert added.returncode == 0, added.stderr
    creds = json.loads(added.stdout)
    assert creds["username"] == "c01"
    assert creds["location"] == "T1.V2.R3"
    assert len(creds["password"]) >= 24
    p = _peer(data, port, "c01", creds["password"])
    assert not p.refused
    p.close()

    again = _run("devices", "add", "c01", env=env)
    assert again.returncode == 1
    assert "registered already" in again.stderr

    listed = _run("devices", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["device"] == "c01"
    assert row["location"] == "T1.V2.R3"
    assert row["retired"] is None

    retired = _run("devices", "retire", "c01", env=env)
    assert retired.returncode == 0, retired.stderr
    p = _peer(data, port, "c01", creds["password"])
    assert p.refused
    p.close()
    (row,) = json.loads(_run("devices", "list", "--json", env=env).stdout)
    assert row["retired"] is not None
    assert _run("devices", "retire", "c01", env=env).returncode == 1

    # no password in anything the broker or the commands logged
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert proc.stderr is not None
    logged = proc.stderr.read() + (data / "broker" / "mosquitto.log").read_text()
    logged += added.stderr + retired.stdout + retired.stderr + listed.stdout
    for a in acc["accounts"].values():
        assert a["password"] not in logged
    assert creds["password"] not in logged


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["devices", "add", "All"], "DEV"),
        (["devices", "add", "all"], "DEV"),
        (["devices", "add", "c01", "--location", "T1-V2"], "T.V.R"),
        (["broker", "--tls-port", "8883"], "--certfile"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], hint: str) -> None:
    env = {**os.environ, "FLUXFLEET_DATA_DIR": str(tmp_path)}
    done = _run(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert hint in done.stderr
    assert "Traceback" not in done.stderr


def test_devices_without_a_broker_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "FLUXFLEET_DATA_DIR": str(tmp_path)}
    done = _run("devices", "add", "c01", env=env)
    assert done.returncode == 1
    assert "accounts.json: no such file" in done.stderr
    assert "Traceback" not in done.stderr
