"""A PostgreSQL store's rows as one Arrow C stream, for ``fluxfleet export`` to write.

The reader is the ADBC PostgreSQL driver (``adbc-driver-postgresql``, Apache Arrow): the
server sends ``COPY (SELECT …) TO STDOUT (FORMAT binary)`` and the driver decodes it into
Arrow columns in C, so no row becomes a Python object. Its stream goes straight into
DuckDB (the ``__arrow_c_stream__`` protocol), which lays out, sorts and writes the file
while the driver reads, and neither pyarrow, numpy nor pandas is imported: the driver's
low-level API is used, not its DB-API module (that imports pyarrow.dataset, which imports
pandas: ≈ 1 CPU-s of process start). The store's psycopg reader this replaces handed
``COPY`` back one row per Python call (benchmarks/RESULTS.md, "season store").

Only this module touches the driver; ``fluxfleet.store`` keeps psycopg for everything else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fluxfleet.store import tables
from fluxfleet.store.base import StoreError, check_table


def redacted(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")
        user = netloc[0].partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))
    except ValueError:
        return url


def _literal(t: dt.datetime) -> str:
    """A ``timestamptz`` literal of ``t`` (naive: UTC, as ``fluxfleet export`` reads it)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return f"'{t.isoformat()}'::timestamptz"  # isoformat has no quote: no escaping needed


def select_sql(
    table: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    columns: list[str] | None = None,
) -> str:
    """The server's ``SELECT`` of ``table``'s rows in [start, end): ``columns`` or all.

    Unsorted: the export sorts in DuckDB (an ``ORDER BY`` here made the server sort, or
    walk the primary key's index through the heap: 2.6–5.7 s for a day against 0.43 s for
    its sequential scan, benchmarks/RESULTS.md). Times are literals, not parameters: the
    driver's parameter binding wants Arrow arrays (pyarrow).
    """
    check_table(table)
    time_col = tables.TIME_COLUMN[table]
    if not time_col and (start is not None or end is not None):
        raise ValueError(f"table {table!r} has no time column to select a time range on")
    cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    where = []
    if start is not None:
        where.append(f'"{time_col}" >= {_literal(start)}')
    if end is not None:
        where.append(f'"{time_col}" < {_literal(end)}')
    q = f"SELECT {cols} FROM {table}"
    return q + (" WHERE " + " AND ".join(where) if where else "")


@contextmanager
def arrow_stream(url: str, query: str) -> Iterator[Any]:
    """``query``'s rows on the PostgreSQL server at ``url``: an Arrow C stream (one pass).

    Raises
    ------
    StoreError
        The server cannot be reached, the URL is not a PostgreSQL URL, or the query fails
        (the message says which, with the URL's password hidden).
    """
    import adbc_driver_manager as adbc
    import adbc_driver_postgresql  # type: ignore[import-untyped]

    opened: list[Any] = []
    try:
        try:
            db = adbc_driver_postgresql.connect(url)
            opened.append(db)
            con = adbc.AdbcConnection(db)
            opened.append(con)
            stmt = adbc.AdbcStatement(con)
            opened.append(stmt)
            stmt.set_sql_query(query)
            stream, _rows = stmt.execute_query()
        except adbc.Error as exc:
            raise StoreError(
                f"cannot read the PostgreSQL store {redacted(url)}: {_message(exc)}"
            ) from None
        try:
            yield stream
        finally:
            if stream.is_valid:
                stream.release()
    finally:
        for handle in reversed(opened):
            handle.close()


_STATUS = re.compile(r"^[A-Z_]+: ")  # ADBC's status code before the server's message


def _message(exc: Exception) -> str:
    """The driver's message without its ``[libpq]``/status prefixes and trailing detail."""
    text = _STATUS.sub("", str(exc).strip()).removeprefix("[libpq] ")
    return text.splitlines()[0] if text else type(exc).__name__
