"""An Arrow table as PostgreSQL's binary ``COPY`` stream, made by Arrow's kernels.

The server reads binary fields with its ``recv`` functions instead of parsing text
(``timestamptz_in``, ``float8in``): for the ingestor's samples that cut the backend's
``COPY`` CPU by about a quarter (benchmarks/RESULTS.md, "PostgreSQL ingest: binary COPY").

Format (PostgreSQL docs, "COPY — Binary Format"): an 11-byte signature, a 32-bit flags
field and a 32-bit header-extension length; then per row a 16-bit field count and per
field a 32-bit length (-1 for NULL) followed by that many bytes, all integers big-endian;
a 16-bit -1 ends the stream. No Python loop over rows: a run of fixed-width bytes — the
field count, the fields of numeric columns without NULLs, the length of a text column —
is one packed NumPy record per row (written a column at a time), a text column's bytes
are its Arrow buffer, and ``binary_join_element_wise`` joins the pieces of each row
(:func:`binary_rows`; a piece per column, before, cost about 2.5× as much CPU:
benchmarks/RESULTS.md, "PostgreSQL ingest: the server's and the client's CPU").

The Arrow types must match the target columns exactly (``int64`` → ``bigint``, ``int16``
→ ``smallint``, ``float64`` → ``double precision``, ``timestamp`` → ``timestamptz``,
``string`` → ``text``, ``binary`` → ``bytea``, ``bool`` → ``boolean``): the binary format
carries no type, and a mismatch is refused by the server, never stored wrong.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC, PostgreSQL's timestamp zero [µs]
_NULL = np.array([-1], ">i4").tobytes()


def _fixed(n: int, cells: np.ndarray) -> pa.Array:
    """``cells`` (``n`` rows of equal byte width) as an Arrow ``binary`` array."""
    width = cells.dtype.itemsize if cells.ndim == 1 else cells.shape[1]
    raw = np.ascontiguousarray(cells).view(np.uint8).reshape(-1)
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(raw)])
    return arr.cast(pa.binary())


def _numeric_field(col: pa.Array, big_endian: str) -> pa.Array:
    """A fixed-width column: 4-byte length + value, or the 4-byte -1 of a NULL."""
    n = len(col)
    values = col.fill_null(0).to_numpy(zero_copy_only=False).astype(big_endian)
    width = values.dtype.itemsize
    cells = np.empty((n, 4 + width), np.uint8)
    cells[:, :4] = np.frombuffer(np.array([width], ">i4").tobytes(), np.uint8)
    cells[:, 4:] = values.view(np.uint8).reshape(n, width)
    field = _fixed(n, cells)
    if col.null_count:
        field = pc.if_else(col.is_valid(), field, pa.scalar(_NULL, pa.binary()))
    return field


def _varlen_field(col: pa.Array) -> pa.Array:
    """A text or bytea column: 4-byte length (-1 for NULL) + the bytes."""
    col = col.cast(pa.binary())
    lengths = pc.binary_length(col).fill_null(-1).to_numpy(zero_copy_only=False)
    header = _fixed(len(col), lengths.astype(">i4"))
    return pc.binary_join_element_wise(header, col.fill_null(b""), b"")


def _numbers(col: pa.Array) -> np.ndarray | None:
    """A column without NULLs as the NumPy values its binary fields carry (native byte
    order; the record's big-endian dtype swaps them), or None for a column that needs
    :func:`_field` (text, bytea, NULLs)."""
    t = col.type
    if col.null_count:
        return None
    if pa.types.is_timestamp(t):
        us = col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64())
        return np.subtract(us.to_numpy(zero_copy_only=False), _PG_EPOCH_US)
    if pa.types.is_boolean(t):
        return col.cast(pa.uint8()).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return col.to_numpy(zero_copy_only=False)
    return None


def _records(n: int, parts: list[tuple[str, np.ndarray | int]]) -> pa.Array:
    """``n`` packed records of the big-endian ``parts`` (dtype string, values) as an
    Arrow ``binary`` array, one record a row."""
    dtype = np.dtype([(f"f{i}", code) for i, (code, _v) in enumerate(parts)])  # packed
    rec = np.empty(n, dtype)
    for i, (_code, values) in enumerate(parts):
        rec[f"f{i}"] = values
    offsets = np.arange(0, (n + 1) * dtype.itemsize, dtype.itemsize, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(rec.view(np.uint8))]
    return pa.Array.from_buffers(pa.binary(), n, buffers)


def binary_rows(table: pa.Table) -> pa.Array:
    """Each row of ``table`` as one ``binary`` value: its field count and fields, as a
    row of the binary ``COPY`` stream (:func:`stream` makes the stream of any of them,
    in any order)."""
    n = table.num_rows
    pieces: list[pa.Array] = []
    run: list[tuple[str, np.ndarray | int]] = [(">i2", table.num_columns)]
    for name in table.schema.names:
        col = table[name].combine_chunks()
        values = _numbers(col)
        if values is not None:  # fixed width, no NULLs: length + value in the record
            run += [(">i4", values.dtype.itemsize), (">" + values.dtype.str[1:], values)]
        elif _is_varlen(col.type):  # its length in the record, then its bytes
            col = col.cast(pa.binary())
            lengths = pc.binary_length(col).fill_null(-1).to_numpy(zero_copy_only=False)
            run.append((">i4", lengths))
            pieces += [_records(n, run), col.fill_null(b"")]
            run = []
        else:  # a numeric column with NULLs: its fields made alone
            if run:
                pieces.append(_records(n, run))
            pieces.append(_field(col))
            run = []
    if run:
        pieces.append(_records(n, run))
    if len(pieces) == 1:
        return pieces[0]
    return pc.binary_join_element_wise(*pieces, b"")


def _is_varlen(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t))


def stream(rows: pa.Array) -> bytes:
    """The body of ``COPY … FROM STDIN (FORMAT binary)`` holding ``rows`` (of
    :func:`binary_rows`, taken or sliced as wanted), in their order."""
    n = len(rows)
    if n == 0:
        return SIGNATURE + TRAILER
    offsets = np.frombuffer(rows.buffers()[1], np.int32, n + 1, rows.offset * 4)
    body = rows.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    return b"".join((SIGNATURE, memoryview(body)[start:end], TRAILER))


def _field(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_timestamp(t):
        us = pc.subtract(col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64()), _PG_EPOCH_US)
        return _numeric_field(us, ">i8")
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        return _varlen_field(col)
    if pa.types.is_boolean(t):
        return _numeric_field(col.cast(pa.uint8()), ">u1")
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return _numeric_field(col, ">" + np.dtype(t.to_pandas_dtype()).str[1:])
    raise TypeError(f"no binary COPY encoding for the Arrow type {t}")


def binary_copy(table: pa.Table) -> bytes:
    """``table`` as the body of ``COPY … FROM STDIN (FORMAT binary)``, its columns in
    order."""
    return stream(binary_rows(table))
