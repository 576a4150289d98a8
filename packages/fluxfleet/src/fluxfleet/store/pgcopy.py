"""An Arrow table as PostgreSQL's binary ``COPY`` stream, made by Arrow's kernels.

The server reads binary fields with its ``recv`` functions instead of parsing text
(``timestamptz_in``, ``float8in``): for the ingestor's samples that cut the backend's
``COPY`` CPU by about a quarter (benchmarks/RESULTS.md, "PostgreSQL ingest: binary COPY").

Format (PostgreSQL docs, "COPY — Binary Format"): an 11-byte signature, a 32-bit flags
field and a 32-bit header-extension length; then per row a 16-bit field count and per
field a 32-bit length (-1 for NULL) followed by that many bytes, all integers big-endian;
a 16-bit -1 ends the stream. Each field is made as one Arrow ``binary`` value (length and
data together) and ``binary_join_element_wise`` concatenates a row's fields: no Python
loop over rows.

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
    n = table.num_rows
    count = np.full(n, table.num_columns, ">i2")
    fields = [_fixed(n, count)]
    fields += [_field(table[name].combine_chunks()) for name in table.schema.names]
    rows = pc.binary_join_element_wise(*fields, b"")
    offsets = np.frombuffer(rows.buffers()[1], np.int32, n + 1, rows.offset * 4)
    body = rows.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    return b"".join((SIGNATURE, memoryview(body)[start:end], TRAILER))
