"""Each device's SCD30 response time τ, measured from the flushes of its own cycles.

Why: the fleet's fluxes (soilflux's chamber-shared HM, ``hm_shared``) model the SCD30 as a
first-order sensor with a *known* time constant τ (`FluxOptions.sensor_lag_s`, datasheet
τ63 = 20 s).  The fluxes are sensitive to it (on the simulator a τ assumed 5 s too long or
too short biases them by about ∓8 %), and a real SCD30's τ depends on its measurement
interval and the unit, so each device's τ is measured from its own data.

The step test: every cycle ends with the lid opening and the fan flushing the chamber at
full speed (firmware phases ``opening`` → ``flush``, 60 s → ``open``).  The chamber air returns
to ambient quickly (simulated exchange rate k = `FLUSH_EXCHANGE_RATE_S` = 0.12 s⁻¹, a time
constant of ~8 s), while the sensor follows with its slower τ.  A first-order sensor,
τ·dy/dt + y = x(t) (Doebelin 2004, ch. 3), whose input x has settled to a constant x∞, reads

    y(t) = a + b·e^{−t/τ}      (a = x∞ [ppm], b [ppm])

so the tail of each flush decay is a single exponential with the sensor's own τ.  While the
chamber air itself still decays, x(t) = x∞ + A·e^{−kt}, the reading is

    y(t) = x∞ + A/(1 − kτ)·e^{−kt} + b·e^{−t/τ}

and the chamber term dies out relative to the sensor term as e^{−(k − 1/τ)t}, which is why
the fit starts `DEFAULT_SKIP_S` after the lid opened (the assumption: the flush is faster
than the sensor, k > 1/τ; as k → 1/τ the two cannot be told apart).

One flush at the SCD30's 3 ppm noise gives τ to a few seconds; τ is a device constant, so
a device's flushes are pooled (each with its own a and b): τ̂ minimises the summed residual
sum of squares S(τ) = Σᵢ SSEᵢ(τ) (the joint Gaussian likelihood, profiled over the linear
parameters).  S is evaluated on the grid `TAU_GRID_S`, its minimum located by a parabola
through the three grid points around the grid minimum and polished by a golden-section
search between them; the standard error is √(2σ̂²/S″(τ̂)), with S″ from the parabola and
σ̂² = S(τ̂)/(N − 2n − 1) (N samples, n transients), as `soilflux.fit.shared.shared_kappa`.

References
----------
Doebelin, E. O. (2004). Measurement Systems: Application and Design, 5th ed., ch. 3
(first-order instruments, step response).
Pawitan, Y. (2001). In All Likelihood, ch. 2.4 and 10 (profile likelihood; its curvature
as the observed information).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from soilflux.fit import (
    Batch,
    FloatArray,
    centred,
    centred_regression,
    grid_minimum,
    make_batch,
    quiet,
    safe_divide,
    safe_sqrt,
)

from fluxfleet.sim.physics import FLUSH_EXCHANGE_RATE_S

REQUIRED_COLUMNS = ("chamber", "cyc", "ts", "ph", "co2_ppm")
"""Sample columns read (``ts`` [ms], ``co2_ppm`` [µmol mol⁻¹]); see
`fluxfleet.sim.collect.Gather.samples`."""

FLUSH_PHASES = ("opening", "flush")
"""Firmware phases a transient runs through by default; it ends at the first other one.

