"""How the console opens the store: :func:`open_store`, or a store shared in-process.

A DuckDB file has one writing process, and within a process DuckDB refuses a read-only
connection beside a writable one. ``fluxfleet serve`` beside ``fluxfleet ingest`` therefore
needs PostgreSQL; but the live demo (:mod:`fluxfleet.live_demo`) runs the ingestor and the
console in one process on one DuckDB file: it :func:`share`\\ s its writable store, and every
request then gets a cursor of it (:meth:`~fluxfleet.store.base.Store.clone`) instead of a
connection of its own.
"""

from __future__ import annotations

import threading
from typing import Any

from fluxfleet.store import Store, open_store

_SHARED: dict[str, Store] = {}
_LOCK = threading.Lock()


def share(store: Store) -> None:
    """Serve ``store`` (by its URL) to the console of this process until :func:`unshare`."""
    with _LOCK:
        _SHARED[store.url] = store


def unshare(store: Store) -> None:
    """Stop serving ``store``; later requests open the URL themselves."""
    with _LOCK:
        if _SHARED.get(store.url) is store:
            del _SHARED[store.url]


def open_console_store(url: str, **options: Any) -> Store:
    """A handle on the store at ``url`` for one request (the caller closes it): a cursor of
    the store shared for ``url``, else ``open_store(url, **options)``."""
    with _LOCK:
        shared = _SHARED.get(url)
        if shared is not None:
            return shared.clone()
    return open_store(url, **options)
