"""Retention of raw samples on both backends: DuckDB deletes, PostgreSQL drops partitions."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from fluxfleet.ingest.retention import RetentionWorker, retention_cutoff
from fluxfleet.settings import SettingsError, load_settings
from fluxfleet.store import Batch, Store, schema

DAY0 = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def _three_days() -> pa.Table:
    """One sample every 6 h for 3 days from DAY0, of one device."""
    times = [DAY0 + dt.timedelta(hours=6 * i) for i in range(12)]
    ms = [int(t.timestamp() * 1000) for t in times]
    rows = [
        {"device": "ch001", "seq": i + 1, "time": t, "received": t, "phase": "open", "cyc": 1}
        for i, t in enumerate(ms)
    ]
    return pa.Table.from_pylist(rows, schema=schema.SAMPLES)


def test_samples_before_the_cutoff_go(store: Store) -> None:
    store.write(Batch(samples=_three_days()))
    cutoff = DAY0 + dt.timedelta(days=1, hours=12)  # mid day 2
    removed = store.drop_samples_before(cutoff)
    left = store.read("samples")["time"].to_pylist()
    if store.url.startswith("duckdb"):
        assert removed == 6  # deleted to the millisecond
        assert min(left) == cutoff
    else:  # only day 1's partition ends before the cutoff: day 2 stays whole
        assert removed == 4
        assert min(left) == DAY0 + dt.timedelta(days=1)
        assert store.partitions() == ["samples_20260402", "samples_20260403"]  # type: ignore[attr-defined]
    assert len(left) == 12 - removed
    assert store.drop_samples_before(cutoff) == 0  # nothing more to remove
    store.write(Batch(samples=_three_days()))  # a replay of old samples is stored again
    assert store.counts()["samples"] == 12


def test_worker_applies_now_and_reports(store: Store) -> None:
    store.write(Batch(samples=_three_days()))
    said: list[str] = []
    now = DAY0 + dt.timedelta(days=4)
    w = RetentionWorker(store.clone(), 2.0, clock=lambda: now, report=said.append)
    assert w.apply() > 0
    assert store.read("samples")["time"].to_pylist()[0] >= now - dt.timedelta(days=2)
    assert said
    assert "retention: removed" in said[0]
    w.stop()  # never started: closes its handle only


def test_bad_retention_refused() -> None:
    with pytest.raises(ValueError, match="retention_days"):
        retention_cutoff(DAY0, 0.0)
    with pytest.raises(SettingsError, match="retention_days"):
        load_settings(None, retention_days=-1.0)
    assert load_settings(None, retention_days=30.0).retention_days == 30.0
