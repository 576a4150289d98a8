"""HM curve with a curvature shared by a chamber's neighbouring closures (model ``hm_shared``).

Why: the curvature κ of a closure's rise comes from the chamber's feedback on the soil's
diffusive efflux and from the lid's leak (Hutchinson & Mosier 1981; Livingston et al. 2006):
κ = g/(ρ̄h) + k_leak, with g the soil-gas conductance, ρ̄h the chamber's air column and k_leak
the leak rate.  All three belong to the pot and the chamber and change over hours to days
(irrigation, season), not from one closure to the next.  Estimating κ from each closure alone
is what makes HM fits noisy: at a low-cost sensor's noise (SCD30, a few ppm per 3-s reading)
a single 3-min closure barely shows its curvature, so κ̂ and with it the HM flux scatter by
tens of percent, while a straight line is biased by the curvature it ignores.  Fitting κ
jointly over a chamber's closures of the surrounding hours and each closure's flux on its
own removes both: the per-closure fit is a two-parameter linear regression again.

Model (t since the lid closed [s], κ [s⁻¹], τ_s the analyser's first-order time constant
[s]): the chamber air follows the HM curve C(t) = C₀ + F′·u_κ(t), u_κ(t) = (1 − e^{−κt})/κ
(u_0 = t), with F′ = dC/dt at t = 0 (the initial slope whose flux is reported).  A first-order
analyser that is in equilibrium with the chamber air when the lid closes (the chamber was
flushed with ambient air, as the fleet firmware does) reads y with τ_s·dy/dt + y = C(t),
y(0) = C₀, which gives

    y(t) = C₀ + F′·v(t),   v(t) = (u_κ(t) − τ_s (1 − e^{−t/τ_s})) / (1 − κτ_s)

(the response of a first-order system to 1 and to e^{−κt}; v = t − τ_s(1 − e^{−t/τ_s}) for
κ = 0, v = u_κ for τ_s = 0).  Unlike `soilflux.fit.lag`, the transient is not a free term: it
is fixed by F′, κ and τ_s, so the window may start at the lid closing and no sample is spent
on the lag.  For a given κ the model is linear in (C₀, F′).

The shared κ maximises the joint Gaussian likelihood of the pooled closures (each with its
own C₀ and F′): κ* = argmin_κ Σᵢ SSEᵢ(κ), found on the grid `KAPPA_GRID_S` and refined by
a parabola through the three grid points around the minimum (`soilflux.fit._profile`); its
standard error is √(2σ̂²/S″(κ*)), σ̂² = S(κ*)/(N − 2n − 1) (profile likelihood).

References
----------
Hutchinson, G. L., Mosier, A. R. (1981). Soil Sci. Soc. Am. J. 45:311–316.
Livingston, G. P. et al. (2006). J. Geophys. Res. 111:D11S03 (chamber feedback).
Pawitan, Y. (2001). In All Likelihood, ch. 10 (profile likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.fit._batch import Batch, BoolArray, FloatArray, quiet, safe_divide, safe_sqrt
from soilflux.fit._lstsq import centred, centred_regression
from soilflux.fit._profile import grid_minimum

AnyFloat = npt.NDArray[np.floating[Any]]
"""float64, or float32 where a long call stores its profiles compactly."""

#: Curvatures tried for the shared κ [s⁻¹]: −0.002 … 0.02 in steps of 5·10⁻⁴.  κ·T spans
#: −0.36 … 3.6 over a 3-min closure: slightly negative (so that noise about a straight
#: chamber does not bias κ* upward by clipping at 0) to nearly saturated.
KAPPA_GRID_S: FloatArray = np.round(np.arange(-0.002, 0.02 + 1e-12, 5e-4), 6)

#: Grid points where |1 − κτ_s| is below this are skipped (the response v is singular at
#: κ = 1/τ_s: a curvature as fast as the analyser cannot be told from its lag) [-].
_MIN_LAG_SEPARATION = 0.2


def lagged_hm_basis(t_s: FloatArray, kappa_s: float, tau_s: FloatArray) -> FloatArray:
    """v(t): the analyser's reading of an HM rise of unit initial slope, from equilibrium.

    v(t) = (u_κ(t) − τ_s (1 − e^{−t/τ_s})) / (1 − κτ_s),  u_κ(t) = (1 − e^{−κt})/κ (module
    docstring).

    Parameters
    ----------
    t_s : (k, m) float
        Time since the lid closed [s], ≥ 0.
    kappa_s : float
        Curvature κ [s⁻¹]; |1 − κτ_s| must not vanish.
    tau_s : (k,) float
        Analyser time constant per closure [s]; 0 → no lag.

    Returns
    -------
    (k, m) float
        v [s] (the rise in concentration units per unit initial slope).
    """
    t = np.asarray(t_s, dtype=np.float64)
    tau = np.asarray(tau_s, dtype=np.float64)[:, None]
    u = t if kappa_s == 0.0 else -np.expm1(-kappa_s * t) / kappa_s
    lag = tau * -np.expm1(-t / np.where(tau > 0, tau, 1.0))
    lag = np.where(tau > 0, lag, 0.0)
    return np.asarray((u - lag) / (1.0 - kappa_s * tau), dtype=np.float64)


@dataclass(frozen=True)
class KappaProfile:
    """Fits of every closure at every grid curvature; fields of shape (k, G) unless noted.

    Attributes
    ----------
    kappa_s : (G,) float
        The grid [s⁻¹].
    sse : residual sum of squares of (C₀, F′) at each κ [conc²]; NaN: no fit
    slope, slope_se : F′ = dC/dt at t = 0 and its standard error at fixed κ [conc s⁻¹]
    n : (k,) int
        Samples in each closure's window.
    sst : (k,) float
        Σ(y − ȳ)² of each window [conc²] (for R²).
    """

    kappa_s: FloatArray
    sse: AnyFloat
    slope: AnyFloat
    slope_se: AnyFloat
    n: npt.NDArray[np.int64]
    sst: FloatArray


@quiet
def kappa_profile(
    b: Batch, tau_s: FloatArray, grid_s: FloatArray = KAPPA_GRID_S, dtype: type = np.float64
) -> KappaProfile:
    """Fit y = C₀ + F′·v_κ(t) to every closure of `b` at every κ of `grid_s`.

    Parameters
    ----------
    b : Batch
        Times since the lid closed [s] and concentrations [conc] of the fit windows.
    tau_s : (k,) float
        Analyser time constant per closure [s] (0: none).
    grid_s : (G,) float
        Curvatures [s⁻¹].
    dtype : numpy float type
        Storage type of the (k, G) results (float32 halves the memory of long calls).

    Returns
    -------
    KappaProfile
    """
    k, g = b.t.shape[0], grid_s.size
    tau = np.broadcast_to(np.asarray(tau_s, dtype=np.float64), (k,))
    sse: AnyFloat = np.full((k, g), np.nan, dtype=dtype)
    slope: AnyFloat = np.full((k, g), np.nan, dtype=dtype)
    slope_se: AnyFloat = np.full((k, g), np.nan, dtype=dtype)
    sst = _profile(b, tau, np.asarray(grid_s, dtype=np.float64), sse, slope, slope_se)
    return KappaProfile(
        kappa_s=np.asarray(grid_s), sse=sse, slope=slope, slope_se=slope_se, n=b.n, sst=sst
    )


def _profile(
    b: Batch, tau: FloatArray, grid: FloatArray, sse: AnyFloat, slope: AnyFloat, slope_se: AnyFloat
) -> FloatArray:
    """`kappa_profile`'s numbers: fills (sse, slope, slope_se) of shape (k, G); returns sst.

    `centred_regression` of v_κ (module docstring) in buffers reused across κ; v is zero
    outside the window (t = 0 there), as `centred_regression` wants.
    """
    nf = b.n.astype(np.float64)
    yc = centred(b, b.c)  # centred: better conditioned sums
    # the lag's response τ_s(1 − e^{−t/τ_s}) is the same at every κ: computed once
    t = np.asarray(b.t, dtype=np.float64)
    tau_col = tau[:, None]
    lag = np.where(tau_col > 0, tau_col * -np.expm1(-t / np.where(tau_col > 0, tau_col, 1.0)), 0.0)
    u = np.empty_like(t)
    v = np.empty_like(t)
    r = np.empty_like(t)
    k, g = t.shape[0], grid.size
    # per closure and κ: the model is defined where 1 − κτ_s is far from 0
    one_minus = 1.0 - grid[None, :] * tau[:, None]
    far = np.abs(one_minus) >= _MIN_LAG_SEPARATION
    den = np.where(far, one_minus, 1.0)
    f_all, s_all, sxx_all = np.empty((k, g)), np.empty((k, g)), np.empty((k, g))
    for j, kappa in enumerate(grid):
        if kappa == 0.0:
            u[...] = t
        else:  # u_κ = −expm1(−κt)/κ = expm1(−κt)/(−κ), exactly
            np.multiply(t, -kappa, out=u)
            np.expm1(u, out=u)
            np.divide(u, -kappa, out=u)
        far_j = far[:, j]
        np.subtract(u, lag if far_j.all() else np.where(far_j[:, None], lag, 0.0), out=v)
        np.divide(v, den[:, j : j + 1], out=v)
        f_all[:, j], s_all[:, j], sxx_all[:, j] = centred_regression(b, v, yc, work=(v, r))
    # the checks and the slope's SE for every κ at once (elementwise: same numbers)
    ok = far & (b.n >= 3)[:, None] & np.isfinite(f_all) & (sxx_all > 0)
    sse[...] = np.where(ok, s_all, np.nan)
    slope[...] = np.where(ok, f_all, np.nan)
    se = safe_sqrt(safe_divide(s_all, (nf - 2.0)[:, None] * sxx_all))
    slope_se[...] = np.where(ok, se, np.nan)
    return np.asarray(np.einsum("ij,ij->i", yc, yc), dtype=np.float64)


@dataclass(frozen=True)
class SharedKappa:
    """The shared curvature of each closure's pool; fields of shape (k,).

    Attributes
    ----------
    kappa_s, kappa_se_s : κ* and its standard error [s⁻¹]; NaN where no pool
    pool_size : closures pooled [-]
    at_bound : κ* at an end of the grid (the pool's curvature lies outside it)
    """

    kappa_s: FloatArray
    kappa_se_s: FloatArray
    pool_size: npt.NDArray[np.int64]
    at_bound: BoolArray


def shared_kappa(
    sse: FloatArray,
    n: npt.ArrayLike,
    grid_s: FloatArray,
    chamber: npt.ArrayLike,
    time_s: npt.ArrayLike,
    pool: npt.ArrayLike,
    window_s: float,
    min_closures: int,
) -> SharedKappa:
    """κ* of every closure: the joint least-squares κ of its chamber's pool around it.

    A closure's pool is the closures of the same chamber with `pool` true whose start lies
    within ±`window_s`/2 of its own (itself included when eligible); fewer than
    `min_closures` → NaN.  Σ SSE over the pool is minimised on the grid and refined by a
    parabola (module docstring).

    Parameters
    ----------
    sse : (k, G) float
        `KappaProfile.sse` [conc²].
    n : (k,) int
        Samples per closure [-].
    grid_s : (G,) float
        The grid [s⁻¹], evenly spaced.
    chamber : (k,) hashable
        Chamber of each closure.
    time_s : (k,) float
        Start of each closure [s] (any epoch); NaN → no pool.
    pool : (k,) bool
        Closures eligible to inform κ (good closures at night, say).
    window_s : float
        Width of the pooling window [s], > 0.
    min_closures : int
        Smallest pool [-], ≥ 2.

    Returns
    -------
    SharedKappa
    """
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0 s, got {window_s!r}")
    if min_closures < 2:
        raise ValueError(f"min_closures must be >= 2, got {min_closures!r}")
    s = np.asarray(sse, dtype=np.float64)
    k, g = s.shape
    n_arr = np.asarray(n, dtype=np.float64)
    t = np.asarray(time_s, dtype=np.float64)
    eligible = np.asarray(pool, dtype=bool) & np.isfinite(t) & np.isfinite(s).any(axis=1)
    # a grid point a closure cannot fit is unusable for the whole pool (+inf after summing)
    s_pool = np.where(np.isfinite(s), s, np.inf)
    kappa = np.full(k, np.nan)
    kappa_se = np.full(k, np.nan)
    size = np.zeros(k, dtype=np.int64)
    at_bound = np.zeros(k, dtype=bool)
    codes = pd.factorize(pd.Series(np.asarray(chamber, dtype=object)))[0]  # missing → −1
    half = window_s / 2.0
    for code in np.unique(codes[codes >= 0]):
        members = np.flatnonzero(codes == code)
        src = members[eligible[members]]
        if src.size < min_closures:
            continue
        src = src[np.argsort(t[src], kind="stable")]
        ts = t[src]
        finite = np.isfinite(s_pool[src])
        cum = np.zeros((src.size + 1, g))
        cum[1:] = np.cumsum(np.where(finite, s_pool[src], 0.0), axis=0)
        bad = np.zeros((src.size + 1, g))
        bad[1:] = np.cumsum(~finite, axis=0)
        cum_n = np.concatenate([[0.0], np.cumsum(n_arr[src])])
        tgt = members[np.isfinite(t[members])]
        lo = np.searchsorted(ts, t[tgt] - half, side="left")
        hi = np.searchsorted(ts, t[tgt] + half, side="right")
        m = hi - lo
        use = m >= min_closures
        tgt, lo, hi, m = tgt[use], lo[use], hi[use], m[use]
        if not tgt.size:
            continue
        total = cum[hi] - cum[lo]
        total = np.where((bad[hi] - bad[lo]) > 0, np.inf, total)
        best = grid_minimum(total, grid_s)
        has = best.index >= 0
        kappa[tgt] = best.x
        dof = (cum_n[hi] - cum_n[lo]) - 2.0 * m - 1.0
        kappa_se[tgt] = best.standard_error(safe_divide(best.value, dof))
        size[tgt] = m
        at_bound[tgt] = has & ~best.interior
    return SharedKappa(kappa_s=kappa, kappa_se_s=kappa_se, pool_size=size, at_bound=at_bound)


def at_kappa(profile_values: FloatArray, grid_s: FloatArray, kappa_s: FloatArray) -> FloatArray:
    """A profile quantity (slope, its SE, SSE) at κ* by a parabola through 3 grid points.

    Parameters
    ----------
    profile_values : (k, G) float
        E.g. `KappaProfile.slope`.
    grid_s : (G,) float
        The evenly spaced grid [s⁻¹].
    kappa_s : (k,) float
        Where to evaluate [s⁻¹]; NaN → NaN.

    Returns
    -------
    (k,) float
    """
    v = np.asarray(profile_values, dtype=np.float64)
    g = grid_s.size
    step = float(grid_s[1] - grid_s[0])
    x = (np.asarray(kappa_s, dtype=np.float64) - grid_s[0]) / step
    j = np.clip(np.rint(np.nan_to_num(x)).astype(np.int64), 1, g - 2)
    r = np.arange(v.shape[0])
    u = np.nan_to_num(x) - j
    ym, y0, yp = v[r, j - 1], v[r, j], v[r, j + 1]
    out = y0 + 0.5 * u * (yp - ym) + 0.5 * u**2 * (yp - 2.0 * y0 + ym)
    return np.where(np.isfinite(x), out, np.nan)
