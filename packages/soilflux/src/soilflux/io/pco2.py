"""Reader of soil pCO₂ tables (long layout: one reading per row).

The layout is the Carbdown greenhouse's daily soil pCO₂ export::

    Timestamp,Column Name,Value,Month,Expid,Replica
    2023-01-28 13:00:00,3.0.A.NoRock.0 SchnebelBlanken,2273.67,1,3.0.,3.0.A.

``Value`` is the soil-air CO₂ mole fraction [µmol mol⁻¹ = ppm]; the location
``table.variant.replica`` is ``Replica`` without its trailing dot or, without a
``Replica`` column, the first three dot-separated parts of ``Column Name``. Other columns
are ignored.
"""

from __future__ import annotations

import csv
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from soilflux.io.chambers import LOCATION_PATTERN
from soilflux.io.errors import InputError, missing_reason


def read_pco2_table(path: str | Path, *, tz: str = "UTC") -> pd.DataFrame:
    """Read a soil pCO₂ table.

    Parameters
    ----------
    path : str or Path
        CSV file with ``Timestamp``, ``Value`` and ``Replica`` or ``Column Name``.
    tz : str
        IANA time zone of naive timestamps.

    Returns
    -------
    pandas.DataFrame
        ``time`` (UTC), ``location``, ``pco2_ppm`` [µmol mol⁻¹] (NaN for an empty cell),
        ``line`` (1-based line of the file), in file order.

    Raises
    ------
    InputError
        Naming the file, line and column of the first unusable row (a missing column, a
        time or value that cannot be read, a location that is not ``table.variant.replica``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, None, missing_reason(path))
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz: unknown time zone {tz!r}") from None
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, None, None, f"cannot read as CSV: {exc}") from exc
    if not rows:
        raise InputError(path, 1, None, "empty file")
    header = [h.strip() for h in rows[0]]
    index = {h.lower(): i for i, h in enumerate(header)}
    for need in ("timestamp", "value"):
        if need not in index:
            raise InputError(path, 1, need.title(), "required column is missing")
    where = index.get("replica", index.get("column name"))
    if where is None:
        raise InputError(path, 1, "Replica", "required column is missing (or 'Column Name')")
    where_name = header[where]
    times: list[str] = []
    locations: list[str] = []
    values: list[float] = []
    lines: list[int] = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise InputError(path, n, None, f"{len(row)} fields, the header has {len(header)}")
        code = ".".join(row[where].strip().rstrip(".").split(".")[:3])
        if not LOCATION_PATTERN.match(code):
            raise InputError(path, n, where_name, f"{row[where]!r} holds no table.variant.replica")
        text = row[index["value"]].strip()
        try:
            value = float(text) if text else float("nan")  # an empty cell: no reading
        except ValueError:
            raise InputError(path, n, "Value", f"{row[index['value']]!r} is not a number") from None
        times.append(row[index["timestamp"]].strip())
        locations.append(code)
        values.append(value)
        lines.append(n)
    time = pd.to_datetime(pd.Series(times, dtype=object), errors="coerce", format="ISO8601")
    bad = time.isna()
    if bad.any():
        k = int(bad.to_numpy().argmax())
        raise InputError(path, lines[k], "Timestamp", f"{times[k]!r} is not a time")
    if time.dt.tz is None:
        time = time.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        if time.isna().any():
            k = int(time.isna().to_numpy().argmax())
            raise InputError(path, lines[k], "Timestamp", f"{times[k]!r} does not exist in {tz}")
    return pd.DataFrame(
        {
            "time": time.dt.tz_convert("UTC"),
            "location": pd.Series(locations, dtype="string"),
            "pco2_ppm": pd.Series(values, dtype="float64"),
            "line": pd.Series(lines, dtype="int64"),
        }
    )
