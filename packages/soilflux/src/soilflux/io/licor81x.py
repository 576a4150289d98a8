"""LI-COR LI-8100A / LI-8150 multiplexer ``.81x`` text files.

A file holds one or more observations (records). Each record starts with a ``LI-8100:`` line,
followed by ``key:<TAB>value`` header lines (``Obs#``, ``Port#``, ``Observation Length``,
``Vtotal``, ``Area``, ``Offset``, ...), a ``Type<TAB>Etime<TAB>Date...`` column line, the
data rows and a footer of ``key:<TAB>value`` lines with the instrument's own fit
(``CrvFitStatus``, ``Lin_Flux``, ``Exp_Flux``, ``Dead Band``, ``Crv_#Smp``, ...).

Data rows of Type 1 are the 1-Hz samples (``Etime`` = seconds since the chamber closed,
negative before); Types 2-4 are the instrument's initial values, means and standard
deviations and are not samples. ``CO2`` is the wet mole fraction [µmol mol⁻¹], ``H2O``
[mmol mol⁻¹], ``Pressure`` [kPa] and the temperature named by ``TSource`` (``Tcham`` by
default) [°C]. ``Vtotal`` already includes the collar offset (Vcham + Offset·Area + the
analyser and tubing volumes), so it is used as the system volume as it is.

The ``Date`` column has no time zone; it is read in ``tz`` (UTC unless told).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from soilflux.io.errors import InputError, ReadMetadata, RowIssue
from soilflux.io.generic import SAMPLE_COLUMNS, _numeric

# LI-COR column → soilflux column (the temperature column comes from the TSource header).
_COLUMNS = {
    "Etime": "elapsed_s",
    "Pressure": "pressure_kpa",
    "H2O": "h2o_mmol_mol",
    "CO2": "co2_ppm",
}
#: Trailing free-text columns a data row may leave off when empty.
_TRAILING_TEXT = frozenset({"Annotation"})
_KEY_VALUE = re.compile(r"^([^:\t]+):\t?(.*)$")


def _duration_s(text: str) -> float:
    """Seconds from ``ss``, ``mm:ss`` or ``hh:mm:ss``."""
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60.0 + float(part)
    return seconds


def _float(header: dict[str, tuple[int, str]], key: str, path: Path, *, required: bool) -> float:
    if key not in header or header[key][1].strip() == "":
        if required:
            line = min((ln for ln, _ in header.values()), default=None)
            raise InputError(path, line, key, "required header field is missing")
        return float("nan")
    line, text = header[key]
    try:
        if ":" in text:
            return _duration_s(text)
        return float(text)
    except ValueError:
        raise InputError(path, line, key, f"not a number: {text!r}") from None


def read_licor81x(
    path: str | Path, *, tz: str = "UTC", strict: bool = False
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read an LI-8100A / LI-8150 ``.81x`` file.

    Parameters
    ----------
    path : str or Path
        The ``.81x`` file.
    tz : str
        IANA time zone of the file's ``Date`` column (the instrument's local clock).
    strict : bool
        Raise :class:`InputError` on the first unusable value instead of reporting it.

    Returns
    -------
    data : pandas.DataFrame
        Type-1 samples of every observation: ``time``, ``chamber`` (``port<N>``),
        ``closure_id`` (``<file stem>#<Obs#>``), ``elapsed_s`` [s], ``co2_ppm`` (wet)
        [µmol mol⁻¹], ``h2o_mmol_mol`` [mmol mol⁻¹], ``temperature_c`` [°C],
        ``pressure_kpa`` [kPa], ``volume_cm3`` [cm³], ``area_cm2`` [cm²], ``deadband_s`` [s],
        ``obs_length_s`` [s], ``line``.
    metadata : ReadMetadata
        ``observations`` holds each record's geometry and the instrument's own results:
        ``vendor_model`` (``Lin``/``Exp``), ``vendor_flux_co2`` (the reported one),
        ``vendor_flux_linear_co2``, ``vendor_flux_exp_co2`` [µmol m⁻² s⁻¹],
        ``vendor_dcdt_co2`` [µmol mol⁻¹ s⁻¹], ``vendor_r2_co2``, ``vendor_n``.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, None, f"cannot read as text: {exc}") from exc
    starts = [i for i, ln in enumerate(lines) if ln.startswith("LI-8100")]
    if not starts:
        raise InputError(path, 1, None, "not an LI-8100 .81x file (no 'LI-8100' record line)")
    meta = ReadMetadata(path=str(path), format="licor-81x")
    meta.notes.append(f"'Date' read in time zone {tz}")
    frames: list[pd.DataFrame] = []
    observations: list[dict[str, object]] = []
    seen: set[str] = set()
    for k, begin in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        frame, obs = _read_record(path, lines, begin, end, tz, strict, meta.issues)
        cid = str(obs["closure_id"])
        if cid in seen:  # repeated Obs# in one file: keep both, apart
            cid = f"{cid}.{k + 1}"
            obs["closure_id"] = cid
            frame["closure_id"] = cid
        seen.add(cid)
        frames.append(frame)
        observations.append(obs)
    data = pd.concat(frames, ignore_index=True)
    meta.observations = pd.DataFrame(observations).set_index("closure_id")
    meta.header = {"records": len(starts)}
    return data[[c for c in SAMPLE_COLUMNS if c in data.columns]], meta


def _read_record(
    path: Path,
    lines: list[str],
    begin: int,
    end: int,
    tz: str,
    strict: bool,
    issues: list[RowIssue],
) -> tuple[pd.DataFrame, dict[str, object]]:
    header: dict[str, tuple[int, str]] = {}
    footer: dict[str, tuple[int, str]] = {}
    column_line = -1
    rows: list[list[str]] = []
    row_lines: list[int] = []
    for i in range(begin + 1, end):
        text = lines[i]
        if not text.strip():
            continue
        if column_line < 0:
            if text.startswith("Type\t"):
                column_line = i
                continue
            match = _KEY_VALUE.match(text)
            if match:
                header[match.group(1).strip()] = (i + 1, match.group(2).strip())
            continue
        first = text.split("\t", 1)[0].strip()
        if first.lstrip("-").isdigit():
            rows.append(text.split("\t"))
            row_lines.append(i + 1)
            continue
        match = _KEY_VALUE.match(text)
        if match:
            footer[match.group(1).strip()] = (i + 1, match.group(2).strip())
        else:
            raise InputError(path, i + 1, None, f"unexpected line: {text[:40]!r}")
    if column_line < 0:
        raise InputError(path, begin + 1, "Type", "record has no 'Type<TAB>Etime...' column line")
    names = [n.strip() for n in lines[column_line].split("\t")]
    temperature = header.get("TSource", (0, "Tcham"))[1] or "Tcham"
    wanted = {**_COLUMNS, temperature: "temperature_c"}
    for name in ("Type", "Date", *wanted):
        if name not in names:
            raise InputError(path, column_line + 1, name, "column is missing")
    width = len(names)
    # Free-text columns at the end of the label line that the instrument leaves off a row
    # when they are empty (LI-8100A's trailing 'Annotation'): those rows are padded. A row
    # short of a data column is still refused.
    optional = 0
    while optional < width and names[width - 1 - optional] in _TRAILING_TEXT:
        optional += 1
    for row, ln in zip(rows, row_lines, strict=True):
        if len(row) == width:
            continue
        if width - optional <= len(row) < width:
            row.extend([""] * (width - len(row)))
            continue
        short_of = [n for n in names[len(row) :] if n not in _TRAILING_TEXT]
        missing = ", ".join(repr(n) for n in short_of)
        detail = f" (no value for {missing})" if missing else ""
        raise InputError(
            path, ln, None, f"{len(row)} fields where the column line has {width}{detail}"
        )
    table = pd.DataFrame(rows, columns=names, dtype=str) if rows else pd.DataFrame(columns=names)
    table["line"] = np.asarray(row_lines, dtype=np.int64)
    table = table[table["Type"].str.strip() == "1"].reset_index(drop=True)
    if table.empty:
        raise InputError(path, column_line + 1, "Type", "record has no Type-1 (sample) rows")

    obs_no = header.get("Obs#", (begin + 1, str(begin + 1)))[1]
    closure_id = f"{path.stem}#{obs_no}"
    port = header.get("Port#", (0, ""))[1]
    chamber = f"port{port}" if port else "port?"
    volume = _float(header, "Vtotal", path, required=True)
    area = _float(header, "Area", path, required=True)
    obs_length = _float(header, "Observation Length", path, required=False)
    deadband = _float(footer, "Dead Band", path, required=False)
    for name, value in (("Vtotal", volume), ("Area", area)):
        if not value > 0.0:
            raise InputError(path, header[name][0], name, f"must be > 0, got {value:g}")

    out = pd.DataFrame(index=table.index)
    local = pd.to_datetime(table["Date"].str.strip(), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    bad_time = local.isna().to_numpy()
    for j in np.flatnonzero(bad_time):
        issue = RowIssue(
            str(path),
            int(table["line"].iloc[j]),
            "Date",
            str(table["Date"].iloc[j]),
            "not a time; row excluded",
        )
        if strict:
            raise issue.as_error()
        issues.append(issue)
    out["time"] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    out["chamber"] = chamber
    out["closure_id"] = closure_id
    for source, target in wanted.items():
        values, bad = _numeric(table[source])
        empty = table[source].str.strip() == ""
        for j in np.flatnonzero(bad | empty.to_numpy()):
            issue = RowIssue(
                str(path),
                int(table["line"].iloc[j]),
                target,
                str(table[source].iloc[j]),
                "empty; set to missing" if empty.iloc[j] else "not a number; set to missing",
            )
            if strict:
                raise issue.as_error()
            issues.append(issue)
        out[target] = values
    out["volume_cm3"] = volume
    out["area_cm2"] = area
    out["deadband_s"] = deadband
    out["obs_length_s"] = obs_length
    out["line"] = table["line"].to_numpy()
    out = out[~bad_time & ~np.isnan(out["elapsed_s"].to_numpy())].reset_index(drop=True)

    def footer_float(key: str) -> float:
        return _float(footer, key, path, required=False)

    model = footer.get("CrvFitStatus", (0, ""))[1]
    lin, exp_ = footer_float("Lin_Flux"), footer_float("Exp_Flux")
    chosen = exp_ if model == "Exp" else lin
    prefix = "Exp" if model == "Exp" else "Lin"
    start = out["time"][out["elapsed_s"] >= 0.0]
    obs: dict[str, object] = {
        "closure_id": closure_id,
        "chamber": chamber,
        "label": header.get("Label", (0, ""))[1],
        "start": start.iloc[0] if len(start) else pd.NaT,
        "volume_cm3": volume,
        "area_cm2": area,
        "offset_cm": _float(header, "Offset", path, required=False),
        "deadband_s": deadband,
        "obs_length_s": obs_length,
        "vendor_model": model,
        "vendor_flux_co2": chosen,
        "vendor_flux_linear_co2": lin,
        "vendor_flux_exp_co2": exp_,
        "vendor_dcdt_co2": footer_float(f"{prefix}_dCdry/dt"),
        "vendor_r2_co2": footer_float(f"{prefix}_R2"),
        "vendor_n": footer_float("Crv_#Smp"),
    }
    return out, obs
