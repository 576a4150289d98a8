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

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from fluxfleet.ingest.batch import CLOSURE_PHASES

SOILFLUX_PHASE = {
    "open": "open",
    "closing": "closing",
    "closed": "closed",
    "extended": "closed",
    "opening": "opening",
    "flush": "flush",
}
"""Firmware phase → soilflux's generic phase vocabulary."""


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
        Sorted by device and seq (the order the device took its samples).
    """
    from soilflux.io import h2o_from_rh

    s = samples.to_pandas()
    rh = s["rh_percent"].to_numpy(dtype=np.float64)
    t_scd = s["scd30_temperature_c"].to_numpy(dtype=np.float64)
    p_kpa = s["pressure_hpa"].to_numpy(dtype=np.float64) / 10.0
    ok = (
        np.isfinite(rh)
        & np.isfinite(t_scd)
        & (t_scd >= -40.0)
        & (t_scd <= 50.0)
        & np.isfinite(p_kpa)
        & (p_kpa > 0.0)
    )
    h2o = np.full(len(s), np.nan)
    h2o[ok] = h2o_from_rh(rh[ok], t_scd[ok], p_kpa[ok])
    in_closure = s["phase"].isin(CLOSURE_PHASES).to_numpy()
    closure_id = pd.Series(s["cyc"].astype("string"), dtype="string").where(in_closure)
    out = pd.DataFrame(
        {
            "time": s["time"],
            "chamber": s["device"],
            "device": s["device"],
            "seq": s["seq"],
            "location": s["location"],
            "phase": s["phase"].map(SOILFLUX_PHASE),
            "firmware_phase": s["phase"],
            "closure_id": closure_id,
            "co2_ppm": s["co2_ppm"],
            "h2o_mmol_mol": h2o,
            "rh_percent": s["rh_percent"],
            "temperature_c": s["temperature_c"],
            "scd30_temperature_c": s["scd30_temperature_c"],
            "pressure_hpa": s["pressure_hpa"],
            "lux": s["lux"],
            "lid_deg": s["lid_deg"],
            "fan_pct": s["fan_pct"],
            "flags": s["flags"],
            "volume_cm3": float(volume_cm3),
            "area_cm2": float(area_cm2),
        }
    )
    # the device's own order (seq), as a logger writes its file: soilflux recognises a
    # clock set right by NTP as a backward step in that order
    return out.sort_values(["device", "seq"], kind="stable").reset_index(drop=True)
