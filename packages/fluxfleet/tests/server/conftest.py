"""Fixtures of the server tests: a small simulated fleet's messages and the stores."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fluxfleet.sim.fleet import FleetConfig
from fluxfleet.sim.runner import run_fleet
from fluxfleet.store import Store, open_store

START_S = 1_694_808_000.0  # 2023-09-15 20:00 UTC, night


@pytest.fixture(scope="session")
def fleet_messages() -> list[tuple[str, bytes]]:
    """What 3 simulated chambers publish in 2 night hours (in-process, no broker)."""
    out: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=3, start_s=START_S, duration_s=2 * 3600.0, seed=1)
    run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
    return out


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty store of each backend (PostgreSQL: a new database on the test server)."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path_factory.mktemp('store')}/fleet.duckdb"
    pg = request.getfixturevalue("postgres")
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{pg.user}@{pg.host}:{pg.port}/{name}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as st:
        yield st


# --------------------------------------------------------------------------- services


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Mosquitto on the deployed configuration (deploy/mosquitto), persistence on."""
    from fluxfleet.ingest.broker import Mosquitto
    from fluxfleet.sim.broker import find_mosquitto

    from testsupport.services import missing_service

    exe = find_mosquitto()
    if exe is None:
        missing_service("mosquitto is not installed (apt-get install mosquitto)")
    with Mosquitto(str(exe), tmp_path_factory.mktemp("broker")) as b:
        yield b


FLUXFLEET = str(Path(sys.executable).parent / "fluxfleet")


class IngestProcess:
    """``fluxfleet ingest`` as a subprocess, its stderr in a file."""

    def __init__(self, broker_url: str, store_url: str, workdir: Path, *args: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"ingest-{time.monotonic_ns()}.log"
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(
            [FLUXFLEET, "ingest", "--broker", broker_url, "--store", store_url, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "subscribed:" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"ingest did not subscribe:\n{self.text()}")
            time.sleep(0.05)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout_s: float = 300.0) -> str:
        """Wait for it to exit (``--idle-exit-s``); its output."""
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._log.close()
        assert code == 0, self.text()
        return self.text()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()


def run_sim(broker_url: str, truth: Path, chambers: int, hours: float, *args: str) -> str:
    """``fluxfleet sim`` to the end; its output."""
    out = subprocess.run(
        [FLUXFLEET, "sim", "--chambers", str(chambers), "--hours", str(hours),
         "--broker", broker_url, "--truth", str(truth), *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


def truth_samples(truth: Path) -> int:
    """Samples the simulated fleet took (from the truth file's metadata)."""
    import json

    import pyarrow.parquet as pq

    meta = pq.read_schema(truth).metadata
    return int(json.loads(meta[b"fluxfleet.run"])["samples"])


def unplanned_resets(truth: Path) -> int:
    """Unplanned resets (``reboot`` faults) the simulator injected (truth file metadata)."""
    import json

    import pyarrow.parquet as pq

    meta = pq.read_schema(truth).metadata
    faults = json.loads(meta[b"fluxfleet.faults"])
    kinds = faults["kind"] if isinstance(faults, dict) else [f["kind"] for f in faults]
    kinds = kinds.values() if isinstance(kinds, dict) else kinds
    return sum(1 for k in kinds if k == "reboot")


def ram_loss_allowance(truth: Path) -> int:
    """Samples the firmware may lose, by design, to the simulator's unplanned resets.

    Each unplanned reset loses the samples still in RAM (fewer than ``ring.COMMIT_EVERY``,
    the price of the ring's flash wear: ``fluxfleet.firmware.ring``), and their seqs are
    never given again; a planned reboot, a broker or ingestor outage loses nothing.
    """
    from fluxfleet.firmware import ring

    return unplanned_resets(truth) * (ring.COMMIT_EVERY - 1)


def check_samples(st: Store) -> tuple[int, int, int]:
    """(samples, devices, gaps) — every device's seq must run 1..max without a hole."""
    s = st.read("samples")
    df = s.select(["device", "seq"]).to_pandas()
    gaps = 0
    for _dev, g in df.groupby("device"):
        seq = g["seq"].to_numpy()
        gaps += int(seq.max() - seq.min() + 1 - len(np.unique(seq)))
    dupes = int(df.duplicated(["device", "seq"]).sum())
    assert dupes == 0
    return len(df), df["device"].nunique(), gaps
