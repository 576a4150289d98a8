"""The ingestor's pipeline against a real Mosquitto: while a batch commits, the broker keeps
sending the next one (half the receive maximum per batch), nothing is acknowledged before
its commit, and the ingestor's queue never holds more than the receive maximum — though
Mosquitto 2.0.11 sends past that cap once acknowledgements flow (the test prints by how
much; eclipse-mosquitto/mosquitto#2301)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from fluxfleet.ingest.mqtt import Ingestor
from fluxfleet.store import Batch, WriteResult, open_store
from fluxfleet.store.duckdb_store import DuckDBStore
from paho.mqtt.enums import CallbackAPIVersion

RECEIVE_MAXIMUM = 20


class GatedStore(DuckDBStore):
    """A real DuckDB store whose first write waits until the test opens the gate."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.writing = threading.Event()

    def write(self, batch: Batch) -> WriteResult:
        self.writing.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().write(batch)


def _wait(cond: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_receiving_goes_on_while_a_batch_commits(
    broker: Any, tmp_path: Path, fleet_messages: list[tuple[str, bytes]]
) -> None:
    store = GatedStore(str(tmp_path / "gated.duckdb"))
    ing = Ingestor(
        broker.host, broker.port, store, client_id="pipe", receive_maximum=RECEIVE_MAXIMUM,
        linger_s=0.05,
    )  # fmt: skip
    assert ing.batch_max == RECEIVE_MAXIMUM // 2
    received, acked, unacked_max, queued_max = [0], [0], [0], [0]
    lock = threading.Lock()
    on_message, ack = ing.client.on_message, ing._ack

    def counting_on_message(c: Any, u: Any, msg: Any) -> None:
        with lock:
            received[0] += 1
            unacked_max[0] = max(unacked_max[0], received[0] - acked[0])
        on_message(c, u, msg)
        with lock:
            queued_max[0] = max(queued_max[0], len(ing._inbox))

    def counting_ack(mids: list[int]) -> None:  # a committed batch's PUBACKs
        with lock:
            acked[0] += len(mids)
        ack(mids)

    ing.client.on_message = counting_on_message
    ing._ack = counting_ack  # type: ignore[method-assign]
    ing.start()
    assert ing.subscribed.wait(10)
    runner = threading.Thread(target=ing.run, daemon=True)
    runner.start()

    tele = [m for m in fleet_messages if m[0].endswith("/telemetry")][:300]
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pipe-pub", protocol=mqtt.MQTTv5)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    for info in [pub.publish(t, p, qos=1) for t, p in tele]:
        info.wait_for_publish(30)
    pub.disconnect()
    pub.loop_stop()

    # the first batch is committing (held at the gate); the broker filled the window
    assert store.writing.wait(30)
    _wait(lambda: received[0] >= RECEIVE_MAXIMUM, "the broker stopped sending")
    time.sleep(0.5)  # room for a broker that would overrun the window to show it
    with lock:
        assert received[0] == RECEIVE_MAXIMUM  # a full window, never more
        assert acked[0] == 0  # nothing acknowledged before its commit
    assert ing.stats.batches == 0

    store.gate.set()
    _wait(lambda: ing.stats.messages == len(tele), "not every message was committed")
    ing.stop()
    runner.join(10)
    ing.close()
    n_samples = store.counts()["samples"]
    store.close()
    print(
        f"\npipeline: {len(tele)} messages, {received[0]} received, {acked[0]} acknowledged, "
        f"{ing.stats.batches} batches, at most {unacked_max[0]} unacknowledged (the broker's "
        f"count; receive maximum {RECEIVE_MAXIMUM}), at most {queued_max[0]} queued"
    )
    assert acked[0] == received[0] == len(tele)
    assert queued_max[0] <= RECEIVE_MAXIMUM
    assert ing.stats.batches >= len(tele) // ing.batch_max
    with open_store(f"duckdb:///{tmp_path}/gated.duckdb") as st:
        taken = sum(len(json.loads(p)["samples"]) for _, p in tele)
        assert st.counts()["samples"] == n_samples == taken
