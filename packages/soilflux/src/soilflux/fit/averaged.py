"""One closure's flux averaged over straight and curved rises (model ``hm_averaged``).

Why: on a single closure at a low-cost sensor's noise the curvature κ of the HM rise is
barely determined.  Selecting between a line and a free-κ HM by a threshold (gasfluxes'
kappa.max rule) is biased both ways: the HM it keeps was bent by noise (+8 % mean on straight
closures at 3 ppm), the line it falls back to ignores real curvature (−20 % at κ ≈ 0.002 s⁻¹).
A Bayesian average over κ uses what the record says about κ and no more: where the record
cannot tell, the estimate sits between the line and the curve, weighted by how well each
explains the data.

Model: the analyser's reading of an HM rise from equilibrium with a known first-order lag
τ_s (`soilflux.fit.shared.lagged_hm_basis`): y(t) = C₀ + F′·v_κ(t).  For each κ of a grid
the model is linear in (C₀, F′) (`soilflux.fit.shared.kappa_profile` gives F̂′(κ), its SE
and SSE(κ)).  Prior on κ: a point mass `prior_straight` at κ = 0 (a straight closure) and
the rest uniform on `min_kappa_span`/T ≤ κ ≤ `max_kappa_span`/T, κ ≠ 0 (T the window's
length: the curve may reach 1 − e^{−max_kappa_span} of its asymptote).  The slab reaches
below κ = 0 (a record bending upward) because noise bends a straight record either way: with
κ ≥ 0 only, the posterior median of a straight closure's κ is always > 0 and its flux is
biased upward, which a heavy spike (0.3, the default until 2026-12) then had to hold back —
at the cost of shrinking weakly curved closures to the line and under-covering them
(RESULTS.md, "prior sweep").  The profile likelihood
L(κ) ∝ exp(−(SSE(κ) − SSE_min)/(2σ̂²)), σ̂² = SSE_min/(n − 3), gives posterior weights
w(κ) (the grid is refined `REFINE`-fold by quadratic interpolation so that a well-determined
κ is not rounded to the grid).  The flux is the **posterior median** of F′ — F̂′(κ) rises
monotonically with κ, so it is F̂′ at the posterior median of κ — which minimises the
expected absolute error; its standard error is the posterior standard deviation about it,
√(Σ w(κ)·[SE(F̂′(κ))² + (F̂′(κ) − F̂′_med)²]).

References
----------
Hoeting, J. A., Madigan, D., Raftery, A. E., Volinsky, C. T. (1999). Bayesian model
averaging: a tutorial. Statistical Science 14:382–417.
Mitchell, T. J., Beauchamp, J. J. (1988). Bayesian variable selection in linear regression
(spike-and-slab prior). J. Am. Stat. Assoc. 83:1023–1032.
Hüppi, R., Felber, R., Krauss, M., Six, J., Leifeld, J., Fuß, R. (2018). PLOS ONE
13:e0200876 (HM's bias on noisy, nearly linear records; the kappa.max rule).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilflux.fit._batch import (
    BoolArray,
    FloatArray,
    compact_windows,
    gaussian_aicc,
    make_batch,
    quiet,
    safe_divide,
)
from soilflux.fit.shared import kappa_profile

#: Curvatures profiled for the averaged HM [s⁻¹]: −0.01 … 0.02 in steps of 10⁻³ (κ·T from
#: −1.8 to 3.6 over a 3-min closure), refined `REFINE`-fold by interpolation.
AVERAGED_KAPPA_GRID_S: FloatArray = np.round(np.arange(-0.01, 0.02 + 1e-12, 1e-3), 6)

#: Defaults of the prior (methods §5.0; chosen by `benchmarks/accuracy.py --prior-sweep` on
#: the tuning seeds 1, 2): P(κ = 0) [-], and the slab's ends as κ·T [-].
PRIOR_STRAIGHT = 0.03
MIN_KAPPA_SPAN = -1.0
MAX_KAPPA_SPAN = 2.0

#: Sub-steps per grid interval in the posterior (quadratic interpolation of the profile) [-].
REFINE = 5


@dataclass(frozen=True)
class AveragedHM:
    """Posterior summaries per closure; fields of shape (k,).

    Attributes
    ----------
    slope, slope_se : posterior median of F′ = dC/dt at t = 0 and the posterior standard
        deviation about it [conc s⁻¹]; NaN where the profile has no fit
    kappa_s : posterior median of κ [s⁻¹]
    p_straight : posterior probability of κ = 0 [-]
    """

    slope: FloatArray
    slope_se: FloatArray
    kappa_s: FloatArray
    p_straight: FloatArray


def refine_profile(values: FloatArray, grid_s: FloatArray, factor: int) -> FloatArray:
    """A (k, G) profile at `factor` sub-steps per grid interval, by local parabolas.

    Parameters
    ----------
    values : (k, G) float
        Profile on the evenly spaced grid `grid_s` (G ≥ 3).
    grid_s : (G,) float
        The grid [s⁻¹].
    factor : int
        Sub-steps per interval, ≥ 1.

    Returns
    -------
    (k, (G − 1)·factor + 1) float
        At grid_s[0] + (grid_s[1] − grid_s[0])·i/factor; equal to `values` at the grid points.
    """
    v = np.asarray(values, dtype=np.float64)
    g = grid_s.size
    if g < 3 or factor < 1:
        raise ValueError(f"need a grid of >= 3 points and factor >= 1, got {g}, {factor}")
    idx, weight = _refine_stencil(g, factor)
    bad = ~np.isfinite(v)
    clean = np.where(bad, 0.0, v) if bad.any() else v
    # three points per refined value, gathered (a dense (G × refined) product in BLAS cost
    # more: OpenBLAS spreads so small a product over threads that spin on a shared machine)
    out = clean[:, idx[0]] * weight[0]
    out += clean[:, idx[1]] * weight[1]
    out += clean[:, idx[2]] * weight[2]
    if bad.any():  # a refined point is undefined where one of its parabola's points is
        used = weight != 0
        undefined = (bad[:, idx[0]] & used[0]) | (bad[:, idx[1]] & used[1])
        undefined |= bad[:, idx[2]] & used[2]
        out[undefined] = np.nan
    return np.asarray(out, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _refine_stencil(g: int, factor: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Grid indices (3, (G − 1)·factor + 1) of the local parabola of each refined point of
    `refine_profile`, and their weights (Lagrange, through grid points j − 1, j, j + 1)."""
    x = np.arange((g - 1) * factor + 1) / factor  # in grid steps
    j = np.clip(np.rint(x).astype(np.int64), 1, g - 2)  # centre of the parabola
    u = x - j
    idx = np.stack([j - 1, j, j + 1])
    weight = np.stack([0.5 * u * (u - 1.0), 1.0 - u**2, 0.5 * u * (u + 1.0)])
    idx.setflags(write=False)
    weight.setflags(write=False)
    return idx, weight


