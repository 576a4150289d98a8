"""The Arrow validator (``arrowcheck.prove_columnar``) proves only what the protocol accepts,
with the protocol's rows, and proves the fleet's common payloads (else it is no faster).

Held against the protocol's per-message verdicts on valid, edge and hostile payloads: the
mutations of ``test_fastcheck``, the hostile generator of the 100k fuzz test, and the
documents Arrow's reader (RapidJSON) and Python's ``json`` read differently."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
from fluxfleet.ingest.arrowcheck import prove_columnar
from fluxfleet.ingest.batch import _INT_MAX, TIME_RANGE_MS, BatchBuilder, Rejected, decode
from hypothesis import example, given
from hypothesis import strategies as st

from ..fuzz.fuzz_ingest_100k import _messages as fuzz_messages
from .test_batch import HOSTILE, RECEIVED_MS, telemetry
from .test_fastcheck import _assert_same, _both
from .test_fastcheck import messages as mutated_messages

T = "fluxfleet/v1/ch001/telemetry"
_VALID = json.dumps(telemetry()).encode()


def _spliced(extra: bytes) -> bytes:
    """A valid payload with ``extra`` (``,"key":value``) before its closing brace."""
    return _VALID[:-1] + extra + b"}"


# documents where Arrow's reader and Python's json differ, or a line is not one document
READER_EDGES: list[bytes] = [
    _spliced(b', "x": -NaN'),  # RapidJSON reads -NaN; json does not
    _spliced(b', "x": Inf'),  # likewise Inf
    _spliced(b', "x": NaN'),
    _spliced(b', "x": -Infinity'),
    _spliced(b', "x": "\xff"'),  # invalid UTF-8 in a field the schema ignores
    _spliced(b', "x": "\xc3\xa9"'),  # valid UTF-8, not ASCII
    _spliced(b', "s\\u0065q": true'),  # an escaped key: "seq" to json, the last one wins
    _spliced(b', "v": 1'),  # a repeated key
    _spliced(b', "x": ' + b"[" * 1010 + b"]" * 1010),  # beyond json's depth, not orjson's
    _spliced(b', "x": ' + b"[" * 1100 + b"]" * 1100),  # beyond both
    _spliced(b', "x": ' + b"[" * 500 + b"]" * 500),
    _spliced(b', "x": 1e400'),
    _spliced(b', "x": 123456789012345678901234567890'),
    _spliced(b', "x": {"y": [1, {"z": true}]}'),
    _VALID + b" " + _VALID,  # two documents on one line
    _VALID + b"\n" + _VALID,  # two lines
    _VALID.replace(b", ", b",\r\n"),  # valid, with line breaks inside
    _VALID.replace(b", ", b",\t"),
    _VALID.replace(b'"open"', b'"\\u006fpen"').replace(b'"closed"', b'"\\u0063losed"'),
    _VALID.replace(b'"lux": 0.0', b'"lux": -0'),
    _VALID.replace(b'"lux": 0.0', b'"lux": 0.0e0'),
    _VALID.replace(b'"lid_deg": 0', b'"lid_deg": 0.0'),
    _VALID.replace(b'"lid_deg": 0', b'"lid_deg": -0'),
    _VALID.replace(b'"lid_deg": 0', b'"lid_deg": 0e0'),
    _VALID.replace(b'"fan_pct": 10', b'"fan_pct": true'),
    _VALID.replace(b'"co2_ppm": 612.5', b'"co2_ppm": null'),
    _VALID.replace(b'"co2_ppm": 612.5, ', b""),  # a reading missing
    _VALID.replace(b'"ph": "closed"', b'"ph": null'),
    _VALID.replace(b'"loc": "9.2.B"', b'"loc": null'),
    _VALID.replace(b'"samples": [', b'"samples": [null, '),
    _VALID.replace(b'"samples": [', b'"samples": [1, '),
    b"",
    b" ",
    b"{}",
    b"{} {}",
    b"[]",
    b"\xef\xbb\xbf" + _VALID,  # a byte-order mark
    _VALID + b"\x00",
]


def _protocol_rows(topic: str, payload: bytes) -> list[dict[str, Any]] | None:
    """The sample rows the protocol's path stores for one message; None if it rejects it."""
    try:
        decode(topic, payload)
    except Rejected:
        return None
    b = BatchBuilder({})
    assert b.add(topic, payload, RECEIVED_MS)
    return b.build().samples.to_pylist()


def _assert_proves_only_what_the_protocol_accepts(msgs: list[tuple[str, bytes]]) -> None:
    rows, left = prove_columnar(msgs, TIME_RANGE_MS, _INT_MAX)
    assert sorted(set(rows.message) | set(left)) == sorted(rows.message + left)  # disjoint
    proven = set(rows.message)
    for k, i in enumerate(rows.message):
        expected = _protocol_rows(*msgs[i])
        assert expected is not None, f"proved a message the protocol rejects: {msgs[i]!r}"
        lo, hi = rows.starts[k], rows.starts[k + 1]
        assert hi - lo == len(expected)
        assert [int(x) for x in rows.columns["seq"][lo:hi]] == [r["seq"] for r in expected]
        for key, name in (("co2_ppm", "co2_ppm"), ("lux", "lux"), ("t_c", "scd30_temperature_c")):
            got = rows.columns[key][lo:hi].tolist()
            assert got == [r[name] for r in expected], key
        assert rows.columns["ph"][lo:hi].to_pylist() == [r["phase"] for r in expected]
        assert rows.loc[k] == expected[0]["location"]
    for i, (topic, _) in enumerate(msgs):  # every telemetry message not proven is left over
        if i not in proven and topic.endswith("/telemetry") and topic.count("/") == 3:
            assert i in left or _protocol_rows(*msgs[i]) is None


