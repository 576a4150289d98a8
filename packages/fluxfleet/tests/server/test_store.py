"""The store interface on each backend: migrations, idempotent batches, reads."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pyarrow as pa
import pytest
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.store import Store, StoreError, open_store, schema
from fluxfleet.store.base import Batch
from fluxfleet.store.migrations import migrations

RECEIVED_MS = 1_800_000_000_000


def _batch(messages: list[tuple[str, bytes]], locations: dict[str, str] | None = None) -> Batch:
    b = BatchBuilder({} if locations is None else locations)
    for topic, payload in messages:
        assert b.add(topic, payload, RECEIVED_MS), topic
    return b.build()


def test_migrations_applied_once(store_url: str) -> None:
    versions = [m.version for m in migrations("duckdb")]
    with open_store(store_url) as st:
        assert st.migrations() == versions
    with open_store(store_url) as st:  # reopening applies nothing twice
        assert st.migrations() == versions
        assert set(st.counts()) == set(schema.TABLES)


def test_write_is_idempotent(store: Store, fleet_messages: list[tuple[str, bytes]]) -> None:
    batch = _batch(fleet_messages)
    n = batch.samples.num_rows
    assert n == 3 * 2400  # 3 chambers, 2 h of 3-s samples
    first = store.write(batch)
    assert (first.samples, first.closures) == (n, batch.closures.num_rows)
    again = store.write(batch)
    assert (again.samples, again.closures) == (0, 0)
    counts = store.counts()
    assert counts["samples"] == n
    assert counts["closures"] == batch.closures.num_rows
    assert counts["devices"] == 3
    assert counts["device_locations"] == 3


def test_prepared_batch_writes_what_the_batch_writes(
    store_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fleet_messages: list[tuple[str, bytes]],
) -> None:
    """``write(prepare(b))`` (the ingestor's way) stores exactly what ``write(b)`` does,
    also when written twice (redelivery) and when the batch repeats its own keys."""
    half = fleet_messages[: len(fleet_messages) // 2]
    batch = _batch(half + half[:50])
    with open_store(store_url) as st:
        prepared = st.prepare(batch)
        assert st.prepare(prepared) is prepared
        first, again = st.write(prepared), st.write(prepared)
        got = {t: st.read(t) for t in ("samples", "closures", "devices", "device_locations")}
    other = f"duckdb:///{tmp_path_factory.mktemp('plain')}/plain.duckdb"
    with open_store(other) as st:
        want = st.write(batch)
        assert first == want
        assert (again.samples, again.closures) == (0, 0)
        for table, rows in got.items():
            assert rows.equals(st.read(table)), table


def test_duplicates_inside_one_batch_stored_once(
    store: Store, fleet_messages: list[tuple[str, bytes]]
) -> None:
    tele = [m for m in fleet_messages if m[0].endswith("/telemetry")][:10]
    once = _batch(tele).samples.num_rows
    batch = _batch(tele + tele)
    assert batch.samples.num_rows == 2 * once
    assert store.write(batch).samples == once
    stored = store.read("samples")
    keys = list(zip(stored["device"].to_pylist(), stored["seq"].to_pylist(), strict=True))
    assert len(keys) == once == len(set(keys))


def test_devices_keep_newest_state_and_location_history(store: Store) -> None:
    t = pa.array([1000, 3000], schema.TIME)
    devices = pa.Table.from_pylist(
        [{"device": "ch001", "last_seen": 5000, "firmware": "1.0", "location": "1.1.A"}],
        schema=schema.DEVICES,
    )
    store.write(Batch(devices=devices))
    older = pa.Table.from_pylist(
        [{"device": "ch001", "last_seen": 4000, "state": "online"}], schema=schema.DEVICES
    )
    store.write(Batch(devices=older))
    row = store.read("devices").to_pylist()[0]
    assert row["last_seen"] == dt.datetime.fromtimestamp(5, dt.UTC)  # newest kept
    assert row["firmware"] == "1.0"  # not erased by a message without it
    assert row["state"] == "online"
    locs = pa.table(
        {"device": ["ch001", "ch001"], "location": ["1.1.A", "2.1.A"], "since": t},
        schema=schema.DEVICE_LOCATIONS,
    )
    store.write(Batch(device_locations=locs))
    assert store.last_locations() == {"ch001": "2.1.A"}


def test_fluxes_replaced_per_closure(store: Store) -> None:
    def flux(value: float) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {"device": "ch001", "cyc": 7, "flux_umol_m2_s": value, "computed": 1},
                {"device": "ch002", "cyc": 7, "flux_umol_m2_s": 2.0, "computed": 1},
            ],
            schema=schema.FLUXES,
        )

    store.write_fluxes(flux(1.0))
    store.write_fluxes(flux(1.5))
    rows = store.read("fluxes").to_pylist()
    assert [(r["device"], r["flux_umol_m2_s"]) for r in rows] == [("ch001", 1.5), ("ch002", 2.0)]


def test_read_selects_time_and_devices(
    store: Store, fleet_messages: list[tuple[str, bytes]]
) -> None:
    store.write(_batch(fleet_messages))
    t0 = dt.datetime(2023, 9, 15, 20, 30, tzinfo=dt.UTC)
    t1 = dt.datetime(2023, 9, 15, 21, 0, tzinfo=dt.UTC)
    part = store.read("samples", t0, t1, ["ch001"])
    assert part.schema == schema.SAMPLES
    assert set(part["device"].to_pylist()) == {"ch001"}
    times = part["time"].to_pylist()
    assert min(times) >= t0
    assert max(times) < t1
    assert len(times) == 600  # 30 min of 3-s samples
    assert part["seq"].to_pylist() == sorted(part["seq"].to_pylist())


def test_unknown_url_and_missing_path() -> None:
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("sqlite:///x.db")
    with pytest.raises(StoreError, match="no file"):
        open_store("duckdb:///")


def test_duckdb_file_held_by_another_process(tmp_path: object) -> None:
    url = f"duckdb:///{tmp_path}/held.duckdb"
    with open_store(url):
        code = (
            "from fluxfleet.store import open_store, StoreError\n"
            f"try:\n    open_store({url!r})\nexcept StoreError as e:\n    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "one writing process" in out.stdout, out.stderr


def test_device_registry(store: Store) -> None:
    """Register, refuse a second registration, retire, re-register (issue 10's registry)."""
    t0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    t1 = t0 + dt.timedelta(days=1)
    assert store.register_device("c01", "T1.V2.R3", t0)
    assert store.register_device("c02", None, t0)
    assert not store.register_device("c01", "T9.V9.R9", t1)  # active: untouched
    assert store.retire_device("c01", t1)
    assert not store.retire_device("c01", t1)  # already retired
    assert not store.retire_device("c99", t1)  # never registered
    rows = {r.device: r for r in store.registry()}
    assert rows["c01"].location == "T1.V2.R3"
    assert rows["c01"].registered == t0
    assert rows["c01"].retired == t1
    assert rows["c02"].retired is None
    assert store.register_device("c01", "T2.V1.R1", t1)  # a retired device comes back
    (c01,) = [r for r in store.registry() if r.device == "c01"]
    assert (c01.location, c01.registered, c01.retired) == ("T2.V1.R1", t1, None)


def test_dead_letters_counted_once_per_topic_and_bytes(store: Store) -> None:
    bad = [("fluxfleet/v1/ch001/telemetry", b"{trunc"), ("fluxfleet/v1/ch002/telemetry", b"{trunc")]
    b = BatchBuilder({})
    for i in range(3):  # the same bad message three times in one batch, another once
        assert not b.add(*bad[0], RECEIVED_MS + i)
    assert not b.add(*bad[1], RECEIVED_MS)
    batch = b.build()
    assert batch.dead_letters.num_rows == 2
    store.write(batch)
    again = BatchBuilder({})
    assert not again.add(*bad[0], RECEIVED_MS + 10_000)  # in a later batch
    store.write(again.build())
    rows = {(r["topic"], r["payload"]): r for r in store.read("dead_letters").to_pylist()}
    assert len(rows) == 2
    first = rows[bad[0]]
    assert first["received_count"] == 4
    assert first["received"].timestamp() * 1000 == RECEIVED_MS
    assert first["last_received"].timestamp() * 1000 == RECEIVED_MS + 10_000
    assert rows[bad[1]]["received_count"] == 1


def test_dead_letter_migration_merges_repeats(store_url: str) -> None:
    """A store written before 0006 (repeats as separate rows) is merged on upgrade."""
    backend = "duckdb" if store_url.startswith("duckdb") else "postgresql"
    before = [m for m in migrations(backend) if m.version < 6]
    if backend == "duckdb":
        import duckdb

        con = duckdb.connect(store_url[len("duckdb:///") :])
        for m in before:
            con.execute(m.sql)
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied TIMESTAMPTZ NOT NULL)"
        )
        ins = "INSERT INTO dead_letters VALUES (to_timestamp(?), ?, ?::BLOB, ?)"
    else:
        import psycopg

        con = psycopg.connect(store_url, autocommit=True)
        for m in before:
            con.execute(m.sql.encode())
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied TIMESTAMPTZ NOT NULL)"
        )
        ins = "INSERT INTO dead_letters VALUES (to_timestamp(%s), %s, %s, %s)"
    for m in before:
        con.execute(
            "INSERT INTO schema_migrations VALUES (" + ("?, ?" if backend == "duckdb" else
            "%s, %s") + ", now())", [m.version, m.name],
        )  # fmt: skip
    for t in (100, 50, 200):
        con.execute(ins, [t, "fluxfleet/v1/ch001/telemetry", b"\x00bad", f"reason {t}"])
    con.execute(ins, [70, "fluxfleet/v1/ch001/meta", b"\x00bad", "other topic"])
    con.close()
    with open_store(store_url) as st:
        rows = sorted(st.read("dead_letters").to_pylist(), key=lambda r: r["topic"])
    assert [r["received_count"] for r in rows] == [1, 3]
    merged = rows[1]
    assert merged["received"].timestamp() == 50
    assert merged["last_received"].timestamp() == 200
    assert merged["reason"] == "reason 50"  # the first one's
