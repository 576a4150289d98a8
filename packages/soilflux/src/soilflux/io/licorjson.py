"""LI-COR 8200-01S Smart Chamber JSON files (with an LI-78x0 or LI-870 gas analyser).

Layout: ``{"datasets": [{"<obs>": {"reps": {"REP_1": {"header", "labels", "data",
"footer"}}}}]}``. Each rep is one closure. ``header`` carries ``Date`` (local time),
``TimeZone``, ``DeadBand`` [s], ``Area`` [cm²], ``Offset`` [cm] and ``TotalVolume`` [cm³]
(chamber + offset·area + analyser); ``labels`` names the data arrays of elapsed time,
pressure [kPa], temperature [°C] and H2O [mmol mol⁻¹]; the gas arrays are ``co2``
[µmol mol⁻¹], ``ch4`` and ``n2o`` [nmol mol⁻¹]. ``footer`` holds the firmware's fit per
gas (``F_o`` in µmol m⁻² s⁻¹ for CO2, nmol m⁻² s⁻¹ for CH4 and N2O; ``slope``, ``r2``,
``C_x``, ``a``, ``t_o``, ``n``) and ``P_o``, ``T_o``, ``W_o``.

The LI-7810/7815/7820 analysers report *dry* mole fractions. soilflux samples are wet (the
engine computes c′ = c / (1 − w) itself), so dry gas values are converted back,
c = c′·(1 − w/1000), which the engine then undoes exactly.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from soilflux.io.errors import InputError, ReadMetadata, RowIssue
from soilflux.io.generic import SAMPLE_COLUMNS

#: Analysers whose gas columns in the Smart Chamber file are dry mole fractions.
DRY_ANALYSERS = ("LI-7810", "LI-7815", "LI-7820")
_GASES = {"co2": "co2_ppm", "ch4": "ch4_ppb", "n2o": "n2o_ppb"}
# Firmware fluxes: CO2 in µmol m⁻² s⁻¹, CH4/N2O in nmol m⁻² s⁻¹ → µmol m⁻² s⁻¹.
_VENDOR_SCALE = {"co2": 1.0, "ch4": 1.0e-3, "n2o": 1.0e-3}


def read_licorjson(
    path: str | Path, *, gas_is_dry: bool | None = None, strict: bool = False
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read an 8200-01S Smart Chamber JSON file.

    Parameters
    ----------
    path : str or Path
        The ``.json`` file.
    gas_is_dry : bool or None
        Whether the gas arrays are dry mole fractions; None → by ``InstrumentModel``
        (dry for :data:`DRY_ANALYSERS`, wet otherwise).
    strict : bool
        Raise :class:`InputError` on the first unusable value instead of reporting it.

    Returns
    -------
    data : pandas.DataFrame
        Samples of every rep: ``time``, ``chamber`` (the chamber's serial), ``closure_id``
        (``<file stem>#<obs>/<rep>``), ``elapsed_s`` [s], ``co2_ppm`` [µmol mol⁻¹] and
        ``ch4_ppb``/``n2o_ppb`` [nmol mol⁻¹] (wet), ``h2o_mmol_mol`` [mmol mol⁻¹],
        ``temperature_c`` [°C], ``pressure_kpa`` [kPa], ``volume_cm3`` [cm³], ``area_cm2``
        [cm²], ``deadband_s`` [s], ``obs_length_s`` [s] (the last elapsed time).
    metadata : ReadMetadata
        ``observations``: per rep the geometry and the firmware's results
        ``vendor_flux_<gas>`` [µmol m⁻² s⁻¹] (NaN where the firmware's fit failed),
        ``vendor_dcdt_<gas>`` [µmol mol⁻¹ s⁻¹ or nmol mol⁻¹ s⁻¹], ``vendor_r2_<gas>``,
        ``vendor_n_<gas>``, ``vendor_curved_<gas>`` (True where C_x is a real asymptote).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, None, f"cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, None, f"invalid JSON: {exc.msg}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("datasets"), list):
        raise InputError(path, None, "datasets", "not a Smart Chamber file (no 'datasets' list)")
    meta = ReadMetadata(path=str(path), format="licor-json")
    meta.header = {k: v for k, v in document.items() if k != "datasets"}
    frames: list[pd.DataFrame] = []
    observations: list[dict[str, Any]] = []
    for d, dataset in enumerate(document["datasets"]):
        if not isinstance(dataset, dict):
            raise InputError(path, None, f"datasets[{d}]", "not an object")
        for obs_name, obs in dataset.items():
            reps = obs.get("reps") if isinstance(obs, dict) else None
            if not isinstance(reps, dict):
                raise InputError(path, None, f"datasets[{d}].{obs_name}.reps", "missing")
            for rep_name, rep in reps.items():
                where = f"datasets[{d}].{obs_name}.reps.{rep_name}"
                frame, info = _read_rep(
                    path, where, f"{obs_name}/{rep_name}", rep, gas_is_dry, strict, meta
                )
                frames.append(frame)
                observations.append(info)
    if not frames:
        raise InputError(path, None, "datasets", "no observations in the file")
    data = pd.concat(frames, ignore_index=True)
    meta.observations = pd.DataFrame(observations).set_index("closure_id")
    return data[[c for c in SAMPLE_COLUMNS if c in data.columns]], meta


def _number(value: Any, path: Path, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(path, None, field, f"not a number: {value!r}")
    return float(value)


def _read_rep(
    path: Path,
    where: str,
    name: str,
    rep: Any,
    gas_is_dry: bool | None,
    strict: bool,
    meta: ReadMetadata,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    if not isinstance(rep, dict):
        raise InputError(path, None, where, "not an object")
    for key in ("header", "data"):
        if not isinstance(rep.get(key), dict):
            raise InputError(path, None, f"{where}.{key}", "missing")
    header: dict[str, Any] = rep["header"]
    labels: dict[str, Any] = rep.get("labels") or {}
    arrays: dict[str, Any] = rep["data"]
    volume = _number(
        header.get(labels.get("volume", "TotalVolume")), path, f"{where}.header.TotalVolume"
    )
    area = _number(header.get(labels.get("area", "Area")), path, f"{where}.header.Area")
    deadband = _number(
        header.get(labels.get("deadband", "DeadBand")), path, f"{where}.header.DeadBand"
    )
    for key, value in (("TotalVolume", volume), ("Area", area)):
        if not value > 0.0:
            raise InputError(path, None, f"{where}.header.{key}", f"must be > 0, got {value:g}")
    start = _start_time(path, where, header)

    columns = {
        labels.get("etime", "timestamp"): "elapsed_s",
        labels.get("pressure", "chamber_p"): "pressure_kpa",
        labels.get("temperature", "chamber_t"): "temperature_c",
        labels.get("h2o", "h2o"): "h2o_mmol_mol",
    }
    gases = {k: v for k, v in _GASES.items() if k in arrays}
    if not gases:
        raise InputError(path, None, f"{where}.data", "no gas array (co2, ch4 or n2o)")
    lengths = {len(v) for v in arrays.values() if isinstance(v, list)}
    if len(lengths) != 1:
        raise InputError(
            path, None, f"{where}.data", f"arrays of different lengths {sorted(lengths)}"
        )
    out = pd.DataFrame(index=pd.RangeIndex(lengths.pop()))
    for source, target in {**columns, **gases}.items():
        if source not in arrays:
            raise InputError(path, None, f"{where}.data.{source}", "array is missing")
        values = np.full(len(out), np.nan)
        for i, v in enumerate(arrays[source]):
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                values[i] = v
            else:
                issue = RowIssue(
                    str(path),
                    None,
                    f"{where}.data.{source}[{i}]",
                    str(v),
                    "not a number; set to missing",
                )
                if strict:
                    raise issue.as_error()
                meta.issues.append(issue)
        out[target] = values

    model = str(header.get("InstrumentModel", ""))
    dry = gas_is_dry if gas_is_dry is not None else model in DRY_ANALYSERS
    if dry:
        w = np.nan_to_num(out["h2o_mmol_mol"].to_numpy(), nan=0.0) / 1000.0
        for target in gases.values():
            out[target] = out[target].to_numpy() * (1.0 - w)
        note = f"{model or 'analyser'} gas values are dry: converted to wet with c·(1 − w)"
    else:
        note = f"{model or 'analyser'} gas values taken as wet (as measured)"
    if note not in meta.notes:
        meta.notes.append(note)

    closure_id = f"{path.stem}#{name}"
    chamber = str(header.get("Chamber", "smart-chamber"))
    elapsed = out["elapsed_s"].to_numpy()
    out["time"] = start + pd.to_timedelta(elapsed, unit="s")
    out["chamber"] = chamber
    out["closure_id"] = closure_id
    out["volume_cm3"] = volume
    out["area_cm2"] = area
    out["deadband_s"] = deadband
    obs_length = float(np.nanmax(elapsed)) if np.isfinite(elapsed).any() else float("nan")
    out["obs_length_s"] = obs_length
    out = out[np.isfinite(elapsed)].reset_index(drop=True)

    info: dict[str, Any] = {
        "closure_id": closure_id,
        "chamber": chamber,
        "label": name,
        "start": start,
        "volume_cm3": volume,
        "area_cm2": area,
        "offset_cm": header.get("Offset"),
        "deadband_s": deadband,
        "obs_length_s": obs_length,
        "instrument": model,
    }
    footer = rep.get("footer") or {}
    for entry in footer.get("fluxes", []) if isinstance(footer, dict) else []:
        gas = str(entry.get("name", ""))
        if gas not in _VENDOR_SCALE:
            continue
        n = int(entry.get("n", 0) or 0)
        failed = n == 0  # the firmware writes zeros everywhere when its fit failed
        scale = _VENDOR_SCALE[gas]
        flux = float(entry.get("F_o", float("nan"))) * scale
        c_x = float(entry.get("C_x", float("nan")))
        info[f"vendor_flux_{gas}"] = float("nan") if failed else flux
        info[f"vendor_dcdt_{gas}"] = (
            float("nan") if failed else float(entry.get("slope", float("nan")))
        )
        info[f"vendor_r2_{gas}"] = float("nan") if failed else float(entry.get("r2", float("nan")))
        info[f"vendor_n_{gas}"] = n
        # No curvature → the firmware parks C_x at 1e6 (CO2) or 0 (CH4) and F_o is linear.
        info[f"vendor_curved_{gas}"] = (not failed) and 0.0 < c_x < 1.0e5
    if isinstance(footer, dict):
        for key, col in (
            ("P_o", "vendor_p0_kpa"),
            ("T_o", "vendor_t0_c"),
            ("W_o", "vendor_w0_mmol_mol"),
        ):
            if key in footer:
                info[col] = float(footer[key])
    return out, info


def _start_time(path: Path, where: str, header: dict[str, Any]) -> pd.Timestamp:
    """The rep's start in UTC from ``Date`` in ``TimeZone`` (``gps_time`` as fallback)."""
    text = header.get("Date")
    zone = header.get("TimeZone")
    if isinstance(text, str):
        try:
            local = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise InputError(path, None, f"{where}.header.Date", f"not a time: {text!r}") from None
        if isinstance(zone, str) and zone:
            try:
                return pd.Timestamp(local.replace(tzinfo=ZoneInfo(zone))).tz_convert("UTC")
            except (ZoneInfoNotFoundError, ValueError):
                pass
        gps = header.get("gps_time")
        if isinstance(gps, int | float) and gps > 0:
            return pd.Timestamp(float(gps), unit="s", tz="UTC")
        return pd.Timestamp(local, tz="UTC")
    raise InputError(path, None, f"{where}.header.Date", "missing")
