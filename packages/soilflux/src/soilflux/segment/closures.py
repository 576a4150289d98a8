"""Closures from sorted records: grouping, start and end, and the closure table.

Everything works on index arrays into the reader's frame (:class:`Records`): the frame's
rows are never reordered as a whole; only the closure table's columns and, at the end,
the engine's sample columns are taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from soilflux.segment.arrival import NS, median_step_s, steps_s
from soilflux.segment.groups import (
    BoolArray,
    FloatArray,
    IntArray,
    codes_as,
    factorize_as,
    ffill_within,
    first_appearance_codes,
    first_valid,
    group_any,
    group_max,
    group_median,
    group_min,
)

_NEVER = np.iinfo(np.int64).max


def utc_ns(time: pd.Series) -> IntArray:
    """Times as ns since the epoch (UTC); a column read as UTC nanoseconds is viewed as it
    is, anything else converted."""
    if time.dtype == _UTC_NS:
        return np.asarray(time.array.view("i8"), dtype=np.int64)
    utc = pd.to_datetime(time, utc=True).astype(_UTC_NS)
    return utc.to_numpy(dtype="datetime64[ns]").view(np.int64)


_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def utc_times(t_ns: IntArray) -> pd.DatetimeIndex:
    """ns since the epoch as UTC times (``pd.to_datetime(t_ns, utc=True)``, without its
    parsing of integers)."""
    return pd.DatetimeIndex(np.asarray(t_ns, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")


def text_at(column: pd.Series, positions: IntArray) -> pd.api.extensions.ExtensionArray:
    """``column.take(positions).astype("string")``'s values: a categorical's categories are
    converted once and taken by code."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories.astype("string").array
        codes = column.cat.codes.to_numpy()[positions].astype(np.intp)
        taken: pd.api.extensions.ExtensionArray = categories.take(codes, allow_fill=True)
        return taken
    strings: pd.api.extensions.ExtensionArray = column.take(positions).astype("string").array
    return strings


@dataclass(frozen=True)
class Records:
    """The reader's frame as arrays, rows in the frame's (arrival) order.

    Attributes
    ----------
    frame : pandas.DataFrame
        The samples as read (taken from by position).
    t_ns : (rows,) int64
        Sample time [ns since the epoch, UTC].
    chamber : (rows,) int64
        Chamber code; codes follow the chambers' names in sorted order.
    chamber_names : (chambers,) object
        Name of each chamber code.
    context : (rows,) int64
        Closure id code (by id) or 1 where ``closed`` (by phase): equal consecutive
        values may belong to one closure.
    inside : (rows,) bool
        The row has a closure id (by id) or is ``closed`` (by phase).
    id_codes : (rows,) int64 or None
        Closure id code, -1 where none (by id); codes tell ids apart (not dense).
    gases : (rows, gases) float
        Gas values [the gas columns' units].
    phase_codes : (rows,) int64 or None
        Phase code, -1 where missing; ``closed_code`` is ``closed``'s (found when first
        asked for: closures by id need it only without elapsed time).
    closed_code : int
        Code of ``closed`` (-2 when no row is).
    closed : (rows,) bool or None
        The row's own phase is ``closed`` (None without a phase column).
    """

    frame: pd.DataFrame
    t_ns: IntArray
    chamber: IntArray
    chamber_names: np.ndarray
    context: IntArray
    inside: BoolArray
    id_codes: IntArray | None
    gases: FloatArray

    @property
    def n_chambers(self) -> int:
        return len(self.chamber_names)

    def gas(self, rows: IntArray) -> FloatArray:
        """Gas values of ``rows`` (frame positions), (rows, gases)."""
        return np.asarray(self.gases[rows], dtype=np.float64)

    @cached_property
    def _phase(self) -> tuple[IntArray | None, int, BoolArray | None]:
        return _phase_codes(self.frame)

    @property
    def phase_codes(self) -> IntArray | None:
        return self._phase[0]

    @property
    def closed_code(self) -> int:
        return self._phase[1]

    @property
    def closed(self) -> BoolArray | None:
        return self._phase[2]

    @classmethod
    def from_frame(cls, data: pd.DataFrame, gases: list[str], by_id: bool) -> Records:
        """Arrays of a reader's frame (see :func:`soilflux.segment.segment`)."""
        chamber, names = factorize_as(data["chamber"], "str", sort=True)
        id_codes: IntArray | None = None
        phase = None
        if by_id:
            id_codes = codes_as(data["closure_id"], "string")[0]
            context, inside = id_codes, id_codes >= 0
        else:
            phase = _phase_codes(data)
            closed = phase[2]
            assert closed is not None
            context, inside = closed.astype(np.int64), closed
        columns = [data[g].to_numpy(dtype=np.float64, na_value=np.nan) for g in gases]
        # one gas (the usual record) is a view of its column, not a copy
        gas = columns[0].reshape(-1, 1) if len(columns) == 1 else np.column_stack(columns)
        records = cls(
            frame=data,
            t_ns=utc_ns(data["time"]),
            chamber=chamber,
            chamber_names=np.asarray(names, dtype=object),
            context=np.asarray(context, dtype=np.int64),
            inside=np.asarray(inside, dtype=bool),
            id_codes=id_codes,
            gases=gas,
        )
        if phase is not None:
            vars(records)["_phase"] = phase  # found already: the cached property's value
        return records


