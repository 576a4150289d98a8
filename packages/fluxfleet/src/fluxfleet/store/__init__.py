"""The fleet's store: one interface (:class:`Store`), two backends chosen by URL.

* ``duckdb:///PATH`` — the embedded default, one file (e.g. ``var/fluxfleet.duckdb``);
* ``postgresql://USER@HOST:PORT/DB`` — for several machines and several ingestors.

Tables and their units: :mod:`fluxfleet.store.schema`; schema versions:
:mod:`fluxfleet.store.migrations`.
"""

from __future__ import annotations

from fluxfleet.store.base import Batch, Store, StoreError, WriteResult

__all__ = ["Batch", "Store", "StoreError", "WriteResult", "open_store"]


def open_store(url: str, **options: object) -> Store:
    """Open (and migrate) the store at ``url``.

    Parameters
    ----------
    url : str
        ``duckdb:///PATH`` (relative or absolute path; ``duckdb:///:memory:``) or
        ``postgresql://…`` / ``postgres://…`` (a libpq URL).
    **options
        Backend options (PostgreSQL: ``partition_days``; DuckDB: ``read_only``, which
        opens an already migrated file without taking its single write lock, and
        ``memory_limit``, DuckDB's memory cap, default ``"2GB"``).

    Raises
    ------
    StoreError
        Unknown scheme, or the store cannot be opened (the message says why).
    """
    if url.startswith("duckdb://"):
        from fluxfleet.store.duckdb_store import DEFAULT_MEMORY_LIMIT, DuckDBStore

        path = url[len("duckdb://") :]
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:]  # duckdb:///var/x.duckdb -> var/x.duckdb (relative)
        if path.startswith("/"):
            path = path[1:]  # duckdb:////abs/x.duckdb -> /abs/x.duckdb
        if not path:
            raise StoreError(f"no file in store URL {url!r} (duckdb:///PATH)")
        memory_limit = str(options.get("memory_limit", DEFAULT_MEMORY_LIMIT))
        return DuckDBStore(
            path, read_only=bool(options.get("read_only", False)), memory_limit=memory_limit
        )
    if url.startswith(("postgresql://", "postgres://")):
        from fluxfleet.store.postgres_store import PostgresStore

        options.pop("read_only", None)  # PostgreSQL has many readers beside its writers
        options.pop("memory_limit", None)  # the server's own settings govern its memory
        return PostgresStore(url, **options)  # type: ignore[arg-type]
    raise StoreError(f"unknown store URL {url!r}: expected duckdb:///PATH or postgresql://…")
