"""Write a store table to Parquet or CSV, atomically (a temporary file, then a rename).

Samples go out in soilflux's generic layout (:mod:`fluxfleet.ingest.layout`), so that
``soilflux compute FILE --hm-fallback shared --sensor-lag-s 20`` recomputes a season
offline; the other tables as stored. In CSV, times are ISO 8601 UTC with milliseconds
(``2023-09-15T20:00:03.000Z``), raw payloads hexadecimal and a missing number (NaN) an
empty field.

One DuckDB ``COPY (SELECT …) TO`` does the work, so that no row becomes a Python object:
it selects and sorts the rows, lays them out and writes the file with its parallel Parquet and
CSV writers. A DuckDB store is read in place, the time range pushed down to the scan
(rows are stored in arrival order, so a day's rows sit in a few row groups, and DuckDB's
min/max zone maps skip the others); a PostgreSQL store streams its rows, already in the
time range, from the server's binary ``COPY`` into an in-memory DuckDB as Arrow
(:mod:`fluxfleet.export_postgres`: the ADBC driver, no row in Python); any other store
hands them over as Arrow batches (:meth:`fluxfleet.store.base.Store.read_arrow`).

The samples' water vapour is computed in that SQL (:func:`h2o_sql`, the equation of
:func:`soilflux.humidity.h2o_from_rh`; a test holds the two equal). Measured on a day of
50 chambers (benchmarks/RESULTS.md, "ingest and store"): a DuckDB Python UDF calling
soilflux was 10× slower, and a round trip through Arrow batches in Python made pyarrow
import pandas (seconds of start-up in a command that otherwise needs none).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import duckdb

from fluxfleet.store import tables
from fluxfleet.store.base import Store, StoreError, check_table

# The firmware phases the layout maps (fluxfleet.ingest.layout.SOILFLUX_PHASE) and those
# inside a closure (fluxfleet.ingest.batch.CLOSURE_PHASES), restated so that exporting a
# DuckDB store imports no numpy or pyarrow (the ingest modules do; ≈ 0.3 CPU-s of process
# start). tests/server/test_export.py holds them equal to the originals.
SOILFLUX_PHASE = {
    "open": "open",
    "closing": "closing",
    "closed": "closed",
    "extended": "closed",
    "opening": "opening",
    "flush": "flush",
}
CLOSURE_PHASES = ("closing", "closed", "extended")

_NUMBER = ("DOUBLE", "FLOAT")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# the samples' columns the layout reads (a PostgreSQL store sends no others)
_SAMPLES_READ = [
    "device", "seq", "time", "location", "cyc", "phase", "co2_ppm", "rh_percent",
    "scd30_temperature_c", "temperature_c", "pressure_hpa", "lux", "lid_deg", "fan_pct", "flags",
]  # fmt: skip


def h2o_sql(rh_percent: str, temperature_c: str, pressure_hpa: str) -> str:
    """SQL for the water-vapour mole fraction [mmol mol⁻¹] of soilflux's ``h2o_from_rh``.

    W = 1000 · (RH/100) · e_s(T) / P with e_s = 0.61094 · exp(17.625·T / (T + 243.04)) [kPa]
    (Alduchov & Eskridge 1996, J. Appl. Meteor. 35:601, as in
    :func:`soilflux.humidity.saturation_vapour_pressure_kpa`), P in kPa = hPa / 10.
    NaN where soilflux would refuse the inputs (T outside −40 to 50 °C, P ≤ 0, RH outside
    0 to 100 %) or one is missing — as :func:`fluxfleet.ingest.layout.h2o_mmol_mol`.

    Parameters
    ----------
    rh_percent, temperature_c, pressure_hpa : str
        SQL expressions: relative humidity [%], temperature [°C], pressure [hPa].
    """
    rh, t, p = rh_percent, temperature_c, pressure_hpa
    valid = f"{t} BETWEEN -40.0 AND 50.0 AND {p} > 0.0 AND {rh} BETWEEN 0.0 AND 100.0"
    w = f"1000.0 * {rh} / 100.0 * (0.61094 * exp(17.625 * {t} / ({t} + 243.04))) / ({p} / 10.0)"
    return f"CASE WHEN {valid} THEN {w} ELSE 'NaN'::DOUBLE END"


def _q(name: str) -> str:
    return f'"{name}"'


def _csv_column(name: str, sql_type: str, expr: str) -> str:
    """A column as the CSV shows it: ISO times with ms and Z, hex payloads, NaN empty."""
    if sql_type.startswith("TIMESTAMP"):
        return f"strftime({expr}, '%Y-%m-%dT%H:%M:%S.%gZ') AS {_q(name)}"
    if sql_type == "BLOB":
        return f"lower(hex({expr})) AS {_q(name)}"
    if sql_type in _NUMBER:
        return f"nullif({expr}, 'NaN'::DOUBLE) AS {_q(name)}"
    return f"{expr} AS {_q(name)}"


def _samples_columns() -> list[tuple[str, str, str]]:
    """(name, SQL type, expression) of each column of soilflux's generic layout."""
    phase_case = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SOILFLUX_PHASE.items())
    in_closure = ", ".join(f"'{p}'" for p in CLOSURE_PHASES)
    return [
        ("time", "TIMESTAMPTZ", '"time"'),
        ("chamber", "VARCHAR", "device"),
        ("device", "VARCHAR", "device"),
        ("seq", "BIGINT", "seq"),
        ("location", "VARCHAR", "location"),
        ("phase", "VARCHAR", f"CASE phase {phase_case} END"),
        ("firmware_phase", "VARCHAR", "phase"),
        ("closure_id", "VARCHAR", f"CASE WHEN phase IN ({in_closure}) THEN cyc::VARCHAR END"),
        ("co2_ppm", "DOUBLE", "co2_ppm"),
        (
            "h2o_mmol_mol",
            "DOUBLE",
            h2o_sql("rh_percent", "scd30_temperature_c", "pressure_hpa"),
        ),
        ("rh_percent", "DOUBLE", "rh_percent"),
        ("temperature_c", "DOUBLE", "temperature_c"),
        ("scd30_temperature_c", "DOUBLE", "scd30_temperature_c"),
        ("pressure_hpa", "DOUBLE", "pressure_hpa"),
        ("lux", "DOUBLE", "lux"),
        ("lid_deg", "SMALLINT", "lid_deg"),
        ("fan_pct", "SMALLINT", "fan_pct"),
        ("flags", "SMALLINT", "flags"),
        ("volume_cm3", "DOUBLE", "$volume_cm3::DOUBLE"),
        ("area_cm2", "DOUBLE", "$area_cm2::DOUBLE"),
    ]


