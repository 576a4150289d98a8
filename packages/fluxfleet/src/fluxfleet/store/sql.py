"""SQL shared by the backends: both speak ``INSERT … SELECT … ON CONFLICT``.

Each statement reads a staging relation named ``stg`` holding one Arrow table of
:mod:`fluxfleet.store.schema` (a registered Arrow view in DuckDB, a temporary table
filled by COPY in PostgreSQL).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from fluxfleet.store import schema


def columns(s: pa.Schema) -> str:
    """The quoted column list of schema ``s``."""
    return ", ".join(f'"{name}"' for name in s.names)


# Rows go in key order: two ingestors writing the same keys then lock them in the same
# order and wait for each other instead of deadlocking (PostgreSQL).
INSERT_SAMPLES = (
    f"INSERT INTO samples ({columns(schema.SAMPLES)}) "
    f"SELECT {columns(schema.SAMPLES)} FROM stg ORDER BY device, seq ON CONFLICT DO NOTHING"
)
# DuckDB's samples carry no key (migration 0007): samples above their device's highest
# stored seq go in as they are, the others only where the store does not hold their
# (device, seq) yet — an anti-join whose seq range (literals, so DuckDB's zone maps skip
# the row groups outside it) is that of the batch's rows that need it.
INSERT_SAMPLES_NEW = (
    f"INSERT INTO samples ({columns(schema.SAMPLES)}) SELECT {columns(schema.SAMPLES)} FROM stg"
)
SAMPLES_SEQ_MAX = "SELECT device, max(seq) FROM samples GROUP BY device"


def insert_samples_unseen(seq_lo: int, seq_hi: int) -> str:
    """INSERT of the ``stg`` samples whose (device, seq) the store lacks, for seqs in
    [``seq_lo``, ``seq_hi``] (DuckDB; ``stg`` must hold each key once)."""
    lo, hi = int(seq_lo), int(seq_hi)  # ints, never text, in the SQL
    return (
        f"{INSERT_SAMPLES_NEW} WHERE NOT EXISTS (SELECT 1 FROM samples s "
        f"WHERE s.seq BETWEEN {lo} AND {hi} AND s.device = stg.device AND s.seq = stg.seq)"
    )


INSERT_CLOSURES = (
    f"INSERT INTO closures ({columns(schema.CLOSURES)}) "
    f"SELECT {columns(schema.CLOSURES)} FROM stg ORDER BY device, cyc ON CONFLICT DO NOTHING"
)
INSERT_LOCATIONS = (
    f"INSERT INTO device_locations ({columns(schema.DEVICE_LOCATIONS)}) "
    f"SELECT {columns(schema.DEVICE_LOCATIONS)} FROM stg ON CONFLICT DO NOTHING"
)
# The same topic and raw bytes again count on the stored row (a batch holds each once).
INSERT_DEAD_LETTERS = (
    f"INSERT INTO dead_letters ({columns(schema.DEAD_LETTERS)}) "
    f"SELECT {columns(schema.DEAD_LETTERS)} FROM stg ORDER BY topic, payload_sha256 "
    "ON CONFLICT (topic, payload_sha256) DO UPDATE SET "
    "received_count = dead_letters.received_count + excluded.received_count, "
    "received = least(dead_letters.received, excluded.received), "
    "last_received = greatest(dead_letters.last_received, excluded.last_received)"
)
# A newer message updates what it carries; older state (a replayed meta) does not win.
UPSERT_DEVICES = (
    f"INSERT INTO devices ({columns(schema.DEVICES)}) "
    f"SELECT {columns(schema.DEVICES)} FROM stg ORDER BY device "
    "ON CONFLICT (device) DO UPDATE SET "
    "last_seen = greatest(devices.last_seen, excluded.last_seen), "
    "location = coalesce(excluded.location, devices.location), "
    "firmware = coalesce(excluded.firmware, devices.firmware), "
    "slot = coalesce(excluded.slot, devices.slot), "
    "boot = coalesce(excluded.boot, devices.boot), "
    "reset_cause = coalesce(excluded.reset_cause, devices.reset_cause), "
    "uptime_ms = coalesce(excluded.uptime_ms, devices.uptime_ms), "
    "skew_ms = coalesce(excluded.skew_ms, devices.skew_ms), "
    "ntp = coalesce(excluded.ntp, devices.ntp), "
    "lost = coalesce(excluded.lost, devices.lost), "
    "state = coalesce(excluded.state, devices.state), "
    "state_time = coalesce(excluded.state_time, devices.state_time)"
)
# A recomputed flux replaces the stored one (two ingestors may compute it at once: an
# upsert, not delete + insert, which would collide under READ COMMITTED).
UPSERT_FLUXES = (
    f"INSERT INTO fluxes ({columns(schema.FLUXES)}) "
    f"SELECT {columns(schema.FLUXES)} FROM stg ORDER BY device, cyc "
    "ON CONFLICT (device, cyc) DO UPDATE SET "
    + ", ".join(f'"{name}" = excluded."{name}"' for name in schema.FLUXES.names[2:])
)
INSERT_COMMANDS = (
    f"INSERT INTO commands ({columns(schema.COMMANDS)}) "
    f"SELECT {columns(schema.COMMANDS)} FROM stg ON CONFLICT DO NOTHING"
)
INSERT_COMMAND_TARGETS = (
    f"INSERT INTO command_targets ({columns(schema.COMMAND_TARGETS)}) "
    f"SELECT {columns(schema.COMMAND_TARGETS)} FROM stg ON CONFLICT DO NOTHING"
)
# One row per (device, cmd_id, state): a duplicate ack (QoS 1 redelivery, the device's
# "duplicate cmd_id" re-ack) adds nothing; the first one received is kept.
INSERT_COMMAND_ACKS = (
    f"INSERT INTO command_acks ({columns(schema.COMMAND_ACKS)}) "
    f"SELECT {columns(schema.COMMAND_ACKS)} FROM stg ORDER BY device, cmd_id, state "
    "ON CONFLICT DO NOTHING"
)
LAST_LOCATIONS = (
    "SELECT device, location FROM ("
    "SELECT device, location, row_number() OVER (PARTITION BY device ORDER BY since DESC) AS k "
    "FROM device_locations) t WHERE k = 1"
)

LAST_SAMPLES = (
    "SELECT s.device, s.time, s.phase, s.cyc FROM samples s JOIN "
    "(SELECT device, max(seq) AS seq FROM samples GROUP BY device) m "
    "ON s.device = m.device AND s.seq = m.seq"
)


def unique_rows(table: pa.Table, keys: list[str]) -> pa.Table:
    """``table`` with the first row of each key kept (one INSERT must not repeat a key).

    Each key column becomes integer codes (``dictionary_encode``, nulls a code of their
    own), a stable ``lexsort`` brings equal keys together in arrival order, and a batch
    without duplicates (the usual case) comes back as it is: Acero's ``group_by`` cost
    about 4 ms a call, three calls a batch, in the ingest drain.
    """
    if table.num_rows < 2:
        return table
    codes = [
        pc.dictionary_encode(table[k].combine_chunks(), null_encoding="encode").indices.to_numpy(
            zero_copy_only=False
        )
        for k in keys
    ]
    order = np.lexsort(codes[::-1])  # the first key varies slowest; stable in row order
    ranked = [c[order] for c in codes]
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.logical_or.reduce([r[1:] != r[:-1] for r in ranked])
    if first.all():
        return table
    return table.take(pa.array(np.sort(order[first])))


def unique_key_order(table: pa.Table, keys: list[str]) -> pa.Array:
    """Indices of ``table``'s rows in the order of ``keys`` (ascending, nulls last), the
    first row of each key only (in arrival order, as :func:`unique_rows` keeps).

    One stable sort of the key columns gives both: a row whose key equals the one
    before it in that order is a later repeat.
    """
    n = table.num_rows
    order = pc.sort_indices(table.select(keys), [(k, "ascending") for k in keys])
    if n < 2:
        return order
    repeat = np.ones(n - 1, dtype=bool)
    for k in keys:
        col = table[k].take(order).combine_chunks()
        a, b = col.slice(1), col.slice(0, n - 1)
        same = pc.fill_null(pc.equal(a, b), False)
        both_null = pc.and_(a.is_null(), b.is_null())
        repeat &= pc.or_(same, both_null).to_numpy(zero_copy_only=False)
    if not repeat.any():
        return order
    return order.filter(pa.array(np.concatenate(([True], ~repeat))))


def split_above(samples: pa.Table, seq_max: dict[str, int]) -> tuple[pa.Table, pa.Table]:
    """``samples`` split into (seq above the device's ``seq_max``, the rest).

    A device missing from ``seq_max`` has nothing stored: all its rows are above.
    """
    if samples.num_rows == 0 or not seq_max:
        return samples, samples.slice(0, 0)
    known = pa.array(list(seq_max), pa.string())
    limit = pc.take(
        pa.array(list(seq_max.values()), pa.int64()), pc.index_in(samples["device"], known)
    )
    above = pc.fill_null(pc.greater(samples["seq"], limit), True)
    return samples.filter(above), samples.filter(pc.invert(above))


def seq_max_of(samples: pa.Table) -> dict[str, int]:
    """Each device's highest seq in ``samples``."""
    if samples.num_rows == 0:
        return {}
    m = (
        samples.select(["device", "seq"])
        .group_by("device", use_threads=False)
        .aggregate([("seq", "max")])
    )
    return dict(zip(m["device"].to_pylist(), m["seq_max"].to_pylist(), strict=True))


def select_sql(table: str, has_start: bool, has_end: bool, n_devices: int, placeholder: str) -> str:
    """SELECT of :meth:`fluxfleet.store.base.Store.read` with ``placeholder`` parameters."""
    time_col = schema.TIME_COLUMN[table]
    if not time_col and (has_start or has_end):
        raise ValueError(f"table {table!r} has no time column to select a time range on")
    where = []
    if has_start:
        where.append(f'"{time_col}" >= {placeholder}')
    if has_end:
        where.append(f'"{time_col}" < {placeholder}')
    if n_devices:
        where.append(f"device IN ({', '.join([placeholder] * n_devices)})")
    sql = f"SELECT {columns(schema.TABLES[table])} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = [f'"{time_col}"'] if time_col else ['"cmd_id"']
    if "device" in schema.TABLES[table].names:
        order.insert(0, "device")
    return sql + " ORDER BY " + ", ".join(order)
