"""Ordinary least-squares line C(t) = C₀ + b·t, closed form for a whole batch of closures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilflux.fit._batch import (
    Batch,
    BoolArray,
    FloatArray,
    IntArray,
    gaussian_aicc,
    make_batch,
    quiet,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit._lstsq import weighted_lstsq


@dataclass(frozen=True)
class LinearFit:
    """OLS line per closure; every field has shape (k,).

    Attributes
    ----------
    slope : dC/dt [concentration unit per time unit, e.g. µmol mol⁻¹ s⁻¹]
    slope_se : standard error of the slope [same unit]
    intercept : fitted C at t = 0 [concentration unit]
    intercept_se : its standard error [concentration unit]
    sse : residual sum of squares [concentration unit²]
    sst : total sum of squares about the mean [concentration unit²]
    r2 : coefficient of determination [-]
    aicc : small-sample Akaike information criterion [-]
    n : samples in the fit [-]
    ok : True where the line is defined (n ≥ 3 and time varies)
    lag_coef : B of the sensor-lag transient B·e^{−t/τ_s} (`fit_linear_lag_batch` only)
    """

    slope: FloatArray
    slope_se: FloatArray
    intercept: FloatArray
    intercept_se: FloatArray
    sse: FloatArray
    sst: FloatArray
    r2: FloatArray
    aicc: FloatArray
    n: IntArray
    ok: BoolArray
    lag_coef: FloatArray | None = None  # B of the sensor-lag term, where fitted

    n_params = 2


@quiet
def fit_linear_batch(b: Batch) -> LinearFit:
    """OLS fit of every closure of a `Batch` (see `fit_linear`)."""
    n = b.n.astype(np.float64)
    t_mean, dt, sxx = b.centred_t()
    c_mean, dc = b.centred_c()
    sxy = np.einsum("ij,ij->i", dt, dc)
    syy = np.einsum("ij,ij->i", dc, dc)
    slope = safe_divide(sxy, sxx)
    ok = (b.n >= 3) & np.isfinite(slope)
    resid = dc - np.nan_to_num(slope)[:, None] * dt
    sse = np.einsum("ij,ij->i", resid, resid)
    dof = n - 2
    s2 = safe_divide(sse, dof)
    slope_se = safe_sqrt(safe_divide(s2, sxx))
    intercept = c_mean - slope * t_mean
    intercept_se = safe_sqrt(s2 * (safe_divide(np.ones_like(n), n) + safe_divide(t_mean**2, sxx)))
    r2 = 1.0 - safe_divide(sse, syy)
    nan = np.where(ok, 0.0, np.nan)
    return LinearFit(
        slope=slope + nan,
        slope_se=slope_se + nan,
        intercept=intercept + nan,
        intercept_se=intercept_se + nan,
        sse=sse + nan,
        sst=syy + nan,
        r2=r2 + nan,
        aicc=gaussian_aicc(sse, b.n, 2) + nan,
        n=b.n,
        ok=ok,
    )


@quiet
def fit_linear_slope_batch(b: Batch) -> FloatArray:
    """`fit_linear_batch(b).slope` alone, same numbers (for a caller that needs no more)
    [concentration unit per time unit]."""
    _, dt, sxx = b.centred_t()
    _, dc = b.centred_c()
    slope = safe_divide(np.einsum("ij,ij->i", dt, dc), sxx)
    ok = (b.n >= 3) & np.isfinite(slope)
    return np.asarray(slope + np.where(ok, 0.0, np.nan), dtype=np.float64)


def fit_linear(t: npt.ArrayLike, c: npt.ArrayLike, mask: npt.ArrayLike | None = None) -> LinearFit:
    """Ordinary least-squares line through each closure of a padded batch.

    C(t) = C₀ + b·t, b = Σ(t − t̄)(C − C̄) / Σ(t − t̄)², SE(b) = √(SSE/(n − 2) / Σ(t − t̄)²).

    Parameters
    ----------
    t : array_like, shape (k, m) or (m,)
        Sample times [s].
    c : array_like, same shape
        Concentrations [µmol mol⁻¹].
    mask : array_like of bool, optional
        Samples in the fit window (default: all finite cells).

    Returns
    -------
    LinearFit
        Arrays of shape (k,); NaN where fewer than 3 samples or no time spread.
    """
    return fit_linear_batch(make_batch(t, c, mask))


@quiet
def fit_linear_lag_batch(b: Batch, lag_basis: FloatArray) -> LinearFit:
    """OLS line plus the sensor-lag transient B·e^{−t/τ_s} (see `soilflux.fit.lag`).

    C(t) = C₀ + b·t + B·e^{−t/τ_s}; `slope` is b and `intercept` C₀ (the lag-free line).
    Closures whose transient vanishes on the window get B = 0, i.e. plain OLS.
    """
    n = b.n.astype(np.float64)
    c_mean, y = b.centred_c()
    coef, inv, ok = weighted_lstsq([b.w, b.t, lag_basis], y, b.w, min_n=4, window=True)
    fitted = coef[:, 0:1] * b.w + coef[:, 1:2] * b.t + coef[:, 2:3] * lag_basis
    resid = (y - np.nan_to_num(fitted)) * b.w
    sse = np.einsum("ij,ij->i", resid, resid)
    sst = np.einsum("ij,ij->i", y, y)
    p = 2 + (np.abs(coef[:, 2]) > 0)
    s2 = safe_divide(sse, n - p)
    ok &= np.isfinite(coef[:, 1])
    nan = np.where(ok, 0.0, np.nan)
    return LinearFit(
        slope=coef[:, 1] + nan,
        slope_se=safe_sqrt(inv[:, 1, 1] * s2) + nan,
        intercept=coef[:, 0] + c_mean + nan,
        intercept_se=safe_sqrt(inv[:, 0, 0] * s2) + nan,
        sse=sse + nan,
        sst=sst + nan,
        r2=1.0 - safe_divide(sse, sst) + nan,
        aicc=gaussian_aicc(sse, b.n, 3) + nan,
        n=b.n,
        ok=ok,
        lag_coef=coef[:, 2] + nan,
    )
