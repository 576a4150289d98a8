"""Results kept between requests while what they are computed from is unchanged: the
``fluxes`` table (:func:`fluxes_version`) or the samples of a window
(:func:`samples_version`, the Calibration page's spread). The season-long flux analyses
(Fluxes, Quality, Treatment, Soil pCO₂) are kept per day instead, and recomputed only for
the days whose fluxes changed (:mod:`fluxfleet.web.day_rollups`).

A season is 50 chambers × 26,000 closures: soilflux's analyses over it take seconds of
CPU, and the page and its API ask for the same result again and again. The result is
kept under the store's URL, the request's own key (control mapping, time window, …) and
the ``fluxes`` table's *version*: its row count and newest ``computed`` time (every flux
the ingestor stores or recomputes gets a new ``computed``; a deletion changes the count).
So a new closure's flux shows on the next request, at the cost of computing again.
A result read from samples (the Calibration page's spread) is kept by the samples of its
window instead (:func:`samples_version`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pandas as pd

from fluxfleet.store.base import Store

T = TypeVar("T")
MAX_ENTRIES = 32
"""Results kept (least recently used dropped first)."""
_CACHE: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
_LOCK = threading.Lock()


def fluxes_version(store: Store) -> tuple[Hashable, ...]:
    """(row count, newest ``computed``) of the store's ``fluxes`` table."""
    row = store.select("SELECT count(*) AS n, max(computed) AS t FROM fluxes").to_pylist()[0]
    return int(row["n"]), row["t"]


def _copy(value: Any) -> Any:
    """A copy a caller may change without changing the kept result."""
    if isinstance(value, pd.DataFrame):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


def samples_version(store: Store, start: object, end: object) -> tuple[Hashable, ...]:
    """(row count, newest ``received``) of the samples in [start, end): samples are only
    ever inserted (a new ``received``) or deleted before a time (a smaller count)."""
    row = store.select(
        'SELECT count(*) AS n, max(received) AS t FROM samples WHERE "time" >= ? AND "time" < ?',
        [start, end],
    ).to_pylist()[0]
    return int(row["n"]), row["t"]


def cached(
    store: Store,
    name: str,
    key: Hashable,
    compute: Callable[[], T],
    version: Callable[[Store], Hashable] = fluxes_version,
) -> T:
    """``compute()``, or the result kept for (store, ``name``, ``key``) while
    ``version(store)`` (default: the store's fluxes, :func:`fluxes_version`) is unchanged."""
    k = (store.url, name, key, version(store))
    with _LOCK:
        if k in _CACHE:
            _CACHE.move_to_end(k)
            return _copy(_CACHE[k])
    value = compute()
    with _LOCK:
        _CACHE[k] = _copy(value)
        while len(_CACHE) > MAX_ENTRIES:
            _CACHE.popitem(last=False)
    return value


def clear() -> None:
    """Forget every kept result."""
    with _LOCK:
        _CACHE.clear()


def kept() -> int:
    """How many results are kept [-]."""
    with _LOCK:
        return len(_CACHE)
