"""Repairs and table fills on segmented closures: geometry, aux holes, re-opening trim."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd


def apply_geometry(
    closures: pd.DataFrame,
    chambers: pd.DataFrame | None,
    volume_cm3: float | None,
    area_cm2: float | None,
) -> None:
    """Fill geometry (explicit values > chamber table > the data's own) and location (the
    data's own > chamber table)."""
    if chambers is not None:
        table = chambers.reindex(closures["chamber"].to_numpy())
        for column in ("volume_cm3", "area_cm2"):
            given = table[column].to_numpy(dtype=np.float64)
            closures[column] = np.where(np.isfinite(given), given, closures[column].to_numpy())
        if "location" in table.columns:
            # Samples labelled live with their pot know where the chamber stood at the
            # time (chambers move between pots); the table only fills unlabelled closures.
            own = closures["location"].to_numpy()
            loc = table["location"].astype("string").to_numpy()
            closures["location"] = pd.array(np.where(pd.isna(own), loc, own), dtype="string")
    for column, value in (("volume_cm3", volume_cm3), ("area_cm2", area_cm2)):
        if value is not None:
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{column} must be > 0, got {value!r}")
            closures[column] = float(value)
    missing = ~(
        np.isfinite(closures["volume_cm3"].to_numpy())
        & np.isfinite(closures["area_cm2"].to_numpy())
    )
    if missing.any():
        names = sorted(set(closures.loc[missing, "chamber"]))
        shown = ", ".join(repr(n) for n in names[:5]) + (" ..." if len(names) > 5 else "")
        raise ValueError(
            f"no volume_cm3/area_cm2 for chamber(s) {shown}: "
            "give a chamber table or volume and area"
        )


def interpolate_aux(samples: pd.DataFrame, columns: list[str]) -> None:
    """Fill NaN aux values linearly in time within each closure (edges: nearest value)."""
    closure = samples["closure"].to_numpy()
    elapsed = samples["elapsed_s"].to_numpy(dtype=np.float64)
    for column in columns:
        missing = np.isnan(samples[column].to_numpy(dtype=np.float64))
        if not missing.any():
            continue  # the usual column: nothing to fill, nothing copied
        values = samples[column].to_numpy(dtype=np.float64).copy()
        holes = np.unique(closure[missing])
        # Only closures with holes are visited: rare in practice.
        first = np.searchsorted(closure, holes, side="left").tolist()
        last = np.searchsorted(closure, holes, side="right").tolist()
        for lo, hi in zip(first, last, strict=True):
            v = values[lo:hi]
            ok = np.isfinite(v)
            if ok.any():
                values[lo:hi] = np.interp(elapsed[lo:hi], elapsed[lo:hi][ok], v[ok])
        samples[column] = values


def opening(
    g: npt.NDArray[np.int64],
    c: npt.NDArray[np.float64],
    t: npt.NDArray[np.float64],
    sigmas: float,
    min_drop: float,
    ids: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Closures whose record goes on after the lid re-opened, and the window end [s].

    The re-opening is the first step (after t = 0) that falls by more than ``sigmas``
    robust standard deviations (1.4826·MAD) of the closure's steps and by more than
    ``min_drop``; the window ends at the sample before it.

    Parameters
    ----------
    g : (rows,) int
        Closure group of each sample (rows in time order within each closure).
    c : (rows,) float
        The first gas [µmol mol⁻¹ or nmol mol⁻¹].
    t : (rows,) float
        Time since the closure started [s].
    sigmas : float
        Robust standard deviations of a re-opening drop [-].
    min_drop : float
        Smallest re-opening drop [unit of ``c``].
    ids : (closures,) int
        Groups, in the order of the returned arrays.
    """
    same = np.r_[False, g[1:] == g[:-1]]
    d = np.where(same, np.diff(c, prepend=c[0]), np.nan)
    steps = pd.Series(d)
    median = steps.groupby(g).transform("median").to_numpy()
    mad = pd.Series(np.abs(d - median)).groupby(g).transform("median").to_numpy()
    threshold = np.maximum(sigmas * 1.4826 * mad, min_drop)
    drop = same & (t > 0) & (d < median - threshold)
    prev_t = np.r_[np.nan, t[:-1]]
    end = pd.Series(np.where(drop, prev_t, np.nan)).groupby(g).min()
    end_s = np.asarray(end.reindex(ids).to_numpy(dtype=np.float64), dtype=np.float64)
    return np.asarray(np.isfinite(end_s), dtype=np.bool_), end_s
