"""SQL of the device registry (table ``device_registry``, migration 0002), both backends.

Written with ``?`` placeholders (DuckDB); :func:`pg` turns them into psycopg's ``%s``.
"""

from __future__ import annotations

import datetime as dt

REGISTER = (
    "INSERT INTO device_registry (device, location, registered, retired) VALUES (?, ?, ?, NULL)"
)
# A retired device may be registered again (a repaired controller, new credentials).
REREGISTER = (
    "UPDATE device_registry SET location = ?, registered = ?, retired = NULL "
    "WHERE device = ? AND retired IS NOT NULL"
)
RETIRE = "UPDATE device_registry SET retired = ? WHERE device = ? AND retired IS NULL"
# Times leave as epoch milliseconds: DuckDB hands TIMESTAMPTZ to Python only with pytz.
LIST = (
    "SELECT device, location, epoch_ms(registered), epoch_ms(retired) "
    "FROM device_registry ORDER BY device"
)
LIST_PG = (
    "SELECT device, location, floor(extract(epoch FROM registered) * 1000)::bigint, "
    "floor(extract(epoch FROM retired) * 1000)::bigint FROM device_registry ORDER BY device"
)
GET = "SELECT device FROM device_registry WHERE device = ?"


def row(r: tuple[object, ...]) -> tuple[str, str | None, dt.datetime, dt.datetime | None]:
    """A ``LIST`` row with its epoch milliseconds as UTC datetimes."""
    dev, loc, reg, ret = r

    def t(ms: object) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC)  # type: ignore[call-overload]

    return str(dev), None if loc is None else str(loc), t(reg), None if ret is None else t(ret)


def pg(statement: str) -> str:
    """``statement`` with psycopg placeholders."""
    return statement.replace("?", "%s")
