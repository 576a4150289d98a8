"""Quadratic C(t) = β₀ + β₁τ + β₂τ², τ = t − t_ref, closed form for a batch of closures.

The slope is reported where the fitted curve passes through the initial concentration C′₀
(the root of the quadratic nearest the window start), as LI-COR does for its exponential
(LI-8100A manual appendix D); without C′₀, or where the curve never reaches it within one
window length, at the start of the window (as fluxible's ``quadratic`` model at t_zero).

References
----------
Wutzler, T. et al. (2012), RespChamberProc; Gaudard, J. et al. (2025), fluxible, Methods
Ecol. Evol. 16(11):2560 (quadratic model).
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
    inv_sym3,
    make_batch,
    quiet,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit._lstsq import weighted_lstsq


@dataclass(frozen=True)
class QuadraticFit:
    """Quadratic per closure; every field has shape (k,).

    Attributes
    ----------
    slope, slope_se : dC/dt at `t_eval` and its standard error [concentration per time unit]
    t_eval : time at which the slope is evaluated [time unit]
    t_ref : window start, the origin of τ [time unit]
    b0, b1, b2 : coefficients in τ [conc], [conc/time], [conc/time²]
    sse : residual sum of squares [concentration unit²]
    aicc : Gaussian AICc [-]
    n : samples [-]
    ok : True where the fit is defined (n ≥ 4, non-singular)
    """

    slope: FloatArray
    slope_se: FloatArray
    t_eval: FloatArray
    t_ref: FloatArray
    b0: FloatArray
    b1: FloatArray
    b2: FloatArray
    sse: FloatArray
    aicc: FloatArray
    n: IntArray
    ok: BoolArray

    n_params = 3


def window_start(b: Batch) -> FloatArray:
    """First time of each closure's window (NaN for empty windows) [time unit]."""
    tt = np.where(b.mask, b.t, np.inf).min(axis=1)
    return np.where(np.isfinite(tt), tt, np.nan)


@quiet
def fit_quadratic_batch(b: Batch, c0: FloatArray | None = None) -> QuadraticFit:
    """Quadratic fit of every closure of a `Batch` (see `fit_quadratic`)."""
    n = b.n.astype(np.float64)
    t_ref = window_start(b)
    tau = (b.t - np.nan_to_num(t_ref)[:, None]) * b.w
    span = tau.max(axis=1)
    span_safe = np.where(span > 0, span, 1.0)
    x = tau / span_safe[:, None]
    c_mean = safe_divide(b.wsum(b.c), n)
    y = (b.c - np.nan_to_num(c_mean)[:, None]) * b.w
    x2 = x * x
    s1, s2 = x.sum(axis=1), x2.sum(axis=1)
    s3 = np.einsum("ij,ij->i", x2, x)
    s4 = np.einsum("ij,ij->i", x2, x2)
    sy = y.sum(axis=1)
    sxy = np.einsum("ij,ij->i", x, y)
    sx2y = np.einsum("ij,ij->i", x2, y)
    ata = np.empty((n.size, 3, 3))
    ata[:, 0, 0], ata[:, 0, 1], ata[:, 0, 2] = n, s1, s2
    ata[:, 1, 0], ata[:, 1, 1], ata[:, 1, 2] = s1, s2, s3
    ata[:, 2, 0], ata[:, 2, 1], ata[:, 2, 2] = s2, s3, s4
    inv, nonsing = inv_sym3(ata)
    rhs = np.stack([sy, sxy, sx2y], axis=1)
    beta = np.einsum("kij,kj->ki", inv, rhs)
    resid = (y - beta[:, 0:1] * b.w - beta[:, 1:2] * x - beta[:, 2:3] * x2) * b.w
    sse = np.einsum("ij,ij->i", resid, resid)
    s2_res = safe_divide(sse, n - 3)
    cov = inv * s2_res[:, None, None]
    beta0 = beta[:, 0] + c_mean
    beta1, beta2 = beta[:, 1], beta[:, 2]
    # evaluation point in normalised time: root of the curve = C′₀ nearest the window start
    xe = np.zeros_like(n)
    if c0 is not None:
        d = beta0 - np.asarray(c0, dtype=np.float64)
        disc = beta1**2 - 4 * beta2 * d
        sq = safe_sqrt(disc)
        q = -0.5 * (beta1 + np.where(beta1 >= 0, 1.0, -1.0) * sq)
        r1 = safe_divide(q, beta2)  # the two roots, computed without cancellation
        r2 = safe_divide(d, q)
        lin_root = safe_divide(-d, beta1)
        small_curv = np.abs(beta2) < 1e-12 * np.maximum(np.abs(beta1), 1e-300)
        a1 = np.abs(np.nan_to_num(r1, nan=np.inf))
        a2 = np.abs(np.nan_to_num(r2, nan=np.inf))
        pick = np.where(a1 < a2, r1, r2)
        root = np.where(small_curv, lin_root, pick)
        usable = np.isfinite(root) & (np.abs(root) <= 1.0)
        xe = np.where(usable, root, 0.0)
    slope_x = beta1 + 2 * beta2 * xe
    var_x = cov[:, 1, 1] + 4 * xe**2 * cov[:, 2, 2] + 4 * xe * cov[:, 1, 2]
    slope = slope_x / span_safe
    slope_se = safe_sqrt(var_x) / span_safe
    ok = (b.n >= 4) & nonsing & np.isfinite(slope) & (span > 0)
    nan = np.where(ok, 0.0, np.nan)
    return QuadraticFit(
        slope=slope + nan,
        slope_se=slope_se + nan,
        t_eval=t_ref + xe * span_safe + nan,
        t_ref=t_ref,
        b0=beta0 + nan,
        b1=beta1 / span_safe + nan,
        b2=beta2 / span_safe**2 + nan,
        sse=sse + nan,
        aicc=gaussian_aicc(sse, b.n, 3) + nan,
        n=b.n,
        ok=ok,
    )


