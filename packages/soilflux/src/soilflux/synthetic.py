"""Synthetic closures with a known true flux, for tests and benchmarks.

The headspace follows the diffusion model of LI-COR (LI-8100A manual eqs. 4-9 to 4-17), i.e.
Hutchinson–Mosier saturation with an optional leak:

    C′(t) = C′₀ + (∂C′/∂t)₀ · (1 − e^{−at}) / a,   a = κ + k_leak,

whose initial slope (∂C′/∂t)₀ is the true one whatever the leak, because the ambient air the
leak exchanges with is at C′₀.  The analyser sees it through a first-order lag of time
constant τ (the SCD30 responds in ~20 s), solved analytically from y(0) = C′₀:

    y(t) = C′₀ + (∂C′/∂t)₀ · [(1 − e^{−at})/a − τ(1 − e^{−t/τ})] / (1 − aτ),

then diluted by water vapour (c = c′·(1 − w)) and given Gaussian noise.  The true flux is
F = flux_term(V, S, P₀, T₀, W₀) · (∂C′/∂t)₀ (`soilflux.flux.flux_term`).

Defaults follow the Carbdown fleet: 3-s samples, closures of 180–300 s, a 5 L bucket on a
300 cm² pot, fluxes log-uniform in 0.3–10 µmol m⁻² s⁻¹ (their hourly data: 1–99 % range
0.5–10), SCD30 repeatability ±10 ppm of which the sample-to-sample noise is taken as 3 ppm
(an assumption; set `noise_ppm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from soilflux.fit._batch import BoolArray, FloatArray
from soilflux.flux import flux_term


@dataclass(frozen=True)
class SyntheticClosures:
    """Synthetic samples and closures in `soilflux.pipeline.compute_fluxes`'s input format.

    Attributes
    ----------
    samples : DataFrame
        ``closure``, ``elapsed_s`` [s], ``co2_ppm`` (wet) [µmol mol⁻¹], ``h2o_mmol_mol``
        [mmol mol⁻¹], ``temperature_c`` [°C], ``pressure_kpa`` [kPa], ``lux`` [lx].
    closures : DataFrame
        Index ``closure``; ``chamber``, ``location``, ``start``, ``end``, ``volume_cm3``,
        ``area_cm2``.
    true_flux_umol_m2_s : (k,) float
        True initial flux [µmol m⁻² s⁻¹].
    true_dcdt_ppm_s : (k,) float
        True initial ∂C′/∂t [µmol mol⁻¹ s⁻¹].
    kappa_s, leak_s : (k,) float
        Curvature κ and leak rate [s⁻¹] used.
    stuck, clogged : (k,) bool
        Closures simulated as a stuck lid (no CO2 or H2O change) or a clogged pot (no CO2
        flux, humidity still changing).
    """

    samples: pd.DataFrame
    closures: pd.DataFrame
    true_flux_umol_m2_s: FloatArray
    true_dcdt_ppm_s: FloatArray
    kappa_s: FloatArray
    leak_s: FloatArray
    stuck: BoolArray
    clogged: BoolArray


def saturation_vapour_pressure_kpa(temperature_c: FloatArray) -> FloatArray:
    """Saturation vapour pressure over water, Magnus form (Buck 1981, e_w1 without enhancement).

    e_s = 0.61121·exp(17.502·T/(240.97 + T)), within 0.1 % of Wexler's for −20…50 °C.

    Parameters
    ----------
    temperature_c : float array
        Air temperature [°C].

    Returns
    -------
    float array
        e_s [kPa].
    """
    t = np.asarray(temperature_c, dtype=np.float64)
    return np.asarray(0.61121 * np.exp(17.502 * t / (240.97 + t)))


def lagged_curve(
    t_s: FloatArray, c0_ppm: FloatArray, dcdt_ppm_s: FloatArray, a_s: FloatArray, lag_s: float
) -> FloatArray:
    """Analyser reading of C′(t) = C′₀ + s(1 − e^{−at})/a through a first-order lag τ.

    Parameters
    ----------
    t_s : (k, m) float
        Time since the lid closed [s], ≥ 0.
    c0_ppm, dcdt_ppm_s, a_s : (k,) float
        C′₀ [µmol mol⁻¹], initial slope s [µmol mol⁻¹ s⁻¹], curvature a ≥ 0 [s⁻¹].
    lag_s : float
        Sensor time constant τ [s] (0: no lag); a·τ ≠ 1.

    Returns
    -------
    (k, m) float
        Reading [µmol mol⁻¹].
    """
    a = a_s[:, None]
    x = a * t_s
    small = x < 1e-6
    g = np.where(small, t_s * (1 - x / 2), -np.expm1(-x) / np.where(a > 0, a, 1.0))
    if lag_s > 0:
        g = (g - lag_s * -np.expm1(-t_s / lag_s)) / (1.0 - a * lag_s)
    return np.asarray(c0_ppm[:, None] + dcdt_ppm_s[:, None] * g)


def synthetic_closures(
    n_closures: int,
    *,
    seed: int = 0,
    duration_s: tuple[float, float] = (180.0, 300.0),
    interval_s: float = 3.0,
    flux_umol_m2_s: tuple[float, float] = (0.3, 10.0),
    kappa_s: tuple[float, float] = (0.0, 0.003),
    leak_s: tuple[float, float] = (0.0, 0.0),
    lag_s: float = 20.0,
    noise_ppm: float = 3.0,
    c0_ppm: tuple[float, float] = (410.0, 600.0),
    volume_cm3: float = 5000.0,
    area_cm2: float = 300.0,
    fraction_stuck: float = 0.0,
    fraction_clogged: float = 0.0,
    fraction_daylight: float = 0.0,
    pre_closure_s: float = 0.0,
    start: str = "2023-07-03T00:00:00Z",
    chambers: int = 50,
    kappa_per_chamber: bool = False,
    flux_lognormal: tuple[float, float] | None = None,
    rh_pct: tuple[float, float] | None = None,
) -> SyntheticClosures:
    """Generate `n_closures` closures with known flux (model in the module docstring).

    Parameters
    ----------
    n_closures : int
        Number of closures.
    seed : int
        Random seed (results are reproducible).
    duration_s : (float, float)
        Closure length drawn uniformly, rounded to the sampling interval [s].
    interval_s : float
        Sampling interval [s].
    flux_umol_m2_s : (float, float)
        True flux drawn log-uniformly [µmol m⁻² s⁻¹].
    kappa_s, leak_s : (float, float)
        HM curvature κ and leak rate k drawn uniformly [s⁻¹].
    lag_s : float
        Sensor first-order time constant [s].
    noise_ppm : float
        Standard deviation of the Gaussian reading noise [µmol mol⁻¹].
    c0_ppm : (float, float)
        Initial dry CO2 drawn uniformly [µmol mol⁻¹].
    volume_cm3, area_cm2 : float
        Chamber volume [cm³] and soil area [cm²].
    fraction_stuck, fraction_clogged, fraction_daylight : float
        Fractions of stuck lids (no change of CO2 or H2O), clogged pots (zero flux, H2O
        still rising) and daylight closures (lux 2000–20000 instead of 0–5) [-].
    pre_closure_s : float
        Open-lid samples before t = 0 (negative ``elapsed_s``) [s].
    start : str
        Start of the first closure (ISO 8601); closures follow every 10 min.
    chambers : int
        Closures go to chambers ``ch00``, ``ch01``, … in turn [-].
    kappa_per_chamber : bool
        Draw κ and the leak rate once per chamber (a pot's soil and a chamber's seal, which
        the chamber-shared HM of `soilflux.fit.shared` assumes) instead of per closure.
    flux_lognormal : (float, float), optional
        (median [µmol m⁻² s⁻¹], σ of ln F [-]): draw the true flux log-normally instead of
        log-uniformly in `flux_umol_m2_s`.
    rh_pct : (float, float), optional
        Relative humidity at the lid closing drawn uniformly [%]; the initial water mole
        fraction is then W₀ = RH·e_s(T₀)/P₀ (`saturation_vapour_pressure_kpa`) instead of
        uniform in 8–20 mmol mol⁻¹.

    Returns
    -------
    SyntheticClosures
    """
    if n_closures < 0:
        raise ValueError(f"n_closures must be >= 0, got {n_closures}")
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0 s, got {interval_s}")
    if chambers < 1:
        raise ValueError(f"chambers must be >= 1, got {chambers}")
    rng = np.random.default_rng(seed)
    k = n_closures
    dur = np.round(rng.uniform(*duration_s, k) / interval_s) * interval_s
    n_pre = round(pre_closure_s / interval_s)
    n_post = (dur / interval_s).astype(np.int64) + 1
    m = int(n_post.max()) + n_pre if k else 1
    offset = rng.uniform(0.0, interval_s, k) if k else np.zeros(0)
    idx = np.arange(m)[None, :] - n_pre
    t = idx * interval_s + offset[:, None]
    inside = (idx < n_post[:, None]) & (t <= dur[:, None] + offset[:, None])
    p0 = rng.normal(100.5, 0.8, k)
    t0 = rng.uniform(12.0, 28.0, k)
    w0 = rng.uniform(8.0, 20.0, k)
    stuck = rng.random(k) < fraction_stuck
    clogged = ~stuck & (rng.random(k) < fraction_clogged)
    daylight = rng.random(k) < fraction_daylight
    lo, hi = np.log(flux_umol_m2_s[0]), np.log(flux_umol_m2_s[1])
    flux = np.exp(rng.uniform(lo, hi, k))
    # options with their own generators: the other draws stay as without them
    if flux_lognormal is not None:
        median, sigma = flux_lognormal
        flux = median * np.exp(np.random.default_rng([seed, 2]).normal(0.0, sigma, k))
    if rh_pct is not None:
        rh = np.random.default_rng([seed, 3]).uniform(*rh_pct, k)
        w0 = 10.0 * rh * saturation_vapour_pressure_kpa(t0) / p0
    flux = np.where(stuck | clogged, 0.0, flux)
    term = flux_term(np.full(k, volume_cm3), np.full(k, area_cm2), p0, t0, w0)
    dcdt = flux / term
    kappa = rng.uniform(*kappa_s, k)
    leak = rng.uniform(*leak_s, k)
    if kappa_per_chamber:  # own generator: the other draws stay as without the option
        per = np.random.default_rng([seed, 1])
        kappa = per.uniform(*kappa_s, chambers)[np.arange(k) % chambers]
        leak = per.uniform(*leak_s, chambers)[np.arange(k) % chambers]
    c0 = rng.uniform(*c0_ppm, k)
    tpos = np.maximum(t, 0.0)
    cdry = lagged_curve(tpos, c0, dcdt, kappa + leak, lag_s)
    # humidity rises towards a new equilibrium while the lid is closed (not when stuck)
    dw = np.where(stuck, 0.0, rng.uniform(0.5, 3.0, k))
    w = w0[:, None] + dw[:, None] * -np.expm1(-tpos / 60.0)
    c_wet = cdry * (1.0 - w / 1000.0) + rng.normal(0.0, noise_ppm, (k, m))
    met_noise = 1.0 if noise_ppm > 0 else 0.0  # noiseless records are noiseless throughout
    temp = t0[:, None] + rng.normal(0.0, 0.05 * met_noise, (k, m))
    pres = p0[:, None] + rng.normal(0.0, 0.005 * met_noise, (k, m))
    lux = np.where(daylight[:, None], rng.uniform(2000, 20000, (k, 1)), rng.uniform(0, 5, (k, 1)))
    lux = lux + 0.0 * t
    rows = np.broadcast_to(np.arange(k)[:, None], (k, m))
    sel = inside
    samples = pd.DataFrame(
        {
            "closure": rows[sel].astype(np.int64),
            "elapsed_s": t[sel],
            "co2_ppm": c_wet[sel],
            "h2o_mmol_mol": w[sel],
            "temperature_c": temp[sel],
            "pressure_kpa": pres[sel],
            "lux": lux[sel],
        }
    )
    t_start = pd.Timestamp(start) + pd.to_timedelta(np.arange(k) * 600, unit="s")
    closures = pd.DataFrame(
        {
            "chamber": [f"ch{i % chambers:02d}" for i in range(k)],
            "location": [f"{1 + i % 9}.{1 + (i // 9) % 4}.{'ABCD'[i % 4]}" for i in range(k)],
            "start": t_start,
            "end": t_start + pd.to_timedelta(dur, unit="s"),
            "volume_cm3": np.full(k, volume_cm3),
            "area_cm2": np.full(k, area_cm2),
        },
        index=pd.Index(np.arange(k, dtype=np.int64), name="closure"),
    )
    return SyntheticClosures(
        samples=samples,
        closures=closures,
        true_flux_umol_m2_s=flux,
        true_dcdt_ppm_s=dcdt,
        kappa_s=kappa,
        leak_s=leak,
        stuck=stuck,
        clogged=clogged,
    )


#: Closure mixes of the selection-rule evaluation (docs/soilflux/methods.md §5): SCD30-like
#: noise (3 ppm, or a quieter 1 ppm), with the 20-s sensor lag or none (soilflux's options
#: unchanged, i.e. still told 20 s), closures of fixed 180, 240, 300 s or 180–300 s.
SELECTION_MIXES: tuple[tuple[float, float, tuple[float, float]], ...] = tuple(
    (noise, lag, duration)
    for noise in (3.0, 1.0)
    for lag in (20.0, 0.0)
    for duration in ((180.0, 180.0), (240.0, 240.0), (300.0, 300.0), (180.0, 300.0))
)


def selection_errors(
    n_closures: int,
    seed: int,
    noise_ppm: float,
    lag_s: float,
    duration_s: tuple[float, float],
    options: object = None,
    kappa_s: tuple[float, float] = (0.0, 0.003),
) -> FloatArray:
    """Relative error of the selected flux, F/F_true − 1, on one synthetic closure mix.

    Parameters
    ----------
    n_closures, seed : int
        Closures and random seed of `synthetic_closures`.
    noise_ppm, lag_s, duration_s, kappa_s
        As `synthetic_closures` (defaults otherwise: fluxes 0.3–10 µmol m⁻² s⁻¹, 3-s samples).
    options : FluxOptions, optional
        Options of `soilflux.pipeline.compute_fluxes` (default ``FluxOptions()``).

    Returns
    -------
    (n_closures,) float
        [-]; NaN where no flux was selected.
    """
    from soilflux.options import FluxOptions
    from soilflux.pipeline import compute_fluxes

    opts = options if isinstance(options, FluxOptions) else FluxOptions()
    syn = synthetic_closures(
        n_closures,
        seed=seed,
        duration_s=duration_s,
        kappa_s=kappa_s,
        lag_s=lag_s,
        noise_ppm=noise_ppm,
    )
    out = compute_fluxes(syn.samples, syn.closures, opts)
    return np.asarray(
        out["flux_umol_m2_s"].to_numpy(dtype=np.float64) / syn.true_flux_umol_m2_s - 1
    )


def selection_error_table(
    n_closures: int = 2000, seeds: tuple[int, ...] = (1, 2, 3), options: object = None
) -> pd.DataFrame:
    """Median, IQR and 5–95 % range of the selected-flux error on every `SELECTION_MIXES` mix.

    The errors of all `seeds` are pooled per mix.  Columns: ``noise_ppm``, ``lag_s``,
    ``duration_s``, ``median_pct``, ``iqr_pct``, ``range90_pct`` (95th − 5th percentile),
    ``n``.  The table in docs/soilflux/methods.md §5 is this, for
    ``FluxOptions(hm_fallback="robust")`` (the default) and ``FluxOptions(hm_fallback="pooled")``.
    """
    rows = []
    for noise, lag, duration in SELECTION_MIXES:
        err = np.concatenate(
            [selection_errors(n_closures, s, noise, lag, duration, options) for s in seeds]
        )
        err = 100.0 * err[np.isfinite(err)]
        p5, p25, p50, p75, p95 = np.percentile(err, [5, 25, 50, 75, 95])
        rows.append(
            {
                "noise_ppm": noise,
                "lag_s": lag,
                "duration_s": f"{duration[0]:g}–{duration[1]:g}"
                if duration[0] != duration[1]
                else f"{duration[0]:g}",
                "median_pct": p50,
                "iqr_pct": p75 - p25,
                "range90_pct": p95 - p5,
                "n": err.size,
            }
        )
    return pd.DataFrame(rows)


#: Closure populations of the single-closure accuracy evaluation (issue 13,
#: benchmarks/accuracy.py): fleet-like closures (3-s readings, 20-s sensor lag, 180–300 s,
#: true flux log-normal around 1.6 µmol m⁻² s⁻¹ with σ(ln F) = 0.5, RH 40–85 %), curved
#: (HM curvature κ uniform in 0–0.004 s⁻¹) or straight (κ = 0).
ACCURACY_POPULATIONS: dict[str, dict[str, object]] = {
    "curved": {"kappa_s": (0.0, 0.004)},
    "straight": {"kappa_s": (0.0, 0.0)},
}


def accuracy_closures(
    population: str, noise_ppm: float, n_closures: int, seed: int
) -> SyntheticClosures:
    """`n_closures` closures of one `ACCURACY_POPULATIONS` population at `noise_ppm` [µmol mol⁻¹].

    Raises
    ------
    ValueError
        Unknown population.
    """
    if population not in ACCURACY_POPULATIONS:
        raise ValueError(
            f"population must be one of {', '.join(ACCURACY_POPULATIONS)}, got {population!r}"
        )
    kappa = ACCURACY_POPULATIONS[population]["kappa_s"]
    assert isinstance(kappa, tuple)
    return synthetic_closures(
        n_closures,
        seed=seed,
        duration_s=(180.0, 300.0),
        interval_s=3.0,
        kappa_s=(float(kappa[0]), float(kappa[1])),
        lag_s=20.0,
        noise_ppm=noise_ppm,
        flux_lognormal=(1.6, 0.5),
        rh_pct=(40.0, 85.0),
    )
