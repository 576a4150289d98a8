"""Flags read from the shape of one closure's record: a clock step, a flux that stopped.

Both look inside the fit window of padded (closures × samples) arrays, vectorised.

* `clock_step` — the record's clock stepped forward inside the window (a device clock that
  jumped, e.g. NTP unreachable and then corrected, or a skewed clock).  A data gap and a clock
  step both leave a hole in the elapsed times; they differ in what the gas did across it.
  After a real gap the concentration has moved on by the slope × the hole; after a clock step
  no time passed, so it continues from where it was.  Two lines with one common slope and
  their own intercepts are fitted before and after the largest hole, and the level change D
  across it is compared with both hypotheses.
* `flux_stopped` — the soil's CO2 and H2O fluxes both stopped part-way through the closure
  (a pot that clogged, or whose soil was sealed by irrigation water, during the closure).  A
  saturating HM curve slows its CO2 rise too, but the water vapour keeps rising; a lid that
  reopened lets both fall back.  The flux of such a closure is neither the soil's before nor
  after the change.
"""

from __future__ import annotations

import numpy as np

from soilflux.fit._batch import Batch, BoolArray, FloatArray, quiet, safe_divide, safe_sqrt


def _masked_moments(
    t: FloatArray, y: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """n, t̄, ȳ, Sxx, Sxy of the masked samples of each row."""
    w = mask.astype(np.float64)
    n = w.sum(axis=1)
    tm = safe_divide((np.where(mask, t, 0.0)).sum(axis=1), n)
    ym = safe_divide((np.where(mask, y, 0.0)).sum(axis=1), n)
    dt = np.where(mask, t - tm[:, None], 0.0)
    dy = np.where(mask, y - ym[:, None], 0.0)
    return n, tm, ym, (dt * dt).sum(axis=1), (dt * dy).sum(axis=1)


def _time_moments(t: FloatArray, mask: BoolArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """n, t − t̄ (zero outside the mask) and Sxx of the masked samples of each row
    (as `_masked_moments`, same numbers)."""
    n = np.count_nonzero(mask, axis=1).astype(np.float64)
    tm = safe_divide(np.where(mask, t, 0.0).sum(axis=1), n)
    dt = np.where(mask, t - tm[:, None], 0.0)
    return n, dt, (dt * dt).sum(axis=1)


def _slope_given_time(
    y: FloatArray, mask: BoolArray, n: FloatArray, dt: FloatArray, sxx: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """OLS slope Sxy/Sxx of y on the masked samples given `_time_moments`, and y − ȳ
    (zero outside the mask)."""
    ym = safe_divide(np.where(mask, y, 0.0).sum(axis=1), n)
    dy = np.where(mask, y - ym[:, None], 0.0)
    return safe_divide((dt * dy).sum(axis=1), sxx), dy


@quiet
def clock_step(b: Batch, gap_factor: float = 3.0, z: float = 4.0) -> BoolArray:
    """Closures whose clock stepped forward inside the window (module docstring).

    Flagged where the largest step between window samples exceeds `gap_factor` × the row's
    mean step δ, and the level change D across it is more than `z` standard errors from
    the slope × the hole (time passed) and nearer to the slope × δ (no time passed).  At
    least 3 samples on each side; a record whose slope does not tell the two apart (a flat
    one) is not flagged.

    Parameters
    ----------
    b : Batch
        Window samples in time order: times [s], concentrations [conc].
    gap_factor : float
        Smallest hole, in mean steps [-].
    z : float
        Significance of the departure from "time passed" [-].

    Returns
    -------
    (k,) bool
    """
    t, c, mask = b.t, b.c, b.mask
    k = t.shape[0]
    if t.shape[1] < 2:
        return np.zeros(k, dtype=bool)
    tw = np.where(mask, t, -np.inf)
    prev = np.maximum.accumulate(tw, axis=1)[:, :-1]
    ok_step = mask[:, 1:] & np.isfinite(prev)
    steps = np.where(ok_step, t[:, 1:] - prev, np.nan)
    # the mean step, as the `gap` flag takes it (a hole lengthens it a little)
    span = np.where(mask, t, -np.inf).max(axis=1) - np.where(mask, t, np.inf).min(axis=1)
    delta = safe_divide(span, b.n.astype(np.float64) - 1.0)
    j = np.argmax(np.nan_to_num(steps, nan=-np.inf), axis=1)
    rows = np.arange(k)
    hole = steps[rows, j]
    t_after = t[rows, j + 1]
    t_before = t_after - hole
    before = mask & (t <= t_before[:, None])
    after = mask & (t >= t_after[:, None])
    n1, tm1, cm1, sxx1, sxy1 = _masked_moments(t, c, before)
    n2, tm2, cm2, sxx2, sxy2 = _masked_moments(t, c, after)
    sxx = sxx1 + sxx2
    slope = safe_divide(sxy1 + sxy2, sxx)
    level1 = cm1 + slope * (t_before - tm1)  # the fitted level at each edge of the hole
    level2 = cm2 + slope * (t_after - tm2)
    d = level2 - level1
    r1 = np.where(before, c - cm1[:, None] - slope[:, None] * (t - tm1[:, None]), 0.0)
    r2 = np.where(after, c - cm2[:, None] - slope[:, None] * (t - tm2[:, None]), 0.0)
    sigma2 = safe_divide((r1 * r1).sum(axis=1) + (r2 * r2).sum(axis=1), n1 + n2 - 3.0)
    # D − slope·hole = c̄₂ − c̄₁ + slope·(lever − hole): its standard error
    lever = (t_after - tm2) - (t_before - tm1) - hole
    inv_n = safe_divide(np.ones(k), n1) + safe_divide(np.ones(k), n2)
    se_d = safe_sqrt(sigma2 * (inv_n + safe_divide(lever**2, sxx)))
    passed = np.abs(d - slope * hole)
    stepped = np.abs(d - slope * delta)
    out = (
        (hole > gap_factor * delta)
        & (n1 >= 3)
        & (n2 >= 3)
        & (passed > z * se_d)
        & (stepped < passed)
    )
    return np.asarray(np.nan_to_num(out, nan=0.0).astype(bool))


@quiet
def flux_stopped(
    t_s: FloatArray,
    co2: FloatArray,
    h2o: FloatArray,
    mask: BoolArray,
    ratio: float = 1.0 / 3.0,
    z: float = 3.0,
) -> BoolArray:
    """Closures whose CO2 and H2O rises both stopped part-way through (module docstring).

    The window is split at the middle of its time span; per half the OLS slopes of CO2 and
    H2O.  Flagged where the first half's CO2 slope is positive by `z` standard errors, the
    second half's CO2 slope is below `ratio` × the first's and lower by `z` standard errors
    of the difference, and the second half's H2O slope is below `ratio` × a positive first
    half's.  Without an H2O record (NaN) nothing is flagged.

    Parameters
    ----------
    t_s : (k, m) float
        Time since the lid closed [s].
    co2, h2o : (k, m) float
        CO2 [µmol mol⁻¹] and water [mmol mol⁻¹] mole fractions.
    mask : (k, m) bool
        The window's samples.
    ratio : float
        Largest slope ratio, second half to first, of a stopped flux [-].
    z : float
        Significance of the CO2 rise and of its fall [-].

    Returns
    -------
    (k,) bool
    """
    ok = mask & np.isfinite(t_s) & np.isfinite(co2)
    lo = np.where(ok, t_s, np.inf).min(axis=1)
    hi = np.where(ok, t_s, -np.inf).max(axis=1)
    mid = 0.5 * (lo + hi)[:, None]
    first = ok & (t_s <= mid)
    second = ok ^ first  # = ok & (t > mid): t is finite where ok
    h2o_ok = np.isfinite(h2o)
    # the usual record has H2O wherever it has CO2: then H2O's n, t̄ and Sxx are CO2's
    h2o_everywhere = not (ok & ~h2o_ok).any()
    parts = []
    for half in (first, second):
        n, dt, sxx = _time_moments(t_s, half)
        s, dy = _slope_given_time(co2, half, n, dt, sxx)
        # residuals (c − c̄) − s(t − t̄): zero outside the half, where dy and dt are
        r = dy - s[:, None] * dt
        se = safe_sqrt(safe_divide((r * r).sum(axis=1), (n - 2.0) * sxx))
        if h2o_everywhere:
            h_slope, _ = _slope_given_time(h2o, half, n, dt, sxx)
        else:
            hw = half & h2o_ok
            h_slope, _ = _slope_given_time(h2o, hw, *_time_moments(t_s, hw))
        parts.append((s, se, h_slope, n))
    (s1, se1, h1, n1), (s2, se2, h2, n2) = parts
    out = (
        (n1 >= 5)
        & (n2 >= 5)
        & (s1 > z * se1)
        & (s2 < ratio * s1)
        & (s1 - s2 > z * safe_sqrt(se1**2 + se2**2))
        & (h1 > 0)
        & (h2 < ratio * h1)
    )
    return np.asarray(np.nan_to_num(out, nan=0.0).astype(bool))
