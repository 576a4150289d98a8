"""Faults injected into the simulated greenhouse: what, on which chamber, when.

Kinds (the seed's failure modes and the usual IoT ones):

``servo_stuck_open`` / ``servo_stuck_closed``
    The lid does not follow the servo (seed: "stuck chambers", open or closed for hours).
``clogged``
    Waterlogged pot: soil gas cannot escape, efflux near zero, soil pCO2 > 20,000 ppm,
    no humidity change during closures (seed: "clogged pots").
``sensor_dropout``
    The SCD30 stops delivering data (data-ready never set).
``i2c_error``
    Every I2C transaction on the bus fails (OSError), e.g. a loose Grove cable.
``wifi_outage``
    The device's network link is down: no broker connection.
``clock_skew``
    The device clock runs ``skew_ms`` off true time (no NTP correction meanwhile).
``reboot``
    An unplanned reset at ``start`` (duration ignored).

A schedule is a list of :class:`Fault`. It comes from :func:`default_schedule`, is empty
(``none``), or is read from a FILE (:func:`read_schedule`: JSON list of objects or CSV
with columns ``kind, chamber, start_h, end_h[, skew_ms]``; hours from the simulation
start).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

KINDS = (
    "servo_stuck_open",
    "servo_stuck_closed",
    "clogged",
    "sensor_dropout",
    "i2c_error",
    "wifi_outage",
    "clock_skew",
    "reboot",
)

#: quality flags that soilflux/the server should raise for a closure during each fault
EXPECTED_SIGNATURE = {
    "servo_stuck_open": "stuck_chamber",
    "servo_stuck_closed": "stuck_chamber",
    "clogged": "clogged",
    "sensor_dropout": "gap",
    "i2c_error": "gap",
    "wifi_outage": "",  # store-and-forward: nothing lost, no flag expected
    "clock_skew": "clock_skew",
    "reboot": "gap",
}


class FaultFileError(ValueError):
    """A fault schedule file that cannot be read; the message names file and line."""


@dataclass(frozen=True)
class Fault:
    """One injected fault; times in seconds from the simulation start."""

    kind: str
    chamber: int
    start_s: float
    end_s: float
    skew_ms: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.chamber < 0:
            raise ValueError(f"chamber must be ≥ 0, got {self.chamber}")
        if not (np.isfinite(self.start_s) and np.isfinite(self.end_s)):
            raise ValueError(f"start and end must be finite, got {self.start_s}, {self.end_s}")
        if self.start_s < 0:
            raise ValueError(f"fault starts before the simulation ({self.start_s} s)")
        if self.end_s < self.start_s:
            raise ValueError(f"fault ends ({self.end_s} s) before it starts ({self.start_s} s)")

    def active(self, t_s: float) -> bool:
        """True while the fault is active at ``t_s`` [s from start]."""
        if self.kind == "reboot":
            return False
        return self.start_s <= t_s < self.end_s


def default_schedule(n_chambers: int, duration_s: float, seed: int = 0) -> list[Fault]:
    """A representative schedule: each kind once, on distinct chambers where possible.

    Chamber 0 and 1 are always left fault-free (reference chambers). Durations: stuck
    lids and clogging 3 h (or a quarter of the run if shorter), dropouts and I2C errors
    20 min, WiFi outage 45 min, clock skew (+90 s) 2 h, one unplanned reboot. With fewer
    spare chambers than kinds, a chamber takes its faults one after the other: the run is
    cut into as many spans as the busiest chamber has faults, each fault inside its own span
    and at most half of it long, so no two faults of a chamber overlap.

    Parameters
    ----------
    n_chambers : int
        Fleet size.
    duration_s : float
        Simulated span [s].
    seed : int
        Seed of the placement.

    Returns
    -------
    list of Fault
    """
    if n_chambers < 3:
        return []
    rng = np.random.default_rng(seed + 7919)
    candidates = list(range(2, n_chambers))
    rng.shuffle(candidates)
    long_s = min(3 * 3600.0, duration_s / 4)
    spec = [
        ("servo_stuck_open", long_s, 0),
        ("servo_stuck_closed", long_s, 0),
        ("clogged", long_s, 0),
        ("sensor_dropout", min(1200.0, duration_s / 8), 0),
        ("i2c_error", min(1200.0, duration_s / 8), 0),
        ("wifi_outage", min(2700.0, duration_s / 6), 0),
        ("clock_skew", min(7200.0, duration_s / 4), 90_000),
        ("reboot", 0.0, 0),
    ]
    slots = -(-len(spec) // len(candidates))  # faults per chamber, one after the other
    span_s = duration_s / slots
    margin_s = 600.0 if slots == 1 else min(600.0, span_s / 10)
    faults = []
    for i, (kind, length, skew) in enumerate(spec):
        chamber = candidates[i % len(candidates)]
        offset_s = (i // len(candidates)) * span_s
        if slots > 1:
            length = min(length, span_s / 2)
        latest = max(span_s - length - margin_s, margin_s)
        start = offset_s + float(rng.uniform(min(margin_s, latest), latest))
        faults.append(Fault(kind, chamber, round(start), round(start + length), skew))
    return faults


def _fault_from_mapping(d: dict[str, object], where: str) -> Fault:
    # A blank cell or a short CSV row (None) is a missing field, not the text 'None'.
    d = {k: v for k, v in d.items() if v is not None and str(v).strip() != ""}
    try:
        kind = str(d["kind"])
        chamber = int(str(d["chamber"]))
        start_h = float(str(d["start_h"]))
        # Only a reboot is an instant; any other fault without an end would last no time.
        end_h = float(str(d["end_h"] if kind != "reboot" else d.get("end_h", start_h)))
        skew = int(float(str(d.get("skew_ms", 0) or 0)))
        return Fault(kind, chamber, start_h * 3600.0, end_h * 3600.0, skew)
    except KeyError as exc:
        raise FaultFileError(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: skew_ms inf
        raise FaultFileError(f"{where}: {exc}") from None


def read_schedule(path: str | Path) -> list[Fault]:
    """Read a fault schedule from a JSON or CSV file.

    JSON: a list of objects ``{"kind", "chamber", "start_h", "end_h", "skew_ms"?}``.
    CSV: a header ``kind,chamber,start_h,end_h[,skew_ms]`` and one fault per line.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    list of Fault

    Raises
    ------
    FaultFileError
        With the file name and the line (CSV) or list index (JSON) of the bad entry.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultFileError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise FaultFileError(
            f"{p}: not a UTF-8 text file (byte {exc.start}): expected a JSON or CSV schedule"
        ) from None
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FaultFileError(f"{p}:{exc.lineno}: not JSON: {exc.msg}") from None
        if not isinstance(data, list):
            raise FaultFileError(f"{p}: expected a JSON list of fault objects")
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise FaultFileError(f"{p}: item {i}: expected an object")
            out.append(_fault_from_mapping(item, f"{p}: item {i}"))
        return out
    rows = csv.DictReader(text.splitlines())
    return [_fault_from_mapping(dict(r), f"{p}:{i + 2}") for i, r in enumerate(rows)]


