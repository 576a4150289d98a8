"""Prove whole batches of telemetry messages valid at once, column by column.

The firmware's :mod:`~fluxfleet.firmware.protocol` checks a message sample by sample in
pure Python (it must run on MicroPython); on the server that was half of the ingestor's
time. :func:`prove_telemetry` first hands the batch's telemetry to Arrow's JSON reader
(:mod:`~fluxfleet.ingest.arrowcheck`: parsed straight into columns, outside the GIL);
whatever that does not prove is decoded here with orjson, the per-message header checked
in Python and the samples of all messages together as numpy columns: types, the
protocol's ranges (:data:`~fluxfleet.firmware.protocol.READING_LIMITS` and the integer
limits), the phases, increasing ``seq``, and the store's own limits of
:mod:`~fluxfleet.ingest.batch`.

orjson and the protocol's ``json.loads(payload.decode())`` agree on every document orjson
accepts except one: an integer beyond 64 bits becomes a float in orjson. Such a value is
never proven (an integer field needs an ``int``; as a float it is beyond every reading
range; other fields are not stored), and what orjson refuses but :mod:`json` accepts (NaN,
Infinity, 1e400, lone surrogates) is left to the protocol. Strict UTF-8, duplicate keys
(the last wins) and whitespace are the same. Nesting differs: orjson reads 1,024 levels,
``json`` stops at its recursion limit (about 990 levels), so a payload with more than
:data:`~fluxfleet.ingest.proven.MAX_OPEN` brackets is left to the protocol.

It only ever *proves* validity: a message it cannot prove valid is left to the protocol's
own validator (absent from the result), so every rejection and its reason come from the
one definition of the protocol. ``tests/server/test_fastcheck.py`` checks that whatever
it proves, the protocol accepts with the same rows.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from fluxfleet.ingest.arrowcheck import prove_columnar
from fluxfleet.ingest.proven import (
    INT_LIMITS,
    MAX_OPEN,
    READINGS,
    SAMPLE_KEYS,
    TelemetryRows,
    location_ok,
    merge,
    protocol,
    telemetry_device,
)

__all__ = ["SAMPLE_KEYS", "TelemetryRows", "prove_telemetry"]

_get_sample = operator.itemgetter(*SAMPLE_KEYS)
_PHASES = frozenset(protocol.PHASES)


def _header_ok(d: Any, device: str, time_range_ms: tuple[int, int], int_max: int) -> bool:
    """The checks of the protocol's ``_header`` and the store's on a telemetry payload."""
    if type(d) is not dict:
        return False
    v, ts, boot, seq = d.get("v"), d.get("ts"), d.get("boot"), d.get("seq")
    loc = d.get("loc")
    return (
        type(v) is int
        and v == protocol.SCHEMA_VERSION
        and type(ts) is int
        and time_range_ms[0] <= ts < time_range_ms[1]  # within [0, 2**53] too
        and d.get("dev") == device  # a str equal to the topic's device, already checked
        and type(boot) is int
        and 0 <= boot <= int_max
        and type(seq) is int
        and 0 <= seq <= int_max
        and type(loc) is str
        and location_ok(loc)
    )


def _ints(col: tuple[Any, ...], lo: int, hi: int, hi_open: bool = False) -> tuple[Any, Any]:
    """(int64 array, per-row ok) of an integer column within [lo, hi] (or [lo, hi))."""
    if set(map(type, col)) == {int}:
        try:
            a = np.array(col, dtype=np.int64)
        except OverflowError:
            a = None
    else:
        a = None
    if a is None:  # a bool, float, huge integer or anything else: find the rows, slowly
        ok = np.array([type(x) is int and -(1 << 63) <= x < (1 << 63) for x in col])
        a = np.array([x if good else 0 for x, good in zip(col, ok, strict=True)], np.int64)
    else:
        ok = np.ones(len(a), dtype=bool)
    ok &= a >= lo
    ok &= (a < hi) if hi_open else (a <= hi)
    return a, ok


_NUMBER_TYPES = {int, float, type(None)}


def _as_float(x: Any) -> float:
    """``x`` (an int, a float or None) as a float; NaN for None, inf beyond the floats
    (out of any reading range either way)."""
    if x is None:
        return np.nan
    try:
        return float(x)
    except OverflowError:
        return np.inf


def _readings(col: tuple[Any, ...], lo: float, hi: float) -> tuple[Any, Any]:
    """(float64 array, NaN for null; per-row ok) of a reading column within [lo, hi]."""
    a: Any = None
    if set(map(type, col)) <= _NUMBER_TYPES:
        try:
            a = np.array(col, dtype=np.float64)
        except OverflowError:
            a = None
    if a is None:
        ok = np.array([x is None or type(x) in (int, float) for x in col])
        a = np.array([_as_float(x) if g else np.nan for x, g in zip(col, ok, strict=True)])
    else:
        ok = np.ones(len(a), dtype=bool)
    null = np.isnan(a)
    if null.any() and col.count(None) != int(null.sum()):
        # a NaN that is not a null (the protocol refuses NaN): only the nulls pass below
        null = np.array([x is None for x in col])
    with np.errstate(invalid="ignore"):
        ok &= null | ((a >= lo) & (a <= hi))
    return a, ok


def prove_telemetry(
    messages: list[tuple[str, bytes]], time_range_ms: tuple[int, int], int_max: int
) -> TelemetryRows:
    """The telemetry messages of ``messages`` (topic, payload) proven valid, as columns.

    A message is proven when the protocol would accept it (and the store's limits hold:
    times within ``time_range_ms`` [ms since the epoch], integers within ±``int_max``);
    anything not proven (other kinds, or any doubt) is simply absent from the result.
    Arrow's JSON reader takes the batch first; orjson what it leaves.
    """
    columnar, left = prove_columnar(messages, time_range_ms, int_max)
    if not left:
        return columnar
    return merge(columnar, _prove_dicts(messages, left, time_range_ms, int_max))


def _prove_dicts(
    messages: list[tuple[str, bytes]],
    which: list[int],
    time_range_ms: tuple[int, int],
    int_max: int,
) -> TelemetryRows:
    """:func:`prove_telemetry` of the messages ``which`` (batch indices) through orjson."""
    index: list[int] = []
    payloads: list[dict[str, Any]] = []
    devices: list[str] = []
    rows: list[tuple[Any, ...]] = []
    counts: list[int] = []
    for i in which:
        topic, payload = messages[i]
        device = telemetry_device(topic)
        if device is None or payload.count(b"[") + payload.count(b"{") > MAX_OPEN:
            continue  # not telemetry, or nested deeper than json may read: the protocol's
        try:
            d = orjson.loads(payload)
        except Exception:  # json.loads may still accept it (NaN, a lone surrogate)
            continue
        if not _header_ok(d, device, time_range_ms, int_max):
            continue
        samples = d.get("samples")
        if type(samples) is not list or not 0 < len(samples) <= 500:
            continue
        try:  # a sample that is not an object (JSON has no other mapping) raises TypeError
            got = list(map(_get_sample, samples))
        except (KeyError, TypeError):
            continue
        if got[0][0] != d["seq"]:
            continue
        index.append(i)
        payloads.append(d)
        devices.append(device)
        rows.extend(got)
        counts.append(len(got))
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    n = len(rows)
    if n == 0:
        return TelemetryRows.empty()
    cols = dict(zip(SAMPLE_KEYS, zip(*rows, strict=True), strict=True))
    out: dict[str, Any] = {}
    ok = np.ones(n, dtype=bool)
    for key, lo, hi, hi_open in (
        ("seq", 0, int_max, False),
        ("ts", time_range_ms[0], time_range_ms[1], True),  # within [0, 2**53] too
        ("cyc", 0, int_max, False),
        *((k, lo_k, hi_k, False) for k, lo_k, hi_k in INT_LIMITS),
    ):
        out[key], good = _ints(cols[key], lo, hi, hi_open)
        ok &= good
    for key in READINGS:
        lo_r, hi_r = protocol.READING_LIMITS[key]
        out[key], good = _readings(cols[key], lo_r, hi_r)
        ok &= good
    ph = cols["ph"]
    try:
        phases_ok = set(ph) <= _PHASES
    except TypeError:  # an unhashable phase (a list, an object)
        phases_ok = False
    if not phases_ok:
        ph_ok = [type(p) is str and p in _PHASES for p in ph]
        ok &= np.array(ph_ok)
        ph = tuple(p if good else None for p, good in zip(ph, ph_ok, strict=True))
    out["ph"] = pa.array(ph, type=pa.string())
    # sample seq increases within a message (not across messages)
    seq = out["seq"]
    inc = np.ones(n, dtype=bool)
    inc[1:] = seq[1:] > seq[:-1]
    inc[starts[:-1]] = True
    ok &= inc
    proven = np.logical_and.reduceat(ok, starts[:-1])
    return TelemetryRows(
        index,
        devices,
        np.array([d["boot"] for d in payloads], np.int64),
        [d["loc"] for d in payloads],
        np.array([d["ts"] for d in payloads], np.int64),
        starts,
        out,
    ).take(proven)
