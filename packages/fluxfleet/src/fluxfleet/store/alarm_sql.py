"""SQL of the alarms (table ``alarms``, migration 0004), both backends.

Written with ``?`` placeholders (DuckDB); :func:`fluxfleet.store.registry_sql.pg` turns
them into psycopg's ``%s``. One open alarm per (device, kind): a repeat updates the open
row (``last_seen``, ``repeats``, ``value``, ``detail``), as ThingsBoard does; once cleared,
the next raise is a new row.
"""

from __future__ import annotations

import datetime as dt

OPEN_ID = "SELECT id FROM alarms WHERE device = ? AND kind = ? AND cleared IS NULL"
INSERT = (
    "INSERT INTO alarms (device, kind, severity, raised, last_seen, repeats, value, detail) "
    "VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING id"
)
REPEAT = (
    "UPDATE alarms SET last_seen = greatest(last_seen, ?), repeats = repeats + 1, "
    "value = ?, detail = ? WHERE id = ?"
)
# PostgreSQL: the partial unique index ``alarms_open`` settles two evaluators racing.
UPSERT_PG = (
    "INSERT INTO alarms (device, kind, severity, raised, last_seen, repeats, value, detail) "
    "VALUES (%s, %s, %s, %s, %s, 1, %s, %s) "
    "ON CONFLICT (device, kind) WHERE cleared IS NULL DO UPDATE SET "
    "last_seen = greatest(alarms.last_seen, excluded.last_seen), "
    "repeats = alarms.repeats + 1, value = excluded.value, detail = excluded.detail "
    "RETURNING id, (xmax = 0)"
)
CLEAR = (
    "UPDATE alarms SET cleared = ? WHERE device = ? AND kind = ? AND cleared IS NULL RETURNING id"
)
ACK = "UPDATE alarms SET acked = ?, acked_by = ? WHERE id = ? AND acked IS NULL RETURNING id"
EXISTS = "SELECT id FROM alarms WHERE id = ?"


def ms(t: dt.datetime) -> dt.datetime:
    """``t`` to the millisecond below (the store's time resolution)."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)