def resolve_schedule(spec: str, n_chambers: int, duration_s: float, seed: int) -> list[Fault]:
    """``default`` | ``none`` | a file path → a schedule (faults on absent chambers refused)."""
    if spec == "default":
        faults = default_schedule(n_chambers, duration_s, seed)
    elif spec == "none":
        faults = []
    else:
        faults = read_schedule(spec)
    for f in faults:
        if f.chamber >= n_chambers:
            raise FaultFileError(
                f"{spec}: fault {f.kind} on chamber {f.chamber}, but the fleet has "
                f"chambers 0..{n_chambers - 1}"
            )
    return faults


class FaultState:
    """Which faults are active now, per chamber, as boolean arrays (fast to query).

    Transitions are kept in a time-sorted queue; :meth:`advance` applies those due.
    """

    ARRAY_KINDS = (
        "servo_stuck_open",
        "servo_stuck_closed",
        "clogged",
        "sensor_dropout",
        "i2c_error",
        "wifi_outage",
        "clock_skew",
    )

    def __init__(self, faults: Sequence[Fault], n_chambers: int) -> None:
        self.faults = list(faults)
        self.n = n_chambers
        self.active = {k: np.zeros(n_chambers, dtype=bool) for k in self.ARRAY_KINDS}
        self.skew_ms = np.zeros(n_chambers, dtype=np.int64)
        events: list[tuple[float, int, Fault, bool]] = []
        for i, f in enumerate(self.faults):
            events.append((f.start_s, i, f, True))
            if f.kind != "reboot":
                events.append((f.end_s, i, f, False))
        events.sort(key=lambda e: (e[0], not e[3], e[1]))
        self._events = events
        self._next = 0
        self.due_reboots: list[int] = []

    def advance(self, t_s: float) -> bool:
        """Apply every transition at or before ``t_s``; True if anything changed.

        Unplanned reboots that fell due are appended to :attr:`due_reboots`.
        """
        changed = False
        while self._next < len(self._events) and self._events[self._next][0] <= t_s:
            _, _, f, starting = self._events[self._next]
            self._next += 1
            changed = True
            if f.kind == "reboot":
                self.due_reboots.append(f.chamber)
            elif f.kind == "clock_skew":
                self.active[f.kind][f.chamber] = starting
                self.skew_ms[f.chamber] = f.skew_ms if starting else 0
            else:
                self.active[f.kind][f.chamber] = starting
        return changed

    def names_at(self, chamber: int, t_s: float) -> list[str]:
        """Kinds active on ``chamber`` at ``t_s`` (reboots within the last 60 s count)."""
        out = []
        for f in self.faults:
            if f.chamber != chamber:
                continue
            if f.active(t_s) or (f.kind == "reboot" and 0 <= t_s - f.start_s < 60.0):
                out.append(f.kind)
        return out


def as_records(faults: Iterable[Fault]) -> list[dict[str, object]]:
    """Faults as plain dicts (for Parquet/JSON)."""
    return [asdict(f) for f in faults]
