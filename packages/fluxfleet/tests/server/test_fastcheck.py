"""The batch validator (``fastcheck`` through ``BatchBuilder.add_many``) gives exactly the
protocol's verdicts: the same messages accepted, the same reasons for the rejected, and the
same rows, over valid, mutated and hostile messages mixed in one batch."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from fluxfleet.ingest.batch import TIME_RANGE_MS, BatchBuilder, decode
from fluxfleet.ingest.fastcheck import prove_telemetry
from hypothesis import example, given
from hypothesis import strategies as st

from .test_batch import HOSTILE, RECEIVED_MS, _sample, json_values, telemetry

T = "fluxfleet/v1/ch001/telemetry"

# the protocol's and the store's limits, with a step either side
EDGES: list[Any] = [
    None, True, False, -1, 0, 1, 100, 101, 255, 256, 270, 271, -50, -50.0001, 300, 1200,
    1200.5, 100000, 100000.0001, 200000, 200001, 2**53, 2**53 + 1, 2**62 - 1, 2**62,
    2**63, 2**64, -(2**63) - 1, 10**400, -(10**400), 1e308, -1e308, math.nan, math.inf,
    -math.inf, -0.0, 0.5, "closed", "opening", "flush", "shut", "", [], {}, 1.0, 10.0,
    TIME_RANGE_MS[0] - 1, TIME_RANGE_MS[0], TIME_RANGE_MS[1] - 1, TIME_RANGE_MS[1],
]  # fmt: skip
values = st.sampled_from(EDGES) | json_values

_KEYS = list(_sample(0))


@st.composite
def telemetry_message(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid telemetry message, or one with a few fields changed, removed or added."""
    dev = draw(st.sampled_from(["ch001", "ch002", "x"]))
    n = draw(st.integers(1, 6))
    d = telemetry(dev=dev, n=n, first=draw(st.integers(0, 2**62 - 10)))
    d["loc"] = draw(st.sampled_from(["9.2.B", "1.1.a", "10.3.AB"]))
    for s in d["samples"]:
        s["ph"] = draw(st.sampled_from(["open", "closing", "closed", "extended", "flush"]))
        s["co2_ppm"] = draw(st.none() | st.floats(0, 100000))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["header", "sample", "drop", "swap"]))
        if where == "header":
            key = draw(st.sampled_from(["v", "ts", "dev", "boot", "seq", "loc", "samples"]))
            d[key] = draw(values)
        elif isinstance(d.get("samples"), list) and d["samples"]:
            i = draw(st.integers(0, len(d["samples"]) - 1))
            s = d["samples"][i]
            if not isinstance(s, dict):
                continue
            if where == "sample":
                s[draw(st.sampled_from(_KEYS))] = draw(values)
            elif where == "drop":
                s.pop(draw(st.sampled_from(_KEYS)), None)
            else:
                d["samples"][i] = draw(values)
    topic_dev = draw(st.sampled_from([dev, dev, dev, "ch009", "all", "Bad"]))
    try:
        payload = json.dumps(d, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        payload = b"{"
    return f"fluxfleet/v1/{topic_dev}/telemetry", payload


messages = telemetry_message() | st.sampled_from([(t, p) for t, p, _ in HOSTILE])


def _both(msgs: list[tuple[str, bytes]]) -> tuple[BatchBuilder, BatchBuilder]:
    one, many = BatchBuilder({"ch001": "9.2.B"}), BatchBuilder({"ch001": "9.2.B"})
    for i, (t, p) in enumerate(msgs):
        one.add(t, p, RECEIVED_MS + i)
    accepted = many.add_many([(t, p, RECEIVED_MS + i) for i, (t, p) in enumerate(msgs)])
    assert accepted == one.messages - one.rejected
    return one, many


def _assert_same(one: BatchBuilder, many: BatchBuilder) -> None:
    a, b = one.build(), many.build()
    for name in ("samples", "closures", "devices", "device_locations", "dead_letters"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert tb.schema == ta.schema, name
        assert tb.to_pylist() == ta.to_pylist(), name
    assert (many.messages, many.rejected) == (one.messages, one.rejected)
    assert many.locations == one.locations
    assert many.dirty.times_ms == one.dirty.times_ms
    assert many.dirty.samples == one.dirty.samples


@given(msgs=st.lists(messages, min_size=1, max_size=12))
@example(msgs=[(T, json.dumps(telemetry()).encode())])
@example(msgs=[(t, p) for t, p, _ in HOSTILE])
@example(msgs=[(T, json.dumps(telemetry()).encode()[:-1] + b',"x":' + x + b"}") for x in (
    b"NaN", b"1e400", b"123456789012345678901234567890", b'"\\ud800"', b'"\x7f"', b"-0",
    b"[" * 1010 + b"]" * 1010,  # deeper than json reads (~998), not orjson (1024)
)])  # fmt: skip
@example(msgs=[(T, json.dumps(telemetry()).encode().replace(b'"lux": 0.0', b'"lux": ' + x))
               for x in (b"123456789012345678901234567890", b"18446744073709551616", b"-0",
                         b"1e400", b"-Infinity")])  # fmt: skip
def test_batch_verdicts_reasons_and_rows_equal_the_protocols(
    msgs: list[tuple[str, bytes]],
) -> None:
    _assert_same(*_both(msgs))


@given(msg=telemetry_message())
def test_what_fastcheck_proves_the_protocol_accepts(msg: tuple[str, bytes]) -> None:
    topic, payload = msg
    rows = prove_telemetry([msg], TIME_RANGE_MS, (1 << 62) - 1)
    try:
        decode(topic, payload)
        valid = True
    except ValueError:
        valid = False
    assert bool(rows.message) <= valid  # proven only if valid
    if rows.message:
        n = rows.starts[-1]
        assert n == len(json.loads(payload)["samples"])


def test_valid_fleet_telemetry_is_proven_not_left_to_the_protocol() -> None:
    # the fast path must take the common case, or it is no faster
    msgs = [(T, json.dumps(telemetry(n=20, first=20 * k)).encode()) for k in range(1, 4)]
    msgs[1] = (T, json.dumps(telemetry(n=20, first=20, ts=7)).encode())  # a bad time
    rows = prove_telemetry(msgs, TIME_RANGE_MS, (1 << 62) - 1)
    assert rows.message == [0, 2]
    assert np.array_equal(rows.starts, [0, 20, 40])
    _assert_same(*_both(msgs))


def test_null_and_nan_readings() -> None:
    ok = telemetry()
    ok["samples"][1]["lux"] = None
    nan = telemetry(first=20)
    nan["samples"][2]["lux"] = math.nan
    msgs = [(T, json.dumps(d, allow_nan=True).encode()) for d in (ok, nan)]
    rows = prove_telemetry(msgs, TIME_RANGE_MS, (1 << 62) - 1)
    assert rows.message == [0]
    one, many = _both(msgs)
    assert "lux" in many.build().dead_letters.to_pylist()[0]["reason"]
    _assert_same(one, many)


def _every_single_change() -> list[tuple[str, bytes]]:
    """Each header and sample field of a valid message set to each edge value, or
    dropped; and sample seqs equal or decreasing."""
    out = []
    for key in ["v", "ts", "dev", "boot", "seq", "loc", "samples"]:
        for value in EDGES:
            d = telemetry()
            d[key] = value
            out.append(d)
        d = telemetry()
        del d[key]
        out.append(d)
    for i in (0, 2):
        for key in _KEYS:
            for value in EDGES:
                d = telemetry()
                d["samples"][i][key] = value
                out.append(d)
            d = telemetry()
            del d["samples"][i][key]
            out.append(d)
    for seqs in ([10, 10, 11], [10, 12, 11], [10, 9, 12], [11, 12, 13]):
        d = telemetry()
        for s, q in zip(d["samples"], seqs, strict=True):
            s["seq"] = q
        out.append(d)
    return [(T, json.dumps(d, allow_nan=True).encode()) for d in out]


def test_every_single_field_change_at_the_limits() -> None:
    msgs = _every_single_change()
    one, many = _both(msgs)
    _assert_same(one, many)
    assert 0 < one.rejected < one.messages  # both verdicts are exercised
    rows = prove_telemetry(msgs, TIME_RANGE_MS, (1 << 62) - 1)
    for k in rows.message:  # proven only if the protocol accepts it alone
        decode(*msgs[k])
