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
from soilflux.fit._lstsq import weighted_lstsq

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
    return _median_of_abs(np.abs(resid), mask, n)


def _median_of_abs(abs_resid: FloatArray, mask: BoolArray, n: IntArray) -> FloatArray:
    """Median over each row's masked cells of already absolute residuals."""
    a = np.where(mask, abs_resid, np.inf)
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
    # working set: rows still iterating; compacted only when it has shrunk to half, so
    # the first (all-rows) iterations copy nothing.  Residuals and weights of the working
    # set are written back when rows leave it.
    rows = np.flatnonzero(active)
    if rows.size == k:  # every row iterates: the batch's own arrays (only read here)
        t, c, wm, msk, n_w = b.t, b.c, b.w, b.mask, b.n
    else:
        t, c, wm, msk, n_w = b.t[rows], b.c[rows], b.w[rows], b.mask[rows], b.n[rows]
    live = np.ones(rows.size, dtype=bool)
    r_old = resid[rows]
    w_cur = wm.copy()
    for _ in range(maxit):
        if not live.any():
            break
        if live.sum() < 0.5 * live.size:
            gone = ~live
            resid[rows[gone]], weights[rows[gone]] = r_old[gone], w_cur[gone]
            rows, t, c, wm, msk, n_w = rows[live], t[live], c[live], wm[live], msk[live], n_w[live]
            r_old, w_cur = r_old[live], w_cur[live]
            live = np.ones(rows.size, dtype=bool)
        abs_r = np.abs(r_old)
        s = _median_of_abs(abs_r, msk, n_w) / MAD_CONSTANT
        zero_scale = ~(s > 0)
        # Huber weights min(1, k/|r/s|) = min(1, k·s/|r|); |r| = 0 gives 1 (inf → 1)
        w = np.divide((HUBER_K * np.where(zero_scale, 1.0, s))[:, None], abs_r, out=abs_r)
        np.minimum(w, 1.0, out=w)
        w *= wm
        a0, a1 = _wls(Batch(t=t, c=c, w=wm, mask=msk, n=n_w), w)
        r_new = c - a0[:, None] - a1[:, None] * t
        r_new *= wm
        diff = r_old - r_new
        delta = np.sqrt(
            safe_divide(
                np.einsum("ij,ij->i", diff, diff),
                np.maximum(1e-20, np.einsum("ij,ij->i", r_old, r_old)),
            )
        )
        # rlm stops before reweighting when the scale is 0 (perfect fit of most points)
        upd = live & ~zero_scale
        iu = rows[upd]
        intercept[iu], slope[iu] = a0[upd], a1[upd]
        scale[rows[live]] = s[live]
        iterations[iu] += 1
        if upd.all():
            r_old, w_cur = r_new, w
        else:
            r_old = np.where(upd[:, None], r_new, r_old)
            w_cur = np.where(upd[:, None], w, w_cur)
        live &= ~(zero_scale | ~(delta > acc))
    resid[rows], weights[rows] = r_old, w_cur
    # standard error as summary.rlm(method = "XtX")
    s = scale
    u = resid / np.where(s > 0, s, np.nan)[:, None]
    psi = np.clip(u, -HUBER_K, HUBER_K) * b.w  # ψ(u) for Huber
    n = b.n.astype(np.float64)
    # a row without a scale is NaN here, and its SE NaN anyway (ψ′ = 0 there, so m̄ = 0)
    big_s = safe_divide(((psi * s[:, None]) ** 2).sum(axis=1), n - 2)
    psiprime = ((np.abs(u) <= HUBER_K) & b.mask).astype(np.float64)
    mn = safe_divide(psiprime.sum(axis=1), n)
    var_pp = safe_divide(((psiprime - mn[:, None]) ** 2 * b.w).sum(axis=1), n - 1)
    kappa = 1.0 + 2.0 * safe_divide(var_pp, n * mn**2)
    stddev = safe_sqrt(big_s) * safe_divide(kappa, mn)
    _, _, sxx = b.centred_t()
    slope_se = stddev * safe_sqrt(safe_divide(np.ones_like(sxx), sxx))
    ok = (b.n >= 4) & np.isfinite(slope)
    # `resid` is (c − intercept − slope·t)·w at the final line of every row: each row's
    # residuals were last computed, by that formula, from the line it kept
    sse = np.einsum("ij,ij->i", resid, resid)
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


