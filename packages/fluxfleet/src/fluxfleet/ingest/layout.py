"""The store's samples in soilflux's generic long layout (``soilflux compute`` reads it).

One row per sample, with ``closure_id`` (the firmware's cycle number) on the rows of a
closure (phases ``closing``, ``closed``, ``extended``) and empty elsewhere, so that
soilflux segments exactly the closures the chambers ran. Columns (units in the names):

=========================  ===========================================================
``time``                   sample time (the device's clock, UTC)
``chamber``, ``device``    the device id (``chamber`` is the name soilflux reads)
``seq``                    the device's sample counter
``location``               ``table.variant.replica``
``phase``                  soilflux's phase (``extended`` is a ``closed`` lid)
``firmware_phase``         the firmware's own phase
``closure_id``             cycle number on closure rows
``co2_ppm``                SCD30 CO2, wet [µmol mol⁻¹]
``h2o_mmol_mol``           water vapour from the SCD30's RH at *its own* temperature and
                           the pressure, W = RH/100 · e_s(T_SCD30) / P [mmol mol⁻¹]
                           (its RH refers to its self-heated element)
``rh_percent``             SCD30 relative humidity [%]
``temperature_c``          QMP6988/BMP280 air temperature [°C]
``scd30_temperature_c``    the SCD30's temperature [°C]
``pressure_hpa``           [hPa]
``lux``                    illuminance [lx]
``lid_deg``, ``fan_pct``   servo angle [°], fan duty [%]
``flags``                  the protocol's sample flag bits
``volume_cm3``, ``area_cm2``  chamber geometry [cm³], [cm²] (from the settings)
=========================  ===========================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from fluxfleet.ingest.batch import CLOSURE_PHASES

if TYPE_CHECKING:  # pandas takes seconds to import: ``fluxfleet export`` never needs it
    import pandas as pd

SOILFLUX_PHASE = {
    "open": "open",
    "closing": "closing",
    "closed": "closed",
    "extended": "closed",
    "opening": "opening",
    "flush": "flush",
}
"""Firmware phase → soilflux's generic phase vocabulary."""


def h2o_mmol_mol(
    rh_percent: np.ndarray, scd30_temperature_c: np.ndarray, pressure_hpa: np.ndarray
) -> np.ndarray:
    """Water vapour of the samples where its inputs are valid, NaN elsewhere.

    W = 1000 · RH/100 · e_s(T_SCD30) / P (:func:`soilflux.humidity.h2o_from_rh`), with the
    SCD30's RH referred to its own temperature. NaN where an input is missing (NaN), the
    temperature is outside e_s's validity range (−40 to 50 °C), the RH outside 0 to 100 %
    or the pressure is not > 0 (where soilflux would refuse them).

    Parameters
    ----------
    rh_percent : numpy.ndarray
        SCD30 relative humidity [%].
    scd30_temperature_c : numpy.ndarray
        SCD30 temperature [°C].
    pressure_hpa : numpy.ndarray
        Air pressure [hPa].

    Returns
    -------
    numpy.ndarray
        Water-vapour mole fraction [mmol mol⁻¹].
    """
    from soilflux.humidity import h2o_from_rh

    rh = np.asarray(rh_percent, dtype=np.float64)
    t_scd = np.asarray(scd30_temperature_c, dtype=np.float64)
    p_kpa = np.asarray(pressure_hpa, dtype=np.float64) / 10.0
    ok = (
        np.isfinite(rh)
        & (rh >= 0.0)
        & (rh <= 100.0)
        & np.isfinite(t_scd)
        & (t_scd >= -40.0)
        & (t_scd <= 50.0)
        & np.isfinite(p_kpa)
        & (p_kpa > 0.0)
    )
    h2o = np.full(rh.shape, np.nan)
    h2o[ok] = h2o_from_rh(rh[ok], t_scd[ok], p_kpa[ok])
    return h2o


def generic_samples_table(samples: pa.Table, volume_cm3: float, area_cm2: float) -> pa.Table:
    """Store samples (schema ``SAMPLES``) → soilflux's generic layout as an Arrow table.

    Column by column in Arrow and numpy (no pandas frame). ``fluxfleet export`` writes the
    same layout in SQL (:mod:`fluxfleet.export`; the tests hold the two equal).

    Parameters
    ----------
    samples : pyarrow.Table
        From ``Store.read("samples", …)``.
    volume_cm3, area_cm2 : float
        Chamber volume [cm³] and soil area [cm²] of every device.

    Returns
    -------
    pyarrow.Table
        The columns of the module docstring, sorted by device and seq (the order the
        device took its samples).
    """
    # the device's own order (seq), as a logger writes its file: soilflux recognises a
    # clock set right by NTP as a backward step in that order
    order = pc.sort_indices(samples, [("device", "ascending"), ("seq", "ascending")]).to_numpy()
    s = samples
    if not np.array_equal(order, np.arange(len(order))):  # the store's (device, time) order
        s = samples.combine_chunks().take(order)  # differs only where a device's clock stepped
    n = s.num_rows

    def floats(name: str) -> np.ndarray:
        return pc.fill_null(s[name].cast(pa.float64()), np.nan).to_numpy()

    h2o = h2o_mmol_mol(floats("rh_percent"), floats("scd30_temperature_c"), floats("pressure_hpa"))
    phase = s["phase"]
    in_closure = pc.fill_null(pc.is_in(phase, pa.array(CLOSURE_PHASES)), False)
    closure_id = pc.if_else(in_closure, s["cyc"].cast(pa.string()), pa.scalar(None, pa.string()))
    keys = pa.array(list(SOILFLUX_PHASE))
    generic_phase = pc.take(pa.array(list(SOILFLUX_PHASE.values())), pc.index_in(phase, keys))
    columns = {
        "time": s["time"],
        "chamber": s["device"],
        "device": s["device"],
        "seq": s["seq"],
        "location": s["location"],
        "phase": generic_phase,
        "firmware_phase": phase,
        "closure_id": closure_id,
        "co2_ppm": s["co2_ppm"],
        "h2o_mmol_mol": pa.array(h2o, pa.float64()),
        "rh_percent": s["rh_percent"],
        "temperature_c": s["temperature_c"],
        "scd30_temperature_c": s["scd30_temperature_c"],
        "pressure_hpa": s["pressure_hpa"],
        "lux": s["lux"],
        "lid_deg": s["lid_deg"],
        "fan_pct": s["fan_pct"],
        "flags": s["flags"],
        "volume_cm3": pa.array(np.full(n, float(volume_cm3))),
        "area_cm2": pa.array(np.full(n, float(area_cm2))),
    }
    return pa.table(columns)


def generic_samples(samples: pa.Table, volume_cm3: float, area_cm2: float) -> pd.DataFrame:
    """Store samples (schema ``SAMPLES``) → soilflux's generic layout (module docstring).

    Parameters
    ----------
    samples : pyarrow.Table
        From ``Store.read("samples", …)``.
    volume_cm3, area_cm2 : float
        Chamber volume [cm³] and soil area [cm²] of every device.

    Returns
    -------
    pandas.DataFrame
        :func:`generic_samples_table` as a frame, sorted by device and seq.
    """
    frame = generic_samples_table(samples, volume_cm3, area_cm2).to_pandas()
    frame["closure_id"] = frame["closure_id"].astype("string")
    return frame
