"""The embedded backend: one DuckDB file (``duckdb:///PATH``; ``duckdb:///:memory:``).

DuckDB allows one writing process per file: while ``fluxfleet ingest`` holds the store,
another process (``fluxfleet export``) cannot open it and is told so; stop the ingestor
first, or use PostgreSQL where several processes must share the store. Threads of the
ingesting process share it through :meth:`DuckDBStore.clone`.

Batches arrive as Arrow tables that DuckDB scans directly (no row-by-row inserts).

Samples are unique on (device, seq) without a key (migration 0007: the key's index was
the largest cost of a drain): every handle on one database in this process shares one
:class:`_SampleWriter`, whose lock makes each write's check-and-insert atomic against the
others and whose ``seq_max`` is each device's highest committed seq (read from the store
when a handle opens the file, raised after each commit, never lowered: an upper bound is
safe). A sample above it is new; any other goes through an anti-join against the store.
The other process that could write is kept out by DuckDB's own file lock. Samples must
therefore be written only through :meth:`DuckDBStore.write`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from fluxfleet.store import alarm_sql, registry_sql, tables
from fluxfleet.store.base import (
    Batch,
    RegisteredDevice,
    Store,
    StoreError,
    WriteResult,
    check_table,
)
from fluxfleet.store.migrations import migrations

if TYPE_CHECKING:  # Arrow (and numpy) load with the first method that makes a table:
    import pyarrow as pa  # type: ignore[import-untyped]  # a read-only export needs none


def _conform(table: pa.Table, s: pa.Schema) -> pa.Table:
    """DuckDB returns microsecond times: cast back to the store's schema."""
    return table.select(s.names).cast(s)


