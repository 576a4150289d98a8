"""Robust line: Huber M-estimator by iteratively reweighted least squares, batched.

Reproduces R's ``MASS::rlm(C ~ t)`` defaults (psi = Huber, k = 1.345, scale = MAD of the
residuals re-estimated every iteration, convergence on the relative change of the residuals
< 1e-4) and the standard error of ``summary.rlm`` (method "XtX"), which gasfluxes'
``rlin.fit`` reports.  All closures iterate together; converged ones stop changing.

References
----------
Huber, P. J. (1981). *Robust Statistics*. Wiley.
Venables, W. N., Ripley, B. D. (2002). *Modern Applied Statistics with S*, 4th ed., §6.5.
"""

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

HUBER_K = 1.345
MAD_CONSTANT = 0.6745


@dataclass(frozen=True)
class RobustLinearFit:
    """Huber-robust line per closure; every field has shape (k,) unless noted.

    Attributes
    ----------
    slope, slope_se : dC/dt and its standard error [concentration per time unit]
    intercept : fitted C at t = 0 [concentration unit]
    scale : final robust residual scale s [concentration unit]
    sse : unweighted residual sum of squares [concentration unit²]
    aicc : Gaussian AICc of the unweighted residuals [-]
    weights : (k, m) final robustness weights, 0 outside the window [-]
    iterations : IRLS iterations used [-]
    n : samples [-]
    ok : True where the fit is defined (n ≥ 4, as gasfluxes requires, and finite)
    """

    slope: FloatArray
    slope_se: FloatArray
    intercept: FloatArray
    scale: FloatArray
    sse: FloatArray
    aicc: FloatArray
    weights: FloatArray
    iterations: IntArray
    n: IntArray
    ok: BoolArray

    n_params = 2


