"""Joining parts and carrying each chamber's open closure over to the next file."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.segment.closures import utc_ns
from soilflux.segment.groups import codes_as, first_valid, group_any, group_max, group_min

_NEVER = np.iinfo(np.int64).max
_NONE = np.iinfo(np.int64).min


def combine(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join several ``(samples, closures)`` pairs, renumbering closures 0..n-1.

    Parameters
    ----------
    parts : list of (samples, closures)
        Results of :func:`segment` on separate files.

    Returns
    -------
    samples, closures
        One pair, closures in the order given.
    """
    samples_out: list[pd.DataFrame] = []
    closures_out: list[pd.DataFrame] = []
    offset = 0
    for samples, closures in parts:
        mapping = pd.Series(
            np.arange(offset, offset + len(closures), dtype=np.int64), index=closures.index
        )
        s = samples.copy()
        s["closure"] = mapping.reindex(s["closure"].to_numpy()).to_numpy()
        c = closures.copy()
        c.index = pd.Index(mapping.to_numpy(), name="closure")
        samples_out.append(s)
        closures_out.append(c)
        offset += len(closures)
    if not parts:
        raise ValueError("nothing to combine")
    return pd.concat(samples_out, ignore_index=True), pd.concat(closures_out)


def open_tail(
    data: pd.DataFrame, *, max_duration_s: float = 900.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split records into those whose closures are complete and each chamber's last closure
    when the record may continue it (the next file of a series).

    A chamber's last closure is open when its last sample is ``closed`` (phase mode) — or,
    with ``closure_id``, always, since a later file may hold more of the same id — unless
    it already lasts longer than ``max_duration_s`` (then it is complete, and ``long``).

    Parameters
    ----------
    data : pandas.DataFrame
        Records as the readers return them (``time``, ``chamber``, ``phase`` or
        ``closure_id``).
    max_duration_s : float
        Longest closure carried over [s].

    Returns
    -------
    complete, tail : pandas.DataFrame
        Rows to segment now, and rows to prepend to the next file's records.
    """
    mask = open_tail_rows(data, max_duration_s=max_duration_s)
    if not mask.any():
        return data, data.iloc[:0]
    return data[~mask], data[mask]


def open_tail_rows(data: pd.DataFrame, *, max_duration_s: float = 900.0) -> npt.NDArray[np.bool_]:
    """The rows :func:`open_tail` carries over, as a mask (the frame is not split).

    Parameters
    ----------
    data : pandas.DataFrame
        Records as the readers return them.
    max_duration_s : float
        Longest closure carried over [s].

    Returns
    -------
    (rows,) bool
        The rows of each chamber's open last closure.
    """
    if data.empty:
        return np.zeros(0, dtype=bool)
    t = utc_ns(data["time"])
    # codes that only group rows (a categorical's own: no names needed here)
    chamber, n = codes_as(data["chamber"], "str")
    last = group_max(t, chamber, n)
    at_last = t == last[chamber]
    ids = codes_as(data["closure_id"], "string")[0] if "closure_id" in data.columns else None
    if ids is not None and bool((ids >= 0).any()):
        # the closure of the first row (file order) at the chamber's last time
        last_row = first_valid(chamber, at_last, n)
        tail = (ids == ids[last_row][chamber]) & (ids >= 0)
    else:
        phase = data["phase"]
        if not isinstance(phase.dtype, pd.CategoricalDtype):
            phase = phase.astype("string")  # a categorical compares on its codes
        closed = (phase == "closed").fillna(False).to_numpy(dtype=bool)
        not_closed = group_max(np.where(closed, _NONE, t), chamber, n)[chamber]
        after = (not_closed == _NONE) | (t > not_closed)
        tail = after & group_any(chamber, closed & at_last, n)[chamber]
    first_tail = group_min(np.where(tail, t, _NEVER), chamber, n)
    has = first_tail != _NEVER
    span_s = pd.to_timedelta(last[has] - first_tail[has], unit="ns").total_seconds()
    too_long = np.zeros(n, dtype=bool)
    too_long[has] = np.asarray(span_s) > max_duration_s
    return np.asarray(tail & ~too_long[chamber], dtype=bool)
