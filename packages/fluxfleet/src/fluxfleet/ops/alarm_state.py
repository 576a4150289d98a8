"""The alarms' debounce state machine: conditions in, raise / repeat / clear events out.

Per (device, kind) a :class:`Track` remembers since when the condition has held (or not)
and whether an alarm is open. At each evaluation, for every condition a rule judged:

* held for at least ``raise_after_s`` and no alarm open → ``raise``;
* held and an alarm open → ``repeat`` (the store updates the open alarm: one open alarm
  per device and kind, as ThingsBoard does);
* not held for at least ``clear_after_s`` and an alarm open → ``clear``.

A flicker shorter than the hold times raises nothing and clears nothing: the debounce.
A condition a rule could not judge this time (no data) changes nothing. Pure functions,
no I/O: :mod:`fluxfleet.ops.alarm_runner` applies the events to the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from fluxfleet.ops.alarm_rules import KINDS

Key = tuple[str, str]
"""(device, kind)."""


@dataclass(frozen=True)
class Hold:
    """Debounce of one kind: how long a condition must hold before a raise, and be gone
    before a clear [s]."""

    raise_after_s: float = 0.0
    clear_after_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("raise_after_s", "clear_after_s"):
            v = getattr(self, name)
            if not (v >= 0 and v < float("inf")):
                raise ValueError(f"{name} must be finite and ≥ 0, got {v}")


DEFAULT_HOLDS: dict[str, Hold] = {
    # windowed sample rules: a minute of bad samples raises, two good minutes clear
    "implausible_value": Hold(60.0, 120.0),
    "sensor_error": Hold(60.0, 120.0),
    "clock_skew": Hold(60.0, 120.0),
    # the night offsets are hourly medians: hold half an hour either way
    "calibration_drift": Hold(1800.0, 1800.0),
}
"""Holds per kind; kinds not listed raise and clear at once (their rules already span
closures, an hour, or the offline timeout)."""


def hold_for(kind: str, holds: Mapping[str, Hold] | None = None) -> Hold:
    """The hold of ``kind`` (:data:`DEFAULT_HOLDS`, then no hold)."""
    table = DEFAULT_HOLDS if holds is None else holds
    return table.get(kind, Hold())


@dataclass(frozen=True)
class Track:
    """State of one (device, kind) [times: epoch seconds, on the evaluation clock]."""

    active_since: float | None = None
    inactive_since: float | None = None
    open: bool = False


@dataclass(frozen=True)
class Event:
    """What an evaluation decided for one (device, kind)."""

    action: str  # raise, repeat, clear
    device: str
    kind: str
    time_s: float  # evaluation time [epoch s]
    value: float
    detail: str


def step(
    track: Track, active: bool, now_s: float, hold: Hold
) -> tuple[Track, str | None]:  # fmt: skip
    """One observation of a condition → the new track and its action (or None).

    Parameters
    ----------
    track : Track
        The state before.
    active : bool
        Whether the condition holds at ``now_s``.
    now_s : float
        Evaluation time [epoch s], not earlier than the track's times.
    hold : Hold
        The kind's debounce.
    """
    if active:
        since = track.active_since if track.active_since is not None else now_s
        if track.open:
            return Track(since, None, True), "repeat"
        if now_s - since >= hold.raise_after_s:
            return Track(since, None, True), "raise"
        return Track(since, None, False), None
    since = track.inactive_since if track.inactive_since is not None else now_s
    if track.open and now_s - since >= hold.clear_after_s:
        return Track(None, since, False), "clear"
    return replace(track, active_since=None, inactive_since=since), None


def advance(
    tracks: Mapping[Key, Track],
    conditions: pd.DataFrame,
    now_s: float,
    holds: Mapping[str, Hold] | None = None,
) -> tuple[dict[Key, Track], list[Event]]:
    """Apply one evaluation's conditions to every track.

    Parameters
    ----------
    tracks : mapping
        (device, kind) → :class:`Track` before (not modified).
    conditions : DataFrame
        Rows of :data:`fluxfleet.ops.alarm_rules.COLUMNS`, at most one per (device, kind).
    now_s : float
        Evaluation time [epoch s].
    holds : mapping, optional
        Kind → :class:`Hold` (default :data:`DEFAULT_HOLDS`).

    Returns
    -------
    (dict, list of Event)
        The tracks after, and the events in (kind order, device) order.
    """
    out = dict(tracks)
    events: list[Event] = []
    rank = {k: i for i, k in enumerate(KINDS)}
    rows = conditions.to_dict("records")
    rows.sort(key=lambda r: (rank.get(str(r["kind"]), len(rank)), str(r["device"])))
    for r in rows:
        key = (str(r["device"]), str(r["kind"]))
        new, action = step(out.get(key, Track()), bool(r["active"]), now_s, hold_for(key[1], holds))
        out[key] = new
        if action is not None:
            events.append(Event(action, key[0], key[1], now_s, float(r["value"]), str(r["detail"])))
    return out, events
