"""Segmentation: continuous sample records → closures, the engine's ``(samples, closures)``.

A closure is one lid-closed observation of one chamber. It is found either

* from ``closure_id`` (rows sharing a chamber and an id; LI-COR files, exports that
  already know their closures), its start being the row with ``elapsed_s`` = 0 when the
  file gives elapsed time, else its first ``closed`` row, else its first row; or
* from ``phase``: each unbroken run of ``closed`` rows of one chamber, started at the
  first ``closed`` sample. Closures may have any length (the fleet's run 180–300 s).

Record defects are repaired where that is safe and always flagged on the closure
(``segment_flags``), never silently:

``clock_jump``
    In arrival (file) order a chamber's clock steps back by more than ``clock_jump_s``
    between two samples of the same closure (both ``closed``, or the same ``closure_id``)
    and reports a time it has already reported, with other readings: NTP set a wrong clock
    right. The clock is taken as right after the jump: the chamber's samples that arrived
    before it are moved back by the jump, so the closure continues at the median sampling
    step. A backward step onto times never reported (a replayed store-and-forward buffer)
    or onto identical samples (duplicates) is a late arrival, simply sorted into place.
    Detection needs arrival order; a table already sorted by time cannot show a jump.
``out_of_order``
    A sample arrived earlier than one with an older timestamp (a smaller backward step).
    The closure is sorted by time.
``duplicate_time``
    Two samples of one chamber with the same timestamp but different values: the first
    in file order is kept. Exact repeats (same values) are dropped and only counted.
``gap``
    A step between consecutive samples larger than ``gap_factor`` times the chamber's
    median sampling step (a forward clock jump looks the same and is reported as a gap).
    A phase run is split where a step exceeds ``max_duration_s``.
``missing_values``
    A sample without a usable gas value (reported by the reader) was left out.
``short`` / ``long``
    The closure lasts less than ``min_duration_s`` / more than ``max_duration_s`` (a
    chamber stuck closed).
``trimmed``
    With ``trim_opening``: the record goes on after the lid re-opened (a sudden drop of the
    gas towards ambient); the fit window is ended before the drop.

Missing temperature, pressure or H2O values inside a closure are interpolated linearly in
time (they change slowly); a closure with none at all keeps NaN for the engine to flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilflux.io.generic import GAS_COLUMNS
from soilflux.segment.arrival import repair_clock, repeated_times
from soilflux.segment.closures import Records, closure_groups, closure_table, start_times
from soilflux.segment.groups import BoolArray, IntArray, stable_order
from soilflux.segment.repair import apply_geometry, interpolate_aux, opening
from soilflux.segment.report import SEGMENT_FLAGS, SegmentReport, joined_flags
from soilflux.segment.tail import combine, open_tail, open_tail_rows

__all__ = [
    "AUX_COLUMNS",
    "SEGMENT_FLAGS",
    "SegmentReport",
    "combine",
    "open_tail",
    "open_tail_rows",
    "segment",
]

AUX_COLUMNS = ("h2o_mmol_mol", "temperature_c", "pressure_kpa", "lux")


def segment(
    data: pd.DataFrame,
    *,
    chambers: pd.DataFrame | None = None,
    volume_cm3: float | None = None,
    area_cm2: float | None = None,
    clock_jump_s: float = 60.0,
    gap_factor: float = 3.0,
    min_duration_s: float = 30.0,
    max_duration_s: float = 900.0,
    trim_opening: bool = False,
    opening_drop_sigmas: float = 8.0,
    opening_min_drop_ppm: float = 5.0,
    leave_out: BoolArray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, SegmentReport]:
    """Split sample records into closures.

    Runs on whole columns (numpy on integer codes of chamber, closure id and phase): the
    frame's rows are reordered by index arrays and only the engine's columns are taken.

    Parameters
    ----------
    data : pandas.DataFrame
        Samples as returned by the readers: ``time``, ``chamber``, ``phase`` and/or
        ``closure_id``, gas columns, aux columns; optionally ``elapsed_s`` [s] and
        per-closure ``volume_cm3``, ``area_cm2``, ``deadband_s``, ``obs_length_s``,
        ``location``. Several files' data may be concatenated.
    chambers : pandas.DataFrame, optional
        Chamber table indexed by chamber (``volume_cm3`` [cm³], ``area_cm2`` [cm²],
        ``location``) as from :func:`soilflux.io.read_chambers`; its geometry wins over the
        data's own, its location only fills closures whose samples carry none.
    volume_cm3, area_cm2 : float, optional
        One geometry for every chamber [cm³], [cm²]; wins over everything else.
    clock_jump_s : float
        Backward step (arrival order) above which a clock jump is assumed [s].
    gap_factor : float
        ``gap`` when a step exceeds this multiple of the median sampling step [-].
    min_duration_s, max_duration_s : float
        ``short`` / ``long`` limits of a closure's duration [s].
    trim_opening : bool
        End the fit window before a re-opening drop (see the module docstring).
    opening_drop_sigmas : float
        A re-opening step must fall by more than this many robust standard deviations of
        the closure's sample-to-sample steps [-] ...
    opening_min_drop_ppm : float
        ... and by more than this [µmol mol⁻¹ or nmol mol⁻¹, the gas column's unit].
    leave_out : (rows,) bool, optional
        Rows to leave out, as if ``data[~leave_out]`` were given (without copying the
        frame): the open tail a next file continues (:func:`open_tail_rows`).

    Returns
    -------
    samples : pandas.DataFrame
        The engine's sample table (``closure``, ``elapsed_s`` [s], gases, aux), sorted by
        (``closure``, ``elapsed_s``).
    closures : pandas.DataFrame
        The engine's closure table, index ``closure``: ``chamber``, ``location``,
        ``start``, ``end`` (UTC), ``volume_cm3``, ``area_cm2``, ``deadband_s``,
        ``obs_length_s``, ``segment_flags``, ``n_samples``, ``closure_id``.
    report : SegmentReport
        Counts of what was repaired and flagged.

    Raises
    ------
    ValueError
        Missing columns, or chambers without geometry (naming them).
    """
    for required in ("time", "chamber"):
        if required not in data.columns:
            raise ValueError(f"data has no {required!r} column")
    gases = [g for g in GAS_COLUMNS if g in data.columns]
    if not gases:
        raise ValueError(f"data has no gas column ({', '.join(GAS_COLUMNS)})")
    use = np.ones(len(data), dtype=bool) if leave_out is None else ~np.asarray(leave_out, bool)
    by_id = "closure_id" in data.columns and bool(data["closure_id"].notna().to_numpy()[use].any())
    if not by_id and "phase" not in data.columns:
        raise ValueError("data needs a 'phase' or a 'closure_id' column")
    report = SegmentReport()
    if not use.any():
        return _empty(gases, report)
    rec = Records.from_frame(data, gases, by_id)

    # --- clock jumps and arrival order, per chamber in file order
    rows = np.flatnonzero(use)
    rows = rows[stable_order(rec.chamber[rows], rec.n_chambers)]  # (chamber, arrival)
    chamber = rec.chamber[rows]
    clock = repair_clock(
        rec.t_ns[rows],
        chamber,
        rec.n_chambers,
        rec.context[rows],
        rec.inside[rows],
        lambda r: rec.gas(rows[r]),
        clock_jump_s,
    )
    report.clock_jumps = int(clock.jump.sum())
    report.out_of_order = int(clock.late.sum())

    # --- sort by corrected time; drop repeated timestamps (first arrival kept)
    t = clock.t_ns
    steps = clock.steps  # the steps of these rows, as long as they stay in this order
    same = np.r_[False, chamber[1:] == chamber[:-1]]
    if not bool(np.all(~same[1:] | (t[1:] >= t[:-1]))):
        steps = None
        by_time = np.lexsort((t, chamber))  # stable: ties keep arrival order
        rows, chamber, t = rows[by_time], chamber[by_time], t[by_time]
        jump, late = clock.jump[by_time], clock.late[by_time]
        same = np.r_[False, chamber[1:] == chamber[:-1]]
    else:
        jump, late = clock.jump, clock.late
    repeat, conflict = repeated_times(t, same, lambda r: rec.gas(rows[r]))
    report.duplicates_dropped = int(repeat.sum())
    if report.duplicates_dropped:  # (the usual record has none: no copies then)
        steps = None
        kept = ~repeat
        rows, chamber, t = rows[kept], chamber[kept], t[kept]
        jump, late, conflict = jump[kept], late[kept], conflict[kept]

    # --- closures
    groups = closure_groups(rec, rows, chamber, t, by_id, gap_factor, max_duration_s, steps)
    inside = groups.group >= 0
    report.rows_outside = int((~inside).sum())
    group, gap = groups.group, groups.gap
    if report.rows_outside:
        rows, t, group, gap = rows[inside], t[inside], group[inside], gap[inside]
        jump, late, conflict = jump[inside], late[inside], conflict[inside]
    report.gaps = int(gap.sum())
    if not rows.size:
        return _empty(gases, report)

    n_groups = groups.n_groups
    start_ns, end_ns, elapsed = start_times(rec, rows, t, group, n_groups)
    finite: BoolArray = np.isfinite(rec.gases)  # (a flag per row taken, not the gases)
    any_gas = np.asarray(finite[:, 0] if finite.shape[1] == 1 else finite.any(axis=1))
    gas_ok = any_gas[rows]
    report.missing_gas = int((~gas_ok).sum())
    table = closure_table(
        rec,
        rows,
        group,
        n_groups,
        start_ns,
        end_ns,
        {
            "clock_jump": jump,
            "out_of_order": late,
            "duplicate_time": conflict,
            "gap": gap,
            "missing_values": ~gas_ok,
        },
    )
    closures = table.frame
    apply_geometry(closures, chambers, volume_cm3, area_cm2)
    duration_s = (closures["end"] - closures["start"]).dt.total_seconds().to_numpy()
    flag_columns = {
        **table.flags,
        "short": duration_s < min_duration_s,
        "long": duration_s > max_duration_s,
    }
    if report.missing_gas:
        rows, group, elapsed = rows[gas_ok], group[gas_ok], elapsed[gas_ok].reset_index(drop=True)
    if trim_opening:
        gas = rec.gas(rows)[:, 0]
        ids = np.arange(n_groups, dtype=np.int64)
        elapsed_f = np.asarray(elapsed, dtype=np.float64)
        trimmed, end_s = opening(
            group, gas, elapsed_f, opening_drop_sigmas, opening_min_drop_ppm, ids
        )
        obs = closures["obs_length_s"].to_numpy()
        closures["obs_length_s"] = np.where(
            trimmed, np.fmin(np.nan_to_num(obs, nan=np.inf), end_s), obs
        )
        flag_columns["trimmed"] = trimmed
    closures["segment_flags"], report.flag_counts = joined_flags(flag_columns, n_groups)

    # Order closures by start time; renumber 0..n-1.
    by_start = np.lexsort((table.chamber, start_ns))
    closures = closures.iloc[by_start]
    closures.index = pd.Index(np.arange(n_groups, dtype=np.int64), name="closure")
    samples = _samples(rec, rows, group, by_start, elapsed, gases)
    report.closures = len(closures)
    report.rows_in_closures = len(samples)
    return samples, closures[list(CLOSURE_COLUMNS)], report


#: Columns of the closure table, in order.
CLOSURE_COLUMNS: tuple[str, ...] = (
    "chamber",
    "location",
    "start",
    "end",
    "volume_cm3",
    "area_cm2",
    "deadband_s",
    "obs_length_s",
    "segment_flags",
    "n_samples",
    "closure_id",
)


def _take(column: pd.Series, rows: IntArray) -> object:
    """Rows of a column by position, its dtype kept (a numpy array where it has one)."""
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy()[rows]
    return column.take(rows).reset_index(drop=True)


def run_order(closure: IntArray, group: IntArray, by_start: IntArray) -> IntArray:
    """The stable sort order of closure numbers (ties keep their row order).

    Rows sorted by (chamber, time) hold each closure in one run when the group numbers
    (numbered in row order) never decrease: the order is then the runs' row ranges laid
    end to end in closure order, without a sort. Otherwise a stable sort (radix when the
    numbers fit 16 bits).

    Parameters
    ----------
    closure : (rows,) int
        Closure number of each row, ``0..n-1``.
    group : (rows,) int
        Group number of each row (``by_start[closure]``).
    by_start : (n,) int
        Group of each closure number.

    Returns
    -------
    (rows,) int64
        Row positions in (closure, row) order.
    """
    n = by_start.size
    if not closure.size or not bool(np.all(group[1:] >= group[:-1])):
        return stable_order(closure, n)
    counts = np.bincount(group, minlength=n)
    first_row = np.cumsum(counts) - counts  # of each group's run
    lengths = counts[by_start]
    first_out = np.cumsum(lengths) - lengths  # where each closure's rows go
    # position i of closure k's rows is first_row + (i - first_out): one repeat, one add
    order = np.repeat(first_row[by_start] - first_out, lengths)
    order += np.arange(closure.size, dtype=np.int64)
    return order


def _samples(
    rec: Records,
    rows: IntArray,
    group: IntArray,
    by_start: IntArray,
    elapsed: pd.Series,
    gases: list[str],
) -> pd.DataFrame:
    """The engine's sample table, sorted by (closure, elapsed time), aux holes filled.
    ``by_start``: the group of each closure number, closures being numbered by start."""
    el = elapsed.to_numpy(dtype=np.float64, na_value=np.nan)
    # rows come in (chamber, time) order: closures are runs that a stable sort merges
    renumber = np.empty(by_start.size, dtype=np.int64)
    renumber[by_start] = np.arange(by_start.size, dtype=np.int64)
    closure = renumber[group]
    order = run_order(closure, group, by_start)
    c, e = closure[order], el[order]
    if not bool(np.all((c[1:] != c[:-1]) | (e[1:] >= e[:-1]))):
        order = np.lexsort((el, closure))
        c, e = closure[order], el[order]
    picked = rows[order]
    aux = [name for name in AUX_COLUMNS if name in rec.frame.columns]
    columns: dict[str, object] = {
        "closure": c,
        # the float elapsed time is taken already (for the order's check)
        "elapsed_s": e if elapsed.dtype == np.float64 else _take(elapsed, order),
    }
    for name in (*gases, *aux):
        columns[name] = _take(rec.frame[name], picked)
    # one block per column, none copied again (the takes above made them)
    samples = pd.DataFrame(columns, copy=False)
    interpolate_aux(
        samples, [c for c in ("h2o_mmol_mol", "temperature_c", "pressure_kpa") if c in aux]
    )
    return samples


def _empty(
    gases: list[str], report: SegmentReport
) -> tuple[pd.DataFrame, pd.DataFrame, SegmentReport]:
    samples = pd.DataFrame(
        {"closure": pd.Series(dtype=np.int64), "elapsed_s": pd.Series(dtype=np.float64)}
    )
    for g in gases:
        samples[g] = pd.Series(dtype=np.float64)
    closures = pd.DataFrame(
        {
            "chamber": pd.Series(dtype="string"),
            "location": pd.Series(dtype="string"),
            "start": pd.Series(dtype="datetime64[ns, UTC]"),
            "end": pd.Series(dtype="datetime64[ns, UTC]"),
            "volume_cm3": pd.Series(dtype=np.float64),
            "area_cm2": pd.Series(dtype=np.float64),
            "deadband_s": pd.Series(dtype=np.float64),
            "obs_length_s": pd.Series(dtype=np.float64),
            "segment_flags": pd.Series(dtype="string"),
            "n_samples": pd.Series(dtype=np.int64),
            "closure_id": pd.Series(dtype="string"),
        }
    )
    closures.index = pd.Index([], dtype=np.int64, name="closure")
    return samples, closures, report
