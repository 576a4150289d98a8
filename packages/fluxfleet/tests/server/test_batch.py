"""Decoding and validating messages into a batch: valid rows, and every hostile payload a
dead letter with a reason (never an exception)."""

from __future__ import annotations

import json
from typing import Any

from fluxfleet.ingest.batch import BatchBuilder, decode
from hypothesis import example, given
from hypothesis import strategies as st

T = "fluxfleet/v1/ch001/telemetry"
RECEIVED_MS = 1_800_000_000_000


def _sample(seq: int, **over: Any) -> dict[str, Any]:
    s = {
        "seq": seq, "ts": 1_694_808_000_000 + 3000 * seq, "cyc": 2824680, "ph": "closed",
        "co2_ppm": 612.5, "rh_pct": 60.1, "t_c": 20.4, "ta_c": 19.1, "p_hpa": 1001.2,
        "lux": 0.0, "lid_deg": 0, "fan_pct": 10, "fl": 0,
    }  # fmt: skip
    s.update(over)
    return s


def telemetry(dev: str = "ch001", n: int = 3, first: int = 10, **over: Any) -> dict[str, Any]:
    d = {
        "v": 1, "ts": 1_694_808_100_000, "dev": dev, "boot": 4, "seq": first,
        "loc": "9.2.B", "samples": [_sample(first + i) for i in range(n)],
    }  # fmt: skip
    d.update(over)
    return d


def _bytes(d: Any) -> bytes:
    return json.dumps(d).encode()


def test_valid_telemetry_becomes_rows() -> None:
    b = BatchBuilder({})
    assert b.add(T, _bytes(telemetry()), RECEIVED_MS)
    batch = b.build()
    rows = batch.samples.to_pylist()
    assert [r["seq"] for r in rows] == [10, 11, 12]
    assert rows[0]["co2_ppm"] == 612.5
    assert rows[0]["pressure_hpa"] == 1001.2
    assert rows[0]["temperature_c"] == 19.1  # QMP6988 air temperature
    assert rows[0]["scd30_temperature_c"] == 20.4
    assert rows[0]["location"] == "9.2.B"
    assert batch.device_locations.to_pylist()[0]["location"] == "9.2.B"
    assert batch.devices.to_pylist()[0]["boot"] == 4
    # closure samples mark their closure for the live fluxes (latest sample time)
    assert b.dirty.samples == {"ch001": {2824680: 1_694_808_000_000 + 3000 * 12}}
    assert batch.dead_letters.num_rows == 0


def test_location_history_only_on_change() -> None:
    known = {"ch001": "9.2.B"}
    b = BatchBuilder(known)
    b.add(T, _bytes(telemetry()), RECEIVED_MS)
    b.add(T, _bytes(telemetry(loc="9.3.A", first=13)), RECEIVED_MS)
    locs = b.build().device_locations.to_pylist()
    assert [r["location"] for r in locs] == ["9.3.A"]
    assert known == {"ch001": "9.3.A"}


