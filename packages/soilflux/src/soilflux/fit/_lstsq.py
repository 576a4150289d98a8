"""Batched weighted linear least squares with a few basis columns (p ≤ 4).

Used where a model gains the sensor-lag transient e^{−t/τ} as an extra basis column (see
`soilflux.fit.lag`).  The normal equations are Jacobi-scaled (unit diagonal) before they are
inverted, and a column that vanishes on a closure's window (e.g. a transient that has died
out before the window starts) is dropped for that closure (coefficient 0).
"""

from __future__ import annotations

import numpy as np

from soilflux.fit._batch import Batch, BoolArray, FloatArray, inv_sym3, safe_divide


def weighted_lstsq(
    columns: list[FloatArray], c: FloatArray, w: FloatArray, min_n: int, *, window: bool = False
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Solve min Σ w (c − Σⱼ βⱼ Xⱼ)² for every closure.

    Parameters
    ----------
    columns : list of p (k, m) arrays
        Basis columns, zero outside the window.
    c : (k, m) float
        Observations, zero outside the window.
    w : (k, m) float
        Weights (0 outside the window).
    min_n : int
        Fewer samples with w > 0 → not solved.
    window : bool
        `w` is the 0/1 window and every column is zero outside it: then WX = X, and the
        products are not formed (same numbers).

    Returns
    -------
    coef : (k, p) float
        β (0 for dropped columns; NaN where unsolved).
    inv : (k, p, p) float
        (XᵀWX)⁻¹ (rows and columns of dropped columns are 0).
    ok : (k,) bool
    """
    p = len(columns)
    k = c.shape[0]
    xw = columns if window else [col * w for col in columns]
    a = np.empty((k, p, p))
    for i in range(p):
        for j in range(i, p):
            a[:, i, j] = a[:, j, i] = np.einsum("ij,ij->i", xw[i], columns[j])
    rhs = np.stack([np.einsum("ij,ij->i", xw[i], c) for i in range(p)], axis=1)
    diag = np.einsum("kii->ki", a).copy()
    present = diag > 1e-12 * diag.max(axis=1, keepdims=True)
    d = np.where(present, np.sqrt(np.where(present, diag, 1.0)), 1.0)
    scaled = a / d[:, :, None] / d[:, None, :]
    keep = present[:, :, None] & present[:, None, :]
    eye = np.eye(p)
    scaled = np.where(keep, scaled, 0.0) + eye * ~present[:, :, None]
    n = (w > 0).sum(axis=1)
    ok = (n >= min_n) & np.isfinite(scaled).all(axis=(1, 2))
    scaled = np.where(ok[:, None, None], scaled, eye)
    if p == 3:
        inv_s, nonsing = inv_sym3(scaled)
        ok &= nonsing
        inv_s = np.where(ok[:, None, None], inv_s, eye)
    else:
        det = np.linalg.det(scaled)
        ok &= np.abs(det) > 1e-13
        inv_s = np.linalg.inv(np.where(ok[:, None, None], scaled, eye))
    inv = inv_s / d[:, :, None] / d[:, None, :]
    inv = np.where(keep, inv, 0.0)
    coef = np.einsum("kpq,kq->kp", inv, np.where(present, rhs, 0.0))
    coef = np.where(ok[:, None], coef, np.nan)
    return coef, inv, ok


def centred(b: Batch, x: FloatArray) -> FloatArray:
    """x − x̄ on each closure's window, zero elsewhere (x̄ the window mean)."""
    mean = safe_divide(b.wsum(x), b.n.astype(np.float64))
    return np.asarray((x - np.nan_to_num(mean)[:, None]) * b.w, dtype=np.float64)


def centred_regression(
    b: Batch,
    x: FloatArray,
    yc: FloatArray,
    *,
    work: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """y = α + β·x by least squares on every closure, given yc = `centred`(b, y).

    Parameters
    ----------
    b : Batch
        The windows (weights and sample counts).
    x : (k, m) float
        The regressor on the windows (zero outside them).
    yc : (k, m) float
        Centred observations.
    work : two (k, m) float64 arrays, optional
        Space for the centred x and the residuals, for a caller that regresses many x on
        the same windows (a profile over a grid) without allocating each time; ``x`` may be
        the first (it is overwritten). Same numbers either way.

    Returns
    -------
    slope : (k,) float
        β [y unit per x unit]; NaN where x does not vary.
    sse : (k,) float
        Σ residual² [y unit²], from the residuals themselves (no Syy − Sxy²/Sxx cancellation).
    sxx : (k,) float
        Σ(x − x̄)² [x unit²] (var β = σ²/sxx).
    """
    xc, r = (np.empty_like(yc), np.empty_like(yc)) if work is None else work
    mean = safe_divide(b.wsum(x), b.n.astype(np.float64))  # as `centred`, in place
    np.subtract(x, np.nan_to_num(mean)[:, None], out=xc)
    np.multiply(xc, b.w, out=xc)
    sxx = np.einsum("ij,ij->i", xc, xc)
    slope = safe_divide(np.einsum("ij,ij->i", xc, yc), sxx)
    np.multiply(np.nan_to_num(slope)[:, None], xc, out=r)
    np.subtract(yc, r, out=r)  # zero outside the windows, where yc and xc are
    return slope, np.einsum("ij,ij->i", r, r), sxx
