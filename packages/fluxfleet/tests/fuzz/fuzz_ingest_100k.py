"""100,000 hostile payloads through the ingestor (``make fuzz`` only, not CI: minutes long).

The file name does not match ``test_*.py``, so ``make test`` never collects it; ``make
fuzz`` runs it by path. Each run draws a new seed (printed; ``FUZZ_SEED=N`` repeats one).

* all 100,000 (mutated valid telemetry, meta, cycle and status, junk, wrong devices in
  the topic, huge numbers, NaN, deep nesting, 1 MB payloads, the hand-written ``HOSTILE``
  cases) go through ``BatchBuilder.add_many`` (the batch validator, ``fastcheck``) into a
  real DuckDB store: nothing raises, each message's verdict is the protocol's own
  (``decode``), every rejected one is a dead letter with a reason, and the dead letters
  hold each (topic, raw bytes) once with how often it came;
* a subset is published QoS 1 to a real Mosquitto and drained by the ``Ingestor``: every
  message received, the ingestor still running, the same dead-letter accounting.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from fluxfleet.ingest.batch import BatchBuilder, Rejected, decode
from fluxfleet.ingest.mqtt import Ingestor
from fluxfleet.store import open_store
from paho.mqtt.enums import CallbackAPIVersion

from ..server.test_batch import HOSTILE, telemetry

N_MESSAGES = 100_000
N_OVER_MQTT = 5_000
BATCH = 500
RECEIVED_MS = 1_800_000_000_000

JUNK: list[Any] = [
    None, "", "x", -1, 0, 2**63, -(2**63) - 1, 10**30, 1e309, -1e309, 1e-320, True, [], {},
    "9.2.B", "NaN", "\u0000", "\ud800", [[[[]]]], {"a": {"b": {}}}, 3.5, "ch999",
]  # fmt: skip


def _json(d: Any, rng: random.Random) -> bytes:
    text = json.dumps(d, allow_nan=True)
    if rng.random() < 0.05:  # JSON's non-standard literals, as a broken device might send
        text = text.replace("0.0", rng.choice(["NaN", "Infinity", "-Infinity"]), 1)
    return text.encode("utf-8", "surrogatepass")


def _messages(rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    """``n`` messages, most of them hostile, some valid (so a batch mixes both)."""
    out: list[tuple[str, bytes]] = []
    devices = [f"ch{i:03d}" for i in range(1, 9)]
    for _ in range(n):
        dev = rng.choice(devices)
        topic = f"fluxfleet/v1/{dev}/telemetry"
        d = telemetry(dev=dev, n=rng.randrange(1, 25), first=rng.randrange(1, 10**6))
        how = rng.randrange(10)
        if how == 0:  # valid
            payload = _json(d, rng)
        elif how == 1:  # truncated
            full = _json(d, rng)
            payload = full[: rng.randrange(len(full))]
        elif how == 2:  # bit flips
            b = bytearray(_json(d, rng))
            for _ in range(rng.randrange(1, 6)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            payload = bytes(b)
        elif how == 3:  # a top-level field replaced or removed
            key = rng.choice([*d.keys(), "extra"])
            if rng.random() < 0.2:
                d.pop(key, None)
            else:
                d[key] = rng.choice(JUNK)
            payload = _json(d, rng)
        elif how == 4:  # one sample's field replaced or removed
            s = d["samples"][rng.randrange(len(d["samples"]))]
            key = rng.choice(list(s))
            if rng.random() < 0.2:
                del s[key]
            else:
                s[key] = rng.choice(JUNK)
            payload = _json(d, rng)
        elif how == 5:  # another device in the topic, or another message kind
            kind = rng.choice(["telemetry", "meta", "cycle", "status", "ack"])
            topic = f"fluxfleet/v1/{rng.choice(devices)}/{kind}"
            payload = _json(d, rng)
        elif how == 6:  # not JSON, or JSON of the wrong shape
            payload = rng.choice(
                [
                    bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64))),
                    b"[" * rng.randrange(1, 3000),
                    json.dumps(rng.choice(JUNK), allow_nan=True).encode(),
                    b'{"v":1,"ts":' + b"9" * rng.randrange(20, 400) + b"}",
                ]
            )
        elif how == 7:  # every sample's numbers out of range
            for s in d["samples"]:
                s[rng.choice(["co2_ppm", "rh_pct", "t_c", "p_hpa", "lux", "fl"])] = rng.choice(
                    [1e308, -1e308, 10**19, -5, 1e6]
                )
            payload = _json(d, rng)
        elif how == 8:  # samples not a list, duplicated keys, nested junk
            d["samples"] = rng.choice([{}, "x", [None], [[1, 2]], [d["samples"][0]] * 2])
            payload = _json(d, rng)
        else:  # a repeat of an earlier message (a device stuck resending it)
            topic, payload = out[rng.randrange(len(out))] if out else (topic, b"{}")
        out.append((topic, payload))
    # the hand-written cases (1 MB payload, deep nesting, bad Unicode, ...) and a 1 MB junk
    hostile = [(t, p) for t, p, _ in HOSTILE]
    big = ("fluxfleet/v1/ch001/telemetry", b'{"v":1,"pad":"' + b"y" * 1_000_000 + b'"}')
    for m in [*hostile, big]:
        out[rng.randrange(len(out))] = m
    return out


def _verdicts(messages: list[tuple[str, bytes]]) -> list[bool]:
    """The protocol's own verdict per message (True = valid)."""
    ok = []
    for topic, payload in messages:
        try:
            decode(topic, payload)
            ok.append(True)
        except Rejected:
            ok.append(False)
    return ok


