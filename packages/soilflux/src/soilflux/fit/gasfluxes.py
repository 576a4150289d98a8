"""gasfluxes-compatible entry points: fits on plain (t, C, V, A) series.

R's gasfluxes (Fuß, Hüppi; CRAN v0.7) computes f0 = (dC/dt at t = 0)·V/A for each series
with ``lin.fit``, ``rlin.fit`` (MASS::rlm) and ``HMR.fit`` (nls ``plinear``,
C(t) = φ + f0·e^{−κt}/(−κV/A), κ > 0), and picks one with ``selectfluxes(..., "kappa.max")``.
These functions give the same numbers from soilflux's batched fits, so results can be compared
with published gasfluxes output.  Units are whatever the input uses (gasfluxes recommends
V in m³, A in m², t in h, C in mass m⁻³, giving f0 in mass m⁻² h⁻¹).

Differences: the batched HMR fit starts from a quadratic estimate of κ, not from
``k = log(1.5)``; where the least-squares optimum has κ → 0 (a straight line) or κ → ∞,
soilflux reports a failed fit (NaN), as gasfluxes ≥ 0.4 reports "dubious fit" or an nls error.

References
----------
Fuß, R. (2024). gasfluxes: Greenhouse Gas Flux Calculation from Chamber Measurements,
R package v0.7, https://CRAN.R-project.org/package=gasfluxes.
Hüppi, R. et al. (2018). PLOS ONE 13(7):e0200876.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from soilflux.fit._batch import (
    FloatArray,
    IntArray,
    gaussian_aic,
    gaussian_aicc,
    make_batch,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit.exponential import fit_exp_curve_batch
from soilflux.fit.linear import fit_linear_batch
from soilflux.fit.robust import fit_robust_linear_batch


@dataclass(frozen=True)
class GasfluxesResult:
    """Per-series results in gasfluxes' naming; arrays of shape (k,).

    Attributes
    ----------
    ids : series identifiers
    n : samples per series
    linear_f0, linear_f0_se, linear_f0_p, linear_C0, linear_AIC, linear_AICc, linear_RSE, linear_r
    robust_linear_f0, robust_linear_f0_se, robust_linear_C0
    HMR_f0, HMR_f0_se, HMR_f0_p, HMR_kappa, HMR_phi, HMR_AIC, HMR_AICc, HMR_RSE
        f0 [C-unit · V-unit / (A-unit · t-unit)], κ [t-unit⁻¹], others as gasfluxes.
    """

    ids: npt.NDArray[np.object_]
    n: IntArray
    linear_f0: FloatArray
    linear_f0_se: FloatArray
    linear_f0_p: FloatArray
    linear_C0: FloatArray
    linear_AIC: FloatArray
    linear_AICc: FloatArray
    linear_RSE: FloatArray
    linear_r: FloatArray
    robust_linear_f0: FloatArray
    robust_linear_f0_se: FloatArray
    robust_linear_C0: FloatArray
    HMR_f0: FloatArray
    HMR_f0_se: FloatArray
    HMR_f0_p: FloatArray
    HMR_kappa: FloatArray
    HMR_phi: FloatArray
    HMR_AIC: FloatArray
    HMR_AICc: FloatArray
    HMR_RSE: FloatArray

    def to_frame(self) -> pd.DataFrame:
        """One row per series, columns named as gasfluxes' output (dots → underscores)."""
        return pd.DataFrame({k: v for k, v in self.__dict__.items()}).set_index("ids")


def _two_sided_p(est: FloatArray, se: FloatArray, dof: FloatArray) -> FloatArray:
    tval = np.abs(safe_divide(est, se))
    out = np.full(est.shape, np.nan)
    ok = np.isfinite(tval) & (dof > 0)
    out[ok] = 2.0 * stats.t.sf(tval[ok], dof[ok])
    return out


