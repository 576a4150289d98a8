"""LI-COR LI-8250 multiplexer ``.82z`` archives, one observation each.

The layout as goFlux's ``import.LI8250`` and licoread's ``read_82z`` read it (LI-COR
documents it in the LI-8250 data dictionary): a zip holding ``data.csv`` and
``metadata.json``.

``data.csv`` has three header rows — the instrument of each column (``LI-8250``, the gas
analyser, e.g. ``LI-7810``, and the chamber, e.g. ``CHAMBER 8200-104``), the variable
name (``DATE``, ``TIME``, ``PA``, ``CO2_DRY``, ``CH4_DRY``, ``H2O``, ``TA``, ``STATE``,
...) and its unit in brackets (``[umol+1mol-1]``, ``[nmol+1mol-1]``, ``[mmol+1mol-1]``,
``[kPa]``, ``[C]``) — then one row per sample. ``DATE`` ``TIME`` are the instrument's
local clock (``YYYY-MM-DD HH:MM:SS`` or ``YYYYMMDD HHMMSS``); ``PA`` is the LI-8250's
pressure [kPa]; the chamber's ``TA`` its air temperature [°C] and ``STATE`` its state
(1 closing, 5 closed). ``_DRY`` gases are dry mole fractions, others wet.

``metadata.json`` holds ``{"VALUE": ..., "UNITS": ...}`` leaves: ``CHAMBER.AREA``
(soil area), ``METADATA.VOLUME_TOTAL`` (system volume; litres where no unit is given, as
goFlux reads it), ``METADATA.OBSERVATION`` (observation length [s]) and
``FLUX[0].DEADBAND`` (dead band [s]).

The closure starts at the first ``STATE`` = 5 sample (goFlux's ``cham.close``).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from soilflux.io.errors import InputError, ReadMetadata, RowIssue
from soilflux.io.generic import SAMPLE_COLUMNS, _numeric

#: Mole-fraction units of data.csv → factor to µmol mol⁻¹.
_PER_MOL = {"umol+1mol-1": 1.0, "nmol+1mol-1": 1.0e-3, "mmol+1mol-1": 1.0e3}
#: soilflux gas column and its unit in µmol mol⁻¹.
_GASES = {"CO2": ("co2_ppm", 1.0), "CH4": ("ch4_ppb", 1.0e-3), "N2O": ("n2o_ppb", 1.0e-3)}
_AREA_CM2 = {"cm^2": 1.0, "cm2": 1.0, "cm²": 1.0, "m^2": 1.0e4, "m2": 1.0e4, "m²": 1.0e4}
_VOLUME_CM3 = {"l": 1.0e3, "cm^3": 1.0, "cm3": 1.0, "cm³": 1.0, "m^3": 1.0e6, "ml": 1.0}
_SECONDS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "min": 60.0}


def _leaf(doc: Any, keys: tuple[str | int, ...]) -> tuple[float, str | None] | None:
    node = doc
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return None
            node = node[key]
        else:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
    if isinstance(node, dict) and "VALUE" in node:
        units = node.get("UNITS")
        try:
            return float(node["VALUE"]), str(units).strip().lower() if units else None
        except (TypeError, ValueError):
            return None
    return None


def _metadata_value(
    path: Path, doc: Any, keys: tuple[str | int, ...], units: dict[str, float], default: str
) -> float:
    found = _leaf(doc, keys)
    name = ".".join(str(k) for k in keys)
    if found is None:
        raise InputError(path, None, name, "metadata.json has no such value")
    value, unit = found
    unit = unit or default
    if unit not in units:
        raise InputError(path, None, name, f"unknown unit {unit!r} ({', '.join(units)})")
    return value * units[unit]


def read_licor82z(
    path: str | Path, *, tz: str = "UTC", strict: bool = False
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read an LI-8250 ``.82z`` archive (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
        The archive.
    tz : str
        IANA time zone of ``DATE`` ``TIME``.
    strict : bool
        Raise on the first unusable value instead of reporting it.

    Returns
    -------
    data : pandas.DataFrame
        ``time``, ``chamber`` and ``closure_id`` (the file's stem), ``phase``,
        ``elapsed_s`` [s], wet gases, ``h2o_mmol_mol``, ``pressure_kpa`` [kPa],
        ``temperature_c`` [°C], ``volume_cm3`` [cm³], ``area_cm2`` [cm²], ``deadband_s``
        and ``obs_length_s`` [s], ``line`` (of data.csv).
    metadata : ReadMetadata
    """
    path = Path(path)
    meta = ReadMetadata(path=str(path), format="licor-82z")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            data_name = next((n for n in names if n.endswith("data.csv")), None)
            meta_name = next((n for n in names if n.endswith("metadata.json")), None)
            if data_name is None or meta_name is None:
                raise InputError(path, None, None, "no data.csv and metadata.json in the archive")
            text = archive.read(data_name).decode("utf-8")
            doc = json.loads(archive.read(meta_name).decode("utf-8"))
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise InputError(path, None, None, f"not a readable .82z archive: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, None, f"metadata.json is not JSON: {exc}") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 4:
        raise InputError(path, None, None, "data.csv has no samples")
    instruments = [r.strip() for r in rows[0]]
    variables = [v.strip() for v in rows[1]]
    units = [u.strip().strip("[]") for u in rows[2]]
    body = rows[3:]
    width = len(variables)
    for k, row in enumerate(body):
        if len(row) != width:
            raise InputError(
                path, k + 4, None, f"data.csv: {len(row)} fields where the header has {width}"
            )
    if not len(instruments) == len(units) == width:
        raise InputError(path, 1, None, "data.csv: the three header rows differ in length")
    keys = [f"{i}|{v}" for i, v in zip(instruments, variables, strict=True)]
    table = pd.DataFrame(body, columns=keys)
    lines = np.arange(4, 4 + len(body), dtype=np.int64)

    def column(name: str, *, chamber: bool | None = None) -> tuple[str, str] | None:
        for j, v in enumerate(variables):
            is_chamber = "CHAMBER" in instruments[j].upper()
            if v == name and (chamber is None or chamber == is_chamber):
                return table.columns[j], units[j]
        return None

    def numbers(key: str, field: str) -> np.ndarray:
        values, bad = _numeric(table[key])
        for i in np.flatnonzero(bad):
            issue = RowIssue(
                str(path),
                int(lines[i]),
                field,
                str(table[key].iloc[i]),
                "not a number; set to missing",
            )
            if strict:
                raise issue.as_error()
            meta.issues.append(issue)
        return values

    date, clock = column("DATE"), column("TIME")
    if date is None or clock is None:
        raise InputError(path, 2, "DATE", "data.csv has no DATE and TIME columns")
    stamp = table[date[0]].str.strip() + " " + table[clock[0]].str.strip().str.zfill(6)
    local = pd.to_datetime(stamp, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    local = local.fillna(pd.to_datetime(stamp, format="%Y%m%d %H%M%S", errors="coerce"))
    out = pd.DataFrame(index=table.index)
    utc = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    out["time"] = utc.astype("datetime64[ns, UTC]")

    h2o = column("H2O")
    w = np.zeros(len(table))
    if h2o is not None:
        factor = _PER_MOL.get(h2o[1])
        if factor is None:
            raise InputError(path, 3, "H2O", f"unknown unit [{h2o[1]}]")
        w = numbers(h2o[0], "h2o_mmol_mol") * factor / 1000.0
        out["h2o_mmol_mol"] = w
    found = []
    for gas, (name, unit_ppm) in _GASES.items():
        dry = column(f"{gas}_DRY")
        wet = column(gas)
        chosen = dry or wet
        if chosen is None:
            continue
        factor = _PER_MOL.get(chosen[1])
        if factor is None:
            raise InputError(path, 3, gas, f"unknown unit [{chosen[1]}]")
        x = numbers(chosen[0], name) * factor / unit_ppm
        out[name] = x * (1.0 - np.nan_to_num(w) / 1000.0) if dry is not None else x
        found.append(f"{gas}{'_DRY' if dry is not None else ''}")
    if not found:
        raise InputError(path, 2, "CO2_DRY", "data.csv has no gas column (CO2, CH4, N2O)")
    pressure = column("PA", chamber=False) or column("PA")
    temperature = column("TA", chamber=True) or column("TA")
    state = column("STATE", chamber=True) or column("STATE")
    if pressure is None:
        raise InputError(path, 2, "PA", "data.csv has no such column")
    if temperature is None:
        raise InputError(path, 2, "TA", "data.csv has no such column")
    if state is None:
        raise InputError(path, 2, "STATE", "data.csv has no such column")
    out["pressure_kpa"] = numbers(pressure[0], "pressure_kpa")
    out["temperature_c"] = numbers(temperature[0], "temperature_c")
    states = pd.to_numeric(table[state[0]].str.strip(), errors="coerce").to_numpy()
    closed = states == 5
    if not closed.any():
        raise InputError(path, 2, "STATE", "no sample with the chamber closed (STATE 5)")
    out["phase"] = np.where(closed, "closed", np.where(states == 1, "closing", "open"))
    start = out["time"][closed].min()
    out["elapsed_s"] = (out["time"] - start).dt.total_seconds()
    out["chamber"] = path.stem
    out["closure_id"] = path.stem
    out["volume_cm3"] = _metadata_value(path, doc, ("METADATA", "VOLUME_TOTAL"), _VOLUME_CM3, "l")
    out["area_cm2"] = _metadata_value(path, doc, ("CHAMBER", "AREA"), _AREA_CM2, "cm^2")
    out["deadband_s"] = _metadata_value(path, doc, ("FLUX", 0, "DEADBAND"), _SECONDS, "s")
    out["obs_length_s"] = _metadata_value(path, doc, ("METADATA", "OBSERVATION"), _SECONDS, "s")
    out["line"] = lines
    no_time = out["time"].isna().to_numpy()
    for i in np.flatnonzero(no_time):
        issue = RowIssue(
            str(path), int(lines[i]), "time", stamp.iloc[i], "not a time; row excluded"
        )
        if strict:
            raise issue.as_error()
        meta.issues.append(issue)
    out = out[~no_time].reset_index(drop=True)
    meta.notes.append(
        f"gases {', '.join(found)}; closure from the first STATE 5 sample; DATE TIME in {tz}"
    )
    obs = {
        "closure_id": path.stem,
        "chamber": path.stem,
        "start": start,
        "volume_cm3": float(out["volume_cm3"].iloc[0]),
        "area_cm2": float(out["area_cm2"].iloc[0]),
        "deadband_s": float(out["deadband_s"].iloc[0]),
        "obs_length_s": float(out["obs_length_s"].iloc[0]),
    }
    meta.observations = pd.DataFrame([obs]).set_index("closure_id")
    return out[[c for c in SAMPLE_COLUMNS if c in out.columns]], meta