@quiet
def averaged_hm(
    sse: FloatArray,
    slope: FloatArray,
    slope_se: FloatArray,
    n: FloatArray,
    span_s: FloatArray,
    grid_s: FloatArray = AVERAGED_KAPPA_GRID_S,
    prior_straight: float = PRIOR_STRAIGHT,
    max_kappa_span: float = MAX_KAPPA_SPAN,
    min_kappa_span: float = MIN_KAPPA_SPAN,
) -> AveragedHM:
    """Posterior median of the initial slope over κ (module docstring).

    Parameters
    ----------
    sse, slope, slope_se : (k, G) float
        `soilflux.fit.shared.KappaProfile` fields on `grid_s` [conc², conc s⁻¹, conc s⁻¹].
    n : (k,) float
        Samples in each window [-]; fewer than 4 → NaN.
    span_s : (k,) float
        Window length T [s] (the slab spans `min_kappa_span`/T … `max_kappa_span`/T).
    grid_s : (G,) float
        Evenly spaced curvatures, 0 among them [s⁻¹].
    prior_straight : float
        Prior probability of κ = 0, in (0, 1) [-].
    max_kappa_span : float
        Largest κ·T of the prior, > 0 [-].
    min_kappa_span : float
        Smallest κ·T of the prior, ≤ 0 (0: no upward-bending rises) [-].

    Returns
    -------
    AveragedHM
    """
    if not 0.0 < prior_straight < 1.0:
        raise ValueError(f"prior_straight must be in (0, 1), got {prior_straight!r}")
    if not max_kappa_span > 0:
        raise ValueError(f"max_kappa_span must be > 0, got {max_kappa_span!r}")
    if not min_kappa_span <= 0:
        raise ValueError(f"min_kappa_span must be <= 0, got {min_kappa_span!r}")
    i0 = zero_index(grid_s) * REFINE
    s = refine_profile(sse, grid_s, REFINE)
    f = refine_profile(slope, grid_s, REFINE)
    fse = refine_profile(slope_se, grid_s, REFINE)
    step = float(grid_s[1] - grid_s[0]) / REFINE
    x = (np.arange(s.shape[1]) - i0) * step
    nf = np.asarray(n, dtype=np.float64)
    span = np.asarray(span_s, dtype=np.float64)
    hi = safe_divide(np.full(nf.shape, max_kappa_span), span)
    lo = safe_divide(np.full(nf.shape, min_kappa_span), span)
    xr = x[None, :]
    slab = (xr != 0) & (xr <= hi[:, None] + 0.5 * step) & (xr >= lo[:, None] - 0.5 * step)
    n_slab = slab.sum(axis=1)
    prior = np.where(slab, (1.0 - prior_straight) / np.maximum(n_slab, 1)[:, None], 0.0)
    prior[:, i0] = np.where(n_slab > 0, prior_straight, 1.0)
    usable = (prior > 0) & np.isfinite(s) & np.isfinite(f) & np.isfinite(fse)
    s_min = np.where(usable, s, np.inf).min(axis=1)
    sigma2 = safe_divide(s_min, nf - 3.0)
    logl = -(s - s_min[:, None]) / (2.0 * np.where(sigma2 > 0, sigma2, np.nan)[:, None])
    # e^{−∞} = 0 where not usable (the prior is finite there)
    w = prior * np.exp(np.where(usable, logl, -np.inf))
    np.nan_to_num(w, copy=False)
    total = w.sum(axis=1)
    w = safe_divide(w, total[:, None])
    cw = np.cumsum(w, axis=1)
    j = np.minimum((cw < 0.5).sum(axis=1), x.size - 1)
    rows = np.arange(j.size)
    med = f[rows, j]
    var = np.where(usable, w * (fse**2 + (f - med[:, None]) ** 2), 0.0).sum(axis=1)
    ok = (nf >= 4) & (total > 0) & np.isfinite(med) & usable[:, i0]
    nan = np.full(j.size, np.nan)
    return AveragedHM(
        slope=np.where(ok, med, nan),
        slope_se=np.where(ok, np.sqrt(var), nan),
        kappa_s=np.where(ok, x[j], nan),
        p_straight=np.where(ok, w[:, i0], nan),
    )


