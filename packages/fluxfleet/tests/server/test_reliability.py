"""Reliability against a real Mosquitto: each test prints its counts.

* the ingestor SIGKILLed mid-stream and restarted: 0 samples lost, 0 stored twice;
* the broker restarted mid-stream (persistence on): the same;
* fuzzed and hostile payloads among valid ones: every rejected one a dead letter with a
  reason, every valid one stored, the ingestor still running;
* two ingestors on one shared subscription into PostgreSQL: every sample once.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fluxfleet.ingest.batch import Rejected, decode
from fluxfleet.ingest.mqtt import Ingestor
from fluxfleet.store import open_store
from paho.mqtt.enums import CallbackAPIVersion

from .conftest import (
    FLUXFLEET,
    IngestProcess,
    check_samples,
    ram_loss_allowance,
    truth_samples,
)
from .test_batch import HOSTILE, telemetry

pytestmark = pytest.mark.slow

CHAMBERS, HOURS = 6, 3.0


def _sim(broker_url: str, truth: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [FLUXFLEET, "sim", "--chambers", str(CHAMBERS), "--hours", str(HOURS),
         "--broker", broker_url, "--truth", str(truth), "--seed", "5", "--workers", "1",
         "--speed", "1200", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _finish(sim: subprocess.Popen[bytes]) -> None:
    _, err = sim.communicate(timeout=300)
    assert sim.returncode == 0, err.decode(errors="replace")


def _report(name: str, store_url: str, truth: Path) -> None:
    taken = truth_samples(truth)
    with open_store(store_url) as st:
        n, devices, gaps = check_samples(st)  # asserts 0 duplicates
        counts = st.counts()
    print(
        f"\n{name}: taken {taken}, stored {n} ({taken - n} lost), 0 duplicates, "
        f"{gaps} seq gaps, {devices} devices, {counts['closures']} closures, "
        f"{counts['fluxes']} fluxes, {counts['dead_letters']} dead letters"
    )
    # nothing lost by the store, the broker or the ingestor: only the firmware's own RAM
    # loss at an injected unplanned reset may show (conftest.ram_loss_allowance)
    allowed = ram_loss_allowance(truth)
    assert 0 <= taken - n <= allowed
    assert gaps <= allowed
    assert devices == CHAMBERS


def test_ingestor_killed_mid_stream_and_restarted(broker: Any, tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/kill.duckdb"
    truth = tmp_path / "truth.parquet"
    first = IngestProcess(broker.url, store, tmp_path, "--client-id", "kill")
    sim = _sim(broker.url, truth)
    time.sleep(4.0)
    assert sim.poll() is None, "the fleet finished before the kill: not mid-stream"
    first.kill()  # SIGKILL: no flush, no DISCONNECT, a DuckDB file left mid-write
    time.sleep(2.0)  # the broker queues for the absent session meanwhile
    second = IngestProcess(broker.url, store, tmp_path, "--client-id", "kill", "--idle-exit-s", "5")
    _finish(sim)
    print(second.wait().splitlines()[-1])
    _report("SIGKILL + restart", store, truth)


def test_broker_restarted_mid_stream(broker: Any, tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/restart.duckdb"
    truth = tmp_path / "truth.parquet"
    ingest = IngestProcess(
        broker.url, store, tmp_path, "--client-id", "restart", "--idle-exit-s", "10"
    )
    sim = _sim(broker.url, truth)
    time.sleep(4.0)
    assert sim.poll() is None, "the fleet finished before the restart: not mid-stream"
    broker.stop()  # SIGTERM: Mosquitto saves the sessions and their queues
    time.sleep(1.5)
    broker.start()
    _finish(sim)
    log = ingest.wait()
    reconnects = re.findall(r"subscribed:", log)
    print(log.splitlines()[-1])
    assert reconnects  # it was subscribed; paho reconnected by itself after the restart
    _report("broker restart", store, truth)


def _mutations(rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    """Valid telemetry, each cut, bit-flipped, or with a field replaced."""
    out = []
    junk: list[Any] = [None, "", "x", -1, 2**63, 1e309, float("nan"), [], {}, True, "9.2.B"]
    for i in range(n):
        d = telemetry(first=1000 + 3 * i)
        payload = json.dumps(d).encode()
        how = rng.randrange(4)
        if how == 0:
            payload = payload[: rng.randrange(len(payload))]
        elif how == 1:
            b = bytearray(payload)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            payload = bytes(b)
        elif how == 2:
            key = rng.choice([*d.keys(), "samples"])
            d[key] = rng.choice(junk)
            payload = json.dumps(d).encode()
        else:
            s = d["samples"][rng.randrange(len(d["samples"]))]
            s[rng.choice(list(s))] = rng.choice(junk)
            payload = json.dumps(d).encode()
        out.append(("fluxfleet/v1/ch001/telemetry", payload))
    return out


def test_fuzzed_and_hostile_payloads_become_dead_letters(broker: Any, tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path}/fuzz.duckdb")
    ing = Ingestor(broker.host, broker.port, store, client_id="fuzz", receive_maximum=500)
    ing.start()
    assert ing.subscribed.wait(10)
    runner = threading.Thread(target=ing.run, daemon=True)
    runner.start()
    # (those on topics the ingestor subscribes to: a cmd or a foreign topic never reaches it)
    hostile = [
        (t, p) for t, p, _ in HOSTILE if re.fullmatch(r"fluxfleet/v1/ch001/(telemetry|meta)", t)
    ]
    messages = hostile + _mutations(random.Random(9), 3000)
    valid = 0
    for topic, payload in messages:
        try:
            decode(topic, payload)
            valid += 1
        except Rejected:
            pass
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fuzzer", protocol=mqtt.MQTTv5)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    infos = [pub.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(30)
    pub.disconnect()
    pub.loop_stop()
    deadline = time.monotonic() + 60
    while ing.stats.messages < len(messages) and time.monotonic() < deadline:
        time.sleep(0.1)
    ing.stop()
    runner.join(10)
    ing.close()
    dead = store.read("dead_letters").to_pylist()
    n_samples = store.counts()["samples"]
    store.close()
    print(
        f"\nfuzz: {len(messages)} published ({len(hostile)} hand-written hostile, "
        f"{len(messages) - len(hostile)} mutated), {ing.stats.messages} received, "
        f"{valid} valid, {len(dead)} dead letters, {n_samples} samples stored"
    )
    assert ing.stats.messages == len(messages)
    assert sum(d["received_count"] for d in dead) == len(messages) - valid
    assert len({(d["topic"], d["payload"]) for d in dead}) == len(dead)  # each once
    assert all(d["reason"] for d in dead)
    assert {d["payload"] for d in dead} >= {p for _, p in hostile}
    assert any(len(d["payload"]) > 1_000_000 for d in dead)  # the 1 MB payload


def test_two_ingestors_share_one_subscription(broker: Any, postgres: Any, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute("CREATE DATABASE shared_sub")
    store = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/shared_sub"
    open_store(store).close()  # migrate once before both start
    truth = tmp_path / "truth.parquet"
    args = ("--group", "fleet", "--idle-exit-s", "6")
    a = IngestProcess(broker.url, store, tmp_path, "--client-id", "ing-a", *args)
    b = IngestProcess(broker.url, store, tmp_path, "--client-id", "ing-b", *args)
    sim = _sim(broker.url, truth, "--speed", "max")
    _finish(sim)
    logs = [a.wait(), b.wait()]
    shares = [
        int(re.search(r"^([\d,]+) messages", lg, re.M).group(1).replace(",", "")) for lg in logs
    ]  # type: ignore[union-attr]
    print(f"\nshared subscription: messages per ingestor {shares}")
    assert min(shares) > 0.2 * sum(shares)  # both took a real share
    _report("two ingestors, $share", store, truth)


def test_device_offline_six_hours_replays_its_ring(broker: Any, tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/offline.duckdb"
    truth = tmp_path / "truth.parquet"
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"kind": "wifi_outage", "chamber": 1, "start_h": 1, "end_h": 7}]))
    ingest = IngestProcess(
        broker.url, store, tmp_path, "--client-id", "offline", "--idle-exit-s", "5"
    )
    out = subprocess.run(
        [FLUXFLEET, "sim", "--chambers", "3", "--hours", "8", "--broker", broker.url,
         "--truth", str(truth), "--faults", str(faults), "--seed", "4"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    print(ingest.wait().splitlines()[-1])
    taken = truth_samples(truth)
    with open_store(store) as st:
        n, devices, gaps = check_samples(st)
        per_device = st.read("samples").to_pandas().groupby("device")["seq"].count()
    print(
        f"\n6-h outage of ch001: taken {taken}, stored {n} ({taken - n} lost), "
        f"0 duplicates, {gaps} seq gaps; samples per device {per_device.to_dict()}"
    )
    assert n == taken
    assert gaps == 0
    assert devices == 3
    # the device offline for 6 of the 8 hours has as many samples as the others
    assert per_device.max() - per_device["ch001"] <= 2