@quiet
def fit_robust_linear_lag_batch(
    b: Batch, lag_basis: FloatArray, maxit: int = 50, acc: float = 1e-4
) -> RobustLinearFit:
    """Huber IRLS line plus the sensor-lag transient B·e^{−t/τ_s} (see `soilflux.fit.lag`).

    Same estimator as `fit_robust_linear` with a third column; `slope` is the line's b.
    The standard error follows ``summary.rlm`` with p = 3.
    """
    k = b.t.shape[0]
    n = b.n.astype(np.float64)
    c_mean = safe_divide(b.wsum(b.c), n)
    y = (b.c - np.nan_to_num(c_mean)[:, None]) * b.w
    coef, inv_ols, ok = weighted_lstsq([b.w, b.t, lag_basis], y, b.w, min_n=5)

    def residual(
        cf: FloatArray, wm: FloatArray, t: FloatArray, h: FloatArray, yy: FloatArray
    ) -> FloatArray:
        fitted = cf[:, 0:1] * wm + cf[:, 1:2] * t + cf[:, 2:3] * h
        return np.asarray((yy - np.nan_to_num(fitted)) * wm)

    resid = residual(coef, b.w, b.t, lag_basis, y)
    weights = b.w.copy()
    scale = np.full(k, np.nan)
    iterations = np.zeros(k, dtype=np.int64)
    # working set, compacted when it has shrunk to half (as `fit_robust_linear_batch`)
    rows = np.flatnonzero(ok)
    t, yy, wm, h = b.t[rows], y[rows], b.w[rows], lag_basis[rows]
    msk, n_w = b.mask[rows], b.n[rows]
    cf, r_old, w_cur = coef[rows], resid[rows], wm.copy()
    live = np.ones(rows.size, dtype=bool)
    for _ in range(maxit):
        if not live.any():
            break
        if live.sum() < 0.5 * live.size:
            gone = ~live
            coef[rows[gone]], resid[rows[gone]], weights[rows[gone]] = (
                cf[gone],
                r_old[gone],
                w_cur[gone],
            )
            rows, t, yy, wm, h = rows[live], t[live], yy[live], wm[live], h[live]
            msk, n_w, cf, r_old, w_cur = msk[live], n_w[live], cf[live], r_old[live], w_cur[live]
            live = np.ones(rows.size, dtype=bool)
        abs_r = np.abs(r_old)
        s = _median_of_abs(abs_r, msk, n_w) / MAD_CONSTANT
        zero_scale = ~(s > 0)
        w = np.divide((HUBER_K * np.where(zero_scale, 1.0, s))[:, None], abs_r, out=abs_r)
        np.minimum(w, 1.0, out=w)
        w *= wm
        new, _, new_ok = weighted_lstsq([wm, t, h], yy, w, min_n=5)
        r_new = residual(new, wm, t, h, yy)
        diff = r_old - r_new
        delta = np.sqrt(
            safe_divide(
                np.einsum("ij,ij->i", diff, diff),
                np.maximum(1e-20, np.einsum("ij,ij->i", r_old, r_old)),
            )
        )
        upd = live & ~zero_scale & new_ok
        scale[rows[live]] = s[live]
        iterations[rows[upd]] += 1
        cf = np.where(upd[:, None], new, cf)
        r_old = np.where(upd[:, None], r_new, r_old)
        w_cur = np.where(upd[:, None], w, w_cur)
        live &= ~(zero_scale | ~(delta > acc)) & new_ok
    coef[rows], resid[rows], weights[rows] = cf, r_old, w_cur
    p = 3.0
    u = resid / np.where(scale > 0, scale, np.nan)[:, None]
    psi = np.clip(u, -HUBER_K, HUBER_K) * b.w
    big_s = safe_divide(np.nansum((psi * scale[:, None]) ** 2, axis=1), n - p)
    psiprime = ((np.abs(u) <= HUBER_K) & b.mask).astype(np.float64)
    mn = safe_divide(psiprime.sum(axis=1), n)
    var_pp = safe_divide(((psiprime - mn[:, None]) ** 2 * b.w).sum(axis=1), n - 1)
    kappa = 1.0 + p * safe_divide(var_pp, n * mn**2)
    stddev = safe_sqrt(big_s) * safe_divide(kappa, mn)
    slope_se = stddev * safe_sqrt(inv_ols[:, 1, 1])
    ok &= np.isfinite(coef[:, 1])
    sse = np.einsum("ij,ij->i", resid, resid)
    nan = np.where(ok, 0.0, np.nan)
    return RobustLinearFit(
        slope=coef[:, 1] + nan,
        slope_se=slope_se + nan,
        intercept=coef[:, 0] + c_mean + nan,
        scale=scale + nan,
        sse=sse + nan,
        aicc=gaussian_aicc(sse, b.n, 3) + nan,
        weights=weights,
        iterations=iterations,
        n=b.n,
        ok=ok,
    )
