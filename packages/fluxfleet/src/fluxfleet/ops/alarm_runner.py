"""The alarm evaluator: read the store, run the rules, debounce, write alarms, notify.

Each :meth:`AlarmEvaluator.evaluate` reads the last ``lookback_s`` of samples and fluxes
and the ``devices`` table (whose ``state`` is the devices' retained ``status``, last will
included, as the ingestor stored it), runs every rule of :mod:`fluxfleet.ops.alarm_rules`,
advances :mod:`fluxfleet.ops.alarm_state`, and applies the events to the store (raise /
repeat / clear). Raises and clears go to the log and, when given, to a notifier (the
webhook's non-blocking :meth:`~fluxfleet.ops.webhook.WebhookSender.submit`).

The evaluation's clock is the server's wall clock (``clock="wall"``: one evaluation at
``now`` per call), or the fleet's data clock (``clock="data"``): each call evaluates every
instant of data time (every ``step_s``) that the store's data now cover, each on what the
store knew at it (:mod:`fluxfleet.ops.alarm_clock`), so that raises and clears are data
times however late the evaluation runs — for replays and for a simulator running faster
than real time. :class:`AlarmWorker` runs :meth:`evaluate` every ``interval_s`` (wall) in
a thread.
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

from fluxfleet.ops import alarm_clock as clock
from fluxfleet.ops import alarm_rules as rules
from fluxfleet.ops.alarm_state import Event, Hold, Key, Track, advance
from fluxfleet.store.base import Store

log = logging.getLogger(__name__)

CLOCKS = ("wall", "data")

SAMPLE_COLUMNS = [
    "device", "seq", "time", "boot", "phase", "co2_ppm", "rh_percent", "pressure_hpa", "lux",
    "flags", "received",
]  # fmt: skip
"""The samples' columns the rules (and the data clock) read."""

DEVICES_EVERY_S = 1.0
"""Data clock: wall time between reads of the ``devices`` table during a catch-up [s]."""