def _check_dead_letters(dead: list[dict[str, Any]], bad: Counter[tuple[str, bytes]]) -> None:
    keys = [(d["topic"], d["payload"]) for d in dead]
    assert len(keys) == len(set(keys)), "a (topic, bytes) stored twice"
    assert {k: d["received_count"] for k, d in zip(keys, dead, strict=True)} == dict(bad)
    assert all(d["reason"] for d in dead)


def _seed() -> int:
    seed = int(os.environ.get("FUZZ_SEED", random.randrange(2**32)))
    print(f"\nFUZZ_SEED={seed}")
    return seed


def test_100k_hostile_payloads_through_the_batch_validator(tmp_path: Path) -> None:
    messages = _messages(random.Random(_seed()), N_MESSAGES)
    valid = _verdicts(messages)
    bad = Counter(m for m, ok in zip(messages, valid, strict=True) if not ok)
    locations: dict[str, str] = {}
    with open_store(f"duckdb:///{tmp_path}/fuzz.duckdb") as store:
        for lo in range(0, len(messages), BATCH):
            chunk = messages[lo : lo + BATCH]
            b = BatchBuilder(locations)
            accepted = b.add_many([(t, p, RECEIVED_MS + lo + i) for i, (t, p) in enumerate(chunk)])
            assert accepted == sum(valid[lo : lo + BATCH]), f"batch at {lo}: verdicts differ"
            store.write(b.build())
            locations = b.locations
        dead = store.read("dead_letters").to_pylist()
    print(
        f"100k: {len(messages):,} messages, {sum(valid):,} valid, {sum(bad.values()):,} rejected, "
        f"{len(bad):,} distinct (topic, bytes) -> {len(dead):,} dead-letter rows"
    )
    _check_dead_letters(dead, bad)


def test_hostile_payloads_over_mqtt(mosquitto: Any, tmp_path: Path) -> None:
    rng = random.Random(_seed())
    subscribed = ("telemetry", "meta", "cycle", "status", "ack")
    messages = [
        (t, p)
        for t, p in _messages(rng, 3 * N_OVER_MQTT)
        if t.startswith("fluxfleet/v1/") and t.rsplit("/", 1)[1] in subscribed
    ][:N_OVER_MQTT]
    valid = _verdicts(messages)
    bad = Counter(m for m, ok in zip(messages, valid, strict=True) if not ok)
    store = open_store(f"duckdb:///{tmp_path}/fuzz-mqtt.duckdb")
    ing = Ingestor(mosquitto.host, mosquitto.port, store, client_id="fuzz100k")
    ing.start()
    assert ing.subscribed.wait(10)
    runner = threading.Thread(target=ing.run, daemon=True)
    runner.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fuzz100k-pub", protocol=mqtt.MQTTv5)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    for info in [pub.publish(t, p, qos=1) for t, p in messages]:
        info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()
    deadline = time.monotonic() + 300
    while ing.stats.messages < len(messages) and time.monotonic() < deadline:
        assert runner.is_alive(), "the ingestor stopped"
        time.sleep(0.2)
    assert runner.is_alive(), "the ingestor stopped"
    ing.stop()
    runner.join(30)
    ing.close()
    dead = store.read("dead_letters").to_pylist()
    store.close()
    print(
        f"over MQTT: {len(messages):,} published, {ing.stats.messages:,} received, "
        f"{sum(valid):,} valid, {sum(bad.values()):,} rejected -> {len(dead):,} dead-letter rows"
    )
    assert ing.stats.messages == len(messages)
    assert ing.stats.rejected == sum(bad.values())
    _check_dead_letters(dead, bad)