def fit_series(
    t: npt.ArrayLike,
    c: npt.ArrayLike,
    volume: npt.ArrayLike,
    area: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
) -> GasfluxesResult:
    """Linear, robust linear and HMR fits of padded series, in gasfluxes' terms.

    Parameters
    ----------
    t : array_like, shape (k, m)
        Time since closing [any time unit; gasfluxes: h].
    c : array_like, shape (k, m)
        Concentration [any unit; gasfluxes: mass m⁻³].
    volume, area : array_like, shape (k,)
        Chamber volume and area (only V/A matters) [e.g. m³, m²].
    mask : array_like of bool, shape (k, m), optional
        Samples of each series (default: finite cells).

    Returns
    -------
    GasfluxesResult
    """
    b = make_batch(t, c, mask)
    h = np.asarray(volume, dtype=np.float64) / np.asarray(area, dtype=np.float64)
    n = b.n.astype(np.float64)
    ids = np.arange(b.n.size).astype(object)

    lin = fit_linear_batch(b)
    lin_rse = safe_sqrt(safe_divide(lin.sse, n - 2))
    lin_r = np.sign(lin.slope) * safe_sqrt(lin.r2)

    rob = fit_robust_linear_batch(b)

    # HMR: κ > 0; an optimum on either bound means no interior least-squares solution
    span = np.where(b.mask, b.t, -np.inf).max(axis=1) - np.where(b.mask, b.t, np.inf).min(axis=1)
    span = np.where(span > 0, span, 1.0)
    curve = fit_exp_curve_batch(b, a_bounds=(1e-9 / span, 1e3 / span), maxiter=200, tol=1e-12)
    slope0, slope0_se = curve.slope_at_time(np.zeros_like(span))
    ok = curve.converged & ~curve.at_bound & (b.n > 3)
    hmr_f0 = np.where(ok, slope0 * h, np.nan)
    hmr_se = np.where(ok, slope0_se * h, np.nan)
    hmr_p = _two_sided_p(hmr_f0, hmr_se, n - 3)
    dubious = ~(hmr_p <= 1 - np.finfo(float).epsneg)  # gasfluxes ≥ 0.4: "dubious fit"
    nan = np.where(ok & ~dubious, 0.0, np.nan)
    return GasfluxesResult(
        ids=ids,
        n=b.n,
        linear_f0=lin.slope * h,
        linear_f0_se=lin.slope_se * h,
        linear_f0_p=_two_sided_p(lin.slope, lin.slope_se, n - 2),
        linear_C0=lin.intercept,
        linear_AIC=gaussian_aic(lin.sse, b.n, 2),
        linear_AICc=gaussian_aicc(lin.sse, b.n, 2),
        linear_RSE=lin_rse,
        linear_r=lin_r,
        robust_linear_f0=rob.slope * h,
        robust_linear_f0_se=rob.slope_se * h,
        robust_linear_C0=rob.intercept,
        HMR_f0=hmr_f0 + nan,
        HMR_f0_se=hmr_se + nan,
        HMR_f0_p=hmr_p + nan,
        HMR_kappa=curve.a + nan,
        HMR_phi=curve.asymptote() + nan,
        HMR_AIC=gaussian_aic(curve.sse, b.n, 3) + nan,
        HMR_AICc=_gasfluxes_aicc(curve.sse, b.n, 3) + nan,
        HMR_RSE=safe_sqrt(safe_divide(curve.sse, n - 3)) + nan,
    )


def _gasfluxes_aicc(sse: FloatArray, n: IntArray, n_params: int) -> FloatArray:
    """gasfluxes' ``aicc``: AIC + 2k(k+1)/(n − k − 1) even where the denominator is < 0."""
    k = n_params + 1
    den = n.astype(np.float64) - k - 1
    corr = np.full(den.shape, np.inf)
    np.divide(2.0 * k * (k + 1), den, out=corr, where=den != 0)
    return np.asarray(gaussian_aic(sse, n, n_params) + corr)