def conditions(
    samples: pd.DataFrame,
    fluxes: pd.DataFrame,
    devices: pd.DataFrame,
    last_sample: pd.DataFrame,
    causes: dict[tuple[str, int], str],
    now: pd.Timestamp,
    cfg: rules.AlarmConfig,
    skew: pd.DataFrame,
    recent: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every rule's conditions at ``now`` (rows of :data:`~fluxfleet.ops.alarm_rules.COLUMNS`);
    ``skew`` is the clock-skew rule's, which carries state between evaluations
    (:func:`~fluxfleet.ops.alarm_rules.clock_skew_update`); ``recent``, when given, each
    device's newest ``window_s`` of ``samples`` (the window rules read only those)."""
    if recent is None:
        recent = rules.newest_window(samples, cfg.window_s)
    parts = [
        rules.device_offline(devices, last_sample, now, cfg),
        rules.stuck_chamber(fluxes, cfg),
        rules.clogged_pot(fluxes, cfg),
        rules.implausible_value(recent, cfg),
        rules.sensor_error(recent, cfg),
        skew,
        rules.reboot_storm(rules.boots(samples), causes, now, cfg),
        rules.calibration_drift(samples, cfg),
        rules.incomplete_data(samples, now, cfg),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=rules.COLUMNS)
    return pd.concat(parts, ignore_index=True)


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
        Span of samples and fluxes each evaluation judges [s].
    notify : callable, optional
        Called with a JSON-able dict for each raise and clear; must not block.
    step_s : float
        Data clock: data time between evaluation instants [s].
    settle_s : float
        Data clock: data every reporting device must have delivered past an instant
        before it is evaluated [s] (:func:`~fluxfleet.ops.alarm_clock.ingest_watermark`).
    """

    def __init__(
        self,
        store: Store,
        config: rules.AlarmConfig | None = None,
        holds: dict[str, Hold] | None = None,
        clock: str = "wall",
        lookback_s: float = 3 * 3600.0,
        notify: Callable[[dict[str, Any]], Any] | None = None,
        step_s: float = 60.0,
        settle_s: float = 30.0,
        start: pd.Timestamp | None = None,
    ) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
        if not (step_s > 0 and settle_s >= 0):
            raise ValueError(f"step_s must be > 0 and settle_s ≥ 0, got {step_s}, {settle_s}")
        self.store = store
        self.config = config or rules.AlarmConfig()
        self.holds = holds
        self.clock = clock
        self.lookback_s = lookback_s
        self.notify = notify
        self.step_s = step_s
        self.settle_s = settle_s
        self.tracks: dict[Key, Track] = {}
        self.causes: dict[tuple[str, int], str] = {}
        self.clocks: dict[str, rules.ClockTrack] = {}  # clock_skew's running steps
        self.evaluations = 0
        self.times_s: list[float] = []  # each evaluation's time [epoch s]
        self.durations_s: list[float] = []  # wall time each took [s]
        self.behind_s: list[float] = []  # data clock: watermark − instant evaluated [s]
        self.ids: dict[Key, int] = {}
        self.window = SampleWindow(store, lookback_s)
        self.evaluated_to: pd.Timestamp | None = None  # data clock: last instant judged
        if start is not None:  # judge from this data time on, not from the newest instant
            if clock != "data":
                raise ValueError("start needs the data clock")
            self.evaluated_to = pd.Timestamp(start) - pd.Timedelta(seconds=step_s)
        self.progress_at = time.monotonic()  # wall time of the last instant judged
        self.read_s: list[float] = []  # data clock: wall time of each catch-up's reads [s]
        self.interrupt = threading.Event()  # set: a catch-up stops after its instant
        self._devices_at = -np.inf  # wall time of the last devices read [monotonic s]
        self._load_open()

    def _load_open(self) -> None:
        """Open alarms in the store are open tracks (a restarted evaluator goes on)."""
        a = self.store.read("alarms").to_pandas()
        for r in a[a["cleared"].isna()].itertuples():
            key = (str(r.device), str(r.kind))
            self.tracks[key] = Track(None, None, True)
            self.ids[key] = int(r.id)

    def evaluate(self, now: dt.datetime | None = None) -> list[Event]:
        """Wall clock: one evaluation at ``now`` (default the server's clock). Data clock:
        every instant the store's data now allow (:meth:`catch_up`). The events applied."""
        if self.clock == "data":
            if now is not None:
                raise ValueError("the data clock chooses its own instants: no 'now'")
            return self.catch_up()
        t0 = time.monotonic()
        now = now or dt.datetime.now(dt.UTC)
        samples = self.window.full(now)
        start = now - dt.timedelta(seconds=self.lookback_s)
        fluxes = self.store.read("fluxes", start=start).to_pandas()
        devices = self._devices()
        last = devices[["device", "last_seen"]].rename(columns={"last_seen": "time"})
        events = self._judge(pd.Timestamp(now), samples, samples, fluxes, devices, last)
        self.durations_s.append(time.monotonic() - t0)
        return events

    def _devices(self) -> pd.DataFrame:
        """The ``devices`` table; the reset cause of each device's current boot is kept.

        The table holds only a device's latest boot, so on the data clock it is re-read
        about every :data:`DEVICES_EVERY_S` of wall time, also during a long catch-up: a
        boot's cause is then seen while the boot lasts (6 h, 72 wall s at 300×) however
        far behind the instants are; a boot whose cause was never seen counts as
        unplanned."""
        self._devices_at = time.monotonic()
        devices = self.store.read("devices").to_pandas()
        for r in devices.itertuples():  # the reset cause each boot reported (meta)
            if r.reset_cause is not None and not pd.isna(r.boot):
                self.causes[(str(r.device), int(r.boot))] = str(r.reset_cause)
        return devices

    def _judge(
        self,
        t: pd.Timestamp,
        samples: pd.DataFrame,
        new_samples: pd.DataFrame,
        fluxes: pd.DataFrame,
        devices: pd.DataFrame,
        last: pd.DataFrame,
        recent: pd.DataFrame | None = None,
    ) -> list[Event]:
        """Run the rules at ``t`` and apply the events (``new_samples``: those the clock
        tracks have not seen yet, a subset of ``samples``; ``recent``: :func:`conditions`)."""
        clocks, skew = rules.clock_skew_update(self.clocks, new_samples, self.config)
        self.clocks = clocks
        cond = conditions(samples, fluxes, devices, last, self.causes, t, self.config, skew, recent)
        self.tracks, events = advance(self.tracks, cond, t.timestamp(), self.holds)
        for e in events:
            self._apply(e)
        self.evaluations += 1
        self.times_s.append(t.timestamp())
        return events

    def catch_up(self) -> list[Event]:
        """Data clock: evaluate every instant (every ``step_s``) up to the watermarks
        (:mod:`fluxfleet.ops.alarm_clock`), each on what the store knew at it; a fresh
        evaluator starts at the newest instant. The events applied, in order."""
        t0 = time.monotonic()
        lookback = pd.Timedelta(seconds=self.lookback_s)
        if self.evaluated_to is None:
            last = self.store.last_samples()  # a whole-table scan: once, at the start
            newest = pd.Series({dev: t for dev, (t, _, _) in last.items()}, dtype=object)
            w = clock.ingest_watermark(newest, self.config.offline_after_s, self.settle_s)
            if w is None:
                return []
            lo = w - lookback - pd.Timedelta(seconds=self.step_s)
        else:
            lo = self.evaluated_to - lookback
        table = self.store.read("samples", start=lo.to_pydatetime())
        if table.num_rows == 0:
            return []
        samples = table.select(SAMPLE_COLUMNS).to_pandas()
        newest = samples.groupby("device")["time"].max()
        w = clock.ingest_watermark(newest, self.config.offline_after_s, self.settle_s)
        assert w is not None
        margin = pd.Timedelta(seconds=3600.0)  # a closure starts ≤ 1 h before its flux ends
        closures = self.store.read("closures", start=(lo - margin).to_pydatetime()).to_pandas()
        fluxes = self.store.read("fluxes", start=(lo - margin).to_pydatetime()).to_pandas()
        pending = closures
        if self.evaluated_to is not None:
            pending = closures[pd.to_datetime(closures["time_open"], utc=True) > self.evaluated_to]
        f = clock.flux_watermark(pending, fluxes, closures)
        upto = w if f is None else min(w, f)
        todo = clock.instants(self.evaluated_to, upto, self.step_s)
        if not todo:
            return []
        devices = self._devices()
        self.read_s.append(time.monotonic() - t0)
        known = clock.Knowledge(samples)
        samples = known.samples  # sorted by device and time
        flux_start = pd.to_datetime(fluxes["start"], utc=True).to_numpy(dtype="datetime64[ns]")
        flux_end = clock.closure_ends(fluxes, closures)  # its closure's end [epoch ns]
        events: list[Event] = []
        before = None
        if self.evaluated_to is not None:  # what the clock tracks saw at the last instant
            before = known.mask(self.evaluated_to, self.lookback_s)
        for t in todo:
            if self.interrupt.is_set():
                break
            if time.monotonic() - self._devices_at >= DEVICES_EVERY_S:
                devices = self._devices()
            mask = known.mask(t, self.lookback_s)
            s = samples[mask]
            new = s if before is None else samples[mask & ~before]
            recent = samples[known.newest(mask, self.config.window_s)]
            since = np.datetime64((t - lookback).value, "ns")
            fl = fluxes[(flux_start >= since) & (flux_end <= t.value)]
            newest_at = s.groupby("device")["time"].max().reset_index()
            # a device replaying its ring after an outage is on the air, not offline: its
            # newest known sample may be old in data time while it is still catching up
            talking = known.delivering(mask, t, self.config.offline_after_s)
            newest_at.loc[newest_at["device"].isin(talking), "time"] = t
            at = clock.devices_at(devices, t, known.reached(t))
            events += self._judge(t, s, new, fl, at, newest_at, recent)
            self.behind_s.append((w - t).total_seconds())
            self.evaluated_to = t
            before = mask
            now = time.monotonic()
            self.durations_s.append(now - t0)  # the first instant carries the reads
            self.progress_at = t0 = now
        return events

    def summary(self) -> str:
        """Evaluations made, their wall time and the evaluation clock's step between them
        (data clock: and how far behind the watermark the instants were judged)."""
        if not self.times_s:
            return "no evaluation"
        took = np.asarray(self.durations_s)
        step = np.diff(self.times_s)
        text = (
            f"{self.evaluations} evaluations, each {np.median(took):.3f} s wall "
            f"(median; max {took.max():.2f} s)"
        )
        if len(step):
            text += (
                f"; {self.clock} clock step between evaluations {np.median(step):.0f} s "
                f"(median; 90th percentile {np.percentile(step, 90):.0f} s, max {step.max():.0f} s)"
            )
        if self.read_s:
            text += f"; reads {np.median(self.read_s):.2f} s wall per catch-up (median)"
        if self.behind_s:
            behind = np.asarray(self.behind_s)
            text += (
                f"; instants judged {np.median(behind):.0f} s of data time behind the watermark "
                f"(median; max {behind.max():.0f} s)"
            )
        return text

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
        self.evaluator.interrupt.set()  # a long catch-up stops after its current instant
        if self._thread.is_alive():
            self._thread.join(timeout_s)
