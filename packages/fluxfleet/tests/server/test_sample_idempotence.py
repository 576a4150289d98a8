"""Samples are stored once per (device, seq) on both backends, whatever arrives when.

DuckDB keeps samples without a key (migration 0007) and dedupes in ``DuckDBStore.write``
(each device's highest stored seq, then an anti-join); PostgreSQL keeps its key. The
cases: redelivery (also after a reopen), a device's ring replayed below what is stored,
duplicates inside a batch, seqs out of order, a reboot with seq continuing, two handles
and two threads writing one store, and a random schedule of all of these (Hypothesis).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pytest
from fluxfleet.store import Store, open_store, schema
from fluxfleet.store.base import Batch
from fluxfleet.store.migrations import migrations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0_MS = 1_780_000_000_000
RECEIVED_MS = 1_800_000_000_000


def _samples(rows: Iterable[tuple[str, int, int]], mark: float = 400.0) -> pa.Table:
    """Samples (device, seq, boot); a device's ring keeps each sample's time, so a replay
    carries the original's (``time`` follows from seq). ``co2_ppm`` = ``mark`` tells
    which write a stored row came from."""
    out = [
        {
            "device": d,
            "seq": s,
            "time": T0_MS + 3000 * s,
            "boot": b,
            "cyc": s // 10,
            "phase": "open",
            "co2_ppm": mark,
            "received": RECEIVED_MS,
        }
        for d, s, b in rows
    ]
    return pa.Table.from_pylist(out, schema=schema.SAMPLES)


def _write(st: Store, rows: Iterable[tuple[str, int, int]], mark: float = 400.0) -> int:
    return st.write(Batch(samples=_samples(rows, mark))).samples


def _stored(st: Store, devices: list[str]) -> dict[tuple[str, int], float]:
    """(device, seq) → co2_ppm of the stored rows of ``devices``; fails on a duplicate."""
    t = st.read("samples", devices=devices)
    keys = list(zip(t["device"].to_pylist(), t["seq"].to_pylist(), strict=True))
    assert len(keys) == len(set(keys)), "a (device, seq) is stored twice"
    return dict(zip(keys, t["co2_ppm"].to_pylist(), strict=True))


def _dev() -> str:
    return f"ch{uuid.uuid4().hex[:8]}"


def test_redelivery_after_reopen_stores_nothing(store_url: str) -> None:
    d = _dev()
    rows = [(d, s, 1) for s in range(50)]
    with open_store(store_url) as st:
        assert _write(st, rows) == 50
        assert _write(st, rows, mark=1.0) == 0
    with open_store(store_url) as st:  # a restarted ingestor: the marks are read again
        assert _write(st, rows[10:30], mark=2.0) == 0
        assert _write(st, [(d, 50, 1), *rows[:5]], mark=3.0) == 1
        got = _stored(st, [d])
    assert sorted(got) == [(d, s) for s in range(51)]
    assert set(got.values()) == {400.0, 3.0}  # the first write of each key wins


def test_ring_replay_below_the_stored_seqs(store: Store) -> None:
    """Live samples go in first; the ring of the hours offline arrives afterwards."""
    d, other = _dev(), _dev()
    assert _write(store, [(d, s, 1) for s in range(0, 10)]) == 10
    assert _write(store, [(d, s, 1) for s in range(200, 220)] + [(other, 5, 1)]) == 21
    # the offline hours (seq 10..199), replayed in two overlapping halves, then again
    assert _write(store, [(d, s, 1) for s in range(10, 120)]) == 110
    assert _write(store, [(d, s, 1) for s in range(100, 205)]) == 80
    assert _write(store, [(d, s, 1) for s in range(0, 220)], mark=9.0) == 0
    got = _stored(store, [d, other])
    assert sorted(got) == sorted([(d, s) for s in range(220)] + [(other, 5)])
    assert 9.0 not in got.values()


def test_duplicates_in_one_batch_above_and_below_the_stored_seqs(store: Store) -> None:
    d = _dev()
    assert _write(store, [(d, s, 1) for s in range(0, 100, 2)]) == 50  # even seqs
    # odd seqs below the mark (each twice), evens again, and new seqs above it (twice)
    batch = [(d, s, 1) for s in range(1, 100, 2)] * 2
    batch += [(d, s, 1) for s in range(0, 100, 2)]
    batch += [(d, s, 1) for s in range(100, 110)] * 2
    assert _write(store, batch) == 60
    assert sorted(_stored(store, [d])) == [(d, s) for s in range(110)]


def test_seqs_out_of_order(store: Store) -> None:
    d, e = _dev(), _dev()
    order = [7, 3, 9, 1, 8, 2, 0, 6, 5, 4]
    for i in range(0, 10, 3):  # batches with seqs falling and rising, two devices mixed
        chunk = [(d, 10 * k + j, 1) for k in order[i : i + 3] for j in (9, 0, 5)]
        chunk += [(e, s, 1) for s in reversed(range(max(0, 2 * i - 3), 2 * i + 6))]  # overlapping
        _write(store, chunk)
    got = _stored(store, [d, e])
    assert sorted(k for k in got if k[0] == d) == [
        (d, 10 * k + j) for k in range(10) for j in (0, 5, 9)
    ]
    assert sorted(k for k in got if k[0] == e) == [(e, s) for s in range(24)]


def test_reboot_with_seq_continuing(store: Store) -> None:
    """After a reboot the seq carries on (boot + 1); the old boot's ring may replay too."""
    d = _dev()
    assert _write(store, [(d, s, 1) for s in range(0, 40)]) == 40
    assert _write(store, [(d, s, 2) for s in range(40, 60)]) == 20
    # the replay of boot 1's ring after the reboot, and boot 2's live samples again
    assert (
        _write(store, [(d, s, 1) for s in range(20, 40)] + [(d, s, 2) for s in range(50, 65)]) == 5
    )
    got = store.read("samples", devices=[d])
    assert sorted(got["seq"].to_pylist()) == list(range(65))
    boots = dict(zip(got["seq"].to_pylist(), got["boot"].to_pylist(), strict=True))
    assert {boots[s] for s in range(40)} == {1}
    assert {boots[s] for s in range(40, 65)} == {2}


