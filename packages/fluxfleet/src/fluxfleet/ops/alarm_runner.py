"""The alarm evaluator: read the store, run the rules, debounce, write alarms, notify.

Each :meth:`AlarmEvaluator.evaluate` reads the last ``lookback_s`` of samples and fluxes
and the ``devices`` table (whose ``state`` is the devices' retained ``status``, last will
included, as the ingestor stored it), runs every rule of :mod:`fluxfleet.ops.alarm_rules`,
advances :mod:`fluxfleet.ops.alarm_state`, and applies the events to the store (raise /
repeat / clear). Raises and clears go to the log and, when given, to a notifier (the
webhook's non-blocking :meth:`~fluxfleet.ops.webhook.WebhookSender.submit`).

The evaluation's clock (``now``) is the server's wall clock (``clock="wall"``, a real
fleet), or the fleet's own clock (``clock="data"``: the median over devices of each
device's newest sample time), for replays and for a simulator running faster than real
time. :class:`AlarmWorker` runs :meth:`evaluate` every ``interval_s`` in a thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from fluxfleet.ops import alarm_rules as rules
from fluxfleet.ops.alarm_state import Event, Hold, Key, Track, advance
from fluxfleet.store.base import Store

log = logging.getLogger(__name__)

CLOCKS = ("wall", "data")


def conditions(
    samples: pd.DataFrame,
    fluxes: pd.DataFrame,
    devices: pd.DataFrame,
    last_sample: pd.DataFrame,
    causes: dict[tuple[str, int], str],
    now: pd.Timestamp,
    cfg: rules.AlarmConfig,
    clocks: dict[str, rules.ClockTrack] | None = None,
) -> tuple[pd.DataFrame, dict[str, rules.ClockTrack]]:
    """Every rule's conditions at ``now`` (rows of :data:`~fluxfleet.ops.alarm_rules.COLUMNS`),
    and the clock tracks after (:func:`~fluxfleet.ops.alarm_rules.clock_skew_update`)."""
    clocks, skew = rules.clock_skew_update(clocks or {}, samples, cfg)
    parts = [
        rules.device_offline(devices, last_sample, now, cfg),
        rules.stuck_chamber(fluxes, cfg),
        rules.clogged_pot(fluxes, cfg),
        rules.implausible_value(samples, cfg),
        rules.sensor_error(samples, cfg),
        skew,
        rules.reboot_storm(rules.boots(samples), causes, now, cfg),
        rules.calibration_drift(samples, cfg),
        rules.incomplete_data(samples, now, cfg),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=rules.COLUMNS), clocks
    return pd.concat(parts, ignore_index=True), clocks


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class SampleWindow:
    """The last ``lookback_s`` of samples, read from the store incrementally.

    Each :meth:`update` reads only the samples timed in the last ``recent_s`` (what a
    device's telemetry and the ingestor can still be bringing in) and keeps the older
    ones it had; every ``full_every_s`` of wall time it reads the whole window again, which
    brings in the backlog a device sends after an outage, timed in the past. The rules
    then see the same table a full read would give, but for a backlog older than
    ``recent_s`` until the next full read.

    Parameters
    ----------
    store : Store
    lookback_s, recent_s : float
        Span kept, span re-read at each update [s].
    full_every_s : float
        Wall time between full reads [s].
    """

    def __init__(
        self, store: Store, lookback_s: float, recent_s: float = 900.0, full_every_s: float = 300.0
    ) -> None:
        self.store = store
        self.lookback = dt.timedelta(seconds=lookback_s)
        self.recent = dt.timedelta(seconds=min(recent_s, lookback_s))
        self.full_every_s = full_every_s
        self.frame: pd.DataFrame | None = None
        self._full_at = -np.inf
        self._now = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.full_reads = 0

    def due(self) -> bool:
        """True when the next update must read the whole window."""
        return self.frame is None or time.monotonic() - self._full_at >= self.full_every_s

    def full(self, now: dt.datetime) -> pd.DataFrame:
        """Read the whole window ending at ``now``."""
        self.frame = self.store.read("samples", start=now - self.lookback).to_pandas()
        self._full_at = time.monotonic()
        self.full_reads += 1
        self._now = now
        return self.frame

    def recent_rows(self) -> pd.DataFrame:
        """The samples timed from ``recent_s`` before the previous update's time on (an
        incremental read: nothing is skipped however far the clock moved since)."""
        return self.store.read("samples", start=self._now - self.recent).to_pandas()

    def merge(self, new: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
        """The window at ``now``: the rows kept from before :meth:`recent_rows`' start,
        and ``new`` (its result)."""
        assert self.frame is not None
        since = pd.Timestamp(self._now - self.recent)
        start = pd.Timestamp(now - self.lookback)
        old = self.frame[(self.frame["time"] >= start) & (self.frame["time"] < since)]
        new = new[new["time"] >= start]
        self.frame = pd.concat([old, new], ignore_index=True) if len(old) else new
        self._now = now
        return self.frame

    def update(self, now: dt.datetime) -> pd.DataFrame:
        """The samples timed from ``now − lookback_s`` on (a full read when due)."""
        if self.due():
            return self.full(now)
        return self.merge(self.recent_rows(), now)


class AlarmEvaluator:
    """Evaluate the fleet's alarms against ``store`` (module docstring).

    Parameters
    ----------
    store : Store
        Read for the data, written for the alarms.
    config : AlarmConfig, optional
        The rules' thresholds.
    holds : dict, optional
        Debounce per kind (default :data:`fluxfleet.ops.alarm_state.DEFAULT_HOLDS`).
    clock : str
        ``wall`` or ``data`` (module docstring).
    lookback_s : float
        Span of samples and fluxes read per evaluation [s].
    notify : callable, optional
        Called with a JSON-able dict for each raise and clear; must not block.
    """

    def __init__(
        self,
        store: Store,
        config: rules.AlarmConfig | None = None,
        holds: dict[str, Hold] | None = None,
        clock: str = "wall",
        lookback_s: float = 3 * 3600.0,
        notify: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
        self.store = store
        self.config = config or rules.AlarmConfig()
        self.holds = holds
        self.clock = clock
        self.lookback_s = lookback_s
        self.notify = notify
        self.tracks: dict[Key, Track] = {}
        self.causes: dict[tuple[str, int], str] = {}
        self.clocks: dict[str, rules.ClockTrack] = {}  # clock_skew's running steps
        self.evaluations = 0
        self.times_s: list[float] = []  # each evaluation's time [epoch s]
        self.durations_s: list[float] = []  # wall time each took [s]
        self.ids: dict[Key, int] = {}
        self.window = SampleWindow(store, lookback_s)
        self._newest: dict[str, float] = {}  # each device's newest sample [epoch s]
        self._load_open()

    def _load_open(self) -> None:
        """Open alarms in the store are open tracks (a restarted evaluator goes on)."""
        a = self.store.read("alarms").to_pandas()
        for r in a[a["cleared"].isna()].itertuples():
            key = (str(r.device), str(r.kind))
            self.tracks[key] = Track(None, None, True)
            self.ids[key] = int(r.id)

    def now(self) -> dt.datetime | None:
        """The evaluation time (None: ``data`` clock and no sample yet)."""
        if self.clock == "wall":
            return dt.datetime.now(dt.UTC)
        self._set_newest(self.store.last_samples())
        return self._data_now()

    def _set_newest(self, last: dict[str, tuple[dt.datetime, str, int]]) -> None:
        self._newest = {dev: t.timestamp() for dev, (t, _, _) in last.items()}

    def _data_now(self) -> dt.datetime | None:
        """The fleet's clock: the median over devices of each one's newest sample time."""
        if not self._newest:
            return None
        return _utc(float(np.median(list(self._newest.values()))))

    def _samples(self, now: dt.datetime | None) -> tuple[dt.datetime | None, pd.DataFrame]:
        """This evaluation's time and sample window. On the data clock, between full reads,
        the devices' newest samples come from the incremental read itself (the store's
        ``last_samples`` scans the whole table)."""
        if now is not None:
            self._newest = {}
            return now, self.window.update(now)
        if self.clock == "wall" or self.window.due():
            now = self.now()
            return now, (self.window.full(now) if now is not None else pd.DataFrame())
        new = self.window.recent_rows()
        if len(new):
            newest = new.groupby("device")["time"].max()
            for dev, t in newest.items():
                self._newest[str(dev)] = max(self._newest.get(str(dev), 0.0), t.timestamp())
        now = self._data_now()
        assert now is not None  # a full read found samples before
        return now, self.window.merge(new, now)

    def evaluate(self, now: dt.datetime | None = None) -> list[Event]:
        """One evaluation at ``now`` (default :meth:`now`); the events applied."""
        t0 = time.monotonic()
        now, samples = self._samples(now)
        if now is None:
            return []
        start = now - dt.timedelta(seconds=self.lookback_s)
        fluxes = self.store.read("fluxes", start=start).to_pandas()
        devices = self.store.read("devices").to_pandas()
        for r in devices.itertuples():  # the reset cause each boot reported (meta)
            if r.reset_cause is not None and not pd.isna(r.boot):
                self.causes[(str(r.device), int(r.boot))] = str(r.reset_cause)
        last = self._last_sample(devices)
        ts = pd.Timestamp(now)
        cond, self.clocks = conditions(
            samples, fluxes, devices, last, self.causes, ts, self.config, self.clocks
        )
        self.tracks, events = advance(self.tracks, cond, now.timestamp(), self.holds)
        for e in events:
            self._apply(e)
        self.evaluations += 1
        self.times_s.append(now.timestamp())
        self.durations_s.append(time.monotonic() - t0)
        return events

    def summary(self) -> str:
        """Evaluations made, their wall time and the evaluation clock's step between them."""
        if not self.times_s:
            return "no evaluation"
        took = np.asarray(self.durations_s)
        step = np.diff(self.times_s)
        text = (
            f"{self.evaluations} evaluations, each {np.median(took):.2f} s wall "
            f"(median; max {took.max():.2f} s)"
        )
        if len(step):
            text += (
                f"; {self.clock} clock step between evaluations {np.median(step):.0f} s "
                f"(median; 90th percentile {np.percentile(step, 90):.0f} s, max {step.max():.0f} s)"
            )
        return text

    def _last_sample(self, devices: pd.DataFrame) -> pd.DataFrame:
        """Each device's newest sample on the evaluation's clock: its sample time for the
        ``data`` clock, the server's receipt of its last message for the ``wall`` clock."""
        if self.clock == "wall":
            return devices[["device", "last_seen"]].rename(columns={"last_seen": "time"})
        if not self._newest:  # an explicit ``now``: ask the store
            self._set_newest(self.store.last_samples())
        times = pd.to_datetime(list(self._newest.values()), unit="s", utc=True)
        return pd.DataFrame({"device": list(self._newest), "time": times})

    def _apply(self, e: Event) -> None:
        key = (e.device, e.kind)
        when = _utc(e.time_s)
        if e.action == "clear":
            alarm_id = self.store.clear_alarm(e.device, e.kind, when)
            self.ids.pop(key, None)
        else:
            severity = rules.SEVERITY[e.kind]
            value = e.value if np.isfinite(e.value) else None
            alarm_id, _new = self.store.raise_alarm(
                e.device, e.kind, severity, when, value, e.detail
            )
            self.ids[key] = alarm_id
        if e.action == "repeat":
            return
        note = {
            "event": e.action,
            "id": alarm_id,
            "device": e.device,
            "kind": e.kind,
            "severity": rules.SEVERITY[e.kind],
            "time": when.isoformat().replace("+00:00", "Z"),
            "value": e.value if np.isfinite(e.value) else None,
            "detail": e.detail,
        }
        log.warning("alarm %s: #%s %s %s %s", e.action, alarm_id, e.device, e.kind, e.detail)
        if self.notify is not None:
            self.notify(note)


class AlarmWorker:
    """Run an :class:`AlarmEvaluator` every ``interval_s`` [s] in a thread, until :meth:`stop`.

    An evaluation that fails (the store unreachable for a moment) is logged and retried at
    the next interval; it never stops the process it runs in (``fluxfleet ingest``).
    """

    def __init__(self, evaluator: AlarmEvaluator, interval_s: float = 60.0) -> None:
        self.evaluator = evaluator
        self.interval_s = interval_s
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.evaluator.evaluate()
            except Exception as exc:
                self.errors += 1
                log.error("alarm evaluation failed: %s", exc)
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