Not into ``open``: there the fan drops from 100 % to ``open_fan_pct`` (40 %), the chamber's
exchange rate falls (0.12 → 0.05 s⁻¹ in the simulator) and its asymptote rises by the soil
efflux's share (F/(ρh)/k), a second step that the single exponential does not model (on the
noise-free simulator it pulls τ̂ down by ~12 % at a 45-s skip; docs/fleet/sensor-lag.md)."""

OPEN_PHASES = ("opening", "flush", "open")
"""`FLUSH_PHASES` and on into ``open`` (pass as ``phases`` to fit across the fan's step)."""

TAU_GRID_S: FloatArray = np.round(np.arange(2.0, 60.0 + 1e-9, 0.5), 6)
"""Time constants tried [s]: 2–60 s in 0.5-s steps (the datasheet's 20 s in the middle)."""

DEFAULT_SKIP_S = 45.0
"""Samples earlier than this after the lid-open instant are not fitted [s].

The chamber term dies out relative to the sensor term as e^{−(k − 1/τ)t}; with the simulated
k = 0.12 s⁻¹ (`FLUSH_EXCHANGE_RATE_S`) and τ = 20 s (k − 1/τ = 0.07 s⁻¹) it is ~4 % of the
reading's transient at 45 s (and the lid takes ~15 s to open in the simulator: five servo
moves at its 3-s step).  The bias this leaves was measured on the noise-free simulator
(docs/fleet/sensor-lag.md).  k is an assumption: re-check it on real hardware (a device's
τ̂ should not change when the skip is raised)."""

DEFAULT_WINDOW_S = 90.0
"""Samples later than this after the lid-open instant are not fitted [s]."""

MIN_AMPLITUDE_PPM = 10.0
"""Transients whose CO2 change over the window is smaller than this are dropped [ppm]."""

MIN_SAMPLES = 6
"""Fewest fitted samples per transient [-]."""

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_POLISH_ITERATIONS = 60  # bracket 2 grid steps × 0.618⁶⁰ ≈ 3·10⁻¹³ of it


@dataclass(frozen=True)
class Transients:
    """Flush transients of a set of devices, padded into a batch.

    Attributes
    ----------
    info : pandas.DataFrame
        One row per transient: ``chamber``, ``cyc`` (the cycle whose flush it is),
        ``t_open_ms`` (the first ``opening`` sample [ms]), ``co2_open_ppm`` (its reading
        [ppm]), ``amplitude_ppm`` (``co2_open_ppm`` minus the mean of the window's last 3
        readings [ppm]; > 0 for a fall) and ``n`` (fitted samples).
    t_s : (k, m) float
        Time since the lid-open instant [s]; NaN outside the fit window.
    co2_ppm : (k, m) float
        Readings [µmol mol⁻¹]; NaN outside the fit window.
    """

    info: pd.DataFrame
    t_s: FloatArray
    co2_ppm: FloatArray


def _check_samples(samples: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in samples.columns]
    if missing:
        raise ValueError(
            f"samples: missing column(s) {', '.join(missing)} (need {', '.join(REQUIRED_COLUMNS)})"
        )
    for col in ("ts", "co2_ppm"):
        if not (
            pd.api.types.is_numeric_dtype(samples[col]) or samples[col].isna().all()
        ) or pd.api.types.is_bool_dtype(samples[col]):
            raise ValueError(f"samples.{col} must be numeric, got dtype {samples[col].dtype}")
    if samples["ts"].isna().any():
        raise ValueError("samples.ts [ms] has missing values")


def flush_transients(
    samples: pd.DataFrame,
    skip_s: float = DEFAULT_SKIP_S,
    window_s: float = DEFAULT_WINDOW_S,
    min_amplitude_ppm: float = MIN_AMPLITUDE_PPM,
    min_samples: int = MIN_SAMPLES,
    phases: tuple[str, ...] = FLUSH_PHASES,
) -> Transients:
    """Cut every flush transient out of fleet samples.

    A transient starts at the lid-open instant, the first sample of a run of phase
    ``opening`` (its reading is the last one taken with the lid sealed; the servo moves
    after it), and runs through ``flush`` (and into ``open`` if `phases` says so: those
    samples carry the next cycle's ``cyc``).  It ends at `window_s`, at the first sample of
    a phase not in `phases`
    and at the first gap longer than 2.5 of the device's median sample intervals (a
    reboot, lost data).  Samples before `skip_s` and readings that are missing are not
    fitted.

    Parameters
    ----------
    samples : pandas.DataFrame
        Fleet samples, one row per reading: ``chamber`` (device), ``cyc``, ``ts`` [ms],
        ``ph`` (firmware phase), ``co2_ppm`` [µmol mol⁻¹] (missing: NaN); other columns
        are ignored.  As `fluxfleet.sim.collect.Gather.samples` returns them.
    skip_s : float
        Start of the fit window after the lid-open instant [s], ≥ 0 (`DEFAULT_SKIP_S`).
    window_s : float
        End of the fit window after the lid-open instant [s], > `skip_s`.
    min_amplitude_ppm : float
        Smallest |amplitude| kept [ppm], ≥ 0.
    min_samples : int
        Fewest fitted samples kept [-], ≥ 4.
    phases : tuple of str
        Phases the transient may run through (`FLUSH_PHASES`); must contain ``opening``.

    Returns
    -------
    Transients
        The kept transients (k may be 0).

    Raises
    ------
    ValueError
        A missing or non-numeric column, missing ``ts``, or an argument out of range.
    """
    if not (np.isfinite(skip_s) and skip_s >= 0):
        raise ValueError(f"skip_s must be >= 0 s, got {skip_s!r}")
    if not (np.isfinite(window_s) and window_s > skip_s):
        raise ValueError(f"window_s must be > skip_s = {skip_s!r} s, got {window_s!r}")
    if not (np.isfinite(min_amplitude_ppm) and min_amplitude_ppm >= 0):
        raise ValueError(f"min_amplitude_ppm must be >= 0 ppm, got {min_amplitude_ppm!r}")
    if min_samples < 4:
        raise ValueError(f"min_samples must be >= 4, got {min_samples!r}")
    if "opening" not in phases:
        raise ValueError(f"phases must contain 'opening', got {phases!r}")
    _check_samples(samples)
    s = samples[list(REQUIRED_COLUMNS)].copy()
    s["chamber"] = s["chamber"].astype(str)
    s = s.sort_values(["chamber", "ts"], kind="stable").reset_index(drop=True)
    ch = s["chamber"].to_numpy()
    ts = s["ts"].to_numpy(dtype=np.float64)
    ph = s["ph"].astype(str).to_numpy()
    co2 = s["co2_ppm"].to_numpy(dtype=np.float64)
    first_of_device = np.ones(len(s), dtype=bool)
    first_of_device[1:] = ch[1:] != ch[:-1]
    dt = np.diff(ts, prepend=np.nan)
    dt[first_of_device] = np.nan
    typical = pd.Series(dt).groupby(ch).transform("median").to_numpy()
    gap = np.isfinite(dt) & (dt > 2.5 * typical)
    opening = ph == "opening"
    prev_opening = np.zeros(len(s), dtype=bool)
    prev_opening[1:] = opening[:-1]
    start = opening & (first_of_device | ~prev_opening)
    # transient id of each row: the latest start of the same device, −1 before any
    tid = np.cumsum(start) - 1
    device_start = pd.Series(np.where(start, tid, -1)).groupby(ch).cummax().to_numpy()
    tid = np.where(device_start >= 0, tid, -1)
    starts = np.flatnonzero(start)
    t_rel = np.full(len(s), np.nan)
    has = tid >= 0
    t_rel[has] = (ts[has] - ts[starts[tid[has]]]) / 1000.0
    # a transient ends at the first foreign phase or gap after its start (or at window_s)
    stop = has & ~start & (~np.isin(ph, list(phases)) | gap | (t_rel > window_s))
    stopped = pd.Series(stop).groupby(tid).cummax().to_numpy()
    inside = has & ~stopped
    fit = inside & (t_rel >= skip_s) & np.isfinite(co2)
    k_all = starts.size
    n = np.bincount(tid[fit], minlength=k_all) if k_all else np.zeros(0, dtype=np.int64)
    # pad: position of each fitted sample within its transient
    rows = np.flatnonzero(fit)
    pos = pd.Series(tid[rows]).groupby(tid[rows]).cumcount().to_numpy()
    m = int(n.max()) if k_all and n.size else 0
    t_pad = np.full((k_all, max(m, 1)), np.nan)
    c_pad = np.full((k_all, max(m, 1)), np.nan)
    t_pad[tid[rows], pos] = t_rel[rows]
    c_pad[tid[rows], pos] = co2[rows]
    # amplitude: the reading at the lid-open instant minus the mean of the last 3 fitted
    co2_open = co2[starts]
    last = np.clip(n[:, None] - 1 - np.arange(3)[None, :], 0, None)
    tail = np.take_along_axis(c_pad, last, axis=1) if k_all else np.zeros((0, 3))
    tail_mean = np.where(n >= 3, tail.mean(axis=1), np.nan)
    amplitude = co2_open - tail_mean
    keep = (n >= min_samples) & np.isfinite(amplitude) & (np.abs(amplitude) >= min_amplitude_ppm)
    info = pd.DataFrame(
        {
            "chamber": ch[starts],
            "cyc": s["cyc"].to_numpy()[starts],
            "t_open_ms": ts[starts],
            "co2_open_ppm": co2_open,
            "amplitude_ppm": amplitude,
            "n": n.astype(np.int64),
        }
    )[keep].reset_index(drop=True)
    return Transients(info=info, t_s=t_pad[keep], co2_ppm=c_pad[keep])


def _shifted(b: Batch) -> FloatArray:
    """Time since each transient's first fitted sample [s] (conditions e^{−t/τ} ≤ 1)."""
    first = np.where(b.mask, b.t, np.inf).min(axis=1)
    return np.where(b.mask, b.t - np.where(np.isfinite(first), first, 0.0)[:, None], 0.0)


@quiet
def _sse(b: Batch, u: FloatArray, yc: FloatArray, tau_s: FloatArray) -> FloatArray:
    """SSE of y = a + b·e^{−u/τ} per transient, τ per transient (k,) [ppm²]."""
    slope, sse, sxx = centred_regression(b, np.exp(-u / tau_s[:, None]) * b.w, yc)
    return np.where((b.n >= 3) & (sxx > 0) & np.isfinite(slope), sse, np.nan)


def tau_profile(
    t_s: npt.ArrayLike, co2_ppm: npt.ArrayLike, grid_s: FloatArray = TAU_GRID_S
) -> FloatArray:
    """SSE of y = a + b·e^{−t/τ} (a, b by linear least squares) per transient and grid τ.

    Parameters
    ----------
    t_s : (k, m) float
        Sample times [s] (any origin per transient: it only rescales b); NaN = no sample.
    co2_ppm : (k, m) float
        Readings [µmol mol⁻¹]; NaN = no sample.
    grid_s : (G,) float
        Time constants [s], > 0.

    Returns
    -------
    (k, G) float
        Residual sums of squares [ppm²]; NaN for a transient with < 3 samples.
    """
    grid = np.asarray(grid_s, dtype=np.float64)
    if grid.ndim != 1 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError("grid_s must be a 1-D array of finite time constants > 0 s")
    b = make_batch(t_s, co2_ppm)
    u = _shifted(b)
    yc = centred(b, b.c)
    out = np.full((b.t.shape[0], grid.size), np.nan)
    for j, tau in enumerate(grid):
        out[:, j] = _sse(b, u, yc, np.full(b.t.shape[0], tau))
    return out


@dataclass(frozen=True)
class PooledTau:
    """The pooled τ of each group (device); fields of shape (g,).

    Attributes
    ----------
    tau_s, tau_se_s : τ̂ and its standard error [s]; NaN where no fit (SE also at a bound)
    n_transients : transients pooled [-]
    n_samples : samples pooled [-]
    residual_sd_ppm : σ̂ = √(S(τ̂)/(N − 2n − 1)) [ppm]
    at_bound : τ̂ at an end of the grid (the device's τ lies outside it)
    """

    tau_s: FloatArray
    tau_se_s: FloatArray
    n_transients: npt.NDArray[np.int64]
    n_samples: npt.NDArray[np.int64]
    residual_sd_ppm: FloatArray
    at_bound: npt.NDArray[np.bool_]


@quiet
def pooled_tau(
    t_s: npt.ArrayLike,
    co2_ppm: npt.ArrayLike,
    group: npt.ArrayLike,
    n_groups: int,
    grid_s: FloatArray = TAU_GRID_S,
) -> PooledTau:
    """τ̂ of each group of transients: the joint least-squares τ (module docstring).

    Parameters
    ----------
    t_s : (k, m) float
        Sample times [s]; NaN = no sample.
    co2_ppm : (k, m) float
        Readings [µmol mol⁻¹]; NaN = no sample.
    group : (k,) int
        Group (device) of each transient, 0 … `n_groups` − 1.
    n_groups : int
        Number of groups [-].
    grid_s : (G,) float
        Evenly spaced time constants [s], > 0, G ≥ 3.

    Returns
    -------
    PooledTau
    """
    grid = np.asarray(grid_s, dtype=np.float64)
    if grid.size < 3 or not np.allclose(np.diff(grid), grid[1] - grid[0]) or grid[1] <= grid[0]:
        raise ValueError("grid_s must be increasing, evenly spaced and have >= 3 points")
    grp = np.asarray(group, dtype=np.int64)
    profile = tau_profile(t_s, co2_ppm, grid)
    k = profile.shape[0]
    if grp.shape != (k,) or (k and (grp.min() < 0 or grp.max() >= n_groups)):
        raise ValueError(f"group must have shape ({k},) with values in 0..{n_groups - 1}")
    usable = np.isfinite(profile).all(axis=1)
    b = make_batch(t_s, co2_ppm)
    g = grid.size
    total = np.zeros((n_groups, g))
    np.add.at(total, grp[usable], profile[usable])
    n_tr = np.bincount(grp[usable], minlength=n_groups).astype(np.int64)
    n_smp = np.bincount(grp[usable], weights=b.n[usable], minlength=n_groups).astype(np.int64)
    has = n_tr > 0
    best = grid_minimum(np.where(has[:, None], total, np.inf), grid)
    interior = best.interior
    jc = np.clip(best.index, 1, g - 2)
    tau = best.x
    # golden-section polish of the continuous profile between the neighbouring grid points
    lo = np.where(interior, grid[jc - 1], tau)
    hi = np.where(interior, grid[jc + 1], tau)
    u, yc = _shifted(b), centred(b, b.c)
    sel = usable & interior[grp]

    def pooled(tau_g: FloatArray) -> FloatArray:
        sse = _sse(b, u, yc, np.where(sel, tau_g[grp], 1.0))
        out = np.zeros(n_groups)
        np.add.at(out, grp[sel], sse[sel])
        return out

    if sel.any():
        x1 = hi - _GOLDEN * (hi - lo)
        x2 = lo + _GOLDEN * (hi - lo)
        f1, f2 = pooled(x1), pooled(x2)
        for _ in range(_POLISH_ITERATIONS):
            left = f1 <= f2  # the minimum lies in [lo, x2]
            hi = np.where(left, x2, hi)
            lo = np.where(left, lo, x1)
            x2n = np.where(left, x1, lo + _GOLDEN * (hi - lo))
            x1n = np.where(left, hi - _GOLDEN * (hi - lo), x2)
            f_new = pooled(np.where(left, x1n, x2n))
            f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
            x1, x2 = x1n, x2n
        tau = np.where(interior, 0.5 * (lo + hi), tau)
        s_min = np.where(interior, pooled(np.where(interior, tau, 1.0)), best.value)
    else:
        s_min = best.value
    dof = n_smp - 2.0 * n_tr - 1.0
    sigma2 = safe_divide(s_min, np.where(dof > 0, dof, np.nan))
    return PooledTau(
        tau_s=tau,
        tau_se_s=best.standard_error(sigma2),
        n_transients=n_tr,
        n_samples=n_smp,
        residual_sd_ppm=safe_sqrt(sigma2),
        at_bound=has & ~interior,
    )


def sensor_lag(
    samples: pd.DataFrame,
    skip_s: float = DEFAULT_SKIP_S,
    window_s: float = DEFAULT_WINDOW_S,
    min_amplitude_ppm: float = MIN_AMPLITUDE_PPM,
    grid_s: FloatArray = TAU_GRID_S,
    devices: list[str] | None = None,
    phases: tuple[str, ...] = FLUSH_PHASES,
) -> pd.DataFrame:
    """Each device's SCD30 time constant τ from its pooled flush transients.

    Parameters
    ----------
    samples : pandas.DataFrame
        Fleet samples (`flush_transients`).
    skip_s, window_s : float
        Fit window after the lid-open instant [s] (`flush_transients`).
    min_amplitude_ppm : float
        Smallest |CO2 change| of a transient [ppm].
    grid_s : (G,) float
        Evenly spaced time constants tried [s].
    phases : tuple of str
        Phases a transient may run through (`flush_transients`).
    devices : list of str, optional
        Report these devices (default: every device in `samples`); one that has no sample
        at all is an error, one without a usable transient gets a row of NaN.

    Returns
    -------
    pandas.DataFrame
        One row per device, sorted: ``chamber``, ``tau_s`` [s], ``tau_se_s`` [s],
        ``n_transients`` [-], ``amplitude_ppm`` (median of the pooled transients [ppm]),
        ``residual_sd_ppm`` [ppm], ``at_bound`` (τ̂ at an end of `grid_s`: not a
        measurement).

    Raises
    ------
    ValueError
        A missing column, an argument out of range, or a requested device without samples.
    """
    _check_samples(samples)
    present = sorted(samples["chamber"].astype(str).unique())
    if devices is None:
        names = present
    else:
        names = sorted({str(d) for d in devices})
        absent = [d for d in names if d not in set(present)]
        if absent:
            raise ValueError(f"samples: no samples of device(s) {', '.join(absent)}")
    tr = flush_transients(samples, skip_s, window_s, min_amplitude_ppm, phases=phases)
    index = {name: i for i, name in enumerate(names)}
    gid = tr.info["chamber"].map(index)
    rows = gid.notna().to_numpy()
    fit = pooled_tau(
        tr.t_s[rows], tr.co2_ppm[rows], gid[rows].to_numpy(dtype=np.int64), len(names), grid_s
    )
    amp = tr.info[rows].groupby("chamber")["amplitude_ppm"].median()
    return pd.DataFrame(
        {
            "chamber": names,
            "tau_s": fit.tau_s,
            "tau_se_s": fit.tau_se_s,
            "n_transients": fit.n_transients,
            "amplitude_ppm": amp.reindex(names).to_numpy(dtype=np.float64),
            "residual_sd_ppm": fit.residual_sd_ppm,
            "at_bound": fit.at_bound,
        }
    )


__all__ = [
    "DEFAULT_SKIP_S",
    "DEFAULT_WINDOW_S",
    "FLUSH_EXCHANGE_RATE_S",
    "FLUSH_PHASES",
    "MIN_AMPLITUDE_PPM",
    "OPEN_PHASES",
    "TAU_GRID_S",
    "PooledTau",
    "Transients",
    "flush_transients",
    "pooled_tau",
    "sensor_lag",
    "tau_profile",
]
