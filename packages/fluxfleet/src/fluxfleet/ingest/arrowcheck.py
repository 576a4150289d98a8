"""Prove a batch of telemetry valid with Arrow's JSON reader: parsed straight to columns.

The telemetry payloads of a batch, one per line, go through one
``pyarrow.json.read_json`` call with the telemetry's schema (C++, outside the GIL): every
field comes out as a typed column and the list of samples as columns of all the batch's
samples, so no Python object is made per sample. The protocol's checks are then a few
vectorised comparisons (:func:`prove_columnar`).

Arrow's reader (RapidJSON) accepts a few documents that the protocol's
``json.loads(payload.decode())`` refuses; a payload that could be one of them never
reaches it (:func:`_eligible`), so what is proven here the protocol accepts:

* invalid UTF-8 in a field the schema ignores — only ASCII payloads;
* ``-NaN``, ``Inf`` — no payload holding ``NaN`` or ``Inf``;
* escapes (a key spelled ``"s\\u0065q"`` is another key to a reader that compares raw
  keys) — no backslash;
* nesting beyond Python's recursion limit — at most
  :data:`~fluxfleet.ingest.proven.MAX_OPEN` ``[`` and ``{`` in all;
* a line holding two documents, or none — one line per payload (no CR/LF inside, starts
  with ``{`` and ends with ``}``) and exactly one row per payload, else the whole batch
  is left to orjson.

Where the reader is stricter (an integer written ``1.0`` or ``1e2``, a number beyond
int64 or double, a repeated key: errors), it errs on the safe side: a failed read leaves
the batch to :mod:`~fluxfleet.ingest.fastcheck`'s orjson path. A reading that is null
(or missing: Arrow cannot tell the two apart) is not proven here either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.json as pj  # type: ignore[import-untyped]

from fluxfleet.ingest.proven import (
    INT_LIMITS,
    MAX_OPEN,
    READINGS,
    SAMPLE_KEYS,
    TelemetryRows,
    location_ok,
    protocol,
    telemetry_device,
)

_I, _F, _S = pa.int64(), pa.float64(), pa.string()
SAMPLE_TYPE = pa.struct(
    [(k, _S if k == "ph" else _F if k in READINGS else _I) for k in SAMPLE_KEYS]
)
TELEMETRY_SCHEMA = pa.schema(
    [
        ("v", _I),
        ("ts", _I),
        ("dev", _S),
        ("boot", _I),
        ("seq", _I),
        ("loc", _S),
        ("samples", pa.list_(SAMPLE_TYPE)),
    ]
)
"""The telemetry payload as Arrow reads it; other keys are ignored, as the protocol does."""

_PARSE = pj.ParseOptions(explicit_schema=TELEMETRY_SCHEMA, unexpected_field_behavior="ignore")
_PHASES = pa.array(protocol.PHASES, _S)
MAX_PAYLOAD = 256 * 1024
"""Longest payload read here [bytes] (500 samples are about 80 kB)."""


def _eligible(payload: bytes) -> bool:
    """Whether Arrow's reader may prove ``payload`` (module docstring)."""
    return (
        len(payload) <= MAX_PAYLOAD
        and payload[:1] == b"{"
        and payload[-1:] == b"}"
        and payload.isascii()
        and b"\n" not in payload
        and b"\r" not in payload
        and b"\\" not in payload
        and b"NaN" not in payload
        and b"Inf" not in payload
        and payload.count(b"{") + payload.count(b"[") <= MAX_OPEN
    )


def _ints(a: Any, lo: int, hi: int, hi_open: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, ok) of an int64 column: not null and within [lo, hi] (or [lo, hi))."""
    valid = a.is_valid().to_numpy(zero_copy_only=False)
    v = pc.fill_null(a, 0).to_numpy()
    ok = valid & (v >= lo) & ((v < hi) if hi_open else (v <= hi))
    return v, ok


def _reading(a: Any, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, ok) of a reading: not null (null is left to orjson, see the module
    docstring) and within [lo, hi] (NaN is not)."""
    valid = a.is_valid().to_numpy(zero_copy_only=False)
    v = pc.fill_null(a, np.nan).to_numpy()
    with np.errstate(invalid="ignore"):
        ok = valid & (v >= lo) & (v <= hi)
    return v, ok


