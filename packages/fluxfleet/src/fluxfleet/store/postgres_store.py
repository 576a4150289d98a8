"""The multi-machine backend: PostgreSQL (``postgresql://USER@HOST:PORT/DB``) via psycopg 3.

Writes, all of a batch in one transaction, never row-by-row inserts: samples go in with a
binary ``COPY`` made by Arrow (:mod:`~fluxfleet.store.pgcopy`) straight into the
partitioned table (through a staging table and ``INSERT … ON CONFLICT DO NOTHING`` only
when a key is already stored); the other tables, a few rows a batch, run the shared
``INSERT … SELECT … ON CONFLICT`` of :mod:`~fluxfleet.store.sql` on ``unnest`` of one
array parameter per column. Reads come back as ``COPY (SELECT …) TO STDOUT`` parsed by
Arrow.

Samples are range-partitioned by time, ``partition_days`` per partition
(``samples_YYYYMMDD``), created on demand under an advisory lock so that several ingestors
never race; :meth:`PostgresStore.drop_partitions_before` is the retention.
Several processes (ingestors, export, the web console) share one database.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
from psycopg import sql as psql

from fluxfleet.store import alarm_sql, pgcopy, registry_sql, schema, sql
from fluxfleet.store.base import (
    Batch,
    RegisteredDevice,
    Store,
    StoreError,
    WriteResult,
    check_table,
)
from fluxfleet.store.migrations import migrations
from fluxfleet.store.registry_sql import pg

_LOCK_MIGRATE = 7_340_001


_LOCK_PARTITIONS = 7_340_002
_DAY_MS = 86_400_000


def _to_csv(table: pa.Table) -> bytes:
    """``table`` as headerless CSV for COPY (binary columns as bytea hex ``\\x…``).

    Times go out as UTC wall-clock without a zone: Arrow formats a zoned timestamp about
    3× slower (a zone lookup per value), and every connection of the store runs with
    ``TIME ZONE 'UTC'``, which is how PostgreSQL reads a zone-less ``timestamptz``.
    """
    cols = []
    for name in table.schema.names:
        # contiguous: pyarrow 26's CSV writer emits raw bytes for an int16 column of
        # thousands of rows behind an empty chunk (what BatchBuilder.build's concat makes)
        col = table[name].combine_chunks()
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp(col.type.unit))  # UTC instants → UTC wall-clock
        elif pa.types.is_binary(col.type):
            hexed = [None if b is None else "\\x" + b.hex() for b in col.to_pylist()]
            col = pa.array(hexed, pa.string())
        cols.append(col)
    out = io.BytesIO()
    opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    pacsv.write_csv(pa.table(cols, names=table.schema.names), out, opts)
    return out.getvalue()


def _pg_array_type(t: pa.DataType) -> str:
    """The PostgreSQL array element type that carries Arrow type ``t`` as a parameter
    (times as ``bigint`` milliseconds, turned into ``timestamptz`` in the SQL)."""
    if pa.types.is_timestamp(t):
        return "int8"
    for test, name in (
        (pa.types.is_string, "text"),
        (pa.types.is_binary, "bytea"),
        (pa.types.is_boolean, "bool"),
        (pa.types.is_int16, "int2"),
        (pa.types.is_int32, "int4"),
        (pa.types.is_int64, "int8"),
        (pa.types.is_float64, "float8"),
    ):
        if test(t):
            return name
    raise TypeError(f"no PostgreSQL array type for the Arrow type {t}")


@functools.lru_cache(maxsize=64)
def _from_arrays(statement: str, s: pa.Schema) -> str:
    """``statement`` reading ``stg`` from ``unnest`` of one array parameter per column of
    ``s`` instead of a staging table (the same SQL as DuckDB's, one round trip).

    The arrays go in binary (``%b``): psycopg dumps them with less CPU than as text
    (≈ 0.3 ms a batch less in the writer), and the server reads them without parsing
    or quoting rules.
    """
    params = ", ".join(f"%b::{_pg_array_type(f.type)}[]" for f in s)
    select = ", ".join(
        f"timestamptz 'epoch' + \"{f.name}\" * interval '1 millisecond' AS \"{f.name}\""
        if pa.types.is_timestamp(f.type)
        else f'"{f.name}"'
        for f in s
    )
    source = f"(SELECT {select} FROM unnest({params}) AS u({sql.columns(s)})) AS stg"
    if statement.count(" FROM stg") != 1:
        raise ValueError(f"statement does not read stg once: {statement[:80]}")
    return statement.replace(" FROM stg", f" FROM {source}")


def _statement(statement: str, table: pa.Table) -> tuple[str, list[list[Any]]] | None:
    """``statement`` (of :mod:`fluxfleet.store.sql`) on ``table`` sent as one array
    parameter per column: no staging table (creating and dropping one per table and batch
    cost the server a file and catalog rows). None for no rows."""
    if table.num_rows == 0:
        return None
    return _from_arrays(statement, table.schema), _arrays(table)


@functools.lru_cache(maxsize=64)
def _together(parts: tuple[tuple[str, pa.Schema], ...]) -> str:
    """The statements ``parts`` (each on its own array parameters, :func:`_from_arrays`)
    as one statement of data-modifying CTEs that returns each one's row count, in order.

    One statement instead of one each in pipeline mode: psycopg waits on the socket —
    releasing and taking back the GIL — about twice per pipelined statement, and under
    the ingestor's other threads each wait can cost up to the interpreter's switch
    interval (5 ms); a batch's write made ≈ 19 such waits, 9 of them for these statements
    (benchmarks/RESULTS.md, "PostgreSQL ingest: the writer's waits"). The tables differ
    and carry no foreign keys or triggers, so the CTEs' one snapshot changes nothing.
    """
    if not parts:
        raise ValueError("no statements to join")
    ctes = ", ".join(
        f"t{i} AS ({_from_arrays(statement, s)} RETURNING 1)"
        for i, (statement, s) in enumerate(parts)
    )
    counts = ", ".join(f"(SELECT count(*) FROM t{i})" for i in range(len(parts)))
    return f"WITH {ctes} SELECT {counts}"


def _arrays(table: pa.Table) -> list[list[Any]]:
    """Each column of ``table`` as a Python list, times as milliseconds since the epoch."""
    out = []
    for f in table.schema:
        col = table[f.name]
        if pa.types.is_timestamp(f.type):
            col = col.cast(pa.timestamp("ms", tz=f.type.tz)).cast(pa.int64())
        out.append(col.to_pylist())
    return out


def _select_list(s: pa.Schema) -> str:
    """Columns of ``s`` in a form COPY TO CSV gives back unambiguously."""
    parts = []
    for f in s:
        name = f'"{f.name}"'
        if pa.types.is_timestamp(f.type):
            parts.append(f"(extract(epoch from {name}) * 1000)::bigint")
        elif pa.types.is_binary(f.type):
            parts.append(f"encode({name}, 'hex')")
        else:
            parts.append(name)
    return ", ".join(parts)


@dataclass
class _Prepared(Batch):
    """A batch made ready to write (:meth:`PostgresStore.prepare`)."""

    samples_copy: bytes = b""
    """The samples as a binary COPY stream (:mod:`~fluxfleet.store.pgcopy`)."""
    rest: str | None = None
    """The other tables' statements as one (:func:`_together`; None: no rows)."""
    rest_params: list[list[Any]] = field(default_factory=list)
    """Its parameters: one array per column of each table with rows."""
    rest_slots: tuple[int, ...] = ()
    """Of each count it returns, the table's place in :meth:`PostgresStore.prepare`'s order
    (closures, devices, locations, dead letters, commands, targets, acks)."""


class PostgresStore(Store):
    """The store in a PostgreSQL database."""

    writes_over_network = True

    def __init__(self, url: str, *, partition_days: int = 1) -> None:
        self.url = url
        self.partition_days = int(partition_days)
        self._partitions: set[int] = set()
        try:
            self.con = psycopg.connect(url)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {url}: {exc}") from None
        self.con.execute("SET TIME ZONE 'UTC'")
        self.con.commit()
        self._migrate()

    def _migrate(self) -> None:
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_MIGRATE])
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied TIMESTAMPTZ NOT NULL)"
            )
            done = set(self.migrations())
            for m in migrations("postgresql"):
                if m.version in done:
                    continue
                self.con.execute(m.sql.encode())
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, now())", [m.version, m.name]
                )

    def register_device(self, device: str, location: str | None, registered: dt.datetime) -> bool:
        with self.con.transaction():
            cur = self.con.execute(registry_sql.pg(registry_sql.GET), [device])
            if cur.fetchone() is None:
                self.con.execute(
                    registry_sql.pg(registry_sql.REGISTER), [device, location, registered]
                )
                return True
            cur = self.con.execute(
                registry_sql.pg(registry_sql.REREGISTER), [location, registered, device]
            )
            return cur.rowcount > 0

    def retire_device(self, device: str, retired: dt.datetime) -> bool:
        with self.con.transaction():
            cur = self.con.execute(registry_sql.pg(registry_sql.RETIRE), [retired, device])
            return cur.rowcount > 0

    def registry(self) -> list[RegisteredDevice]:
        rows = self.con.execute(registry_sql.LIST_PG).fetchall()
        self.con.commit()
        return [RegisteredDevice(*registry_sql.row(r)) for r in rows]

    def execute(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        with self.con.transaction():
            for statement, params in statements:
                cur = self.con.execute(registry_sql.pg(statement), list(params))
                rows = cur.fetchall() if cur.description is not None else []
        return rows

    def raise_alarm(
        self,
        device: str,
        kind: str,
        severity: str,
        time: dt.datetime,
        value: float | None,
        detail: str,
    ) -> tuple[int, bool]:
        time = alarm_sql.ms(time)
        with self.con.transaction():
            args = [device, kind, severity, time, time, value, detail]
            row = self.con.execute(alarm_sql.UPSERT_PG, args).fetchone()
        assert row is not None
        return int(row[0]), bool(row[1])

    def clear_alarm(self, device: str, kind: str, time: dt.datetime) -> int | None:
        time = alarm_sql.ms(time)
        with self.con.transaction():
            row = self.con.execute(pg(alarm_sql.CLEAR), [time, device, kind]).fetchone()
        return None if row is None else int(row[0])

    def ack_alarm(self, alarm_id: int, time: dt.datetime, by: str) -> str:
        time = alarm_sql.ms(time)
        with self.con.transaction():
            if self.con.execute(pg(alarm_sql.EXISTS), [alarm_id]).fetchone() is None:
                return "unknown"
            row = self.con.execute(pg(alarm_sql.ACK), [time, by, alarm_id]).fetchone()
        return "already" if row is None else "acked"

    def migrations(self) -> list[int]:
        rows = self.con.execute("SELECT version FROM schema_migrations ORDER BY version")
        return [int(r[0]) for r in rows.fetchall()]

    # --- partitions -----------------------------------------------------------------------
    def _ensure_partitions(self, samples: pa.Table) -> None:
        if samples.num_rows == 0:
            return
        span = _DAY_MS * self.partition_days
        ms = pc.cast(samples["time"], pa.int64())
        keys = set(pc.unique(pc.divide(ms, span)).to_pylist()) - self._partitions
        if not keys:
            return
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_PARTITIONS])
            for k in sorted(keys):
                lo = dt.datetime.fromtimestamp(k * span / 1000, dt.UTC)
                hi = dt.datetime.fromtimestamp((k + 1) * span / 1000, dt.UTC)
                name = psql.Identifier(f"samples_{lo:%Y%m%d}")
                self.con.execute(
                    psql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} PARTITION OF samples "
                        "FOR VALUES FROM ({}) TO ({})"
                    ).format(name, psql.Literal(lo), psql.Literal(hi))
                )
        self._partitions |= keys

    def partitions(self) -> list[str]:
        """Names of the samples' partitions, oldest first."""
        rows = self.con.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'samples' "
            "ORDER BY c.relname"
        ).fetchall()
        self.con.commit()
        return [str(r[0]) for r in rows]

    def drop_partitions_before(self, t: dt.datetime) -> list[str]:
        """Retention: drop the samples' partitions that end at or before ``t``."""
        return [name for name, _rows in self._drop_partitions_before(t)]

    def _drop_partitions_before(self, t: dt.datetime) -> list[tuple[str, int]]:
        dropped = []
        names = self.partitions()  # (it commits: not inside the transaction below)
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_PARTITIONS])
            for name in names:
                start = dt.datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=dt.UTC)
                if start + dt.timedelta(days=self.partition_days) <= t:
                    ident = psql.Identifier(name)
                    row = self.con.execute(
                        psql.SQL("SELECT count(*) FROM {}").format(ident)
                    ).fetchone()
                    self.con.execute(psql.SQL("DROP TABLE {}").format(ident))
                    dropped.append((name, int(row[0]) if row else 0))
        self._partitions.clear()
        return dropped

    def drop_samples_before(self, t: dt.datetime) -> int:
        """Drop whole partitions ending at or before ``t`` (no ``DELETE``, no vacuum debt);
        a samples table that is not partitioned gets a ``DELETE`` instead."""
        self._reconnect_if_broken()
        kind = self.con.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'samples' AND relkind IN ('p', 'r')"
        ).fetchone()
        self.con.commit()
        if kind is not None and kind[0] == "p":
            return sum(rows for _name, rows in self._drop_partitions_before(t))
        with self.con.transaction():
            cur = self.con.execute("DELETE FROM samples WHERE time < %s", [t])
        return max(cur.rowcount, 0)

    # --- writes ---------------------------------------------------------------------------
    def _copy_samples(self, batch: _Prepared) -> int:
        """COPY the samples (binary) straight into their partitions: the first statement
        of the transaction, so a key already stored (UniqueViolation) rolls back nothing
        else. New samples, the usual case, are parsed and written once, without the
        speculative insertion of ``ON CONFLICT``."""
        if batch.samples.num_rows == 0:
            return 0
        cols = sql.columns(batch.samples.schema)
        with (
            self.con.cursor() as cur,
            cur.copy(f"COPY samples ({cols}) FROM STDIN (FORMAT binary)") as copy,
        ):
            copy.write(batch.samples_copy)
        return batch.samples.num_rows

    def _stage_samples(self, batch: _Prepared) -> int:
        """The samples through a staging table and ``INSERT … ON CONFLICT DO NOTHING``:
        only those whose key is not stored yet."""
        if batch.samples.num_rows == 0:
            return 0
        cols = sql.columns(batch.samples.schema)
        cur = self.con.cursor()
        cur.execute("CREATE TEMP TABLE stg (LIKE samples)")
        with cur.copy(f"COPY stg ({cols}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(batch.samples_copy)
        cur.execute(sql.INSERT_SAMPLES)
        n = max(cur.rowcount, 0)
        cur.execute("DROP TABLE stg")
        return n

    def _reconnect_if_broken(self) -> None:
        """A server restart breaks the connection: open a new one before the next write."""
        if self.con.broken or self.con.closed:
            self.con = psycopg.connect(self.url)
            self.con.execute("SET TIME ZONE 'UTC'")
            self.con.commit()
            self._partitions.clear()

    def prepare(self, batch: Batch) -> Batch:
        """Keys made unique, samples in key order and their binary COPY made, the other
        tables' parameters made: the ingestor calls this in its receiving thread while
        the writer commits the batch before, so the writer's turn is the database's."""
        if isinstance(batch, _Prepared):
            return batch
        # key order, as INSERT_SAMPLES orders them: two ingestors lock keys in one order;
        # the rows are put in it once, encoded (a sort_by took every column)
        order = sql.unique_key_order(batch.samples, ["device", "seq"])
        samples = batch.samples
        if len(order) < samples.num_rows:  # a key repeated in the batch: its first row
            samples = samples.take(np.sort(order.to_numpy()))
        closures = sql.unique_rows(batch.closures, ["device", "cyc"])
        acks = sql.unique_rows(batch.command_acks, ["device", "cmd_id", "state"])
        rest = (
            (sql.INSERT_CLOSURES, closures),
            (sql.UPSERT_DEVICES, batch.devices),
            (sql.INSERT_LOCATIONS, batch.device_locations),
            (sql.INSERT_DEAD_LETTERS, batch.dead_letters),
            (sql.INSERT_COMMANDS, batch.commands),
            (sql.INSERT_COMMAND_TARGETS, batch.command_targets),
            (sql.INSERT_COMMAND_ACKS, acks),
        )
        slots = tuple(i for i, (_st, table) in enumerate(rest) if table.num_rows)
        parts = tuple((rest[i][0], rest[i][1].schema) for i in slots)
        return _Prepared(
            **{**vars(batch), "samples": samples, "closures": closures, "command_acks": acks},
            samples_copy=(
                pgcopy.stream(pgcopy.binary_rows(batch.samples).take(order))
                if samples.num_rows
                else b""
            ),
            rest=_together(parts) if parts else None,
            rest_params=[a for i in slots for a in _arrays(rest[i][1])],
            rest_slots=slots,
        )

    def write(self, batch: Batch) -> WriteResult:
        """One transaction: the samples' COPY first; the other tables' statements and the
        COMMIT then go out together (pipeline mode). If a sample's key is already stored,
        the transaction is rolled back and made again with the samples through staging
        (benchmarks/RESULTS.md, "ingest — key-free samples" and "PostgreSQL ingest")."""
        p = self.prepare(batch)
        assert isinstance(p, _Prepared)
        self._reconnect_if_broken()
        self._ensure_partitions(p.samples)
        try:
            with self.con.transaction():
                n_samples = self._copy_samples(p)
                return self._write_rest(p, n_samples)
        except psycopg.errors.UniqueViolation:
            pass
        with self.con.transaction():
            n_samples = self._stage_samples(p)
            return self._write_rest(p, n_samples)

    def _write_rest(self, p: _Prepared, n_samples: int) -> WriteResult:
        """The tables after the samples: one statement, one round trip (:func:`_together`)."""
        counts = [0] * 7
        if p.rest is not None:
            row = self.con.execute(p.rest, p.rest_params).fetchone()
            assert row is not None
            for slot, n in zip(p.rest_slots, row, strict=True):
                counts[slot] = int(n)
        closures, _dev, _loc, dead, _cmd, _tgt, acks = counts
        return WriteResult(n_samples, closures, dead, acks)

    def write_fluxes(self, fluxes: pa.Table) -> None:
        if fluxes.num_rows == 0:
            return
        fluxes = sql.unique_rows(fluxes.cast(schema.FLUXES, safe=False), ["device", "cyc"])
        self._reconnect_if_broken()
        q = _statement(sql.UPSERT_FLUXES, fluxes)
        assert q is not None
        with self.con.transaction():
            self.con.execute(*q)

    # --- reads ----------------------------------------------------------------------------
    def read(
        self,
        table: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        devices: list[str] | None = None,
    ) -> pa.Table:
        check_table(table)
        return self._copy_out(table, start, end, devices, schema.TABLES[table], ordered=True)

    def read_arrow(
        self,
        table: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> pa.RecordBatchReader:
        """Only ``columns``, unsorted (``fluxfleet export`` sorts in DuckDB).

        Through the same ``COPY … TO STDOUT (FORMAT csv)`` parsed by Arrow as :meth:`read`:
        on a day of 50 chambers it took 3.7 CPU-s against 5.5 for the ADBC PostgreSQL
        driver's Arrow stream, and 0.9 GB against 1.35 (benchmarks/RESULTS.md).
        """
        check_table(table)
        s = schema.TABLES[table]
        want = pa.schema([s.field(c) for c in columns]) if columns else s
        data = self._copy_out(table, start, end, None, want, ordered=False)
        return pa.RecordBatchReader.from_batches(want, data.to_batches())

    def _copy_out(
        self,
        table: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        devices: list[str] | None,
        s: pa.Schema,
        ordered: bool,
    ) -> pa.Table:
        params: list[Any] = [t for t in (start, end) if t is not None]
        params += list(devices or [])
        q = sql.select_sql(table, start is not None, end is not None, len(devices or []), "%s")
        full = schema.TABLES[table]
        q = q.replace(f"SELECT {sql.columns(full)} FROM", f"SELECT {_select_list(s)} FROM", 1)
        if not ordered:
            q = q.rsplit(" ORDER BY ", 1)[0]
        buf = io.BytesIO()
        with (
            self.con.cursor() as cur,
            cur.copy(f"COPY ({q}) TO STDOUT (FORMAT csv)", params or None) as copy,
        ):
            for chunk in copy:
                buf.write(chunk)
        self.con.commit()
        types = {}
        for f in s:
            if pa.types.is_timestamp(f.type):
                types[f.name] = pa.int64()
            elif pa.types.is_binary(f.type):
                types[f.name] = pa.string()
            else:
                types[f.name] = f.type
        if buf.tell() == 0:
            return schema.empty(s)
        buf.seek(0)
        raw = pacsv.read_csv(
            buf,
            read_options=pacsv.ReadOptions(column_names=s.names),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
        cols = []
        for f in s:
            col = raw[f.name]
            if pa.types.is_timestamp(f.type):
                col = col.cast(pa.timestamp("ms")).cast(f.type)
            elif pa.types.is_binary(f.type):
                col = pa.array(
                    [None if h is None else bytes.fromhex(h) for h in col.to_pylist()], f.type
                )
            cols.append(col)
        return pa.table(cols, schema=s)

    def select(self, statement: str, params: list[object] | None = None) -> pa.Table:
        # psycopg takes %s: a literal % is doubled, then each ? becomes a placeholder.
        q = statement.replace("%", "%%").replace("?", "%s")
        with self.con.cursor() as cur:
            cur.execute(q, params or None)
            names = [c.name for c in cur.description or []]
            rows = cur.fetchall()
        self.con.commit()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    def counts(self) -> dict[str, int]:
        out = {}
        for name in schema.TABLES:
            row = self.con.execute(f"SELECT count(*) FROM {name}").fetchone()
            out[name] = int(row[0]) if row else 0
        self.con.commit()
        return out

    def last_locations(self) -> dict[str, str]:
        rows = self.con.execute(sql.LAST_LOCATIONS).fetchall()
        self.con.commit()
        return {str(d): str(loc) for d, loc in rows}

    def last_samples(self) -> dict[str, tuple[dt.datetime, str, int]]:
        rows = self.con.execute(sql.LAST_SAMPLES).fetchall()
        self.con.commit()
        return {str(d): (t, str(ph), int(c)) for d, t, ph, c in rows}

    def clone(self) -> PostgresStore:
        return PostgresStore(self.url, partition_days=self.partition_days)

    def close(self) -> None:
        self.con.close()