def gasfluxes(
    data: pd.DataFrame,
    id_col: str = "ID",
    v_col: str = "V",
    a_col: str = "A",
    time_col: str = "time",
    c_col: str = "C",
) -> pd.DataFrame:
    """gasfluxes' ``gasfluxes(dat, methods = c("linear", "robust linear", "HMR"))``.

    Parameters
    ----------
    data : DataFrame
        Long table: series id, V, A, time, C (one row per sample; order within a series is
        by time).
    id_col, v_col, a_col, time_col, c_col : str
        Column names.

    Returns
    -------
    DataFrame
        Indexed by series id (in order of first appearance); columns of `GasfluxesResult`.
    """
    for col in (id_col, v_col, a_col, time_col, c_col):
        if col not in data.columns:
            raise ValueError(f"data lacks column {col!r}")
    codes, uniques = pd.factorize(data[id_col], sort=False)
    order = np.lexsort((data[time_col].to_numpy(dtype=float), codes))
    codes_s = codes[order]
    counts = np.bincount(codes_s, minlength=len(uniques))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k, m = len(uniques), int(counts.max()) if len(uniques) else 1
    col = np.arange(len(codes_s)) - starts[codes_s]
    t = np.full((k, m), np.nan)
    c = np.full((k, m), np.nan)
    t[codes_s, col] = data[time_col].to_numpy(dtype=float)[order]
    c[codes_s, col] = data[c_col].to_numpy(dtype=float)[order]
    first = starts
    v = data[v_col].to_numpy(dtype=float)[order][first]
    a = data[a_col].to_numpy(dtype=float)[order][first]
    res = fit_series(t, c, v, a).to_frame()
    res.index = pd.Index(uniques, name=id_col)
    return res


def select_kappa_max(
    fits: pd.DataFrame, f_detect: float, t_meas: float | npt.ArrayLike
) -> pd.DataFrame:
    """gasfluxes' ``selectfluxes(res, "kappa.max", f.detect, t.meas)``.

    κ_max = f_lin / f_detect / t_meas (Hüppi et al. 2018); the flux is robust linear (linear
    where rlm failed), replaced by HMR where HMR succeeded and κ_HMR < κ_max.

    Parameters
    ----------
    fits : DataFrame
        Output of `gasfluxes`.
    f_detect : float
        Minimal detectable flux [flux unit].
    t_meas : float or array_like
        Measurement time [time unit of κ].

    Returns
    -------
    DataFrame
        ``flux``, ``flux_se``, ``method`` ("robust linear", "linear", "HMR", "error"),
        ``kappa_max``.
    """
    tm = np.broadcast_to(np.asarray(t_meas, dtype=np.float64), (len(fits),))
    if (tm <= 0).any():
        raise ValueError("t_meas must be > 0")
    kmax = fits["linear_f0"].to_numpy() / f_detect / tm
    flux = fits["robust_linear_f0"].to_numpy().copy()
    se = fits["robust_linear_f0_se"].to_numpy().copy()
    method = np.full(len(fits), "robust linear", dtype=object)
    no_rob = ~np.isfinite(flux)
    flux[no_rob] = fits["linear_f0"].to_numpy()[no_rob]
    se[no_rob] = fits["linear_f0_se"].to_numpy()[no_rob]
    method[no_rob] = "linear"
    hmr = fits["HMR_f0"].to_numpy()
    use_hmr = (method == "robust linear") & np.isfinite(hmr) & (fits["HMR_kappa"].to_numpy() < kmax)
    flux[use_hmr] = hmr[use_hmr]
    se[use_hmr] = fits["HMR_f0_se"].to_numpy()[use_hmr]
    method[use_hmr] = "HMR"
    method[~np.isfinite(flux)] = "error"
    return pd.DataFrame(
        {"flux": flux, "flux_se": se, "method": method, "kappa_max": kmax}, index=fits.index
    )