def _read(payloads: list[bytes]) -> pa.Table | None:
    """One row per payload, or None when Arrow refuses the batch or the rows do not line
    up with the payloads."""
    buf = b"\n".join(payloads)
    try:
        table = pj.read_json(
            pa.BufferReader(buf),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(len(buf) + 1, 1 << 20)),
            parse_options=_PARSE,
        )
    except (pa.ArrowException, ValueError, UnicodeDecodeError):
        return None
    if table.num_rows != len(payloads):
        return None
    return table.combine_chunks()


def prove_columnar(
    messages: list[tuple[str, bytes]], time_range_ms: tuple[int, int], int_max: int
) -> tuple[TelemetryRows, list[int]]:
    """The telemetry of ``messages`` (topic, payload) that Arrow's reader proves valid, as
    columns, and the batch indices of the telemetry it did not prove (for orjson).

    Proven means the protocol accepts the message and the store's limits hold (times
    within ``time_range_ms`` [ms since the epoch], integers within ``int_max``), exactly
    as :func:`~fluxfleet.ingest.fastcheck.prove_telemetry` defines it.
    """
    index: list[int] = []
    devices: list[str] = []
    left: list[int] = []
    for i, (topic, payload) in enumerate(messages):
        device = telemetry_device(topic)
        if device is None:
            continue
        if _eligible(payload):
            index.append(i)
            devices.append(device)
        else:
            left.append(i)
    if not index:
        return TelemetryRows.empty(), left
    table = _read([messages[i][1] for i in index])
    if table is None:
        return TelemetryRows.empty(), sorted(left + index)
    col = {name: table.column(name).chunk(0) for name in TELEMETRY_SCHEMA.names}
    lo_t, hi_t = time_range_ms  # within [0, 2**53] too
    ok = pc.fill_null(pc.equal(col["dev"], pa.array(devices, _S)), False).to_numpy(
        zero_copy_only=False
    )
    ok &= _ints(col["v"], protocol.SCHEMA_VERSION, protocol.SCHEMA_VERSION)[1]
    ts, good = _ints(col["ts"], lo_t, hi_t, True)
    ok &= good
    boot, good = _ints(col["boot"], 0, int_max)
    ok &= good
    seq0, good = _ints(col["seq"], 0, int_max)
    ok &= good
    locs = col["loc"]
    good_locs = [u for u in pc.unique(locs).to_pylist() if u is not None and location_ok(u)]
    ok &= pc.fill_null(pc.is_in(locs, pa.array(good_locs, _S)), False).to_numpy(
        zero_copy_only=False
    )
    lists = col["samples"]
    counts = pc.fill_null(pc.list_value_length(lists), 0).to_numpy().astype(np.int64)
    ok &= (counts > 0) & (counts <= 500)
    samples = lists.flatten()
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    if len(samples) != starts[-1]:  # a null list backed by values: never from this reader
        return TelemetryRows.empty(), sorted(left + index)
    n = len(samples)
    fields = dict(zip(SAMPLE_KEYS, samples.flatten(), strict=True))  # with the struct's nulls
    columns: dict[str, Any] = {}
    row_ok = np.ones(n, dtype=bool)
    for key, lo, hi, hi_open in (
        ("seq", 0, int_max, False),
        ("ts", lo_t, hi_t, True),
        ("cyc", 0, int_max, False),
        *((k, lo_k, hi_k, False) for k, lo_k, hi_k in INT_LIMITS),
    ):
        columns[key], good = _ints(fields[key], lo, hi, hi_open)
        row_ok &= good
    for key in READINGS:
        lo_r, hi_r = protocol.READING_LIMITS[key]
        columns[key], good = _reading(fields[key], lo_r, hi_r)
        row_ok &= good
    ph = fields["ph"]
    row_ok &= pc.fill_null(pc.is_in(ph, _PHASES), False).to_numpy(zero_copy_only=False)
    columns["ph"] = ph
    seq = columns["seq"]
    if n:  # seq increases within a message; the first equals the header's
        inc = np.ones(n, dtype=bool)
        inc[1:] = seq[1:] > seq[:-1]
        firsts = starts[:-1][counts > 0]
        inc[firsts] = True
        row_ok &= inc
        first_ok = np.zeros(len(counts), dtype=bool)
        first_ok[counts > 0] = seq[firsts] == seq0[counts > 0]
        ok &= first_ok
    bad = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(~row_ok, out=bad[1:])
    ok &= bad[starts[1:]] == bad[starts[:-1]]
    rows = TelemetryRows(
        index,
        devices,
        boot,
        locs.to_pylist(),
        ts,
        starts,
        columns,
    ).take(ok)
    left += [i for i, good in zip(index, ok, strict=True) if not good]
    return rows, sorted(left)
