"""The store interface: what ingest, export and the flux worker ask of a backend.

A backend keeps the tables of :mod:`fluxfleet.store.schema`. Writes come in batches of
Arrow tables and are committed in one transaction (the ingestor acknowledges a batch's
MQTT messages only after :meth:`Store.write` returned). Samples, closures, commands and
command acks are idempotent: a row whose key is already stored is skipped, so redelivered
messages and device replays never store anything twice.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from fluxfleet.store import tables

if TYPE_CHECKING:  # Arrow only when a table is made: a command that opens a store and
    import pyarrow as pa  # type: ignore[import-untyped]  # reads in DuckDB needs none


def _empty(name: str) -> pa.Table:
    from fluxfleet.store import schema

    return schema.empty(getattr(schema, name))


class StoreError(RuntimeError):
    """The store cannot be opened or used (a clear message, no traceback for users)."""


@dataclass
class Batch:
    """What one commit writes (each an Arrow table of its :mod:`schema`)."""

    samples: pa.Table = field(default_factory=lambda: _empty("SAMPLES"))
    closures: pa.Table = field(default_factory=lambda: _empty("CLOSURES"))
    devices: pa.Table = field(default_factory=lambda: _empty("DEVICES"))
    device_locations: pa.Table = field(default_factory=lambda: _empty("DEVICE_LOCATIONS"))
    dead_letters: pa.Table = field(default_factory=lambda: _empty("DEAD_LETTERS"))
    commands: pa.Table = field(default_factory=lambda: _empty("COMMANDS"))
    command_targets: pa.Table = field(default_factory=lambda: _empty("COMMAND_TARGETS"))
    command_acks: pa.Table = field(default_factory=lambda: _empty("COMMAND_ACKS"))


@dataclass(frozen=True)
class WriteResult:
    """Rows a write actually added (keys already stored are not counted)."""

    samples: int
    closures: int
    dead_letters: int
    command_acks: int = 0


@dataclass(frozen=True)
class RegisteredDevice:
    """A row of the device registry (times UTC)."""

    device: str
    location: str | None
    registered: dt.datetime
    retired: dt.datetime | None


class Store(abc.ABC):
    """One store, whichever backend. Use as a context manager or call :meth:`close`."""

    url: str
    #: Its writes wait on a socket (a database server): the ingestor's writer then wants
    #: the GIL back soon after each wait (:class:`fluxfleet.ingest.mqtt.Ingestor`).
    writes_over_network: ClassVar[bool] = False

    @abc.abstractmethod
    def write(self, batch: Batch) -> WriteResult:
        """Commit ``batch`` in one transaction; rows whose key exists are skipped."""

    def prepare(self, batch: Batch) -> Batch:
        """The work :meth:`write` does on ``batch`` without the database, done ahead: the
        ingestor calls this in its receiving thread while its writer commits the batch
        before. :meth:`write` takes the result or a plain batch alike."""
        return batch

    def tune_for_ingest(self) -> None:
        """Settings for a process whose main work is :meth:`write` of ingest batches (the
        ingestor calls it once); none by default."""
        return None

    @abc.abstractmethod
    def write_fluxes(self, fluxes: pa.Table) -> None:
        """Store fluxes (schema ``FLUXES``), replacing those of the same (device, cyc)."""

    @abc.abstractmethod
    def read(
        self,
        table: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        devices: list[str] | None = None,
    ) -> pa.Table:
        """Rows of ``table`` whose time column (``schema.TIME_COLUMN``) is in [start, end).

        ``devices`` limits the rows to those devices (tables with a ``device`` column).
        Rows come sorted by device and time.
        """

    def read_arrow(
        self,
        table: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> pa.RecordBatchReader:
        """``columns`` (all if None) of the rows of ``table`` in [start, end), streamed.

        Rows come in no particular order (``fluxfleet export`` sorts them). This default
        reads the whole range at once; a backend streams it where it can.
        """
        import pyarrow as pa

        data = self.read(table, start, end)
        if columns is not None:
            data = data.select(columns)
        return pa.RecordBatchReader.from_batches(data.schema, data.to_batches())

    @abc.abstractmethod
    def drop_samples_before(self, t: dt.datetime) -> int:
        """Retention: remove raw samples older than ``t``; the rows removed.

        DuckDB deletes them; PostgreSQL drops whole partitions that end at or before ``t``
        (so up to ``partition_days`` more are kept), or deletes where the table is not
        partitioned.
        """

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Rows per table."""

    @abc.abstractmethod
    def last_locations(self) -> dict[str, str]:
        """Each device's latest location in ``device_locations``."""

    @abc.abstractmethod
    def register_device(self, device: str, location: str | None, registered: dt.datetime) -> bool:
        """Add ``device`` to the registry (or re-register a retired one); False if active."""

    @abc.abstractmethod
    def retire_device(self, device: str, retired: dt.datetime) -> bool:
        """Mark ``device`` retired; False if it is not registered or already retired."""

    @abc.abstractmethod
    def registry(self) -> list[RegisteredDevice]:
        """Every registered device (retired ones too), by device id."""

    @abc.abstractmethod
    def last_samples(self) -> dict[str, tuple[dt.datetime, str, int]]:
        """Each device's newest sample (highest seq): its (time, phase, cyc)."""

    @abc.abstractmethod
    def execute(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[tuple[Any, ...]]:
        """Run SQL ``statements`` (``?`` placeholders) in one transaction; the last one's rows.

        For the small operational tables whose SQL is the same on both backends (API
        tokens, firmware assignments, rollouts: :mod:`fluxfleet.store.ops_sql`).
        """

    @abc.abstractmethod
    def select(self, statement: str, params: list[object] | None = None) -> pa.Table:
        """Rows of one read-only ``SELECT`` (aggregations for the console and reports).

        ``statement`` is SQL that both backends speak (PostgreSQL and DuckDB share
        ``date_trunc``, ``split_part``, ``string_to_array``, ``unnest``, ``FILTER``) with
        ``?`` as the only placeholder (never a literal ``?`` in the text). Times come back
        as UTC instants.
        """

    @abc.abstractmethod
    def raise_alarm(
        self,
        device: str,
        kind: str,
        severity: str,
        time: dt.datetime,
        value: float | None,
        detail: str,
    ) -> tuple[int, bool]:
        """Open an alarm on (``device``, ``kind``) at ``time``, or repeat the open one.

        A repeat updates the open alarm (``last_seen``, ``repeats`` + 1, ``value``,
        ``detail``); there is never more than one open alarm per (device, kind).
        Returns (its id, True if it was opened now).
        """

    @abc.abstractmethod
    def clear_alarm(self, device: str, kind: str, time: dt.datetime) -> int | None:
        """Clear the open alarm on (``device``, ``kind``) at ``time``; its id, None if none."""

    @abc.abstractmethod
    def ack_alarm(self, alarm_id: int, time: dt.datetime, by: str) -> str:
        """Acknowledge alarm ``alarm_id``: ``"acked"``, ``"already"`` (the first ack is
        kept) or ``"unknown"`` (no such alarm)."""

    @abc.abstractmethod
    def migrations(self) -> list[int]:
        """Schema versions applied, in order."""

    @abc.abstractmethod
    def clone(self) -> Store:
        """Another handle on the same store, for another thread of this process."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_table(table: str) -> str:
    """``table`` if the store has it, else a ValueError listing those it has."""
    if table not in tables.NAMES:
        raise ValueError(f"unknown table {table!r}; one of {', '.join(tables.NAMES)}")
    return table
