"""Arrival order: backward clock jumps, late samples and repeated timestamps.

Rows come in (chamber, arrival) order; see :mod:`soilflux.segment` for the flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from soilflux.segment.groups import BoolArray, FloatArray, IntArray, group_median

NS = 1.0e9

#: Gas values of the given rows, (rows, gases) [the gas columns' units].
GasRows = Callable[[IntArray], FloatArray]


def steps_s(t_ns: IntArray, same: BoolArray) -> FloatArray:
    """Step from the previous row of the same chamber [s]; NaN at a chamber's first row."""
    step = np.empty(t_ns.size, dtype=np.float64)
    if not t_ns.size:
        return step
    step[0] = 0.0
    step[1:] = t_ns[1:] - t_ns[:-1]  # (as np.diff with t_ns[0] prepended, then as float)
    step /= NS
    step[~same] = np.nan
    return step


def median_step_s(step: FloatArray, chamber: IntArray, n_chambers: int) -> FloatArray:
    """Each row's chamber's median positive sampling step [s]."""
    if n_chambers <= _FEW_CHAMBERS and bool(np.all(chamber[1:] >= chamber[:-1])):
        # rows grouped by chamber (as segmentation sorts them): each chamber's positive
        # steps partitioned in place of group_median's masking and copying of every row
        bounds = np.searchsorted(chamber, np.arange(n_chambers + 1))
        median = np.full(n_chambers, np.nan)
        for i, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
            part = step[lo:hi]
            part = part[part > 0]  # (NaN is not > 0)
            if part.size:
                k_lo, k_hi = (part.size - 1) // 2, part.size // 2
                p = np.partition(part, (k_lo, k_hi))
                median[i] = (p[k_hi] + p[k_lo]) / 2.0
    else:
        median = group_median(np.where(step > 0, step, np.nan), chamber, n_chambers)
    return median[chamber]


_FEW_CHAMBERS = 4096


@dataclass(frozen=True)
class ClockRepair:
    """Corrected times and what the arrival order showed (arrays in (chamber, arrival) order)."""

    t_ns: IntArray  # corrected time [ns since the epoch]
    jump: BoolArray  # a repaired backward clock jump lands on this sample
    late: BoolArray  # this sample arrived after a younger one
    #: step from the previous sample and the chamber's median step [s], when no jump
    #: changed the times (what :func:`soilflux.segment.closures.closure_groups` needs)
    steps: tuple[FloatArray, FloatArray] | None = None


def repair_clock(
    t_ns: IntArray,
    chamber: IntArray,
    n_chambers: int,
    context: IntArray,
    inside: BoolArray,
    gas_rows: GasRows,
    clock_jump_s: float,
) -> ClockRepair:
    """Find and repair backward clock jumps in arrival order.

    Parameters
    ----------
    t_ns : (rows,) int64
        Sample times [ns since the epoch], rows in (chamber, arrival) order.
    chamber : (rows,) int
        Chamber code of each row (sorted).
    n_chambers : int
        Number of chamber codes.
    context : (rows,) int
        Closure context: two consecutive samples with the same value may belong to one
        closure (the closure id's code, or whether the phase is ``closed``).
    inside : (rows,) bool
        The sample lies in a closure (has an id, or is ``closed``).
    gas_rows : callable
        Gas values of given rows (for the few candidate jumps).
    clock_jump_s : float
        Backward step above which a jump is assumed [s].

    Returns
    -------
    ClockRepair
    """
    same = np.r_[False, chamber[1:] == chamber[:-1]]
    step = steps_s(t_ns, same)
    med = median_step_s(step, chamber, n_chambers)
    same_context = same & inside & np.r_[False, context[1:] == context[:-1]]
    jump = same_context & (step < -clock_jump_s)
    if not jump.any():
        late = same & (step < 0)
        return ClockRepair(t_ns, jump, late, (step, med))
    jump = _confirmed_jumps(jump, t_ns, chamber, med, gas_rows)
    correction = np.where(jump, -step + np.nan_to_num(med, nan=1.0), 0.0)
    # NTP sets a wrong clock right: the chamber's samples that arrived before a jump are
    # moved back by it (the sum over the jumps that follow them), so that the closure
    # continues across the jump at the median step and no closure overlaps another.
    # (pandas' grouped cumsum: its compensated sum is the reference result.)
    inclusive = pd.Series(correction[::-1]).groupby(chamber[::-1]).cumsum().to_numpy()[::-1]
    shift_s = inclusive - correction
    t_fix = t_ns - np.round(shift_s * NS).astype(np.int64)
    late = same & (steps_s(t_fix, same) < 0)
    return ClockRepair(t_fix, jump, late)


def _confirmed_jumps(
    candidates: BoolArray,
    t_ns: IntArray,
    codes: IntArray,
    median_step_s: FloatArray,
    gas_rows: GasRows,
) -> BoolArray:
    """Backward steps that are clock jumps, not late deliveries.

    A clock set back makes the chamber report a time it has already reported, with other
    readings: the landing time collides with an earlier-arrived sample of the same chamber
    (within half a sampling step) whose gas values differ. A replayed buffer lands where
    nothing arrived (the samples were missing) or on identical samples (duplicates).
    Candidates are few (one per jump), so they are checked one by one.
    """
    confirmed = np.zeros_like(candidates)
    chamber_start = np.searchsorted(codes, codes, side="left")  # rows grouped by chamber
    for i in np.flatnonzero(candidates).tolist():
        lo = int(chamber_start[i])
        tol_ns = 0.5 * np.nan_to_num(median_step_s[i], nan=1.0) * NS
        near = np.abs(t_ns[lo:i] - t_ns[i]) <= tol_ns
        if not near.any():
            continue
        rows = np.arange(lo, i)[near]
        gas = gas_rows(np.r_[rows, i])
        same_values = np.all((gas[:-1] == gas[-1]) | np.isnan(gas[-1]), axis=1)
        confirmed[i] = not same_values.all()
    return confirmed


def repeated_times(
    t_ns: IntArray, same: BoolArray, gas_rows: GasRows
) -> tuple[BoolArray, BoolArray]:
    """Repeated timestamps of one chamber, rows sorted by (chamber, time, arrival).

    Returns
    -------
    repeat : (rows,) bool
        The row repeats the previous row's time (it is dropped; the first arrival kept).
    conflict_kept : (rows,) bool
        The row is kept and a later repeat of its time had other gas values.
    """
    repeat = same & np.r_[False, t_ns[1:] == t_ns[:-1]]
    rows = np.flatnonzero(repeat)
    differs = np.zeros(t_ns.size, dtype=bool)
    if rows.size:
        now, before = gas_rows(rows), gas_rows(rows - 1)
        identical = np.all((now == before) | (np.isnan(now) & np.isnan(before)), axis=1)
        differs[rows[~identical]] = True
    # A differing repeat flags the sample that is kept (the previous one).
    conflict_kept = np.r_[differs[1:], False]
    return repeat, conflict_kept