def _table_columns(table: str) -> list[tuple[str, str, str]]:
    import pyarrow as pa  # type: ignore[import-untyped]

    from fluxfleet.store import schema

    arrow_sql = {
        pa.string(): "VARCHAR",
        pa.int64(): "BIGINT",
        pa.int16(): "SMALLINT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.binary(): "BLOB",
        schema.TIME: "TIMESTAMPTZ",
    }
    return [(f.name, arrow_sql[f.type], _q(f.name)) for f in schema.TABLES[table]]


def export_query(table: str, source: str, fmt: str, has_start: bool, has_end: bool) -> str:
    """The SELECT that ``COPY`` writes: ``table``'s exported rows from relation ``source``.

    Parameters ``$start``/``$end`` bound the time column (``tables.TIME_COLUMN``); samples
    also take ``$volume_cm3`` and ``$area_cm2``. ``fmt`` ``csv`` formats times, payloads and
    NaN as the module docstring says. Samples come in each device's own order (seq:
    soilflux recognises a clock set right by NTP as a backward step in it), the other
    tables as :meth:`fluxfleet.store.base.Store.read` gives them.
    """
    check_table(table)
    cols = _samples_columns() if table == "samples" else _table_columns(table)
    if fmt == "csv":
        select = [_csv_column(name, t, expr) for name, t, expr in cols]
    else:
        select = [f"{expr} AS {_q(name)}" for name, _t, expr in cols]
    time_col = tables.TIME_COLUMN[table]
    where = []
    if has_start:
        where.append(f"{_q(time_col)} >= $start")
    if has_end:
        where.append(f"{_q(time_col)} < $end")
    where_sql = " WHERE " + " AND ".join(where) if where else ""
    if table == "samples":
        # Sorted before the layout is made: the sort then carries the 15 stored columns,
        # not the layout's 20 (six of them strings), and the layout's expressions run in
        # the parallel pipeline after the sort instead of the scan's (benchmarks/
        # RESULTS.md, "pgexport2"). A projection of a sorted table subquery keeps its
        # order (DuckDB's "order preservation" rules; COPY keeps insertion order).
        read = ", ".join(_q(c) for c in _SAMPLES_READ)
        sorted_rows = f"SELECT {read} FROM {source}{where_sql} ORDER BY device, seq"
        return f"SELECT {', '.join(select)} FROM ({sorted_rows}) AS sorted_rows"
    order = [_q(time_col) if time_col else '"cmd_id"']
    if "device" in [name for name, _t, _e in cols]:
        order.insert(0, "device")
    return f"SELECT {', '.join(select)} FROM {source}{where_sql} ORDER BY " + ", ".join(order)


