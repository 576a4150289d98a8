"""The fleet's store: one interface (:class:`Store`), two backends chosen by URL.

* ``duckdb:///PATH`` — the embedded default, one file (e.g. ``var/fluxfleet.duckdb``);
  ``duckdb:///PATH?memory_limit=3GB`` caps DuckDB's memory (default 2GB);
* ``postgresql://USER@HOST:PORT/DB`` — for several machines and several ingestors.

Tables and their units: :mod:`fluxfleet.store.schema`; schema versions:
:mod:`fluxfleet.store.migrations`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from fluxfleet.store.base import Batch, Store, StoreError, WriteResult

__all__ = ["Batch", "Store", "StoreError", "WriteResult", "open_store"]


def open_store(url: str, **options: object) -> Store:
    """Open (and migrate) the store at ``url``.

    Parameters
    ----------
    url : str
        ``duckdb:///PATH`` (relative or absolute path; ``duckdb:///:memory:``), optionally
        with the query ``?memory_limit=SIZE`` (e.g. ``3GB``), or ``postgresql://…`` /
        ``postgres://…`` (a libpq URL).
    **options
        Backend options (PostgreSQL: ``partition_days``; DuckDB: ``read_only``, which
        opens an already migrated file without taking its single write lock, and
        ``memory_limit``, DuckDB's memory cap: this option, else the URL's, else
        ``"2GB"``).

    Raises
    ------
    StoreError
        Unknown scheme, or the store cannot be opened (the message says why).
    """
    if url.startswith("duckdb://"):
        from fluxfleet.store.duckdb_store import DEFAULT_MEMORY_LIMIT, DuckDBStore

        path, _, query = url[len("duckdb://") :].partition("?")
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:]  # duckdb:///var/x.duckdb -> var/x.duckdb (relative)
        if path.startswith("/"):
            path = path[1:]  # duckdb:////abs/x.duckdb -> /abs/x.duckdb
        if not path:
            raise StoreError(f"no file in store URL {url!r} (duckdb:///PATH)")
        url_options = _duckdb_query(url, query)
        memory_limit = str(
            options.get("memory_limit", url_options.get("memory_limit", DEFAULT_MEMORY_LIMIT))
        )
        _check_size(url, memory_limit)
        return DuckDBStore(
            path, read_only=bool(options.get("read_only", False)), memory_limit=memory_limit
        )
    if url.startswith(("postgresql://", "postgres://")):
        from fluxfleet.store.postgres_store import PostgresStore

        options.pop("read_only", None)  # PostgreSQL has many readers beside its writers
        options.pop("memory_limit", None)  # the server's own settings govern its memory
        return PostgresStore(url, **options)  # type: ignore[arg-type]
    raise StoreError(f"unknown store URL {url!r}: expected duckdb:///PATH or postgresql://…")


# DuckDB's size strings (its own parser also takes these units, decimal and binary)
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)
_DUCKDB_QUERY = ("memory_limit",)


def _duckdb_query(url: str, query: str) -> dict[str, str]:
    """The options in a DuckDB URL's query (``?memory_limit=3GB``); unknown ones refused."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise StoreError(f"bad query in store URL {url!r}: expected ?memory_limit=SIZE") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key not in _DUCKDB_QUERY:
            raise StoreError(
                f"unknown option {key!r} in store URL {url!r} "
                f"(a DuckDB store takes: {', '.join(_DUCKDB_QUERY)})"
            )
        out[key] = value
    return out


def _check_size(url: str, size: str) -> None:
    if not _SIZE.fullmatch(size.strip()):
        raise StoreError(
            f"memory_limit {size!r} for store {url!r} is not a size "
            "(a number and a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; e.g. 3GB)"
        )