def _phase_codes(data: pd.DataFrame) -> tuple[IntArray | None, int, BoolArray | None]:
    """Phase codes (-1: missing), the code of ``closed`` (-2: none) and the ``closed`` rows
    (all None, -2, None without a phase column)."""
    if "phase" not in data.columns:
        return None, -2, None
    codes, names = factorize_as(data["phase"], "string")
    found = np.flatnonzero(names == "closed")
    closed_code = int(found[0]) if found.size else -2
    return codes, closed_code, codes == closed_code


@dataclass(frozen=True)
class Groups:
    """Closure of each sorted row (-1: none) and the rows after a ``gap``."""

    group: IntArray
    gap: BoolArray
    n_groups: int


def closure_groups(
    rec: Records,
    rows: IntArray,
    chamber: IntArray,
    t_ns: IntArray,
    by_id: bool,
    gap_factor: float,
    max_duration_s: float,
    steps: tuple[FloatArray, FloatArray] | None = None,
) -> Groups:
    """Which closure each row belongs to, rows sorted by (chamber, corrected time).

    By id: rows sharing a chamber and a closure id, numbered in order of first
    appearance. By phase: each unbroken run of ``closed`` rows (missing phases filled
    forward within the chamber), split where a step exceeds ``max_duration_s`` [s].
    ``steps``: each row's step and its chamber's median step [s] when already known
    (:class:`soilflux.segment.arrival.ClockRepair`'s, for these very rows and times).
    """
    same = np.r_[False, chamber[1:] == chamber[:-1]]
    if steps is None:
        step = steps_s(t_ns, same)
        med = median_step_s(step, chamber, rec.n_chambers)
    else:
        step, med = steps
    group = np.full(rows.size, -1, dtype=np.int64)
    if by_id:
        assert rec.id_codes is not None
        ids = rec.id_codes[rows]
        in_closure = ids >= 0
        key = chamber * (int(rec.id_codes.max()) + 2) + ids
        if bool(in_closure.all()):  # (the usual record by id: no row without one)
            group = first_appearance_codes(key)
        else:
            group[in_closure] = first_appearance_codes(key[in_closure])
    else:
        assert rec.phase_codes is not None
        phase = ffill_within(rec.phase_codes[rows], same)
        closed = phase == rec.closed_code
        prev_closed = np.r_[False, closed[:-1]] & same
        split = np.nan_to_num(step, nan=0.0) > max_duration_s
        starts = closed & (~prev_closed | split)
        group = np.where(closed, np.cumsum(starts) - 1, -1).astype(np.int64)
    in_closure = group >= 0
    gap = np.zeros(rows.size, dtype=bool)
    gap[1:] = (group[1:] == group[:-1]) & in_closure[1:] & (step[1:] > gap_factor * med[1:])
    n_groups = int(group.max()) + 1 if rows.size else 0
    return Groups(group, gap, n_groups)