def export_table(
    store: Store,
    table: str,
    output: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    volume_cm3: float,
    area_cm2: float,
) -> int:
    """Write ``table`` rows in [start, end) to ``output`` (.parquet or .csv); row count."""
    from fluxfleet.store.duckdb_store import DuckDBStore

    _check_range(table, start, end)
    if isinstance(store, DuckDBStore):  # the store's own file, read in place
        times = {k: t for k, t in (("start", start), ("end", end)) if t is not None}
        return _write(store.con.cursor(), table, table, output, times, volume_cm3, area_cm2)
    url = str(getattr(store, "url", ""))
    if url.startswith(POSTGRES_SCHEMES):
        return _export_postgres(url, table, output, start, end, volume_cm3, area_cm2)
    # any other store: its rows, already in [start, end), as Arrow batches
    con = duckdb.connect(":memory:")
    needed = _SAMPLES_READ if table == "samples" else None
    con.register("stored_rows", store.read_arrow(table, start, end, needed))
    return _write(con, table, "stored_rows", output, {}, volume_cm3, area_cm2)


def export_url(
    url: str,
    table: str,
    output: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    volume_cm3: float,
    area_cm2: float,
) -> int:
    """:func:`export_table` of the store at ``url``, as ``fluxfleet export`` runs it.

    A DuckDB file is opened read-only (neither migrated nor checkpointed). A PostgreSQL
    store is read by :mod:`fluxfleet.export_postgres` alone, without opening the
    :class:`~fluxfleet.store.Store` (psycopg, pyarrow, the migrations check: process start
    of a command whose whole budget is 2 s).

    Raises
    ------
    StoreError
        The store cannot be opened or read. ValueError: a time range on a table without a
        time column. OSError: ``output`` cannot be written.
    """
    if url.startswith(POSTGRES_SCHEMES):
        _check_range(table, start, end)
        return _export_postgres(url, table, output, start, end, volume_cm3, area_cm2)
    from fluxfleet.store import open_store

    with open_store(url, read_only=True) as st:
        return export_table(st, table, output, start, end, volume_cm3, area_cm2)


def _check_range(table: str, start: dt.datetime | None, end: dt.datetime | None) -> None:
    check_table(table)
    if tables.TIME_COLUMN[table] == "" and (start is not None or end is not None):
        raise ValueError(f"table {table!r} has no time column to select a time range on")


def _export_postgres(
    url: str,
    table: str,
    output: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    volume_cm3: float,
    area_cm2: float,
) -> int:
    """The rows, already in [start, end), streamed from the server into DuckDB."""
    from fluxfleet.export_postgres import arrow_stream, redacted, select_sql

    query = select_sql(table, start, end, _SAMPLES_READ if table == "samples" else None)
    with arrow_stream(url, query) as stream:
        con = duckdb.connect(":memory:")
        con.register("stored_rows", stream)
        try:
            return _write(con, table, "stored_rows", output, {}, volume_cm3, area_cm2)
        except duckdb.Error as exc:  # the stream broke mid-way (server gone, …)
            msg = str(exc).strip().splitlines()[0]
            raise StoreError(
                f"reading the PostgreSQL store {redacted(url)} failed: {msg}"
            ) from None


def _write(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    output: Path,
    times: dict[str, dt.datetime],
    volume_cm3: float,
    area_cm2: float,
) -> int:
    """``COPY`` the export of relation ``source`` to ``output``, atomically; row count.

    ``times`` holds ``start``/``end`` when ``source`` is still to be cut to them.
    """
    fmt = "parquet" if output.suffix.lower() == ".parquet" else "csv"
    params: dict[str, Any] = dict(times)
    if table == "samples":
        params |= {"volume_cm3": float(volume_cm3), "area_cm2": float(area_cm2)}
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        con.execute("SET TimeZone = 'UTC'")
        query = export_query(table, source, fmt, "start" in params, "end" in params)
        options = (
            "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        )
        quoted = str(tmp).replace("'", "''")
        try:
            n = con.execute(f"COPY ({query}) TO '{quoted}' ({options})", params).fetchall()
        except duckdb.IOException as exc:  # the file could not be made or written
            raise OSError(str(exc).strip().splitlines()[0]) from None
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
        con.close()
    return int(n[0][0]) if n else 0
