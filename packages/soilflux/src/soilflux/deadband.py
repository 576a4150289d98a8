"""Dead band: the time after the lid closes that the fit skips.

Fixed, or automatic per closure.  The automatic rule (``auto_deadband``) follows SoilFluxPro's
guidance (increase the dead band until the flux stops changing) and goFlux's ``auto.deadband``
(scan the start of the window), made explicit:

1. Candidate dead bands d run from `min_s` to `max_s` in steps of the closure batch's median
   sampling interval.
2. For each d, the OLS slope b(d) is computed over the fit window
   d < t ≤ t_end (all at once from prefix sums; no loop over closures).
3. The sensitivity of the flux to the window start is S(d) = |b(d⁺) − b(d⁻)| / 2, the central
   difference over the neighbouring candidates (one-sided, per one step, at the ends).
4. The dead band is the smallest d with S(d) ≤ min S + SE(d)/2: the earliest start whose slope is,
   to within half a standard error, as insensitive to the window as the most stable start.
   SE(d) = σ̂/√Σ(t − t̄)² is the slope error that the noise alone causes, with the noise σ̂
   estimated from second differences of the record (mean |Δ²C| = σ·√(12/π)), so that a
   systematic misfit (a lag transient, curvature) does not widen the tolerance.

With a sensor lag (the SCD30 responds with a ~20 s time constant) b(d) rises while the window
still contains the lag transient and falls where the chamber headspace saturates; the rule
lands on the flat top between them.  On a straight record every S(d) is within noise and the
rule keeps the smallest dead band, so no data are thrown away without cause.

References
----------
LI-COR Biosciences, SoilFluxPro manual, "Dead band" (guidance on choosing the dead band).
Rheault, K. et al. (2024). goFlux, J. Open Source Softw. 9(96):6393 (``auto.deadband``).
Johannesson, C.-F. et al. (2024). Biogeosciences 21 (dead-band selection by window scans).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from soilflux.fit._batch import FloatArray, quiet, safe_divide, safe_sqrt


@quiet
def auto_deadband(
    t_s: npt.ArrayLike,
    c: npt.ArrayLike,
    mask: npt.ArrayLike,
    *,
    min_s: float = 0.0,
    max_s: float = 60.0,
    end_s: npt.ArrayLike | None = None,
    min_samples: int = 5,
) -> FloatArray:
    """Automatic dead band per closure (rule in the module docstring).

    Parameters
    ----------
    t_s : array_like, shape (k, m)
        Time since the lid closed [s], non-decreasing along each row where `mask` is True.
    c : array_like, shape (k, m)
        Dry mole fraction C′ [µmol mol⁻¹].
    mask : array_like of bool, shape (k, m)
        Usable samples (t ≥ 0, finite values).
    min_s, max_s : float
        Range of dead bands searched [s], 0 ≤ min_s ≤ max_s.
    end_s : array_like, shape (k,), optional
        End of each fit window [s] (default: the last sample).
    min_samples : int
        Candidates leaving fewer samples in the window are not considered [-].

    Returns
    -------
    ndarray, shape (k,)
        Dead band [s]; `min_s` where no candidate has enough samples.
    """
    if not 0 <= min_s <= max_s:
        raise ValueError(f"need 0 <= min_s <= max_s, got {min_s!r}, {max_s!r}")
    t = np.atleast_2d(np.asarray(t_s, dtype=np.float64))
    cc = np.atleast_2d(np.asarray(c, dtype=np.float64))
    m_arr = np.atleast_2d(np.asarray(mask, dtype=bool)) & np.isfinite(t) & np.isfinite(cc)
    k, m = t.shape
    if k == 0 or m == 0:
        return np.full(k, float(min_s))
    t_masked = np.where(m_arr, t, -np.inf)
    last = t_masked.max(axis=1)
    if end_s is None:  # the window ends at the last sample: every masked sample is in it
        use = m_arr
    else:
        end = np.asarray(end_s, dtype=np.float64)
        end = np.where(np.isfinite(end), end, last)
        use = m_arr & (t <= end[:, None])
        t_masked = np.where(use, t, -np.inf)
        last = t_masked.max(axis=1)
    w = use.astype(np.float64)
    n_use = w.sum(axis=1)
    # origin shifts keep the prefix sums well conditioned
    t_first = np.where(use, t, np.inf).min(axis=1)
    t_first = np.where(np.isfinite(t_first), t_first, 0.0)
    c_first = np.where(use, cc, 0.0).sum(axis=1) / np.maximum(n_use, 1.0)
    x = np.where(use, t - t_first[:, None], 0.0)
    y = np.where(use, cc - c_first[:, None], 0.0)
    # step: median sampling interval of the batch
    # (median over closures of each closure's mean step: cheap and robust to a few gaps)
    t_last = last
    mean_step = safe_divide(t_last - t_first, n_use - 1)
    mean_step = mean_step[np.isfinite(mean_step) & (mean_step > 0)]
    step = float(np.median(mean_step)) if mean_step.size else 1.0
    grid = (
        np.arange(min_s, max_s + 1e-9 * max(1.0, max_s), step)
        if max_s > min_s
        else np.array([min_s])
    )
    # index of the first sample with t > d, per row and candidate: count of used samples ≤ d
    # (row-wise searchsorted on a non-decreasing copy of t)
    tm = np.maximum.accumulate(t_masked, axis=1)
    tm -= grid[0]
    tm += 1.0
    np.maximum(tm, 0.0, out=tm)  # ≥ 0; candidate d sits at d − grid[0] + 1
    width = float(max(tm.max(), grid[-1] - grid[0] + 1.0)) * 2.0 + 4.0
    offsets = np.arange(k, dtype=np.float64) * width
    keys = (tm + offsets[:, None]).ravel()
    queries = (grid - grid[0] + 1.0)[None, :] + offsets[:, None]
    i0 = np.searchsorted(keys, queries.ravel(), side="right").reshape(k, grid.size)
    i0 -= (np.arange(k) * m)[:, None]
    # window sums = row totals − prefix sums at i0; prefixes only up to the largest i0
    c_max = int(i0.max()) if i0.size else 0
    prefix = np.zeros((k, c_max + 1))  # column 0 stays 0: the empty prefix
    at = (i0 + (np.arange(k) * (c_max + 1))[:, None]).ravel()  # i0 in the flat prefix

    def window(z: FloatArray, total: FloatArray | None = None) -> FloatArray:
        np.cumsum(z[:, :c_max], axis=1, out=prefix[:, 1:])
        total = z.sum(axis=1) if total is None else total
        return np.asarray(total[:, None] - prefix.take(at).reshape(k, grid.size))

    n = window(w, n_use)
    sx, sy = window(x), window(y)
    sxx = window(x * x) - safe_divide(sx * sx, n)
    sxy = window(x * y) - safe_divide(sx * sy, n)
    b = safe_divide(sxy, sxx)
    # noise of the record from second differences (insensitive to smooth curvature or lag):
    # var(Δ²c) = 6σ² for white noise; mean |Δ²c| = σ·√6·√(2/π)
    d2_ok = use[:, 2:] & use[:, 1:-1] & use[:, :-2]
    d2 = np.abs(cc[:, 2:] - 2 * cc[:, 1:-1] + cc[:, :-2]) if m >= 3 else np.zeros((k, 0))
    d2_mean = safe_divide(
        np.where(d2_ok, d2, 0.0).sum(axis=1), d2_ok.sum(axis=1).astype(np.float64)
    )
    sigma = d2_mean * np.sqrt(np.pi / 2) / np.sqrt(6.0)
    se = sigma[:, None] * safe_sqrt(safe_divide(np.ones_like(sxx), sxx))
    valid = (n >= max(min_samples, 3)) & np.isfinite(b)
    b = np.where(valid, b, np.nan)
    if grid.size >= 3:
        left = np.concatenate([b[:, :1], b[:, :-2], b[:, -2:-1]], axis=1)
        right = np.concatenate([b[:, 1:2], b[:, 2:], b[:, -1:]], axis=1)
        dist = np.full(grid.size, 2.0)
        dist[0] = dist[-1] = 1.0  # one-sided differences span one step at the ends
        sens = np.abs(right - left) / dist
    elif grid.size == 2:
        diff = np.abs(b[:, 1:] - b[:, :1])
        sens = np.concatenate([diff, diff], axis=1)
    else:
        sens = np.zeros_like(b)
    sens = np.where(valid & np.isfinite(sens), sens, np.inf)
    best = sens.min(axis=1)
    ok = sens <= best[:, None] + 0.5 * np.nan_to_num(se, nan=0.0)
    ok &= np.isfinite(sens)
    first = np.argmax(ok, axis=1)
    chosen = grid[first]
    return np.where(ok.any(axis=1), chosen, float(min_s))
