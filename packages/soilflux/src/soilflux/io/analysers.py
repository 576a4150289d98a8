"""Gas-analyser records that know nothing of chambers: LI-7810/7820, LGR UGGA, Picarro G2508.

Their layouts are read as goFlux's import functions document them (Rheault et al. 2024,
``import.LI7810``, ``import.LI7820``, ``import.UGGA``, ``import.G2508``):

``licor-78x0`` (LI-COR LI-7810 / LI-7820 ``.data``)
    Tab-separated. ``key:<TAB>value`` lines (``Model``, ``SN``, ``Timezone``, ...), then a
    ``DATAH`` line naming the columns, a ``DATAU`` line with their units and ``DATA``
    rows. ``SECONDS`` + ``NANOSECONDS`` are the Unix time (UTC); ``CO2`` [ppm], ``CH4``
    [ppb] and ``N2O`` [ppb] are dry mole fractions, ``H2O`` [ppm].
``lgr-ugga`` (Los Gatos Research / ABB UGGA ``.txt``)
    A banner line, then a comma-separated header: ``Time`` (``dd/mm/yyyy HH:MM:SS.fff``
    in ``tz``), ``[CO2]d_ppm``, ``[CH4]d_ppm`` (dry) or ``[CO2]_ppm``, ``[CH4]_ppm`` (wet),
    ``[H2O]_ppm``; lines after the data (the signature block) are not rows.
``picarro-g2508`` (Picarro G2508 ``.dat``)
    Whitespace-separated with a header line: ``DATE``, ``TIME`` (in ``tz``), ``CO2_dry``
    [ppm], ``CH4_dry`` [ppm], ``N2O_dry`` [ppm] (dry) and ``H2O``, which goFlux reads as
    [mmol mol⁻¹].

None of them holds the chamber's temperature, pressure, geometry or closures: those come
from ``--temperature-c``, ``--pressure-kpa``, ``--volume-cm3``/``--area-cm2`` or
``--chambers``, and a closure table (``--closures``, :mod:`soilflux.io.closures`). Gases
are returned as the wet mole fractions soilflux reads (x_wet = x_dry · (1 − W/1000)).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.io.errors import InputError, ReadMetadata, RowIssue
from soilflux.io.generic import SAMPLE_COLUMNS, _numeric

ANALYSER_FORMATS: tuple[str, ...] = ("licor-78x0", "lgr-ugga", "picarro-g2508")


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, None, f"cannot read as text: {exc}") from exc


def _finish(
    path: Path,
    meta: ReadMetadata,
    time: pd.Series,
    lines: npt.NDArray[np.int64],
    dry: dict[str, tuple[pd.Series, float]],
    h2o: tuple[pd.Series, float] | None,
    strict: bool,
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Numbers parsed and reported, gases made wet, rows without a time left out.

    ``dry``: soilflux gas column → (text column, factor to its unit); ``h2o``: (text column,
    factor to mmol mol⁻¹).
    """
    out = pd.DataFrame(
        {"time": time.astype("datetime64[ns, UTC]").to_numpy()}, index=pd.RangeIndex(len(time))
    )

    def parse(values: pd.Series, field: str) -> npt.NDArray[np.float64]:
        parsed, bad = _numeric(values.reset_index(drop=True))
        for i in np.flatnonzero(bad):
            issue = RowIssue(
                str(path), int(lines[i]), field, str(values.iloc[i]), "not a number; set to missing"
            )
            if strict:
                raise issue.as_error()
            meta.issues.append(issue)
        return parsed

    w = np.zeros(len(out))
    if h2o is not None:
        w = parse(h2o[0], "h2o_mmol_mol") * h2o[1]
        out["h2o_mmol_mol"] = w
    else:
        meta.notes.append("no H2O column: gases read as they are (W = 0)")
    for name, (values, factor) in dry.items():
        x_dry = parse(values, name) * factor
        out[name] = x_dry * (1.0 - np.nan_to_num(w, nan=0.0) / 1000.0)
    meta.notes.append(f"dry {', '.join(dry)} made wet with the file's H2O")
    out["line"] = lines
    no_time = out["time"].isna().to_numpy()
    for i in np.flatnonzero(no_time):
        issue = RowIssue(str(path), int(lines[i]), "time", "", "no readable time; row excluded")
        if strict:
            raise issue.as_error()
        meta.issues.append(issue)
    out = out[~no_time].reset_index(drop=True)
    return out[[c for c in SAMPLE_COLUMNS if c in out.columns]], meta