def zero_index(grid_s: FloatArray) -> int:
    """Index of κ = 0 in an evenly spaced grid [s⁻¹] of ≥ 3 points.

    Raises
    ------
    ValueError
        The grid does not hold κ = 0 exactly.
    """
    hits = np.flatnonzero(np.asarray(grid_s) == 0.0)
    if hits.size != 1:
        raise ValueError("grid_s must hold κ = 0 exactly once")
    return int(hits[0])


@dataclass(frozen=True)
class AveragedWindowFit:
    """`averaged_hm` on each closure's window, with the window's fit numbers; (k,) arrays.

    Attributes
    ----------
    slope, slope_se : as `AveragedHM` [conc s⁻¹]
    sse : residual sum of squares at the grid κ nearest the posterior median [conc²]
    aicc : AICc of that fit (3 parameters: C₀, F′, κ) [-]
    n : samples in the window [-]
    sst : Σ(y − ȳ)² of the window [conc²]
    c_range : max − min of the window [conc]
    deadband_s : start of the window [s]
    """

    slope: FloatArray
    slope_se: FloatArray
    sse: FloatArray
    aicc: FloatArray
    n: npt.NDArray[np.int64]
    sst: FloatArray
    c_range: FloatArray
    deadband_s: FloatArray


def averaged_hm_window(
    t_s: FloatArray,
    c: FloatArray,
    valid: BoolArray,
    start_s: FloatArray,
    tau_s: FloatArray,
    prior_straight: float = PRIOR_STRAIGHT,
    max_kappa_span: float = MAX_KAPPA_SPAN,
    min_kappa_span: float = MIN_KAPPA_SPAN,
) -> AveragedWindowFit:
    """The κ-averaged HM of padded closures, on the samples after `start_s`.

    Parameters
    ----------
    t_s : (k, m) float
        Time since the lid closed [s].
    c : (k, m) float
        Dry mole fraction [conc].
    valid : (k, m) bool
        Usable samples (the window's end already applied).
    start_s : (k,) float
        Window start [s]: samples with t > start (t ≥ 0 when the start is 0).
    tau_s : (k,) float
        Analyser time constant in the model [s] (0: none, for a window the caller chose).
    prior_straight, max_kappa_span, min_kappa_span : float
        As `averaged_hm`.

    Returns
    -------
    AveragedWindowFit
    """
    start = np.asarray(start_s, dtype=np.float64)[:, None]
    win = valid & ((t_s > start) | (start == 0))
    b = make_batch(*compact_windows(t_s, c, win))
    span = np.where(b.mask, b.t, -np.inf).max(axis=1) - np.where(b.mask, b.t, np.inf).min(axis=1)
    grid = prior_grid(span, max_kappa_span, min_kappa_span)
    prof = kappa_profile(b, np.asarray(tau_s, dtype=np.float64), grid)
    avg = averaged_hm(
        np.asarray(prof.sse, dtype=np.float64),
        np.asarray(prof.slope, dtype=np.float64),
        np.asarray(prof.slope_se, dtype=np.float64),
        b.n.astype(np.float64),
        span,
        grid,
        prior_straight=prior_straight,
        max_kappa_span=max_kappa_span,
        min_kappa_span=min_kappa_span,
    )
    step = float(grid[1] - grid[0])
    j = np.clip(np.rint((np.nan_to_num(avg.kappa_s) - grid[0]) / step), 0, grid.size - 1)
    sse = np.asarray(prof.sse, dtype=np.float64)[np.arange(b.n.size), j.astype(np.int64)]
    hi = np.where(b.mask, b.c, -np.inf).max(axis=1)
    lo = np.where(b.mask, b.c, np.inf).min(axis=1)
    return AveragedWindowFit(
        slope=avg.slope,
        slope_se=avg.slope_se,
        sse=sse,
        aicc=gaussian_aicc(sse, b.n, 3),
        n=b.n,
        sst=np.asarray(prof.sst, dtype=np.float64),
        c_range=np.where(b.n > 0, hi - lo, np.nan),
        deadband_s=np.asarray(start_s, dtype=np.float64),
    )


def prior_grid(span_s: FloatArray, max_kappa_span: float, min_kappa_span: float) -> FloatArray:
    """The part of `AVERAGED_KAPPA_GRID_S` the prior reaches for windows of length `span_s`
    [s], one grid step beyond each end (for the parabolas), κ = 0 and ≥ 3 points kept [s⁻¹].

    Profiling only this part saves time, and keeps e^{−κt} of κ < 0 from growing without
    need on long windows.
    """
    full = AVERAGED_KAPPA_GRID_S
    span = np.asarray(span_s, dtype=np.float64)
    hi = np.nanmax(safe_divide(np.full(span.shape, max_kappa_span), span), initial=0.0)
    lo = np.nanmin(safe_divide(np.full(span.shape, min_kappa_span), span), initial=0.0)
    i0 = zero_index(full)
    last = int(np.searchsorted(full, hi, side="left")) + 1
    # one step below the slab's lower end; from κ = 0 where it has none
    below = min(max(int(np.searchsorted(full, lo, side="right")) - 2, 0), i0 - 1)
    first = below if lo < 0 else i0
    last = max(last, first + 2, i0 + 1)
    return full[first : min(last + 1, full.size)]