def start_times(
    rec: Records, rows: IntArray, t_ns: IntArray, group: IntArray, n: int
) -> tuple[IntArray, IntArray, pd.Series]:
    """Start and end of each closure [ns] and each row's time since its start [s].

    The start is the elapsed-time origin (median over the closure) when the file gives
    elapsed time for every row, else the first ``closed`` row, else the first row. A
    file's own elapsed time is kept (LI-COR's is exact); otherwise it is measured from
    the start.
    """
    frame = rec.frame
    elapsed_col = frame["elapsed_s"] if "elapsed_s" in frame.columns else None
    el: FloatArray | None = None
    if elapsed_col is not None and elapsed_col.dtype == np.float64:
        # a float column's missing values are its NaNs: one take serves the check and the
        # elapsed time
        el = elapsed_col.to_numpy()[rows]
        own = not bool(np.isnan(el).any())
    else:
        own = elapsed_col is not None and bool(elapsed_col.notna().to_numpy()[rows].all())
    if own:
        assert elapsed_col is not None
        if el is None:
            el = elapsed_col.to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        origin = t_ns - np.round(el * NS).astype(np.int64)
        # usually every sample of a closure gives the same origin: its median is that
        lo, hi = group_min(origin, group, n), group_max(origin, group, n)
        median = lo.astype(np.float64)
        varies = lo != hi
        if varies.any():
            rows_v = varies[group]
            renum = np.cumsum(varies) - 1
            sub = group_median(
                origin[rows_v].astype(np.float64), renum[group[rows_v]], int(varies.sum())
            )
            median[varies] = sub
        start = np.round(median).astype(np.int64)
    elif rec.closed is not None:
        closed_t = np.where(rec.closed[rows], t_ns, _NEVER)
        start = group_min(closed_t, group, n)
        start = np.where(start != _NEVER, start, group_min(t_ns, group, n))
    else:
        start = group_min(t_ns, group, n)
    end = group_max(t_ns, group, n)
    if own:
        assert elapsed_col is not None
        assert el is not None
        if elapsed_col.dtype == np.float64:
            elapsed = pd.Series(el, name=elapsed_col.name, copy=False)
        else:
            elapsed = elapsed_col.take(rows).reset_index(drop=True)
    else:
        elapsed = pd.Series((t_ns - start[group]) / NS)
    return start, end, elapsed


@dataclass(frozen=True)
class ClosureTable:
    """The closure table (rows: closure groups), its per-closure flags and chamber codes."""

    frame: pd.DataFrame
    flags: dict[str, BoolArray]
    chamber: IntArray


def closure_table(
    rec: Records,
    rows: IntArray,
    group: IntArray,
    n: int,
    start_ns: IntArray,
    end_ns: IntArray,
    row_flags: dict[str, BoolArray],
) -> ClosureTable:
    """One row per closure group: chamber, closure id, start, end, the file's geometry,
    dead band, window and location (each closure's first value given), sample count; and
    each row flag as "any sample of the closure"."""
    frame = rec.frame
    first = first_valid(group, np.ones(rows.size, dtype=bool), n)
    chamber = rec.chamber[rows[first]]
    table = pd.DataFrame(index=pd.Index(np.arange(n, dtype=np.int64), name="_group"))
    table["chamber"] = pd.array(rec.chamber_names[chamber], dtype="string")
    if rec.id_codes is not None:
        table["closure_id"] = text_at(frame["closure_id"], rows[first])
    else:
        table["closure_id"] = pd.NA
    table["start"] = utc_times(start_ns)
    table["end"] = utc_times(end_ns)
    for column in ("volume_cm3", "area_cm2", "deadband_s", "obs_length_s"):
        if column in frame.columns:
            values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
            at = first_valid(group, ~np.isnan(values), n)
            table[column] = np.where(at >= 0, values[np.maximum(at, 0)], np.nan)
        else:
            table[column] = np.nan
    location = pd.Series(pd.NA, index=table.index, dtype="string")
    if "location" in frame.columns:
        given = frame["location"]
        if isinstance(given.dtype, pd.CategoricalDtype):
            present = given.cat.codes.to_numpy()[rows] >= 0  # (a code per row, no strings)
        else:
            present = given.notna().to_numpy()[rows]
        at = first_valid(group, present, n)
        has = at >= 0
        if has.all():
            location = pd.Series(text_at(given, rows[at]), index=table.index)
        else:
            location[has] = text_at(given, rows[at[has]])
    table["location"] = location.astype("string")
    table["n_samples"] = np.bincount(group, minlength=n).astype(np.int64)
    flags = {name: group_any(group, mask, n) for name, mask in row_flags.items()}
    return ClosureTable(table, flags, chamber)