def fit_quadratic(
    t: npt.ArrayLike,
    c: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    c0: npt.ArrayLike | None = None,
) -> QuadraticFit:
    """Least-squares quadratic through each closure of a padded batch.

    C(t) = β₀ + β₁τ + β₂τ², τ = t − t_ref (t_ref = first time in the window); solved by the
    3×3 normal equations in τ scaled to [0, 1].  Slope dC/dt = β₁ + 2β₂τₑ, with τₑ the root
    of C(τ) = C′₀ nearest 0 (if `c0` is given and |τₑ| ≤ window length) else 0;
    SE² = var β₁ + 4τₑ² var β₂ + 4τₑ cov(β₁, β₂) (τₑ taken as fixed).

    Parameters
    ----------
    t : array_like, shape (k, m) or (m,)
        Sample times [s].
    c : array_like, same shape
        Concentrations [µmol mol⁻¹].
    mask : array_like of bool, optional
        Samples in the fit window.
    c0 : array_like, shape (k,), optional
        Initial concentration C′₀ at lid closing [µmol mol⁻¹].

    Returns
    -------
    QuadraticFit
    """
    c0_arr = None if c0 is None else np.atleast_1d(np.asarray(c0, dtype=np.float64))
    return fit_quadratic_batch(make_batch(t, c, mask), c0_arr)


def _root_near_zero(
    beta0: FloatArray, beta1: FloatArray, beta2: FloatArray, c0: FloatArray
) -> FloatArray:
    """Root of β₂x² + β₁x + (β₀ − c0) nearest 0 within |x| ≤ 1, else 0."""
    d = beta0 - c0
    sq = safe_sqrt(beta1**2 - 4 * beta2 * d)
    q = -0.5 * (beta1 + np.where(beta1 >= 0, 1.0, -1.0) * sq)
    r1, r2 = safe_divide(q, beta2), safe_divide(d, q)
    lin_root = safe_divide(-d, beta1)
    small = np.abs(beta2) < 1e-12 * np.maximum(np.abs(beta1), 1e-300)
    a1, a2 = np.abs(np.nan_to_num(r1, nan=np.inf)), np.abs(np.nan_to_num(r2, nan=np.inf))
    root = np.where(small, lin_root, np.where(a1 < a2, r1, r2))
    return np.where(np.isfinite(root) & (np.abs(root) <= 1.0), root, 0.0)


@quiet
def fit_quadratic_lag_batch(b: Batch, c0: FloatArray | None, lag_basis: FloatArray) -> QuadraticFit:
    """Quadratic plus the sensor-lag transient B·e^{−t/τ_s} (see `soilflux.fit.lag`).

    The slope is evaluated on the lag-free quadratic, as in `fit_quadratic`.
    """
    n = b.n.astype(np.float64)
    t_ref, tau, span = b.from_start()
    span_safe = np.where(span > 0, span, 1.0)
    x = tau / span_safe[:, None]
    c_mean, y = b.centred_c()
    x2 = x * x
    coef, inv, ok = weighted_lstsq([b.w, x, x2, lag_basis], y, b.w, min_n=6, window=True)
    # (β₂·x)·x as it always was, not β₂·x²: the same rounding
    fitted = coef[:, 0:1] * b.w + coef[:, 1:2] * x + coef[:, 2:3] * x * x + coef[:, 3:4] * lag_basis
    resid = (y - np.nan_to_num(fitted)) * b.w
    sse = np.einsum("ij,ij->i", resid, resid)
    p = 3 + (np.abs(coef[:, 3]) > 0)
    cov = inv * safe_divide(sse, n - p)[:, None, None]
    beta0, beta1, beta2 = coef[:, 0] + c_mean, coef[:, 1], coef[:, 2]
    xe = np.zeros_like(n) if c0 is None else _root_near_zero(beta0, beta1, beta2, c0)
    slope = (beta1 + 2 * beta2 * xe) / span_safe
    var_x = cov[:, 1, 1] + 4 * xe**2 * cov[:, 2, 2] + 4 * xe * cov[:, 1, 2]
    ok &= np.isfinite(slope) & (span > 0)
    nan = np.where(ok, 0.0, np.nan)
    return QuadraticFit(
        slope=slope + nan,
        slope_se=safe_sqrt(var_x) / span_safe + nan,
        t_eval=t_ref + xe * span_safe + nan,
        t_ref=t_ref.copy(),
        b0=beta0 + nan,
        b1=beta1 / span_safe + nan,
        b2=beta2 / span_safe**2 + nan,
        sse=sse + nan,
        aicc=gaussian_aicc(sse, b.n, 4) + nan,
        n=b.n,
        ok=ok,
    )
