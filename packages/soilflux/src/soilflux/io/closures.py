"""The closure table: when each chamber was closed, for analyser records that do not say.

A CSV (delimiter sniffed) with one row per closure: ``chamber``, ``start`` (the lid
closing, ISO 8601; no offset = UTC) and ``end`` (ISO 8601) or ``obs_length_s`` [s];
optionally ``closure_id``, ``volume_cm3`` [cm³], ``area_cm2`` [cm²] and ``deadband_s`` [s].
It plays the part of goFlux's auxiliary file (``obs.win``/``autoID``) and fluxible's field
record (``flux_match``). Closures must not overlap (one analyser serves one chamber at a time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from soilflux.io.columns import sniff_delimiter
from soilflux.io.errors import InputError, ReadMetadata
from soilflux.io.units import check_plausible_median

_OPTIONAL_NUMBERS = ("volume_cm3", "area_cm2", "deadband_s", "obs_length_s")


def read_closure_table(path: str | Path) -> pd.DataFrame:
    """Read and check a closure table.

    Parameters
    ----------
    path : str or Path
        The CSV.

    Returns
    -------
    pandas.DataFrame
        ``chamber``, ``closure_id``, ``start``, ``end`` (UTC) and the optional numbers
        present, sorted by ``start``.

    Raises
    ------
    InputError
        Missing column, unreadable time or number, end not after start, or overlapping
        closures — naming file, line and field.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, None, "no such file")
    try:
        raw = pd.read_csv(path, dtype=str, sep=sniff_delimiter(path), keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(path, None, None, f"cannot read as CSV: {exc}") from exc
    raw.columns = pd.Index([str(c).strip().lower() for c in raw.columns])
    for required in ("chamber", "start"):
        if required not in raw.columns:
            raise InputError(path, 1, required, "required column is missing")
    if "end" not in raw.columns and "obs_length_s" not in raw.columns:
        raise InputError(path, 1, "end", "need an 'end' or an 'obs_length_s' column")
    lines = np.arange(2, len(raw) + 2)
    table = pd.DataFrame({"chamber": raw["chamber"].str.strip()})
    empty = np.flatnonzero((table["chamber"] == "").to_numpy())
    if len(empty):
        raise InputError(path, int(lines[empty[0]]), "chamber", "empty chamber")
    table["start"] = _times(raw["start"], path, lines, "start")
    for name in _OPTIONAL_NUMBERS:
        if name in raw.columns:
            values = pd.to_numeric(raw[name].str.strip(), errors="coerce").to_numpy(np.float64)
            bad = ~np.isfinite(values) & (raw[name].str.strip() != "").to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(path, int(lines[i]), name, f"not a number: {raw[name].iloc[i]!r}")
            check_plausible_median(values, name, str(path))
            table[name] = values
    if "end" in raw.columns:
        table["end"] = _times(raw["end"], path, lines, "end")
    else:
        table["end"] = table["start"] + pd.to_timedelta(table["obs_length_s"], unit="s")
    after = (table["end"] > table["start"]).to_numpy()
    if not after.all():
        i = int(np.flatnonzero(~after)[0])
        raise InputError(path, int(lines[i]), "end", "not after start")
    if "closure_id" in raw.columns:
        table["closure_id"] = raw["closure_id"].str.strip()
    else:
        table["closure_id"] = table["chamber"] + "@" + table["start"].dt.strftime("%Y%m%dT%H%M%S")
    table["line"] = lines
    table = table.sort_values("start", kind="stable").reset_index(drop=True)
    overlap = (table["start"].to_numpy()[1:] < table["end"].to_numpy()[:-1]).nonzero()[0]
    if len(overlap):
        k = int(overlap[0]) + 1
        raise InputError(
            path,
            int(table["line"].iloc[k]),
            "start",
            f"overlaps the closure of line {int(table['line'].iloc[k - 1])}",
        )
    return table.drop(columns="line")


def _times(values: pd.Series, path: Path, lines: np.ndarray, field: str) -> pd.Series:
    text = values.str.strip()
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, int(lines[i]), field, f"not an ISO 8601 time: {values.iloc[i]!r}")
    return parsed.astype("datetime64[ns, UTC]")


def assign_closures(data: pd.DataFrame, closures: pd.DataFrame, meta: ReadMetadata) -> pd.DataFrame:
    """The samples of an analyser record that fall in a closure, labelled with it.

    Parameters
    ----------
    data : pandas.DataFrame
        Samples with ``time`` (UTC).
    closures : pandas.DataFrame
        From :func:`read_closure_table`.
    meta : ReadMetadata
        The record's metadata; a note says how many samples fell outside every closure.

    Returns
    -------
    pandas.DataFrame
        Samples with ``start`` ≤ time ≤ ``end`` of a closure: ``chamber``, ``closure_id``,
        ``elapsed_s`` (time since the closure's start [s]) and the closure's optional
        numbers added.
    """
    t = data["time"].to_numpy(dtype="datetime64[ns]")
    starts = closures["start"].to_numpy(dtype="datetime64[ns]")
    ends = closures["end"].to_numpy(dtype="datetime64[ns]")
    k = np.searchsorted(starts, t, side="right") - 1
    inside = (k >= 0) & (t <= ends[np.clip(k, 0, None)])
    out = data[inside].reset_index(drop=True)
    k = k[inside]
    out["chamber"] = closures["chamber"].to_numpy()[k]
    out["closure_id"] = closures["closure_id"].to_numpy()[k]
    out["elapsed_s"] = (t[inside] - starts[k]) / np.timedelta64(1, "s")
    for name in _OPTIONAL_NUMBERS:
        if name in closures.columns:
            out[name] = closures[name].to_numpy()[k]
    outside = int((~inside).sum())
    found = len(np.unique(k))
    meta.notes.append(
        f"{found} of {len(closures)} closures of the closure table found in the record; "
        f"{outside} sample(s) outside every closure left out"
    )
    return out