def read_licor78x0(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read an LI-7810 / LI-7820 ``.data`` file (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
        The file.
    strict : bool
        Raise on the first unusable value instead of reporting it.

    Returns
    -------
    data : pandas.DataFrame
        ``time`` (UTC), wet ``co2_ppm`` [µmol mol⁻¹], ``ch4_ppb``/``n2o_ppb``
        [nmol mol⁻¹] as present, ``h2o_mmol_mol``, ``line``.
    metadata : ReadMetadata
        ``header`` holds the key: value lines (``Model``, ``SN``, ...).
    """
    path = Path(path)
    lines = _read_lines(path)
    meta = ReadMetadata(path=str(path), format="licor-78x0")
    head = next((i for i, ln in enumerate(lines) if ln.startswith("DATAH\t")), None)
    if head is None:
        raise InputError(path, 1, "DATAH", "not an LI-7810/7820 .data file (no DATAH line)")
    for ln in lines[:head]:
        key, _, value = ln.partition(":")
        meta.header[key.strip()] = value.strip()
    names = [n.strip() for n in lines[head].split("\t")]
    rows: list[list[str]] = []
    numbers: list[int] = []
    for i in range(head + 1, len(lines)):
        text = lines[i]
        if not text.startswith("DATA\t"):
            continue  # DATAU (units) and blank lines
        fields = text.split("\t")
        if len(fields) != len(names):
            raise InputError(
                path, i + 1, None, f"{len(fields)} fields where the DATAH line has {len(names)}"
            )
        rows.append(fields)
        numbers.append(i + 1)
    table = pd.DataFrame(rows, columns=names, dtype=str)
    for required in ("SECONDS", "NANOSECONDS", "CO2" if "CO2" in names else "N2O"):
        if required not in names:
            raise InputError(path, head + 1, required, "column is missing")
    seconds = pd.to_numeric(table["SECONDS"].str.strip(), errors="coerce")
    nanos = pd.to_numeric(table["NANOSECONDS"].str.strip(), errors="coerce").fillna(0)
    time = pd.to_datetime(seconds * 1_000_000_000 + nanos, unit="ns", utc=True)
    dry = {
        name: (table[column], factor)
        for column, name, factor in (("CO2", "co2_ppm", 1.0), ("CH4", "ch4_ppb", 1.0))
        if column in names
    }
    if "N2O" in names:
        dry["n2o_ppb"] = (table["N2O"], 1.0)
    h2o = (table["H2O"], 1.0e-3) if "H2O" in names else None
    meta.notes.append(f"{meta.header.get('Model', 'LI-78x0')}: time from SECONDS (UTC)")
    return _finish(path, meta, time, np.asarray(numbers, np.int64), dry, h2o, strict)


def read_ugga(
    path: str | Path, *, tz: str = "UTC", strict: bool = False
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read an LGR / ABB UGGA ``.txt`` file (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
        The file.
    tz : str
        IANA time zone of the ``Time`` column.
    strict : bool
        Raise on the first unusable value instead of reporting it.

    Returns
    -------
    data, metadata
        As :func:`read_licor78x0`.
    """
    path = Path(path)
    lines = _read_lines(path)
    meta = ReadMetadata(path=str(path), format="lgr-ugga")
    if len(lines) < 2:
        raise InputError(path, None, None, "not a UGGA file (no header line)")
    meta.header["banner"] = lines[0].strip()
    names = [n.strip() for n in lines[1].split(",")]
    if "Time" not in names:
        raise InputError(path, 2, "Time", "not a UGGA file (no 'Time' column on line 2)")
    rows, numbers = [], []
    for i in range(2, len(lines)):
        fields = lines[i].split(",")
        if len(fields) < len(names):
            continue  # the signature block after the data
        rows.append([f.strip() for f in fields[: len(names)]])
        numbers.append(i + 1)
    table = pd.DataFrame(rows, columns=names, dtype=str)
    dry: dict[str, tuple[pd.Series, float]] = {}
    for gas, name, factor in (("CO2", "co2_ppm", 1.0), ("CH4", "ch4_ppb", 1.0e3)):
        if f"[{gas}]d_ppm" in names:
            dry[name] = (table[f"[{gas}]d_ppm"], factor)
        elif f"[{gas}]_ppm" in names:
            raise InputError(
                path,
                2,
                f"[{gas}]d_ppm",
                "only the wet column is present; read it with --format generic and --columns",
            )
    if not dry:
        raise InputError(path, 2, "[CO2]d_ppm", "no gas column")
    h2o = (table["[H2O]_ppm"], 1.0e-3) if "[H2O]_ppm" in names else None
    stamp = table["Time"].str.strip()
    local = pd.to_datetime(stamp, format="%d/%m/%Y %H:%M:%S.%f", errors="coerce")
    local = local.fillna(pd.to_datetime(stamp, format="%d/%m/%Y %H:%M:%S", errors="coerce"))
    time = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    skipped = len(lines) - 2 - len(rows)
    if skipped:
        meta.notes.append(f"{skipped} line(s) after the data are not rows (signature)")
    meta.notes.append(f"'Time' read as day/month/year in time zone {tz}")
    return _finish(path, meta, time, np.asarray(numbers, np.int64), dry, h2o, strict)


def read_picarro_g2508(
    path: str | Path, *, tz: str = "UTC", strict: bool = False
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read a Picarro G2508 ``.dat`` file (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
        The file.
    tz : str
        IANA time zone of ``DATE`` ``TIME``.
    strict : bool
        Raise on the first unusable value instead of reporting it.

    Returns
    -------
    data, metadata
        As :func:`read_licor78x0`.
    """
    path = Path(path)
    lines = _read_lines(path)
    meta = ReadMetadata(path=str(path), format="picarro-g2508")
    if not lines:
        raise InputError(path, None, None, "empty file")
    names = lines[0].split()
    for required in ("DATE", "TIME"):
        if required not in names:
            raise InputError(path, 1, required, "not a Picarro .dat file (column missing)")
    rows, numbers = [], []
    for i in range(1, len(lines)):
        fields = lines[i].split()
        if not fields:
            continue
        if len(fields) != len(names):
            raise InputError(
                path, i + 1, None, f"{len(fields)} fields where the header has {len(names)}"
            )
        rows.append(fields)
        numbers.append(i + 1)
    table = pd.DataFrame(rows, columns=names, dtype=str)
    dry = {
        name: (table[column], 1.0e3 if name != "co2_ppm" else 1.0)
        for column, name in (("CO2_dry", "co2_ppm"), ("CH4_dry", "ch4_ppb"), ("N2O_dry", "n2o_ppb"))
        if column in names
    }
    if not dry:
        raise InputError(path, 1, "CO2_dry", "no gas column (CO2_dry, CH4_dry, N2O_dry)")
    h2o = (table["H2O"], 1.0) if "H2O" in names else None
    stamp = table["DATE"] + " " + table["TIME"]
    local = pd.to_datetime(stamp, format="%Y-%m-%d %H:%M:%S.%f", errors="coerce")
    local = local.fillna(pd.to_datetime(stamp, format="%Y-%m-%d %H:%M:%S", errors="coerce"))
    time = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    meta.notes.append(f"DATE TIME read in time zone {tz}; H2O read as mmol mol⁻¹ (as goFlux)")
    return _finish(path, meta, time, np.asarray(numbers, np.int64), dry, h2o, strict)


def detect_analyser(path: Path, head: bytes) -> str | None:
    """The analyser format of a file from its first bytes, or None."""
    text = head.decode("utf-8", errors="replace")
    if "\nDATAH\t" in text or text.startswith("Model:\tLI-78"):
        return "licor-78x0"
    second = text.split("\n")[1] if "\n" in text else ""
    if re.search(r"(^|,)\s*Time\s*,", second) and "[CO2]" in second:
        return "lgr-ugga"
    first = text.split("\n", 1)[0].split()
    if first[:2] == ["DATE", "TIME"] and any(n.endswith("_dry") for n in first):
        return "picarro-g2508"
    return None
