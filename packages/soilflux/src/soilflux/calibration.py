"""The fleet's calibration spread: how far apart the CO₂ sensors read the same air.

In a calibration session every chamber samples one air mass (chambers open side by side,
or in a common enclosure) while a forced recalibration (FRC, Sensirion SCD30: every sensor
told the air is at one reference concentration, e.g. 420 ppm) is applied to all at once.
The spread across sensors before and after the FRC shows what the recalibration bought.

Statistics are two-stage, so a sensor that reports more often does not weigh more: each
sensor's mean in a time bin, then mean and sample standard deviation across sensors.

References
----------
Sensirion (2020). SCD30 Interface Description, v1.0, section 1.4.6 (forced recalibration):
accuracy ±(30 ppm + 3 % of reading).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

SPREAD_COLUMNS = ("time", "co2_mean_ppm", "co2_sd_ppm", "n_sensors", "period")


def fleet_spread(
    samples: pd.DataFrame,
    *,
    bin_s: float = 60.0,
    recalibration: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Spread of the fleet's sensors over time (per time bin, across sensors).

    .. math::
        \\bar c_{s,k} = \\operatorname{mean}_{i \\in k} c_{s,i},\\quad
        \\bar c_k = \\operatorname{mean}_s \\bar c_{s,k},\\quad
        \\sigma_k = \\sqrt{\\tfrac{1}{m_k - 1}\\sum_s (\\bar c_{s,k} - \\bar c_k)^2}

    for sensor s, bin k with m_k sensors.

    Parameters
    ----------
    samples : pandas.DataFrame
        ``time`` (aware), ``sensor`` (any id) and ``co2_ppm`` [µmol mol⁻¹]; non-finite
        readings are ignored.
    bin_s : float
        Bin width [s], 1 … 86 400.
    recalibration : pandas.Timestamp, optional
        Time of the forced recalibration (aware): bins starting before it are
        ``before``, the others ``after``; without it every bin is ``session``.

    Returns
    -------
    pandas.DataFrame
        ``time`` (bin start, UTC), ``co2_mean_ppm`` [µmol mol⁻¹], ``co2_sd_ppm``
        [µmol mol⁻¹] (NaN with one sensor), ``n_sensors``, ``period``.
    """
    if not (np.isfinite(bin_s) and 1.0 <= bin_s <= 86_400.0):
        raise ValueError(f"bin_s must be in [1, 86400] s, got {bin_s}")
    for c in ("time", "sensor", "co2_ppm"):
        if c not in samples.columns:
            raise ValueError(f"samples table has no {c!r} column")
    co2 = pd.to_numeric(samples["co2_ppm"], errors="coerce").astype("float64")
    ok = np.isfinite(co2.to_numpy())
    df = pd.DataFrame(
        {
            "time": pd.to_datetime(samples["time"], utc=True)[ok].dt.floor(f"{bin_s:g}s"),
            "sensor": samples["sensor"][ok].astype(str),
            "co2_ppm": co2[ok],
        }
    )
    per_sensor = df.groupby(["time", "sensor"], sort=True)["co2_ppm"].mean().reset_index()
    out = (
        per_sensor.groupby("time", sort=True)["co2_ppm"]
        .agg(co2_mean_ppm="mean", co2_sd_ppm="std", n_sensors="count")
        .reset_index()
    )
    if recalibration is None:
        out["period"] = "session"
    else:
        at = pd.Timestamp(recalibration)
        if at.tzinfo is None:
            raise ValueError("recalibration must be an aware time")
        out["period"] = np.where(out["time"] < at, "before", "after")
    return out[list(SPREAD_COLUMNS)]


def spread_by_concentration(
    spread: pd.DataFrame, edges_ppm: npt.ArrayLike | None = None
) -> pd.DataFrame:
    """Mean fleet spread per concentration band and period (sd against concentration).

    Parameters
    ----------
    spread : pandas.DataFrame
        Output of :func:`fleet_spread`.
    edges_ppm : array_like, optional
        Increasing band edges [µmol mol⁻¹]; default 0, 400, 500, …, 2000, 5000, 10 000
        (the SCD30's range).

    Returns
    -------
    pandas.DataFrame
        ``period``, ``co2_low_ppm``, ``co2_high_ppm`` [µmol mol⁻¹] (band [low, high)),
        ``co2_mean_ppm`` (mean concentration of the band's bins), ``co2_sd_ppm`` (root
        mean square of the bins' sd, i.e. the pooled sd) [µmol mol⁻¹], ``n_bins``; only
        bands holding bins with an sd.
    """
    edges = np.asarray(
        edges_ppm
        if edges_ppm is not None
        else [0, 400, 500, 600, 700, 800, 1000, 1500, 2000, 5000, 10_000],
        dtype=np.float64,
    )
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("edges_ppm must be at least two increasing values")
    s = spread[np.isfinite(spread["co2_sd_ppm"].to_numpy(dtype=np.float64))]
    band = np.searchsorted(edges, s["co2_mean_ppm"].to_numpy(dtype=np.float64), side="right") - 1
    inside = (band >= 0) & (band < len(edges) - 1)
    s = s[inside].assign(_band=band[inside], _var=s["co2_sd_ppm"][inside] ** 2)
    g = s.groupby(["period", "_band"], sort=True).agg(
        co2_mean_ppm=("co2_mean_ppm", "mean"), _var=("_var", "mean"), n_bins=("_var", "count")
    )
    g = g.reset_index()
    return pd.DataFrame(
        {
            "period": g["period"],
            "co2_low_ppm": edges[g["_band"].to_numpy()],
            "co2_high_ppm": edges[g["_band"].to_numpy() + 1],
            "co2_mean_ppm": g["co2_mean_ppm"],
            "co2_sd_ppm": np.sqrt(g["_var"]),
            "n_bins": g["n_bins"].astype(np.int64),
        }
    )
