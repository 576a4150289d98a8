"""Fluxes computed by ``soilflux`` from the simulator's samples, side by side with the truth.

The chain a real deployment runs, in miniature: fleet samples (as published) →
``soilflux.segment.segment`` (closures, keyed by the firmware's cycle number) →
``soilflux.pipeline.compute_fluxes`` → joined to the ground truth on (chamber, cycle).

Sample conversion (units in the names):

* ``co2_ppm`` — the SCD30 reading, wet mole fraction [µmol mol⁻¹];
* ``h2o_mmol_mol`` — from the SCD30's RH and *its own* temperature (its RH refers to its
  self-heated element, so the pair gives the true vapour pressure) and the pressure:
  W = RH/100 · e_s(T_SCD30) / P [mmol mol⁻¹];
* ``temperature_c`` — the QMP6988 air temperature (the seed: the SCD30 runs 1–2 °C warm);
* ``pressure_kpa`` — QMP6988 pressure / 10;
* ``elapsed_s`` — from the lid-close command ``t_close`` of the device's cycle message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fluxfleet.sim.physics import saturation_vapour_pressure_hpa

CLOSURE_PHASES = ("closing", "closed", "extended")


def soilflux_records(samples: pd.DataFrame, cycles: pd.DataFrame) -> pd.DataFrame:
    """Fleet samples → the long table ``soilflux.segment.segment`` reads.

    Parameters
    ----------
    samples : pandas.DataFrame
        From :meth:`fluxfleet.sim.collect.Gather.samples`.
    cycles : pandas.DataFrame
        From :meth:`fluxfleet.sim.collect.Gather.cycles` (``chamber``, ``cyc``,
        ``t_close`` [ms]).

    Returns
    -------
    pandas.DataFrame
        ``time``, ``chamber``, ``location``, ``phase``, ``closure_id`` (the cycle number,
        only on closure rows), ``elapsed_s`` [s], ``co2_ppm``, ``h2o_mmol_mol``,
        ``temperature_c``, ``pressure_kpa``, ``lux``.
    """
    s = samples[samples["ph"].isin(CLOSURE_PHASES)].copy()
    rh = s["rh_pct"].to_numpy(dtype=np.float64)
    t_scd = s["t_c"].to_numpy(dtype=np.float64)
    p = s["p_hpa"].to_numpy(dtype=np.float64)
    ok = np.isfinite(rh) & np.isfinite(t_scd) & np.isfinite(p)
    es = np.full(len(s), np.nan)
    es[ok] = saturation_vapour_pressure_hpa(np.clip(t_scd[ok], -45.0, 60.0))
    h2o = rh / 100.0 * es / p * 1000.0
    if len(cycles):
        starts = cycles.drop_duplicates(["chamber", "cyc"]).set_index(["chamber", "cyc"])["t_close"]
        key = pd.MultiIndex.from_arrays([s["chamber"], s["cyc"]])
        t_close = starts.reindex(key).to_numpy(dtype=np.float64)
    else:
        t_close = np.full(len(s), np.nan)
    # a closure whose cycle message never came: its first sample is the close command
    first = s.groupby(["chamber", "cyc"])["ts"].transform("min").to_numpy(dtype=np.float64)
    t_close = np.where(np.isfinite(t_close), t_close, first)
    return pd.DataFrame(
        {
            "time": s["time"].to_numpy(),
            "chamber": s["chamber"].astype(str).to_numpy(),
            "location": s["location"].to_numpy(),
            "phase": "closed",
            "closure_id": s["cyc"].astype(str).to_numpy(),
            "elapsed_s": (s["ts"].to_numpy(dtype=np.float64) - t_close) / 1000.0,
            "co2_ppm": s["co2_ppm"].to_numpy(dtype=np.float64),
            "h2o_mmol_mol": h2o,
            "temperature_c": s["ta_c"].to_numpy(dtype=np.float64),
            "pressure_kpa": p / 10.0,
            "lux": s["lux"].to_numpy(dtype=np.float64),
        }
    )


@dataclass
class Comparison:
    """soilflux fluxes joined to the truth (one row per truth closure that was measured)."""

    table: pd.DataFrame
    """Truth columns plus ``flux_umol_m2_s`` (soilflux), ``model``, ``flags``, ``rel_error``
    (F_soilflux / F_true − 1), ``flux_se`` (the selected model's standard error
    [µmol m⁻² s⁻¹]; NaN where the model has none) and ``valid`` (no drop flag)."""

    def night_valid(self) -> pd.DataFrame:
        """Valid night-time closures without injected faults: the ±5 % population."""
        t = self.table
        clean = (t["faults"] == "") & t["complete"] & t["sealed"]
        return t[t["night"] & clean & t["valid"]]

    def within(self, tolerance: float = 0.05) -> float:
        """Fraction of :meth:`night_valid` closures within ±``tolerance`` of the truth."""
        nv = self.night_valid()
        if nv.empty:
            return float("nan")
        return float((nv["rel_error"].abs() <= tolerance).mean())

    def within_se(self, k: float = 2.0) -> float:
        """Fraction of :meth:`night_valid` closures whose flux is within ``k`` of its own
        standard errors of the truth (≈ 95.4 % for k = 2 if the errors are honest)."""
        nv = self.night_valid()
        z = (nv["flux_umol_m2_s"] - nv["flux_true_umol_m2_s"]) / nv["flux_se"]
        z = z[z.notna()]
        return float((z.abs() <= k).mean()) if len(z) else float("nan")


def compare(
    samples: pd.DataFrame,
    cycles: pd.DataFrame,
    truth: pd.DataFrame,
    options: object | None = None,
    drop_flags: Iterable[str] | None = None,
) -> Comparison:
    """Compute the fluxes with soilflux and join them to the truth.

    Parameters
    ----------
    samples, cycles : pandas.DataFrame
        What the fleet published (see :func:`soilflux_records`).
    truth : pandas.DataFrame
        :meth:`fluxfleet.sim.truth.TruthRecorder.closures` / the truth Parquet.
    options : soilflux.options.FluxOptions, optional
        Options of ``compute_fluxes``; default: the platform's
        (`fluxfleet.flux_options.FLEET_FLUX_OPTIONS`).
    drop_flags : iterable of str, optional
        Flags that make a closure invalid; default ``soilflux.qc.DEFAULT_DROP``.

    Returns
    -------
    Comparison
    """
    from soilflux.pipeline import compute_fluxes
    from soilflux.qc import DEFAULT_DROP
    from soilflux.segment import segment

    from fluxfleet.flux_options import FLEET_FLUX_OPTIONS

    drop = set(DEFAULT_DROP if drop_flags is None else drop_flags)
    geometry = truth.drop_duplicates("chamber").set_index("chamber")[["volume_cm3", "area_cm2"]]
    records = soilflux_records(samples, cycles)
    sf_samples, sf_closures, _ = segment(records, chambers=geometry)
    opts = FLEET_FLUX_OPTIONS if options is None else options
    fluxes = compute_fluxes(sf_samples, sf_closures, opts)  # type: ignore[arg-type]
    fluxes = fluxes[fluxes["gas"].astype(str).str.startswith("co2")]
    cyc = sf_closures["closure_id"].astype(str)
    fluxes = fluxes.assign(cyc=cyc.reindex(fluxes["closure"].to_numpy()).astype(int).to_numpy())
    # the selected model's own standard error (none for a model without one, e.g. hm_pooled)
    se = np.full(len(fluxes), np.nan)
    for model in fluxes["model"].dropna().unique():
        column = f"flux_{model}_se"
        if column in fluxes:
            rows = (fluxes["model"] == model).to_numpy()
            se[rows] = fluxes.loc[rows, column].to_numpy(dtype=float)
    fluxes = fluxes.assign(flux_se=se)
    keep = [
        "chamber",
        "cyc",
        "flux_umol_m2_s",
        "flux_se",
        "model",
        "flags",
        "n",
        "deadband_s",
        "r2",
    ]
    joined = truth.merge(
        fluxes[keep].rename(columns={"r2": "fit_r2", "n": "n_fit"}),
        on=["chamber", "cyc"],
        how="inner",
    )
    flags = joined["flags"].fillna("").astype(str)
    joined["valid"] = [not (set(f.split(",")) & drop) if f else True for f in flags]
    joined["rel_error"] = joined["flux_umol_m2_s"] / joined["flux_true_umol_m2_s"] - 1.0
    return Comparison(joined)
