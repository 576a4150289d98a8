"""Joining parts and carrying each chamber's open closure over to the next file."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    if data.empty:
        return data, data.iloc[:0]
    time = pd.to_datetime(data["time"], utc=True)
    chamber = data["chamber"].astype(str)
    by_id = "closure_id" in data.columns and data["closure_id"].notna().any()
    last_time = time.groupby(chamber).transform("max")
    if by_id:
        key = data["closure_id"].astype("string").fillna("\x00none")
        last_id = key.where(time == last_time).groupby(chamber).transform("first")
        tail = (key == last_id) & data["closure_id"].notna()
    else:
        closed = (data["phase"].astype("string") == "closed").fillna(False).astype(bool)
        not_closed_time = time.where(~closed).groupby(chamber).transform("max")
        last_closed = closed.where(time == last_time).groupby(chamber).transform("max")
        after = not_closed_time.isna() | (time > not_closed_time)
        tail = after & last_closed.fillna(False).astype(bool)
    first_tail = time.where(tail).groupby(chamber).transform("min")
    too_long = (last_time - first_tail).dt.total_seconds() > max_duration_s
    tail = tail & ~too_long.fillna(False).astype(bool)
    mask = tail.to_numpy(dtype=bool)
    return data[~mask], data[mask]
