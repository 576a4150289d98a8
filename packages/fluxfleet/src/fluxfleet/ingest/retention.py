"""Retention of raw samples: the ingestor removes samples older than ``retention_days``.

Run at the ingestor's start and then every hour, in a thread of its own with its own store
handle (:meth:`fluxfleet.store.base.Store.clone`). DuckDB deletes the rows; PostgreSQL drops
whole day partitions (:meth:`fluxfleet.store.base.Store.drop_samples_before`). Closures,
fluxes, devices and dead letters are kept: they are small, and the fluxes are the results.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from fluxfleet.store.base import Store

log = logging.getLogger(__name__)


def retention_cutoff(now: dt.datetime, retention_days: float) -> dt.datetime:
    """The time before which samples go: ``now`` minus ``retention_days`` [d]."""
    if not retention_days > 0:
        raise ValueError(f"retention_days must be > 0 d, got {retention_days}")
    return now - dt.timedelta(days=retention_days)


class RetentionWorker:
    """Applies the retention now and then every ``every_s`` [s] until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        retention_days: float,
        every_s: float = 3600.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        report: Callable[[str], None] | None = None,
    ) -> None:
        retention_cutoff(clock(), retention_days)  # refuses a bad value before the thread
        self.store = store
        self.retention_days = retention_days
        self.every_s = every_s
        self.clock = clock
        self.report = report
        self.removed = 0
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def apply(self) -> int:
        """One pass; the samples removed."""
        cutoff = retention_cutoff(self.clock(), self.retention_days)
        n = self.store.drop_samples_before(cutoff)
        self.removed += n
        self.runs += 1
        if n and self.report is not None:
            self.report(f"retention: removed {n:,} samples older than {cutoff:%Y-%m-%d %H:%M}Z")
        return n

    def _run(self) -> None:
        while True:
            try:
                self.apply()
            except Exception:  # a failed pass is retried at the next; ingestion goes on
                log.exception("retention pass failed")
            if self._stop.wait(self.every_s):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(30)
        self.store.close()