@given(msgs=st.lists(mutated_messages, min_size=1, max_size=12))
@example(msgs=[(T, p) for p in READER_EDGES])
@example(msgs=[(T, _VALID), *[(t, p) for t, p, _ in HOSTILE]])
def test_proves_only_what_the_protocol_accepts_with_its_rows(
    msgs: list[tuple[str, bytes]],
) -> None:
    _assert_proves_only_what_the_protocol_accepts(msgs)


@given(msg=st.sampled_from(READER_EDGES) | mutated_messages.map(lambda m: m[1]))
def test_one_message_alone(msg: bytes) -> None:
    # alone, a payload Arrow refuses cannot hide behind another's failure
    _assert_proves_only_what_the_protocol_accepts([(T, msg)])


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40))
def test_the_100k_fuzz_generator(seed: int, n: int) -> None:
    msgs = fuzz_messages(random.Random(seed), n)
    _assert_proves_only_what_the_protocol_accepts(msgs)
    # and through add_many, the verdicts are the protocol's
    b = BatchBuilder({})
    accepted = b.add_many([(t, p, RECEIVED_MS) for t, p in msgs])
    assert accepted == sum(_protocol_rows(t, p) is not None or _accepts(t, p) for t, p in msgs)


def _accepts(topic: str, payload: bytes) -> bool:
    try:
        decode(topic, payload)
    except Rejected:
        return False
    return True


def test_the_fleets_payloads_are_proven_here() -> None:
    def compact(d: dict[str, Any]) -> bytes:
        return json.dumps(d, separators=(",", ":")).encode()

    fleet = [
        (f"fluxfleet/v1/ch{k:03d}/telemetry", compact(telemetry(f"ch{k:03d}", 20, 20 * k)))
        for k in range(1, 40)
    ]
    spaced = [(T, json.dumps(telemetry(n=20, first=1000 + 20 * k)).encode()) for k in range(5)]
    msgs = fleet + spaced
    rows, left = prove_columnar(msgs, TIME_RANGE_MS, _INT_MAX)
    assert rows.message == list(range(len(msgs)))
    assert left == []
    assert np.array_equal(np.diff(rows.starts), [20] * len(msgs))
    _assert_proves_only_what_the_protocol_accepts(msgs)


def test_a_payload_arrow_refuses_leaves_the_batch_to_orjson() -> None:
    bad = _VALID.replace(b'"lid_deg": 0', b'"lid_deg": 0.0')  # an integer written as a float
    msgs = [(T, _VALID), (T, bad)]
    rows, left = prove_columnar(msgs, TIME_RANGE_MS, _INT_MAX)
    assert rows.message == []
    assert left == [0, 1]
    b = BatchBuilder({})
    assert b.add_many([(t, p, RECEIVED_MS) for t, p in msgs]) == 1  # orjson proves the first
    assert "lid_deg" in b.build().dead_letters.to_pylist()[0]["reason"]


def test_null_readings_are_left_to_orjson() -> None:
    d = telemetry()
    d["samples"][1]["lux"] = None
    msgs = [(T, json.dumps(d).encode()), (T, json.dumps(telemetry(first=20)).encode())]
    rows, left = prove_columnar(msgs, TIME_RANGE_MS, _INT_MAX)
    assert rows.message == [1]
    assert left == [0]


def test_nesting_deeper_than_json_reads() -> None:
    # Not under Hypothesis, which raises the recursion limit (and with it json's depth):
    # at the default limit json refuses ~990 levels, where orjson and Arrow read on.
    msgs = [(T, _spliced(b', "x": ' + b"[" * d + b"]" * d)) for d in (400, 700, 990, 1010, 1100)]
    verdicts = [_accepts(t, p) for t, p in msgs]
    assert verdicts[0]
    assert not verdicts[-1]
    for m, ok in zip(msgs, verdicts, strict=True):
        b = BatchBuilder({})
        assert b.add_many([(*m, RECEIVED_MS)]) == ok


def test_rows_of_both_validators_keep_the_batch_order() -> None:
    # Arrow proves the even messages, orjson the odd ones (a null reading): the rows of
    # the batch still come in message order, as the protocol's path gives them
    msgs = []
    for k in range(6):
        d = telemetry(n=4, first=10 + 4 * k)
        if k % 2:
            d["samples"][k % 4]["lux"] = None
        msgs.append((T, json.dumps(d).encode()))
    rows, left = prove_columnar(msgs, TIME_RANGE_MS, _INT_MAX)
    assert rows.message == [0, 2, 4]
    assert left == [1, 3, 5]
    one, many = _both(msgs)
    assert many.build().samples.column("seq").to_pylist() == list(range(10, 34))
    _assert_same(one, many)
