"""The data clock: at which instants of the fleet's own time the alarms can be judged, and
what the store knew at each of them.

On the data clock (``fluxfleet alarms watch --clock data``) alarms are evaluated at
*instants* of data time, every ``step_s`` (60 s) — not whenever the evaluator happens to
wake. An instant ``t`` is evaluated only once the store holds what it takes to judge it:

* the **ingest watermark** — every reporting device has a sample at or after
  ``t + settle_s`` (so its ``cycle`` messages of closures that ended by ``t``, sent before
  those samples on the same MQTT connection, are stored too). Devices more than
  ``offline_after_s`` behind the fleet's median are not waited for: they are offline, and
  that is what the ``device_offline`` rule is to tell;
* the **flux watermark** — every closure that ended (lid opened) by ``t`` is *settled*:
  the live flux worker stored its flux, or stored the flux of a closure received after it
  (the worker computes closures in the order their ``cycle`` rows were committed, so it
  has had its turn; soilflux may find no closure in it, a sensor without data).

An evaluator that falls behind (a slow machine, a simulator at 300×) catches up instant by
instant; every alarm's ``raised``/``cleared`` is the instant's data time, so how late the
evaluation ran does not move them.

"What the store knew at ``t``" (:func:`known_at`): the samples timed up to ``t`` and
received (ingestor's wall clock) no later than the fleet's data reached ``t`` (the median
over devices of the first receipt of a sample timed ``t`` or later). So a backlog a device
sends after an outage, timed in the past but received later, is not seen at the instants
of the outage, whenever they are evaluated: the device is offline there, as a live
evaluation would have found it. On a real fleet data time is wall time and this changes
nothing; it makes the evaluation the same at any lag.

Pure functions on pandas frames of the store's tables; :class:`~fluxfleet.ops.alarm_runner.
AlarmEvaluator` does the reading.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MS = 1_000_000  # ns per ms


def _ns(series: pd.Series) -> np.ndarray:
    """UTC times → epoch ns (int64)."""
    return pd.to_datetime(series, utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def ingest_watermark(
    newest: pd.Series, offline_after_s: float, settle_s: float
) -> pd.Timestamp | None:
    """The newest instant every reporting device's data covers.

    Parameters
    ----------
    newest : Series
        Device → time of its newest stored sample (UTC).
    offline_after_s : float
        Devices whose newest sample is older than the median device's by more than this
        are offline and not waited for [s].
    settle_s : float
        Data a device must have delivered past an instant [s] (its ``cycle`` messages
        of closures ending at the instant come before it).

    Returns
    -------
    Timestamp or None
        ``min(newest of reporting devices) − settle_s``; None when no device reported.
    """
    if newest.empty:
        return None
    t = pd.to_datetime(newest, utc=True)
    reporting = t[t >= t.median() - pd.Timedelta(seconds=offline_after_s)]
    return pd.Timestamp(reporting.min()) - pd.Timedelta(seconds=settle_s)


def _computed(closures: pd.DataFrame, fluxes: pd.DataFrame) -> np.ndarray:
    """Which ``closures`` rows have a stored flux."""
    key = pd.MultiIndex.from_arrays([closures["device"], closures["cyc"].astype("int64")])
    return np.asarray(
        key.isin(pd.MultiIndex.from_arrays([fluxes["device"], fluxes["cyc"].astype("int64")]))
    )


def flux_watermark(
    pending: pd.DataFrame, fluxes: pd.DataFrame, closures: pd.DataFrame | None = None
) -> pd.Timestamp | None:
    """Just before the earliest end (``time_open``) of a ``pending`` closure not yet
    settled (module docstring); None when every one is settled.

    Parameters
    ----------
    pending : DataFrame
        ``closures`` table rows to judge (``device``, ``cyc``, ``time_open``, ``received``).
    fluxes : DataFrame
        ``fluxes`` table rows (``device``, ``cyc``) over at least the same span.
    closures : DataFrame, optional
        Every ``closures`` row read (default ``pending``): a computed one received after a
        pending one settles it.
    """
    if pending.empty:
        return None
    every = pending if closures is None else closures
    done_every = _computed(every, fluxes)
    done = _computed(pending, fluxes)
    received = _ns(pending["received"])
    unsettled = ~done
    if done_every.any():  # received before a computed closure: it had its turn
        unsettled &= received > _ns(every["received"])[done_every].max()
    ends = pd.to_datetime(pending["time_open"], utc=True)[unsettled].dropna()
    if ends.empty:
        return None
    return pd.Timestamp(ends.min()) - pd.Timedelta(milliseconds=1)


def instants(
    after: pd.Timestamp | None, upto: pd.Timestamp, step_s: float
) -> list[pd.Timestamp]:  # fmt: skip
    """Evaluation instants: multiples of ``step_s`` [s] (from the epoch) after ``after``
    and up to ``upto``; only the last one when ``after`` is None (a fresh evaluator does
    not replay the past)."""
    step = round(step_s * 1e9)
    if step <= 0:
        raise ValueError(f"step_s must be > 0, got {step_s}")
    last = (upto.value // step) * step
    first = last if after is None else (after.value // step + 1) * step
    return [pd.Timestamp(v, tz="UTC") for v in range(first, last + 1, step)]


class Knowledge:
    """Which samples the store knew at each instant (module docstring), for one table of
    samples (``device``, ``time``, ``received``), precomputed once per read.

    The table is kept sorted by device and time (:attr:`samples`); per device, the suffix
    minimum of ``received`` gives the first receipt of a sample timed at or after any
    instant, found by a binary search.
    """

    def __init__(self, samples: pd.DataFrame) -> None:
        self.samples = samples.sort_values(["device", "time"], kind="stable", ignore_index=True)
        n = len(self.samples)
        self.time_ns = _ns(self.samples["time"]) if n else np.zeros(0, np.int64)
        self.received_ns = _ns(self.samples["received"]) if n else np.zeros(0, np.int64)
        device = self.samples["device"].to_numpy()
        # each device's rows are one run [starts[i], starts[i+1])
        first = np.r_[True, device[1:] != device[:-1]] if n else np.zeros(0, dtype=bool)
        self.starts: np.ndarray = np.flatnonzero(first).astype(np.int64)
        ends = [*self.starts[1:].tolist(), n] if n else []
        self.runs = list(zip(self.starts.tolist(), ends, strict=True))
        self._first_after = np.empty(n, dtype=np.int64)
        for lo, hi in self.runs:
            run = self.received_ns[lo:hi]
            self._first_after[lo:hi] = np.minimum.accumulate(run[::-1])[::-1]

    def reached(self, t: pd.Timestamp) -> int | None:
        """Wall time [epoch ns] at which the fleet's data reached ``t``: the median over
        devices with a sample timed at or after ``t`` of its first receipt (None: none)."""
        firsts = []
        for lo, hi in self.runs:
            i = lo + int(np.searchsorted(self.time_ns[lo:hi], t.value, side="left"))
            if i < hi:
                firsts.append(self._first_after[i])
        if not firsts:
            return None
        return int(np.median(firsts))

    def mask(self, t: pd.Timestamp, lookback_s: float) -> np.ndarray:
        """Rows of :attr:`samples` timed in (``t`` − ``lookback_s``, ``t``] and received by
        :meth:`reached`."""
        lo = t.value - int(lookback_s * 1e9)
        inside = (self.time_ns > lo) & (self.time_ns <= t.value)
        when = self.reached(t)
        if when is None:
            return inside
        return inside & (self.received_ns <= when)

    def delivering(self, mask: np.ndarray, t: pd.Timestamp, within_s: float) -> set[str]:
        """Devices that delivered a sample of ``mask`` (whatever its time) since the fleet's
        data reached ``t`` − ``within_s`` [s]: on the air, if perhaps still replaying a
        backlog. Receipt is compared with receipt, so this needs no conversion between the
        data clock and the ingestor's (a simulator at 300× replays a ring in wall seconds
        that are hours of data time; on a real fleet it is "heard from within ``within_s``")."""
        since = self.reached(t - pd.Timedelta(seconds=within_s))
        if since is None or not len(mask):
            return set()
        heard = mask & (self.received_ns >= since)
        return set(self.samples["device"].to_numpy()[heard].tolist())

    def newest(self, mask: np.ndarray, window_s: float) -> np.ndarray:
        """Rows of ``mask`` within ``window_s`` [s] of their device's newest row in
        ``mask`` (what :func:`~fluxfleet.ops.alarm_rules.newest_window` keeps, without
        grouping a table)."""
        if not len(mask):
            return mask
        t = np.where(mask, self.time_ns, np.iinfo(np.int64).min // 2)
        newest = np.maximum.reduceat(t, self.starts)
        per_row = np.repeat(newest, np.diff(np.r_[self.starts, len(t)]))
        return mask & (self.time_ns > per_row - int(window_s * 1e9))


def closure_ends(fluxes: pd.DataFrame, closures: pd.DataFrame) -> np.ndarray:
    """For each ``fluxes`` row, the end (``time_open``) of its closure [epoch ns]; the
    largest int64 where its closure is not among ``closures`` (never "ended")."""
    never = np.iinfo(np.int64).max
    if fluxes.empty or closures.empty:
        return np.full(len(fluxes), never, dtype=np.int64)
    ends = pd.Series(
        _ns(closures["time_open"].fillna(pd.Timestamp.max.tz_localize("UTC"))),
        index=pd.MultiIndex.from_arrays([closures["device"], closures["cyc"].astype("int64")]),
    )
    ends = ends[~ends.index.duplicated(keep="last")]
    key = pd.MultiIndex.from_arrays([fluxes["device"], fluxes["cyc"].astype("int64")])
    at = ends.index.get_indexer(key)
    values = ends.to_numpy(dtype=np.int64)
    return np.where(at >= 0, values[np.maximum(at, 0)], never)


def fluxes_at(fluxes: pd.DataFrame, closures: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """The stored fluxes of the closures that ended (lid opened) by ``t``.

    Parameters
    ----------
    fluxes : DataFrame
        ``fluxes`` table rows.
    closures : DataFrame
        ``closures`` table rows (``device``, ``cyc``, ``time_open``) covering them.
    """
    return fluxes[closure_ends(fluxes, closures) <= t.value]


def devices_at(
    devices: pd.DataFrame, t: pd.Timestamp, reached_ns: int | None = None
) -> pd.DataFrame:
    """The ``devices`` table as of ``t``: a retained ``offline`` status (the last will)
    counts only from its own time (``state_time``, the device's clock) on, and only once
    it was received by the time the fleet's data reached ``t`` (``reached_ns``, epoch ns,
    :meth:`Knowledge.reached`; the will is the device's last message, so ``last_seen`` is
    its receipt). A will carries the time its device *connected* (it is set then), so
    its own time alone would put an outage hours early. Otherwise the state is unknown
    (None) and the sample-age rule judges those instants."""
    if devices.empty:
        return devices
    out = devices.copy()
    when = pd.to_datetime(out["state_time"], utc=True)
    later = when.isna() | (when > t)
    if reached_ns is not None and "last_seen" in out:
        seen = pd.to_datetime(out["last_seen"], utc=True)
        later |= seen.isna() | (_ns(seen) > reached_ns)
    out.loc[later.to_numpy(), "state"] = None
    return out