def _wls(b: Batch, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted least-squares line; returns (intercept, slope)."""
    sw = w.sum(axis=1)
    tm = safe_divide(np.einsum("ij,ij->i", w, b.t), sw)
    cm = safe_divide(np.einsum("ij,ij->i", w, b.c), sw)
    dt = b.t - np.nan_to_num(tm)[:, None]
    wdt = w * dt
    slope = safe_divide(np.einsum("ij,ij->i", wdt, b.c), np.einsum("ij,ij->i", wdt, dt))
    return cm - slope * tm, slope


def _median_abs(resid: FloatArray, mask: BoolArray, n: IntArray) -> FloatArray:
    """Median of |resid| over each row's masked cells."""
    a = np.where(mask, np.abs(resid), np.inf)
    a.sort(axis=1)
    rows = np.arange(a.shape[0])
    lo = np.clip((n - 1) // 2, 0, a.shape[1] - 1)
    hi = np.clip(n // 2, 0, a.shape[1] - 1)
    out = 0.5 * (a[rows, lo] + a[rows, hi])
    return np.where(n > 0, out, np.nan)


@quiet
def fit_robust_linear_batch(b: Batch, maxit: int = 200, acc: float = 1e-4) -> RobustLinearFit:
    """Huber IRLS line of every closure of a `Batch` (see `fit_robust_linear`)."""
    k = b.t.shape[0]
    intercept, slope = _wls(b, b.w)
    resid = (b.c - intercept[:, None] - slope[:, None] * b.t) * b.w
    weights = b.w.copy()
    scale = np.full(k, np.nan)
    iterations = np.zeros(k, dtype=np.int64)
    active = np.isfinite(slope) & (b.n >= 4)
    for _ in range(maxit):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = Batch(t=b.t[idx], c=b.c[idx], w=b.w[idx], mask=b.mask[idx], n=b.n[idx])
        r_old = resid[idx]
        s = _median_abs(r_old, sub.mask, sub.n) / MAD_CONSTANT
        zero_scale = ~(s > 0)
        u = np.abs(r_old) / np.where(zero_scale, 1.0, s)[:, None]
        w = np.minimum(1.0, HUBER_K / np.maximum(u, 1e-300)) * sub.w
        a0, a1 = _wls(sub, w)
        r_new = (sub.c - a0[:, None] - a1[:, None] * sub.t) * sub.w
        delta = np.sqrt(
            safe_divide(
                ((r_old - r_new) ** 2).sum(axis=1), np.maximum(1e-20, (r_old**2).sum(axis=1))
            )
        )
        # rlm stops before reweighting when the scale is 0 (perfect fit of most points)
        upd = ~zero_scale
        iu = idx[upd]
        intercept[iu], slope[iu] = a0[upd], a1[upd]
        resid[iu] = r_new[upd]
        weights[iu] = w[upd]
        scale[idx] = s
        iterations[iu] += 1
        done = zero_scale | ~(delta > acc)
        active[idx[done]] = False
    # standard error as summary.rlm(method = "XtX")
    s = scale
    u = resid / np.where(s > 0, s, np.nan)[:, None]
    psi = np.clip(u, -HUBER_K, HUBER_K) * b.w  # ψ(u) for Huber
    n = b.n.astype(np.float64)
    big_s = safe_divide(np.nansum((psi * s[:, None]) ** 2, axis=1), n - 2)
    psiprime = ((np.abs(u) <= HUBER_K) & b.mask).astype(np.float64)
    mn = safe_divide(psiprime.sum(axis=1), n)
    var_pp = safe_divide(((psiprime - mn[:, None]) ** 2 * b.w).sum(axis=1), n - 1)
    kappa = 1.0 + 2.0 * safe_divide(var_pp, n * mn**2)
    stddev = safe_sqrt(big_s) * safe_divide(kappa, mn)
    tm = safe_divide(b.wsum(b.t), n)
    dt = (b.t - np.nan_to_num(tm)[:, None]) * b.w
    sxx = np.einsum("ij,ij->i", dt, dt)
    slope_se = stddev * safe_sqrt(safe_divide(np.ones_like(sxx), sxx))
    ok = (b.n >= 4) & np.isfinite(slope)
    plain = (b.c - intercept[:, None] - slope[:, None] * b.t) * b.w
    sse = np.einsum("ij,ij->i", plain, plain)
    nan = np.where(ok, 0.0, np.nan)
    return RobustLinearFit(
        slope=slope + nan,
        slope_se=slope_se + nan,
        intercept=intercept + nan,
        scale=scale + nan,
        sse=sse + nan,
        aicc=gaussian_aicc(sse, b.n, 2) + nan,
        weights=weights,
        iterations=iterations,
        n=b.n,
        ok=ok,
    )


def fit_robust_linear(
    t: npt.ArrayLike,
    c: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    *,
    maxit: int = 200,
    acc: float = 1e-4,
) -> RobustLinearFit:
    """Huber M-estimate of the line C(t) = C₀ + b·t for each closure of a padded batch.

    IRLS: weights wᵢ = min(1, k / |rᵢ/s|) with k = 1.345 and s = median|rᵢ| / 0.6745,
    starting from OLS, until √(Σ(r_old − r_new)² / Σr_old²) ≤ `acc` (MASS::rlm).
    SE(b) = √S · κ/m̄ · √((XᵀX)⁻¹)₂₂ with S = Σψ(rᵢ/s)²s²/(n − 2), m̄ = mean ψ′, and
    κ = 1 + 2·var(ψ′)/(n·m̄²) (Huber 1981, as ``summary.rlm``).

    Parameters
    ----------
    t : array_like, shape (k, m) or (m,)
        Sample times [s].
    c : array_like, same shape
        Concentrations [µmol mol⁻¹].
    mask : array_like of bool, optional
        Samples in the fit window.
    maxit : int
        Maximum IRLS iterations (gasfluxes uses 200).
    acc : float
        Convergence tolerance on the relative change of the residuals [-].

    Returns
    -------
    RobustLinearFit
        NaN where fewer than 4 samples (gasfluxes' rule for rlm).
    """
    return fit_robust_linear_batch(make_batch(t, c, mask), maxit=maxit, acc=acc)