class _SampleWriter:
    """What every handle on one database shares to keep samples unique (module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq_max: dict[str, int] | None = None  # None: read it from the store first


_WRITERS: dict[str, _SampleWriter] = {}  # by the file's resolved path
_WRITERS_LOCK = threading.Lock()


def _sample_writer(path: str) -> _SampleWriter:
    """The shared writer of ``path``, told to re-read ``seq_max`` (another process may
    have written the file since this one last had it open)."""
    if path == ":memory:":  # each connect is its own database
        return _SampleWriter()
    with _WRITERS_LOCK:
        w = _WRITERS.setdefault(str(Path(path).resolve()), _SampleWriter())
    with w.lock:
        w.seq_max = None
    return w


# DuckDB's buffer pool otherwise grows toward 80 % of RAM: a season-long ingestor grew by
# 30-55 MB per day loaded (benchmarks/season_store.py, RESULTS "season store"); with a
# limit it stays flat and larger operations spill to ``<file>.tmp``.
DEFAULT_MEMORY_LIMIT = "2GB"


class DuckDBStore(Store):
    """The store in one DuckDB file (or in memory).

    ``memory_limit`` caps DuckDB's memory (a DuckDB size string, e.g. ``"2GB"``).
    """

    def __init__(
        self,
        path: str,
        *,
        read_only: bool = False,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        _con: Any = None,
        _writer: _SampleWriter | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.url = f"duckdb:///{path}"
        self._lock = threading.Lock()
        if _con is not None:
            self.con = _con
            self._samples = _writer or _SampleWriter()
            return
        if read_only and not Path(path).is_file():
            raise StoreError(f"no DuckDB store at {path}")
        if path != ":memory:" and not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(
                path, read_only=read_only, config={"memory_limit": memory_limit}
            )
        except duckdb.Error as exc:  # IO, connection and resource-in-use errors
            raise StoreError(
                f"cannot open the DuckDB store {path}: {exc} "
                "(a DuckDB file has one writing process: stop the ingestor that holds it, "
                "or use a PostgreSQL store)"
            ) from None
        self.con.execute("SET TimeZone = 'UTC'")
        self._samples = _sample_writer(path)
        if read_only:
            self._check_migrated()
        else:
            self._migrate()

    def _check_migrated(self) -> None:
        """A read-only handle cannot migrate: the file must be at this schema version."""
        want = [m.version for m in migrations("duckdb")]
        try:
            have = self.migrations()
        except duckdb.CatalogException:
            have = []
        if have != want:
            self.con.close()
            raise StoreError(
                f"the DuckDB store {self.path} is at schema {have or 'none'}, not {want}: "
                "open it once for writing (fluxfleet ingest) to migrate it"
            )

    def _migrate(self) -> None:
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied TIMESTAMPTZ NOT NULL)"
        )
        done = set(self.migrations())
        for m in migrations("duckdb"):
            if m.version in done:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(m.sql)
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name]
                )
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise

    def register_device(self, device: str, location: str | None, registered: dt.datetime) -> bool:
        with self._lock:
            row = self.con.execute(registry_sql.GET, [device]).fetchone()
            if row is None:
                self.con.execute(registry_sql.REGISTER, [device, location, registered])
                return True
            n = self.con.execute(registry_sql.REREGISTER, [location, registered, device])
            return bool(n.fetchone()[0])

    def retire_device(self, device: str, retired: dt.datetime) -> bool:
        with self._lock:
            n = self.con.execute(registry_sql.RETIRE, [retired, device]).fetchone()
            return bool(n and n[0])

    def registry(self) -> list[RegisteredDevice]:
        with self._lock:
            rows = self.con.execute(registry_sql.LIST).fetchall()
        return [RegisteredDevice(*registry_sql.row(r)) for r in rows]

    def execute(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            if self.read_only:  # no transaction to take: reads only (DuckDB refuses writes)
                for statement, params in statements:
                    rows = self.con.execute(statement, list(params)).fetchall()
                return rows
            self.con.execute("BEGIN TRANSACTION")
            try:
                for statement, params in statements:
                    rows = self.con.execute(statement, list(params)).fetchall()
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
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
        self._writable()
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                row = self.con.execute(alarm_sql.OPEN_ID, [device, kind]).fetchone()
                if row is None:
                    args = [device, kind, severity, time, time, value, detail]
                    alarm_id, new = (
                        int(self.con.execute(alarm_sql.INSERT, args).fetchone()[0]),
                        True,
                    )
                else:
                    alarm_id, new = int(row[0]), False
                    self.con.execute(alarm_sql.REPEAT, [time, value, detail, alarm_id])
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        return alarm_id, new

    def clear_alarm(self, device: str, kind: str, time: dt.datetime) -> int | None:
        time = alarm_sql.ms(time)
        self._writable()
        with self._lock:
            row = self.con.execute(alarm_sql.CLEAR, [time, device, kind]).fetchone()
        return None if row is None else int(row[0])

    def ack_alarm(self, alarm_id: int, time: dt.datetime, by: str) -> str:
        time = alarm_sql.ms(time)
        self._writable()
        with self._lock:
            if self.con.execute(alarm_sql.EXISTS, [alarm_id]).fetchone() is None:
                return "unknown"
            row = self.con.execute(alarm_sql.ACK, [time, by, alarm_id]).fetchone()
        return "already" if row is None else "acked"

    def migrations(self) -> list[int]:
        rows = self.con.execute("SELECT version FROM schema_migrations ORDER BY version")
        return [int(r[0]) for r in rows.fetchall()]

    def _insert(self, statement: str, table: pa.Table) -> int:
        if table.num_rows == 0:
            return 0
        self.con.register("stg", table)
        try:
            rows = self.con.execute(statement).fetchall()
        finally:
            self.con.unregister("stg")
        return int(rows[0][0]) if rows else 0

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the DuckDB store {self.path} is opened read-only")

    def tune_for_ingest(self) -> None:
        """One DuckDB thread. A batch's statements are small (≤ 500 messages' rows): a
        second thread only adds its own work, ≈ 0.07 CPU-s per 5,050-message drain, and
        competes with paho and the broker for the machine's two cores (RESULTS.md,
        "ingest: the receiving path's CPU"). The setting is the database's: reads by other
        handles in this process (the live demo's console) then run on one thread too."""
        if not self.read_only:
            with self._lock:
                self.con.execute("SET threads = 1")

    def write(self, batch: Batch) -> WriteResult:
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        from fluxfleet.store import sql

        self._writable()
        samples = sql.unique_rows(batch.samples, ["device", "seq"])
        closures = sql.unique_rows(batch.closures, ["device", "cyc"])
        acks = sql.unique_rows(batch.command_acks, ["device", "cmd_id", "state"])
        shared = self._samples
        with shared.lock, self._lock:
            if shared.seq_max is None:
                rows = self.con.execute(sql.SAMPLES_SEQ_MAX).fetchall()
                shared.seq_max = {str(d): int(m) for d, m in rows}
            new, maybe_seen = sql.split_above(samples, shared.seq_max)
            marks = sql.seq_max_of(samples)  # made before COMMIT: after it, only dict updates
            self.con.execute("BEGIN TRANSACTION")
            try:
                n_samples = self._insert(sql.INSERT_SAMPLES_NEW, new)
                if maybe_seen.num_rows:
                    lo, hi = pc.min_max(maybe_seen["seq"]).values()
                    unseen = sql.insert_samples_unseen(lo.as_py(), hi.as_py())
                    n_samples += self._insert(unseen, maybe_seen)
                n_closures = self._insert(sql.INSERT_CLOSURES, closures)
                self._insert(sql.UPSERT_DEVICES, batch.devices)
                self._insert(sql.INSERT_LOCATIONS, batch.device_locations)
                n_dead = self._insert(sql.INSERT_DEAD_LETTERS, batch.dead_letters)
                self._insert(sql.INSERT_COMMANDS, batch.commands)
                self._insert(sql.INSERT_COMMAND_TARGETS, batch.command_targets)
                n_acks = self._insert(sql.INSERT_COMMAND_ACKS, acks)
                self.con.execute("COMMIT")
            except BaseException:
                shared.seq_max = None  # whatever happened, read the marks again
                self.con.execute("ROLLBACK")
                raise
            for device, seq in marks.items():  # committed: raise the marks
                if seq > shared.seq_max.get(device, seq - 1):
                    shared.seq_max[device] = seq
        return WriteResult(n_samples, n_closures, n_dead, n_acks)

    def write_fluxes(self, fluxes: pa.Table) -> None:
        from fluxfleet.store import schema, sql

        self._writable()
        if fluxes.num_rows == 0:
            return
        fluxes = sql.unique_rows(fluxes.cast(schema.FLUXES, safe=False), ["device", "cyc"])
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self._insert(sql.UPSERT_FLUXES, fluxes)
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise

    def read(
        self,
        table: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        devices: list[str] | None = None,
    ) -> pa.Table:
        from fluxfleet.store import schema, sql

        check_table(table)
        params: list[Any] = [t for t in (start, end) if t is not None]
        params += list(devices or [])
        q = sql.select_sql(table, start is not None, end is not None, len(devices or []), "?")
        with self._lock:
            result = self.con.sql(q, params=params).to_arrow_table()
        return _conform(result, schema.TABLES[table])

    def drop_samples_before(self, t: dt.datetime) -> int:
        """Delete the samples older than ``t`` (DuckDB reuses the freed blocks for new
        rows; the file itself does not shrink)."""
        self._writable()
        with self._lock:
            row = self.con.execute("DELETE FROM samples WHERE time < ?", [t]).fetchone()
        return int(row[0]) if row else 0

    def select(self, statement: str, params: list[object] | None = None) -> pa.Table:
        with self._lock:
            return self.con.sql(statement, params=params or None).to_arrow_table()

    def counts(self) -> dict[str, int]:
        out = {}
        with self._lock:
            for name in tables.NAMES:
                rows = self.con.execute(f"SELECT count(*) FROM {name}").fetchall()
                out[name] = int(rows[0][0])
        return out

    def last_locations(self) -> dict[str, str]:
        from fluxfleet.store import sql

        with self._lock:
            rows = self.con.execute(sql.LAST_LOCATIONS).fetchall()
        return {str(d): str(loc) for d, loc in rows}

    def last_samples(self) -> dict[str, tuple[dt.datetime, str, int]]:
        from fluxfleet.store import sql

        with self._lock:  # through Arrow: fetchall() of a TIMESTAMPTZ needs pytz
            rows = self.con.sql(sql.LAST_SAMPLES).to_arrow_table().to_pylist()
        return {str(r["device"]): (r["time"], str(r["phase"]), int(r["cyc"])) for r in rows}

    def clone(self) -> DuckDBStore:
        return DuckDBStore(
            self.path, read_only=self.read_only, _con=self.con.cursor(), _writer=self._samples
        )

    def close(self) -> None:
        self.con.close()
