"""Hutchinson–Mosier (HMR) model with the κ_max bound of Hüppi et al. (2018), batched.

C(t) = φ + (C₀ − φ)·e^{−κt}, κ ≥ 0 (Hutchinson & Mosier 1981; Pedersen et al. 2010), the same
curve family as LI-COR's exponential but with the curvature restricted to 0 ≤ κ ≤ κ_max,
κ_max = |f_lin| / (MDF · t_meas) = |dC/dt_lin| / A_a (Hüppi et al. 2018; goFlux ``k.max``).

goFlux fits HM twice, with κ unbounded and with κ ≤ κ_max, and keeps the fit with the smaller
|κ|; that is the bounded least-squares fit.  soilflux computes the bounded fit directly: the
residual profile in κ is unimodal for this model, so the bounded optimum is the unbounded
optimum clipped to [0, κ_max]; where clipping happens, (φ, C₀) are refitted at the bound
and the fit is marked `at_bound` (so it is not "κ < κ_max" and the selection rule rejects it).

References
----------
Hutchinson, G. L., Mosier, A. R. (1981). Soil Sci. Soc. Am. J. 45:311–316.
Pedersen, A. R., Petersen, S. O., Schelde, K. (2010). Eur. J. Soil Sci. 61:888–902.
Hüppi, R. et al. (2018). PLOS ONE 13(7):e0200876.
Rheault, K. et al. (2024). goFlux, J. Open Source Softw. 9(96):6393.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
)
from soilflux.fit.exponential import MAX_CURVATURE, ExpCurve, fit_exp_curve_batch, solve_fixed_a


@dataclass(frozen=True)
class HMFit:
    """Bounded HM fit per closure; fields of shape (k,).

    Attributes
    ----------
    slope, slope_se : dC/dt at the evaluation point and its standard error [conc per time]
    kappa : κ [time unit⁻¹]
    kappa_max : the bound used [time unit⁻¹]
    phi : asymptote φ [concentration unit]
    at_bound : κ was clipped to 0 or κ_max
    curve : the underlying `ExpCurve`
    sse, aicc, n : residual sum of squares [conc²], AICc [-], samples [-]
    ok : finite fit (possibly at the bound)
    """

    slope: FloatArray
    slope_se: FloatArray
    kappa: FloatArray
    kappa_max: FloatArray
    phi: FloatArray
    at_bound: BoolArray
    curve: ExpCurve
    sse: FloatArray
    aicc: FloatArray
    n: IntArray
    ok: BoolArray

    n_params = 3


def _take(curve: ExpCurve, idx: npt.NDArray[np.intp]) -> ExpCurve:
    return ExpCurve(
        c1=curve.c1[idx],
        s=curve.s[idx],
        a=curve.a[idx],
        t_ref=curve.t_ref[idx],
        span=curve.span[idx],
        cov=curve.cov[idx],
        sse=curve.sse[idx],
        n=curve.n[idx],
        converged=curve.converged[idx],
        at_bound=curve.at_bound[idx],
    )


def _put(dst: ExpCurve, idx: npt.NDArray[np.intp], src: ExpCurve) -> ExpCurve:
    fields = {}
    for name in ("c1", "s", "a", "t_ref", "span", "cov", "sse", "n", "converged", "at_bound"):
        arr = getattr(dst, name).copy()
        arr[idx] = getattr(src, name)
        fields[name] = arr
    return replace(dst, **fields)


@quiet
def bounded_hm_curve(
    b: Batch,
    kappa_max: FloatArray,
    unbounded: ExpCurve | None = None,
    kappa_min: FloatArray | float = 0.0,
    lag_basis: FloatArray | None = None,
) -> ExpCurve:
    """HM curve with κ_min ≤ κ ≤ κ_max for every closure of a `Batch`.

    Parameters
    ----------
    b : Batch
        Times [time unit] and concentrations.
    kappa_max : (k,) float
        Upper bound of κ [time unit⁻¹]; NaN → no fit.
    unbounded : ExpCurve, optional
        The unbounded exponential fit of the same batch, if already computed (saves work).
    kappa_min : (k,) float or float
        Lower bound of κ [time unit⁻¹]: 0 (Hutchinson–Mosier), or −κ_max to let noise
        bend the curve either way, so that clipping does not bias nearly straight closures.
    lag_basis : (k, m) float, optional
        Sensor-lag transient fitted as an extra linear term (see `soilflux.fit.lag`).

    Returns
    -------
    ExpCurve
        `at_bound` where κ was clipped.
    """
    kmax = np.asarray(kappa_max, dtype=np.float64)
    kmin = np.broadcast_to(np.asarray(kappa_min, dtype=np.float64), kmax.shape)
    curve = unbounded if unbounded is not None else fit_exp_curve_batch(b, lag_basis=lag_basis)
    a = curve.a
    inside = curve.converged & ~curve.at_bound & np.isfinite(a) & (a > kmin) & (a < kmax)
    result = replace(curve, at_bound=np.zeros_like(curve.at_bound))
    # unbounded optimum beyond a bound: clip and refit the linear parameters there
    clip = curve.converged & np.isfinite(a) & ~np.isnan(kmax) & ~inside
    if clip.any():
        idx = np.flatnonzero(clip)
        sub = Batch(t=b.t[idx], c=b.c[idx], w=b.w[idx], mask=b.mask[idx], n=b.n[idx])
        h = None if lag_basis is None else lag_basis[idx]
        fixed = solve_fixed_a(sub, np.clip(a[idx], kmin[idx], kmax[idx]), h)
        result = _put(result, idx, fixed)
    # unbounded fit failed: run the bounded search itself
    retry = ~curve.converged & ~np.isnan(kmax) & (kmax > 0) & (b.n >= 4)
    if retry.any():
        idx = np.flatnonzero(retry)
        sub = Batch(t=b.t[idx], c=b.c[idx], w=b.w[idx], mask=b.mask[idx], n=b.n[idx])
        span = np.where(curve.span[idx] > 0, curve.span[idx], 1.0)
        upper = np.minimum(kmax[idx], MAX_CURVATURE / span)
        h = None if lag_basis is None else lag_basis[idx]
        again = fit_exp_curve_batch(sub, a_bounds=(kmin[idx], upper), lag_basis=h)
        result = _put(result, idx, again)
    nan_rows = np.isnan(kmax)
    if nan_rows.any():
        result = replace(result, converged=result.converged & ~nan_rows)
    return result


@quiet
def hm_from_curve(curve: ExpCurve, kappa_max: FloatArray, c0: FloatArray | None) -> HMFit:
    """HM result from a bounded curve: slope where C = `c0` (or at the window start)."""
    if c0 is None:
        slope, se = curve.slope_at_time(curve.t_ref)
    else:
        slope, se = curve.slope_at_level(np.asarray(c0, dtype=np.float64))
    ok = curve.converged & np.isfinite(slope)
    nan = np.where(ok, 0.0, np.nan)
    return HMFit(
        slope=slope + nan,
        slope_se=se + nan,
        kappa=curve.a + nan,
        kappa_max=np.asarray(kappa_max, dtype=np.float64),
        phi=curve.asymptote() + nan,
        at_bound=curve.at_bound & ok,
        curve=curve,
        sse=curve.sse + nan,
        aicc=gaussian_aicc(curve.sse, curve.n, 3) + nan,
        n=curve.n,
        ok=ok,
    )


def fit_hm(
    t: npt.ArrayLike,
    c: npt.ArrayLike,
    kappa_max: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    c0: npt.ArrayLike | None = None,
) -> HMFit:
    """Hutchinson–Mosier fit with 0 ≤ κ ≤ κ_max of each closure of a padded batch.

    Parameters
    ----------
    t : array_like, shape (k, m) or (m,)
        Sample times [s].
    c : array_like, same shape
        Concentrations [µmol mol⁻¹].
    kappa_max : array_like, shape (k,) or scalar
        Bound on κ [s⁻¹] (use ``np.inf`` for the unbounded HMR of gasfluxes).
    mask : array_like of bool, optional
        Samples in the fit window.
    c0 : array_like, shape (k,), optional
        Initial concentration C′₀ [µmol mol⁻¹]: the slope is reported where the curve passes
        through it (as LI-COR; insensitive to dead band and sensor lag).  Without it, at
        the first time of the window.

    Returns
    -------
    HMFit
    """
    b = make_batch(t, c, mask)
    kmax = np.broadcast_to(np.asarray(kappa_max, dtype=np.float64), b.n.shape).copy()
    curve = bounded_hm_curve(b, kmax)
    c0_arr = None if c0 is None else np.atleast_1d(np.asarray(c0, dtype=np.float64))
    return hm_from_curve(curve, kmax, c0_arr)