HOSTILE: list[tuple[str, bytes, str]] = [
    (T, b'{"v":1,"ts":16948081', "not JSON"),  # truncated
    (T, b"\xff\xfe\x00", "not UTF-8"),
    (T, b"[]", "expected a JSON object"),
    (T, b"null", "expected a JSON object"),
    (T, _bytes(telemetry(dev="ch002")), "differs from the topic"),
    (T, _bytes(telemetry(seq="10")), "seq"),  # wrong type
    (T, _bytes(telemetry(v=2)), "schema version"),
    (T, _bytes(telemetry(samples=[_sample(1, co2_ppm="612")])), "samples[0].co2_ppm"),
    (T, _bytes(telemetry(samples=[_sample(1, co2_ppm=1e308)])), "samples[0].co2_ppm"),
    (
        T,
        b'{"v":1,"ts":1,"dev":"ch001","boot":1,"seq":1,"loc":"9.2.B","samples":'
        b'[{"seq":1,"ts":1,"cyc":1,"ph":"open","co2_ppm":NaN,"rh_pct":1,"t_c":1,"ta_c":1,'
        b'"p_hpa":1000,"lux":0,"lid_deg":0,"fan_pct":0,"fl":0}]}',
        "co2_ppm",
    ),
    (T, _bytes(telemetry(samples=[{**_sample(1), "seq": 10**30}], seq=10**30)), "64-bit"),
    (T, _bytes(telemetry(samples=[_sample(1, ts=10**15)], seq=1)), "outside 2000-01-01"),
    (T, _bytes(telemetry(ts=5)), "ts: time 5 ms"),
    (T, b'{"v":1,"ts":' + b"9" * 5000 + b"}", "not JSON"),  # an integer too long to parse
    (T, b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # nesting deeper than the parser's stack
    (T, b'{"v":1,"pad":"' + b"x" * 1_000_000 + b'"}', "ts"),  # 1 MB
    ("fluxfleet/v1/ch001/cmd", _bytes({"v": 1}), "not ingested"),
    ("fluxfleet/v1/ALL/telemetry", _bytes(telemetry()), "topic"),
    ("elsewhere/ch001/telemetry", _bytes(telemetry()), "topic"),
    (
        "fluxfleet/v1/ch001/meta",
        _bytes(
            {
                "v": 1,
                "ts": 1_694_808_000_000,
                "dev": "ch001",
                "boot": 1,
                "seq": 0,
                "fw": "6.2\ud800",
                "slot": "a",
                "loc": None,
                "reset": "power_on",
                "uptime_ms": 0,
                "skew_ms": None,
                "ntp": True,
                "lost": 0,
                "sched": {},
            }
        ),
        "sched",
    ),
]


def test_hostile_payloads_are_dead_letters_with_reasons() -> None:
    b = BatchBuilder({})
    for topic, payload, _ in HOSTILE:
        assert not b.add(topic, payload, RECEIVED_MS)
    batch = b.build()
    dead = batch.dead_letters.to_pylist()
    assert len(dead) == len(HOSTILE)
    for row, (topic, payload, why) in zip(dead, HOSTILE, strict=True):
        assert row["topic"] == topic
        assert row["payload"] == payload
        assert why in row["reason"], (why, row["reason"])
    assert batch.samples.num_rows == 0
    assert batch.devices.num_rows == 0


def test_lone_surrogate_in_free_text_is_refused() -> None:
    meta = {
        "v": 1, "ts": 1_694_808_000_000, "dev": "ch001", "boot": 1, "seq": 0,
        "fw": "6.2\ud800", "slot": "a", "loc": None, "reset": "power_on", "uptime_ms": 0,
        "skew_ms": None, "ntp": True, "lost": 0,
        "sched": {"period_ms": 600000, "closed_ms": 180000, "extend_ms": 120000,
                  "min_rise_ppm": 5, "flush_ms": 60000, "sample_ms": 3000,
                  "pulse_every_ms": 10000, "pulse_ms": 500, "open_fan_pct": 40},
    }  # fmt: skip
    b = BatchBuilder({})
    assert not b.add("fluxfleet/v1/ch001/meta", _bytes(meta), RECEIVED_MS)
    assert "fw: not valid Unicode" in b.build().dead_letters.to_pylist()[0]["reason"]
    meta["fw"] = "6.2.0"
    assert b.add("fluxfleet/v1/ch001/meta", _bytes(meta), RECEIVED_MS)
    assert b.build().devices.to_pylist()[0]["firmware"] == "6.2.0"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(payload=st.binary(max_size=300))
@example(payload=b"\x00")
def test_any_bytes_never_raise(payload: bytes) -> None:
    b = BatchBuilder({})
    ok = b.add(T, payload, RECEIVED_MS)
    batch = b.build()
    assert batch.dead_letters.num_rows == (0 if ok else 1)


@given(
    field=st.sampled_from(["v", "ts", "dev", "boot", "seq", "loc", "samples"]),
    value=json_values,
    sample_field=st.sampled_from(list(_sample(0))),
    sample_value=json_values,
)
def test_mutated_telemetry_is_rows_or_a_dead_letter(
    field: str, value: Any, sample_field: str, sample_value: Any
) -> None:
    d = telemetry()
    d[field] = value
    d["samples"] = d["samples"] if field != "samples" else value
    if isinstance(d.get("samples"), list) and d["samples"] and isinstance(d["samples"][0], dict):
        d["samples"][0][sample_field] = sample_value
    b = BatchBuilder({})
    try:
        payload = json.dumps(d, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return
    ok = b.add(T, payload, RECEIVED_MS)
    batch = b.build()  # building the Arrow tables never fails on what was accepted
    if ok:
        assert batch.samples.num_rows == len(d["samples"])
        assert decode(T, payload)[2]["dev"] == "ch001"
    else:
        assert batch.dead_letters.to_pylist()[0]["reason"]
