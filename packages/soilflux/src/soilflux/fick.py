"""Soil CO₂ efflux against soil-air pCO₂: Fick's first law across the top soil layer.

Fick's first law for the diffusive flux F from soil air at mole fraction x_s (measured at
depth z) to the air above (x_a):

.. math::
    F = D_s \\frac{C_s - C_a}{z} = D_s \\frac{P}{R T z}\\,(x_s - x_a)

with C = x·P/(RT) the molar concentration. Over days with similar temperature and
moisture (D_s roughly constant) F is linear in x_s: the slope b = D_s P/(R T z) of the
line F = a + b·x_s gives the effective diffusivity D_s = b·R·T·z/P, and the intercept the
atmospheric pCO₂ x_a = −a/b at which the efflux would stop.

References
----------
Fick, A. (1855). Ueber Diffusion. Ann. Phys. 170, 59–86.
Maier, M., Schack-Kirchner, H. (2014). Using the gradient method to determine soil gas
flux: a review. Agric. For. Meteorol. 192–193, 78–95 (eq. 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.agreement import Line, ols

R_J_MOL_K = 8.314462618
"""Molar gas constant [J mol⁻¹ K⁻¹] (CODATA 2018)."""

PCO2_RANGE_PPM = (0.0, 200_000.0)
"""Soil-air pCO₂ accepted [µmol mol⁻¹]: above 0 (a dead sensor reads 0) and below 20 %."""


@dataclass(frozen=True)
class FickFit:
    """Flux against soil pCO₂: the OLS line and what Fick's law makes of it.

    Attributes
    ----------
    line : Line
        ``flux_umol_m2_s = intercept + slope · pco2_ppm``; slope
        [µmol m⁻² s⁻¹ per µmol mol⁻¹], intercept [µmol m⁻² s⁻¹].
    zero_flux_pco2_ppm : float
        −intercept/slope [µmol mol⁻¹]: the pCO₂ of no efflux (≈ the air's if Fick holds).
    """

    line: Line
    zero_flux_pco2_ppm: float


def fick_fit(pco2_ppm: npt.ArrayLike, flux_umol_m2_s: npt.ArrayLike) -> FickFit:
    """Fit F = a + b·x_s (OLS, Student-t CIs) to paired soil pCO₂ and efflux.

    Parameters
    ----------
    pco2_ppm : array_like
        Soil-air CO₂ mole fraction x_s [µmol mol⁻¹], within :data:`PCO2_RANGE_PPM`.
    flux_umol_m2_s : array_like
        Soil CO₂ efflux F [µmol m⁻² s⁻¹], paired with ``pco2_ppm``; at least 3 pairs.

    Returns
    -------
    FickFit
    """
    x = np.asarray(pco2_ppm, dtype=np.float64)
    lo, hi = PCO2_RANGE_PPM
    if np.any(~(x > lo) | ~(x < hi)):
        raise ValueError(f"pco2_ppm must be in ({lo:g}, {hi:g}) µmol mol⁻¹")
    line = ols(x, flux_umol_m2_s)
    zero = -line.intercept / line.slope if line.slope != 0 else float("nan")
    return FickFit(line=line, zero_flux_pco2_ppm=float(zero))


def effective_diffusivity_m2_s(
    slope_umol_m2_s_per_ppm: npt.ArrayLike,
    depth_m: npt.ArrayLike,
    temperature_K: npt.ArrayLike,
    pressure_Pa: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Effective soil diffusivity D_s = b·R·T·z/P from the slope of :func:`fick_fit`.

    Parameters
    ----------
    slope_umol_m2_s_per_ppm : array_like
        b [µmol m⁻² s⁻¹ per µmol mol⁻¹].
    depth_m : array_like
        Depth of the pCO₂ probe z [m], in (0, 5].
    temperature_K : array_like
        Soil-air temperature T [K], in [233.15, 333.15].
    pressure_Pa : array_like
        Air pressure P [Pa], in [50 000, 110 000].

    Returns
    -------
    numpy.ndarray
        D_s [m² s⁻¹].
    """
    b = np.asarray(slope_umol_m2_s_per_ppm, dtype=np.float64)
    z = np.asarray(depth_m, dtype=np.float64)
    t = np.asarray(temperature_K, dtype=np.float64)
    p = np.asarray(pressure_Pa, dtype=np.float64)
    for name, v, lo, hi in (
        ("depth_m", z, 0.0, 5.0),
        ("temperature_K", t, 233.15, 333.15),
        ("pressure_Pa", p, 50_000.0, 110_000.0),
    ):
        if np.any(~(v >= lo) | ~(v <= hi)) or (name == "depth_m" and np.any(v == 0)):
            raise ValueError(f"{name} must be in [{lo:g}, {hi:g}]")
    # b [µmol m⁻² s⁻¹ / (µmol mol⁻¹)] = D P / (R T z) with x in µmol mol⁻¹ → the 1e-6s cancel
    return np.asarray(b * R_J_MOL_K * t * z / p, dtype=np.float64)


def daily_flux_pco2(
    fluxes: pd.DataFrame, pco2: pd.DataFrame, *, by: str = "location"
) -> pd.DataFrame:
    """Daily mean efflux paired with daily mean soil pCO₂, per location or variant.

    Parameters
    ----------
    fluxes : pandas.DataFrame
        Per-closure (or hourly) fluxes: ``location`` (``table.variant.replica``), ``start``
        (aware), ``flux_umol_m2_s`` [µmol m⁻² s⁻¹]; normally the quality-filtered view.
    pco2 : pandas.DataFrame
        Soil pCO₂ readings: ``location``, ``time`` (aware), ``pco2_ppm`` [µmol mol⁻¹]
        (as read by :func:`soilflux.io.pco2.read_pco2_table`); readings outside
        :data:`PCO2_RANGE_PPM` are left out.
    by : {"location", "variant"}
        Pair per pot, or per variant (means over its replicas).

    Returns
    -------
    pandas.DataFrame
        ``day`` (UTC), ``table``, the key (``location`` or ``variant``),
        ``flux_umol_m2_s`` [µmol m⁻² s⁻¹], ``pco2_ppm`` [µmol mol⁻¹], ``n_closures``;
        only days with both.
    """
    from soilflux.aggregate import split_location

    if by not in ("location", "variant"):
        raise ValueError(f"by must be 'location' or 'variant', got {by!r}")
    for name, frame, cols in (
        ("fluxes", fluxes, ("location", "start", "flux_umol_m2_s")),
        ("pco2", pco2, ("location", "time", "pco2_ppm")),
    ):
        for c in cols:
            if c not in frame.columns:
                raise ValueError(f"{name} table has no {c!r} column")
    lo, hi = PCO2_RANGE_PPM
    p = pco2[(pco2["pco2_ppm"] > lo) & (pco2["pco2_ppm"] < hi)]
    f = fluxes[np.isfinite(fluxes["flux_umol_m2_s"].to_numpy(dtype=np.float64))]

    def keyed(frame: pd.DataFrame, time: str) -> pd.DataFrame:
        parts = split_location(frame["location"].astype("string"))
        out = frame.assign(
            day=pd.to_datetime(frame[time], utc=True).dt.floor("D"),
            table=parts["table"],
            variant=parts["variant"],
            location=frame["location"].astype("string"),
        )
        return out[out[by].notna()]

    fk = keyed(f, "start")
    pk = keyed(p, "time")
    fd = (
        fk.groupby(["day", "table", by], observed=True)["flux_umol_m2_s"]
        .agg(flux_umol_m2_s="mean", n_closures="count")
        .reset_index()
    )
    pd_ = pk.groupby(["day", "table", by], observed=True)["pco2_ppm"].mean().reset_index()
    both = fd.merge(pd_, on=["day", "table", by], how="inner")
    both["table"] = both["table"].astype(str)
    both[by] = both[by].astype(str)
    return both[["day", "table", by, "flux_umol_m2_s", "pco2_ppm", "n_closures"]].sort_values(
        ["table", by, "day"], ignore_index=True
    )
