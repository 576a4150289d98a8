"""The chamber table: geometry and location of each chamber.

A CSV with one row per chamber: ``chamber``, ``volume_cm3`` (total system volume [cm³]),
``area_cm2`` (soil area [cm²]) and optionally ``location`` (``table.variant.replica``,
e.g. ``9.2.B``). Column names are matched case-insensitively.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from soilflux.io.errors import InputError, ReadMetadata
from soilflux.io.units import check_plausible_median

LOCATION_PATTERN = re.compile(r"^[^.\s]+\.[^.\s]+\.[^.\s]+$")


def read_chambers(path: str | Path) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read and validate a chamber table.

    Parameters
    ----------
    path : str or Path
        CSV file with ``chamber``, ``volume_cm3`` [cm³], ``area_cm2`` [cm²] and optional
        ``location``.

    Returns
    -------
    table : pandas.DataFrame
        Indexed by ``chamber`` (str): ``volume_cm3`` [cm³], ``area_cm2`` [cm²],
        ``location`` (str or NA).
    metadata : ReadMetadata
        Notes (chambers without a location, ignored columns).

    Raises
    ------
    InputError
        Missing column, duplicate chamber, non-positive or unparseable geometry, or a
        location not of the form ``table.variant.replica`` — naming file, line and field.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        raise InputError(path, None, None, f"cannot read as CSV: {exc}") from exc
    raw.columns = pd.Index([str(c).strip().lower() for c in raw.columns])
    for required in ("chamber", "volume_cm3", "area_cm2"):
        if required not in raw.columns:
            raise InputError(path, 1, required, "required column is missing")
    table = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    chambers = raw["chamber"].str.strip()
    seen: dict[str, int] = {}
    for i, name in enumerate(chambers):
        line = i + 2
        if not name:
            raise InputError(path, line, "chamber", "empty chamber name")
        if name in seen:
            raise InputError(path, line, "chamber", f"{name!r} already given on line {seen[name]}")
        seen[name] = line
    table["chamber"] = chambers
    for field in ("volume_cm3", "area_cm2"):
        values = pd.to_numeric(raw[field].str.strip(), errors="coerce").to_numpy(np.float64)
        bad = ~(np.isfinite(values) & (values > 0.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                path, i + 2, field, f"must be a number > 0, got {raw[field].iloc[i]!r}"
            )
        # a table in litres, m³ or m² passes the > 0 test: its median gives it away
        check_plausible_median(values, field, str(path))
        table[field] = values
    if "location" in raw.columns:
        location = raw["location"].str.strip()
        for i, code in enumerate(location):
            if code and not LOCATION_PATTERN.match(code):
                raise InputError(path, i + 2, "location", f"{code!r} is not table.variant.replica")
        table["location"] = location.mask(location == "").astype("string")
    else:
        table["location"] = pd.Series(pd.NA, index=table.index, dtype="string")
    meta = ReadMetadata(path=str(path), format="chambers")
    ignored = sorted(set(raw.columns) - {"chamber", "volume_cm3", "area_cm2", "location"})
    if ignored:
        meta.notes.append(f"ignored columns: {', '.join(ignored)}")
    unplaced = int(table["location"].isna().sum())
    if unplaced:
        meta.notes.append(f"{unplaced} chamber(s) without a location")
    return table.set_index("chamber"), meta
