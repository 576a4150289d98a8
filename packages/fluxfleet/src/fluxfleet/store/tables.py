"""The store's table names and time columns, without Arrow.

:mod:`fluxfleet.store.schema` holds the tables' Arrow schemas; this module is what a
command that only names tables needs (``fluxfleet export`` of a DuckDB store imports
neither pyarrow nor numpy: ≈ 0.3 CPU-s of its start, benchmarks/RESULTS.md "season store").
"""

from __future__ import annotations

TIME_COLUMN = {
    "samples": "time",
    "closures": "time_close",
    "fluxes": "start",
    "devices": "last_seen",
    "device_locations": "since",
    "dead_letters": "received",
    "commands": "sent",
    "command_targets": "",
    "command_acks": "time",
    "alarms": "raised",
}
"""The column ``--from``/``--to`` select on, per table ("" when it has none)."""

NAMES = tuple(TIME_COLUMN)
"""Every table's name, in :data:`fluxfleet.store.schema.TABLES` order."""