def test_two_handles_and_two_threads_store_each_sample_once(store_url: str) -> None:
    d = _dev()
    with open_store(store_url) as a, open_store(store_url) as b:
        assert _write(a, [(d, s, 1) for s in range(0, 30)]) == 30
        assert _write(b, [(d, s, 1) for s in range(20, 40)]) == 10  # b sees a's samples
        clones = [a.clone(), b.clone()]
        counts = [0, 0]

        def run(i: int) -> None:
            for k in range(10):  # both threads write the same overlapping batches
                counts[i] += _write(clones[i], [(d, s, 1) for s in range(30 + 10 * k, 60 + 10 * k)])

        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clones:
            c.close()
        assert sum(counts) == 150 - 40
        assert sorted(_stored(a, [d])) == [(d, s) for s in range(150)]


# Each example writes its own devices, so one store serves every example of a backend.
_ROWS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40)), max_size=30)


@settings(  # the store is shared on purpose: each example writes only its own devices
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=st.lists(st.tuples(_ROWS, st.booleans()), min_size=1, max_size=8))
def test_any_schedule_stores_each_key_once_first_write_wins(
    store_url: str, schedule: list[tuple[list[tuple[int, int]], bool]]
) -> None:
    """Batches of any (device, seq) mix — duplicates, any order, replays below what is
    stored — some written after reopening the store: every key stored once, with the
    values of the first batch that carried it, and each write counts what it added."""
    devs = [_dev() for _ in range(3)]
    first: dict[tuple[str, int], float] = {}
    st_ = open_store(store_url)
    try:
        for i, (rows, reopen) in enumerate(schedule):
            if reopen:
                st_.close()
                st_ = open_store(store_url)
            batch = [(devs[k], s, 1) for k, s in rows]
            new = {(d, s): float(i) for d, s, _boot in batch if (d, s) not in first}
            assert _write(st_, batch, mark=float(i)) == len(new)
            first.update(new)
        assert _stored(st_, devs) == first
    finally:
        st_.close()


def test_a_version_6_duckdb_store_upgrades_keeping_its_samples(
    tmp_path: pytest.TempPathFactory,
) -> None:
    """A store made before 0007 (samples keyed) migrates: its rows kept, then deduped."""
    path = f"{tmp_path}/old.duckdb"
    con = duckdb.connect(path)
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied TIMESTAMPTZ NOT NULL)"
    )
    for m in migrations("duckdb"):
        if m.version <= 6:
            con.execute(m.sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name])
    old = _samples([("ch001", s, 1) for s in range(25)])
    con.register("stg", old)
    con.execute("INSERT INTO samples SELECT * FROM stg")
    con.close()
    with open_store(f"duckdb:///{path}") as st:
        assert st.migrations() == [m.version for m in migrations("duckdb")]
        assert _write(st, [("ch001", s, 1) for s in range(20, 30)], mark=1.0) == 5
        got = _stored(st, ["ch001"])
        constraints = st.select(  # type: ignore[attr-defined]
            "SELECT count(*) AS n FROM duckdb_constraints() WHERE table_name = 'samples' "
            "AND constraint_type = 'PRIMARY KEY'"
        )
    assert sorted(got) == [("ch001", s) for s in range(30)]
    assert [got[("ch001", s)] for s in (0, 24, 25)] == [400.0, 400.0, 1.0]
    assert constraints["n"].to_pylist() == [0]


_OTHER_PROCESS = """
import sys
sys.path.insert(0, {here!r})
from test_sample_idempotence import _write
from fluxfleet.store import open_store
with open_store({url!r}) as st:
    print(_write(st, [("ch001", s, 1) for s in range(10, 20)]))
"""


def test_a_file_written_by_another_process_meanwhile(tmp_path: pytest.TempPathFactory) -> None:
    """The marks are read again on each open: the file may have changed in between."""
    url = f"duckdb:///{tmp_path}/shared.duckdb"
    with open_store(url) as st:
        assert _write(st, [("ch001", s, 1) for s in range(10)]) == 10
    code = _OTHER_PROCESS.format(here=str(Path(__file__).parent), url=url)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["10"]
    with open_store(url) as st:
        assert _write(st, [("ch001", s, 1) for s in range(5, 25)]) == 5
        assert sorted(_stored(st, ["ch001"])) == [("ch001", s) for s in range(25)]


def test_a_failed_write_stores_nothing_and_its_samples_go_in_later(store: Store) -> None:
    """A write that fails mid-transaction (here a closure without its lid-close time)
    commits none of its samples, and raises no device's mark: they go in next time."""
    d = _dev()
    assert _write(store, [(d, s, 1) for s in range(10)]) == 10
    bad = pa.Table.from_pylist(
        [{"device": d, "cyc": 1, "time_open": T0_MS, "received": RECEIVED_MS}],
        schema=schema.CLOSURES,
    )
    with pytest.raises((duckdb.Error, psycopg.Error)):
        store.write(Batch(samples=_samples([(d, s, 1) for s in range(10, 20)]), closures=bad))
    assert sorted(_stored(store, [d])) == [(d, s) for s in range(10)]
    assert _write(store, [(d, s, 1) for s in range(5, 20)]) == 10
    assert sorted(_stored(store, [d])) == [(d, s) for s in range(20)]
