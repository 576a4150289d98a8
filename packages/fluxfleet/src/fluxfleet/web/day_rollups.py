"""Results over a season of fluxes kept *per UTC day* and recomputed only for the days
whose fluxes changed (the Fluxes, Quality, Treatment and Soil pCO₂ pages).

:mod:`fluxfleet.web.rollups` keeps a result until the ``fluxes`` table changes anywhere;
live, the ingestor stores a flux every ~12 s (50 chambers, a closure each 10 min), so that
console paid the whole season's computation (seconds of soilflux over 1.3 M closures) on
most requests. Each of those results is made of independent per-day parts (Fluxes: hourly
or daily means; Quality: daily counts summed per week; Treatment: hourly differences, an
hour lies in one UTC day; pCO₂: daily means per UTC day), so a season's result is its
days' parts put together. The parts equal a season-wide computation to rounding: pandas
sums a group pairwise or compensated depending on the frame (``groupby.mean`` on sorted
group ids takes ``ufunc.reduceat``), so a mean may differ in its last bit or two.

A day's *version* is (closures, newest ``computed``, sum of ``computed`` [µs]) of the
fluxes starting that day in the request's window, counted by the store in one
``GROUP BY``: a new flux raises the count, a recomputed one (stored again with a new
``computed``) changes the newest time and the sum, a deleted one lowers the count. The
version is read *before* the data, so a flux stored in between makes the day stale again
at the next request rather than hidden.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from fluxfleet.store.base import Store

T = TypeVar("T")
DAY_S = 86_400
MAX_STATES = 32
"""(page, request key) states kept (least recently used dropped first)."""
EPOCH = pd.Timestamp(0, tz="UTC")

# (day number, computed as an integer): a float sum would depend on the store's (parallel)
# summing order. DuckDB's epoch_us is 4x cheaper than extract (12 vs 44 ms CPU a season).
_DAY_SQL = {
    "duckdb": ('epoch_us("start") // 86400000000', "epoch_us(computed)"),
    "postgresql": (
        'CAST(floor(extract(epoch FROM "start") / 86400) AS BIGINT)',
        "CAST(floor(extract(epoch FROM computed) * 1000000) AS BIGINT)",
    ),
}

Range = tuple[dt.datetime, dt.datetime]


def window(start: dt.datetime | None, end: dt.datetime | None) -> tuple[list[str], list[object]]:
    """WHERE parts (and parameters) of the closures starting in [start, end)."""
    parts: list[str] = []
    params: list[object] = []
    if start is not None:
        parts.append('"start" >= ?')
        params.append(start)
    if end is not None:
        parts.append('"start" < ?')
        params.append(end)
    return parts, params


def day_versions(
    store: Store, start: dt.datetime | None, end: dt.datetime | None
) -> dict[int, Hashable]:
    """Per UTC day (days since 1970-01-01) with a flux starting in [start, end): its
    (closures, newest ``computed``, sum of ``computed`` [µs])."""
    parts, params = window(start, end)
    where = f"WHERE {' AND '.join(parts)}" if parts else ""
    day, computed = _DAY_SQL["duckdb" if store.url.startswith("duckdb") else "postgresql"]
    rows = store.select(
        f"SELECT {day} AS d, count(*) AS n, max(computed) AS t, sum({computed}) AS s "
        f"FROM fluxes {where} GROUP BY 1",
        params,
    ).to_pylist()
    return {int(r["d"]): (int(r["n"]), r["t"], int(r["s"] or 0)) for r in rows}


def day_of(times: pd.Series) -> np.ndarray:
    """UTC day number (days since 1970-01-01) of aware times."""
    return np.asarray((pd.to_datetime(times, utc=True) - EPOCH) // pd.Timedelta(days=1))


def day_ranges(days: list[int], start: dt.datetime | None, end: dt.datetime | None) -> list[Range]:
    """[lo, hi) time ranges covering ``days`` (runs of consecutive days merged), cut to
    the window [start, end)."""
    out: list[Range] = []
    for d in sorted(days):
        lo = dt.datetime.fromtimestamp(d * DAY_S, dt.UTC)
        hi = lo + dt.timedelta(days=1)
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    if start is not None:
        out = [(max(lo, start), hi) for lo, hi in out]
    if end is not None:
        out = [(lo, min(hi, end)) for lo, hi in out]
    return [(lo, hi) for lo, hi in out if lo < hi]


def ranges_clause(ranges: list[Range]) -> tuple[str, list[object]]:
    """A WHERE part selecting the closures starting in any of ``ranges`` (none: false)."""
    if not ranges:
        return "1 = 0", []
    parts = ['("start" >= ? AND "start" < ?)' for _ in ranges]
    return "(" + " OR ".join(parts) + ")", [t for r in ranges for t in r]


@dataclasses.dataclass
class _State:
    versions: dict[int, Hashable] = dataclasses.field(default_factory=dict)
    parts: dict[int, pd.DataFrame] = dataclasses.field(default_factory=dict)
    result_key: tuple[Any, ...] | None = None
    result: Any = None


_STATES: OrderedDict[tuple[Hashable, ...], _State] = OrderedDict()
_LOCK = threading.Lock()


def _copy(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


def per_day(
    store: Store,
    name: str,
    key: Hashable,
    start: dt.datetime | None,
    end: dt.datetime | None,
    compute: Callable[[list[Range]], pd.DataFrame],
    day_column: str,
    combine: Callable[[pd.DataFrame], T],
) -> T:
    """``combine(parts)`` where ``parts`` are ``compute``'s rows over the window's days,
    ``compute(ranges)`` being called only for the days whose fluxes changed since the
    last call with the same (store, ``name``, ``key``) (the first time: every day).

    ``compute(ranges)`` returns the per-day rows of the closures starting in ``ranges``
    (cut to [start, end)), each row's UTC day in ``day_column``; ``combine`` gets every
    day's rows concatenated in day order (a day without rows adds none) and its result is
    kept until a day changes.
    """
    versions = day_versions(store, start, end)  # before the data: see the module's note
    state_key = (store.url, name, key, start, end)
    with _LOCK:
        state = _STATES.get(state_key) or _State()
        _STATES[state_key] = state
        _STATES.move_to_end(state_key)
        while len(_STATES) > MAX_STATES:
            _STATES.popitem(last=False)
        result_key = tuple(sorted(versions.items()))
        if state.result_key == result_key:
            return _copy(state.result)  # type: ignore[no-any-return,unused-ignore]
        known, parts = dict(state.versions), dict(state.parts)
    stale = [d for d, v in versions.items() if known.get(d) != v]
    if stale or not parts:
        fresh = compute(day_ranges(stale, start, end))
        days = day_of(fresh[day_column]) if len(fresh) else np.zeros(0, np.int64)
        for d in stale:
            parts[d] = fresh.iloc[0:0]
        for day, day_rows in fresh.groupby(days, sort=False):
            parts[int(day)] = day_rows  # type: ignore[call-overload,unused-ignore]
        empty = fresh.iloc[0:0]
    else:
        empty = next(iter(parts.values())).iloc[0:0]
    parts = {d: parts[d] for d in versions}  # days without fluxes any more: gone
    kept = [parts[d] for d in sorted(parts) if len(parts[d])]
    every = pd.concat(kept, ignore_index=True) if kept else empty.reset_index(drop=True)
    result = combine(every)
    with _LOCK:
        state.versions, state.parts = versions, parts
        state.result_key, state.result = result_key, _copy(result)
    return result


def clear() -> None:
    """Forget every kept state."""
    with _LOCK:
        _STATES.clear()


def kept() -> int:
    """How many results (one per route and request key) are kept [-]."""
    with _LOCK:
        return len(_STATES)
