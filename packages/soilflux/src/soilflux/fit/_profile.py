"""The minimum of a profile sampled on an even grid, and its curvature (profile likelihood).

Used wherever a parameter shared by many fits is found by summing their residual sums of
squares on a grid: the chamber-shared curvature κ (`soilflux.fit.shared`) and a device's
sensor time constant (`fluxfleet.sensor_lag`).  The grid point of least S(x) and its two
neighbours define a parabola; its vertex refines the minimum, and S″ = (S₋ − 2S₀ + S₊)/h²
gives the standard error √(2σ̂²/S″) of the estimate (Pawitan 2001, ch. 2.4 and 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilflux.fit._batch import BoolArray, FloatArray, safe_divide, safe_sqrt


@dataclass(frozen=True)
class GridMinimum:
    """Per row of a profile table; fields of shape (r,).

    Attributes
    ----------
    x : refined minimum [grid unit]; NaN where the row has no finite value
    value : S at `x` (the parabola's vertex; the grid minimum where not interior)
    second_derivative : S″ at the minimum [S unit / grid unit²]; NaN where not interior
    index : grid index of the least S (−1 where none)
    interior : the least S has a finite, convex neighbour on both sides
    """

    x: FloatArray
    value: FloatArray
    second_derivative: FloatArray
    index: npt.NDArray[np.int64]
    interior: BoolArray

    def standard_error(self, sigma2: FloatArray) -> FloatArray:
        """√(2σ̂²/S″) [grid unit] for residual variances `sigma2`; NaN where not interior."""
        se = safe_sqrt(safe_divide(2.0 * np.asarray(sigma2, np.float64), self.second_derivative))
        return np.where(self.interior, se, np.nan)


def grid_minimum(profile: FloatArray, grid: FloatArray) -> GridMinimum:
    """Minimum of each row of `profile` over the evenly spaced `grid`.

    Parameters
    ----------
    profile : (r, G) float
        S(x) per row; +inf or NaN where a grid point is unusable.
    grid : (G,) float
        Evenly spaced, increasing, G ≥ 3.

    Returns
    -------
    GridMinimum
    """
    s = np.asarray(profile, dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64)
    if g.size < 3:
        raise ValueError(f"a grid needs >= 3 points, got {g.size}")
    step = float(g[1] - g[0])
    s = np.where(np.isnan(s), np.inf, s)
    r = np.arange(s.shape[0])
    j = np.argmin(s, axis=1)
    best = s[r, j]
    has = np.isfinite(best)
    jc = np.clip(j, 1, g.size - 2)
    s_m, s_0, s_p = s[r, jc - 1], s[r, jc], s[r, jc + 1]
    # beside an unusable point inf − inf is NaN: that row is simply not interior
    ok3 = np.isfinite(s_m) & np.isfinite(s_0) & np.isfinite(s_p)
    s_m, s_0, s_p = (np.where(ok3, x, 0.0) for x in (s_m, s_0, s_p))
    curv = s_m - 2.0 * s_0 + s_p
    interior = has & ok3 & (j == jc) & (curv > 0)
    safe_curv = np.where(interior, curv, 1.0)
    shift = np.where(interior, 0.5 * (s_m - s_p) / safe_curv, 0.0)
    shift = np.clip(shift, -1.0, 1.0)
    return GridMinimum(
        x=np.where(has, g[j] + shift * step, np.nan),
        value=np.where(interior, s_0 - 0.5 * curv * shift**2, np.where(has, best, np.nan)),
        second_derivative=np.where(interior, curv / step**2, np.nan),
        index=np.where(has, j, -1).astype(np.int64),
        interior=interior,
    )
