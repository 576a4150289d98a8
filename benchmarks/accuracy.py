"""Accuracy of every flux estimate on single closures like the fleet's (issue 13, part 1).

Closures (`soilflux.synthetic.accuracy_closures`): 3-s readings, white noise 1 or 3 ppm, a
first-order sensor lag τ = 20 s, 180–300 s, true flux log-normal around 1.6 µmol m⁻² s⁻¹
(σ of ln F 0.5), wet CO2 at RH 40–85 %; population "curved" (HM curvature κ uniform in
0–0.004 s⁻¹) and "straight" (κ = 0).  For each population and noise level the table gives,
over all seeds, the error F/F_true − 1 of

* every model soilflux computes (columns ``flux_<model>``) and the default selected flux
  (``flux_umol_m2_s``, "default"), and any other `FluxOptions` given with ``--rule``;
* ``plain_exp30``: a plain `scipy.optimize.curve_fit` (Levenberg–Marquardt, no bounds) of
  the LI-COR exponential C(t) = Cx + (C0 − Cx)·e^{−a t}, written as C0 + s(1 − e^{−at})/a with
  s = a(Cx − C0) the slope at the lid closing, on the dry record after a fixed 30-s dead band
  (what a user writes by hand);
* ``goflux``: goFlux's ``best.flux`` rule as documented (Rheault et al. 2024; criteria
  g.factor ≤ 2, |κ/κ_max| ≤ 1, MDF, SE_rel ≤ 5 % else the smaller of the two; MAE is left out:
  with the SCD30's precision (10 ppm) as ``prec`` it never fires) applied to soilflux's HM and
  linear fits;

as median, mean, median absolute error [%], and the share of closures within 2 SE of the
truth (where the estimate carries an SE).

Run: ``python3 -m uv run --frozen python benchmarks/accuracy.py [--closures 1000] [--seeds 1 2 3]``
(about a minute per 1000 closures × 4 mixes × seed on this machine).

``--prior-sweep`` instead tabulates the default flux under other priors of the averaged HM
(`prior_sweep`: every combination of ``--prior-straight``, ``--min-kappa-span`` and
``--max-kappa-span``), each with the issue's targets checked per population and noise.

``--se-variants R`` instead tabulates the 2-SE coverage of the default flux under standard
errors that carry the averaged HM's selection and shrinkage (`se_variant_coverage`, R
bootstrap replicates per closure; methods §5.0).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit
from soilflux.fit._batch import compact_windows, make_batch
from soilflux.fit.averaged import (
    REFINE,
    averaged_hm_window,
    prior_grid,
    refine_profile,
    zero_index,
)
from soilflux.fit.shared import kappa_profile
from soilflux.flux import dry_mole_fraction, flux_term
from soilflux.options import FluxOptions
from soilflux.pipeline import MODELS, compute_fluxes
from soilflux.synthetic import ACCURACY_POPULATIONS, SyntheticClosures, accuracy_closures

PLAIN_DEADBAND_S = 30.0


def _licor_exp(t: np.ndarray, c0: float, slope: float, a: float) -> np.ndarray:
    # C(t) = Cx + (C0 − Cx)·e^{−at} written with the initial slope s = a(Cx − C0), so that a
    # straight record (a → 0, Cx → ∞) stays a regular fit instead of a diverging one
    u = t if abs(a) < 1e-12 else -np.expm1(-a * t) / a
    return c0 + slope * u


def plain_exponential(
    syn: SyntheticClosures, deadband_s: float = PLAIN_DEADBAND_S
) -> tuple[np.ndarray, np.ndarray]:
    """Initial slope [ppm s⁻¹] of a plain curve_fit of the LI-COR exponential per closure,
    and its standard error from curve_fit's covariance."""
    s = syn.samples
    dry = dry_mole_fraction(s["co2_ppm"].to_numpy(), s["h2o_mmol_mol"].to_numpy(), extrapolate=True)
    out = np.full(len(syn.closures), np.nan)
    se = np.full(len(syn.closures), np.nan)
    t_all = s["elapsed_s"].to_numpy()
    ids = s["closure"].to_numpy()
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(len(syn.closures) + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for i in range(len(syn.closures)):
            r = order[bounds[i] : bounds[i + 1]]
            t, c = t_all[r], dry[r]
            w = t > deadband_s
            t, c = t[w], c[w]
            slope0, c00 = np.polyfit(t, c, 1)
            try:
                p, cov = curve_fit(_licor_exp, t, c, p0=(c00, slope0, 1e-3), maxfev=2000)
                out[i], se[i] = p[1], np.sqrt(cov[1, 1])
            except RuntimeError:
                continue
    return out, se


def goflux_rule(res: pd.DataFrame) -> np.ndarray:
    """goFlux ``best.flux`` (documented rule) on soilflux's HM and linear fluxes."""
    hm = res["flux_hm"].to_numpy()
    lm = res["flux_linear"].to_numpy()
    hm_serel = 100 * np.abs(res["flux_hm_se"].to_numpy() / hm)
    lm_serel = 100 * np.abs(res["flux_linear_se"].to_numpy() / lm)
    best = hm.copy()
    use_lm = (hm_serel > 5.0) & (hm_serel > lm_serel)
    use_lm |= np.abs(hm / lm) > 2.0
    use_lm |= np.abs(res["kappa"].to_numpy() / res["kappa_max"].to_numpy()) > 1.0
    mdf = res["mdf"].to_numpy()
    use_lm |= (np.abs(hm) < mdf) & (np.abs(lm) >= mdf)
    use_lm |= ~np.isfinite(hm)
    return np.where(use_lm, lm, best)


@dataclass
class Estimates:
    flux: dict[str, np.ndarray]
    se: dict[str, np.ndarray]
    truth: np.ndarray


def estimates(
    syn: SyntheticClosures, rules: dict[str, FluxOptions], plain: bool = True
) -> Estimates:
    """Every estimate of every closure of `syn` [µmol m⁻² s⁻¹] and its SE where it has one."""
    flux: dict[str, np.ndarray] = {}
    se: dict[str, np.ndarray] = {}
    base = None
    for name, opts in (rules or {"default": FluxOptions()}).items():
        res = compute_fluxes(syn.samples, syn.closures, opts)
        flux[name] = res["flux_umol_m2_s"].to_numpy(dtype=np.float64)
        se[name] = res["flux_se_umol_m2_s"].to_numpy(dtype=np.float64)
        if base is None:
            base = res
    if not rules:
        flux.pop("default")
        se.pop("default")
    assert base is not None
    for m in MODELS:
        flux[m] = base[f"flux_{m}"].to_numpy(dtype=np.float64)
        se[m] = base[f"flux_{m}_se"].to_numpy(dtype=np.float64)
    flux["goflux"] = goflux_rule(base)
    if plain:
        term = flux_term(
            syn.closures["volume_cm3"].to_numpy(),
            syn.closures["area_cm2"].to_numpy(),
            base["p0_kpa"].to_numpy(),
            base["t0_c"].to_numpy(),
            base["w0_mmol_mol"].to_numpy(),
            extrapolate=True,
        )
        slope, slope_se = plain_exponential(syn)
        flux["plain_exp30"] = slope * term
        se["plain_exp30"] = slope_se * term
    return Estimates(flux=flux, se=se, truth=syn.true_flux_umol_m2_s)


def summary(err: np.ndarray, z: np.ndarray | None) -> dict[str, float]:
    """Median, mean, median |error| [%], 2-SE coverage [%] and share without an estimate."""
    ok = np.isfinite(err)
    e = 100 * err[ok]
    row = {
        "median_pct": float(np.median(e)),
        "mean_pct": float(np.mean(e)),
        "mad_pct": float(np.median(np.abs(e))),
        "within_2se_pct": np.nan,
        "missing_pct": 100 * float(1 - ok.mean()),
    }
    if z is not None and np.isfinite(z).any():
        zz = z[ok]
        row["within_2se_pct"] = 100 * float(np.mean(np.abs(zz) <= 2.0))
    return row


def accuracy_table(
    n_closures: int,
    seeds: tuple[int, ...],
    rules: dict[str, FluxOptions],
    noises: tuple[float, ...] = (1.0, 3.0),
    populations: tuple[str, ...] = tuple(ACCURACY_POPULATIONS),
    plain: bool = True,
) -> pd.DataFrame:
    """One row per population, noise and estimate (errors of all seeds pooled)."""
    rows = []
    for pop in populations:
        for noise in noises:
            errs: dict[str, list[np.ndarray]] = {}
            zs: dict[str, list[np.ndarray]] = {}
            for seed in seeds:
                syn = accuracy_closures(pop, noise, n_closures, seed)
                est = estimates(syn, rules, plain=plain)
                for name, f in est.flux.items():
                    errs.setdefault(name, []).append(f / est.truth - 1)
                    s = est.se.get(name)
                    zs.setdefault(name, []).append(
                        (f - est.truth) / s if s is not None else np.full(f.size, np.nan)
                    )
            for name in errs:
                row = {"population": pop, "noise_ppm": noise, "estimate": name}
                row.update(summary(np.concatenate(errs[name]), np.concatenate(zs[name])))
                rows.append(row)
    return pd.DataFrame(rows)


def _padded_dry(syn: SyntheticClosures) -> tuple[np.ndarray, np.ndarray]:
    """(closures × samples) times [s] and dry CO2 [µmol mol⁻¹] of the closures, NaN-padded."""
    s = syn.samples.sort_values(["closure", "elapsed_s"], kind="stable")
    closure = s["closure"].to_numpy()
    counts = np.bincount(closure)
    col = np.arange(len(s)) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    shape = (counts.size, int(counts.max()))
    t, c, h = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    t[closure, col] = s["elapsed_s"].to_numpy()
    c[closure, col] = s["co2_ppm"].to_numpy()
    h[closure, col] = s["h2o_mmol_mol"].to_numpy()
    t = np.where(t >= 0, t, np.nan)
    return t, dry_mole_fraction(np.where(np.isfinite(t), c, np.nan), h, extrapolate=True)


def _fit_at(
    t: np.ndarray, y: np.ndarray, ok: np.ndarray, kappa: np.ndarray, tau: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """C₀, F′, SSE and the basis v of y = C₀ + F′·v_κ(t) at each closure's own κ [s⁻¹]
    (`soilflux.fit.shared.lagged_hm_basis`, vectorised over κ)."""
    kap = kappa[:, None]
    u = np.where(kap > 0, -np.expm1(-kap * t) / np.where(kap > 0, kap, 1.0), t)
    v = (u - tau * -np.expm1(-t / tau)) / (1.0 - kap * tau)
    n = ok.sum(axis=1)
    vm = np.where(ok, v, 0.0).sum(axis=1) / n
    ym = np.where(ok, y, 0.0).sum(axis=1) / n
    vc = np.where(ok, v - vm[:, None], 0.0)
    yc = np.where(ok, y - ym[:, None], 0.0)
    f = (vc * yc).sum(axis=1) / (vc * vc).sum(axis=1)
    r = np.where(ok, yc - f[:, None] * vc, 0.0)
    return ym - f * vm, f, (r * r).sum(axis=1), v


def _posterior(
    t: np.ndarray, y: np.ndarray, ok: np.ndarray, opts: FluxOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The averaged HM's refined κ grid [s⁻¹], posterior weights (closures × grid) and the
    maximum-likelihood κ̂ of each closure (as `soilflux.fit.averaged.averaged_hm`)."""
    k = t.shape[0]
    b = make_batch(*compact_windows(t, y, ok))
    span = np.where(b.mask, b.t, -np.inf).max(axis=1) - np.where(b.mask, b.t, np.inf).min(axis=1)
    lo_span, hi_span = opts.averaged_min_kappa_span, opts.averaged_max_kappa_span
    grid = prior_grid(span, hi_span, lo_span)
    prof = kappa_profile(b, np.full(k, opts.sensor_lag_s), grid)
    sse = refine_profile(np.asarray(prof.sse), grid, REFINE)
    step = float(grid[1] - grid[0]) / REFINE
    i0 = zero_index(grid) * REFINE
    x = (np.arange(sse.shape[1]) - i0) * step
    slab = (x[None, :] != 0) & (x[None, :] <= (hi_span / span)[:, None] + step / 2)
    slab &= x[None, :] >= (lo_span / span)[:, None] - step / 2
    prior = np.where(slab, (1 - opts.averaged_prior_straight) / slab.sum(axis=1)[:, None], 0.0)
    prior[:, i0] = opts.averaged_prior_straight
    usable = (prior > 0) & np.isfinite(sse)
    s_min = np.where(usable, sse, np.inf).min(axis=1)
    sigma2 = s_min / (b.n - 3)
    w = np.where(usable, prior * np.exp(-(sse - s_min[:, None]) / (2 * sigma2[:, None])), 0.0)
    w /= w.sum(axis=1, keepdims=True)
    return x, w, x[np.argmin(np.where(usable, sse, np.inf), axis=1)]


def _averaged_slope(t: np.ndarray, y: np.ndarray, ok: np.ndarray, opts: FluxOptions) -> np.ndarray:
    """The default's ``hm_averaged`` slope [µmol mol⁻¹ s⁻¹] of padded dry records (window
    from the lid closing, the option's sensor lag in the model)."""
    k = t.shape[0]
    fit = averaged_hm_window(
        t,
        y,
        ok,
        np.zeros(k),
        np.full(k, opts.sensor_lag_s),
        opts.averaged_prior_straight,
        opts.averaged_max_kappa_span,
        opts.averaged_min_kappa_span,
    )
    return np.asarray(fit.slope)


def se_variant_coverage(
    population: str, noise_ppm: float, n_closures: int, seeds: tuple[int, ...], replicates: int
) -> dict[str, float]:
    """Share [%] of the default's ``hm_averaged`` fluxes within 2 SE of the truth, per SE:

    * ``posterior``: the reported SE (posterior SD about the posterior median, methods §5.0);
    * ``boot_fit``: SD of the averaged HM re-run on `replicates` parametric bootstrap records
      from its own fit (κ at the posterior median; Gaussian noise of the free fit's σ̂);
    * ``boot_free``: RMS of (re-estimate − generating slope) from the free-κ (maximum
      likelihood) fit: the estimator's variance plus its shrinkage bias under κ̂;
    * ``boot_posterior``: as ``boot_free``, the generating κ drawn from the posterior;
    * ``max_posterior_free``: the larger of ``posterior`` and ``boot_free``.
    """
    opts = FluxOptions(workers=1)
    tau = opts.sensor_lag_s
    rng = np.random.default_rng(12345)
    z: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        syn = accuracy_closures(population, noise_ppm, n_closures, seed)
        res = compute_fluxes(syn.samples, syn.closures, opts)
        sel = res["model"].to_numpy() == "hm_averaged"
        flux = res["flux_umol_m2_s"].to_numpy()
        term = np.abs(flux / res["dcdt_ppm_s"].to_numpy())
        t, y = _padded_dry(syn)
        ok = np.isfinite(t) & np.isfinite(y)
        again = _averaged_slope(t, y, ok, opts)
        if not np.allclose(again[sel], res["dcdt_ppm_s"].to_numpy()[sel], rtol=1e-9):
            raise RuntimeError("the re-run averaged HM does not reproduce the pipeline's")
        x, w, k_ml = _posterior(t, y, ok, opts)
        cw = np.cumsum(w, axis=1)
        k_med = x[np.minimum((cw < 0.5).sum(axis=1), x.size - 1)]
        fits = {
            "boot_fit": _fit_at(t, y, ok, k_med, tau),
            "boot_free": _fit_at(t, y, ok, k_ml, tau),
        }
        sigma = np.sqrt(fits["boot_free"][2] / (ok.sum(axis=1) - 3))
        draws: dict[str, list[np.ndarray]] = {name: [] for name in (*fits, "boot_posterior")}
        for _ in range(replicates):
            noise = rng.normal(size=t.shape) * sigma[:, None]
            u = rng.random(t.shape[0])
            post = _fit_at(t, y, ok, x[np.minimum((cw < u[:, None]).sum(axis=1), x.size - 1)], tau)
            for name, (c0, f, _, v) in (*fits.items(), ("boot_posterior", post)):
                record = np.where(ok, c0[:, None] + f[:, None] * v + noise, np.nan)
                again = _averaged_slope(t, record, ok, opts)
                draws[name].append(again if name == "boot_fit" else again - f)
        se = {
            "posterior": res["flux_se_umol_m2_s"].to_numpy(),
            "boot_fit": np.std(np.array(draws["boot_fit"]), axis=0, ddof=1) * term,
            "boot_free": np.sqrt(np.mean(np.array(draws["boot_free"]) ** 2, axis=0)) * term,
            "boot_posterior": np.sqrt(np.mean(np.array(draws["boot_posterior"]) ** 2, axis=0))
            * term,
        }
        se["max_posterior_free"] = np.maximum(se["posterior"], se["boot_free"])
        err = flux - syn.true_flux_umol_m2_s
        for name, value in se.items():
            z.setdefault(name, []).append(err[sel] / value[sel])
    return {name: 100 * float(np.mean(np.abs(np.concatenate(v)) <= 2)) for name, v in z.items()}


#: Issue 13's targets [%]: |median| on both populations, |mean| on straight closures, and the
#: share within 2 SE on each (the median |error| must not exceed the plain fit's).
TARGET_MEDIAN_PCT = 2.0
TARGET_MEAN_STRAIGHT_PCT = 2.0
TARGET_COVERAGE_PCT = (92.0, 98.0)


def meets_targets(row: dict[str, float | str]) -> bool:
    """Whether one population × noise row of `prior_sweep` meets issue 13's targets."""
    lo, hi = TARGET_COVERAGE_PCT
    ok = abs(float(row["median_pct"])) <= TARGET_MEDIAN_PCT
    ok &= float(row["mad_pct"]) <= float(row["plain_mad_pct"])
    ok &= lo <= float(row["within_2se_pct"]) <= hi
    if row["population"] == "straight":
        ok &= abs(float(row["mean_pct"])) <= TARGET_MEAN_STRAIGHT_PCT
    return bool(ok)


def prior_sweep(
    n_closures: int,
    seeds: tuple[int, ...],
    settings: list[tuple[float, float, float]],
    noises: tuple[float, ...] = (1.0, 3.0),
) -> pd.DataFrame:
    """The default flux (`compute_fluxes`, ``FluxOptions()`` but the averaged HM's prior) under
    each (P(κ = 0), smallest κ·T, largest κ·T) of `settings`: one row per setting, population
    and noise (seeds pooled), with the plain exponential's median |error| and the targets."""
    parts: dict[tuple[float, float, float, str, float], list[tuple[np.ndarray, ...]]] = {}
    for pop in ACCURACY_POPULATIONS:
        for noise in noises:
            for seed in seeds:
                syn = accuracy_closures(pop, noise, n_closures, seed)
                plain = estimates(syn, {}, plain=True).flux["plain_exp30"]
                truth = syn.true_flux_umol_m2_s
                for p_straight, lo, hi in settings:
                    opts = replace(
                        FluxOptions(),
                        averaged_prior_straight=p_straight,
                        averaged_min_kappa_span=lo,
                        averaged_max_kappa_span=hi,
                    )
                    res = compute_fluxes(syn.samples, syn.closures, opts)
                    f = res["flux_umol_m2_s"].to_numpy(dtype=np.float64)
                    se = res["flux_se_umol_m2_s"].to_numpy(dtype=np.float64)
                    key = (p_straight, lo, hi, pop, noise)
                    parts.setdefault(key, []).append(
                        (f / truth - 1, (f - truth) / se, plain / truth - 1)
                    )
    rows = []
    for (p_straight, lo, hi, pop, noise), chunks in parts.items():
        err, z, plain_err = (np.concatenate(c) for c in zip(*chunks, strict=True))
        row: dict[str, float | str] = {
            "p_straight": p_straight,
            "min_kappa_span": lo,
            "max_kappa_span": hi,
            "population": pop,
            "noise_ppm": noise,
        }
        row.update(summary(err, z))
        row["plain_mad_pct"] = float(100 * np.nanmedian(np.abs(plain_err)))
        row["meets"] = "yes" if meets_targets(row) else "no"
        rows.append(row)
    return pd.DataFrame(rows).drop(columns="missing_pct")


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub table of `frame` (numbers to 2 decimals)."""
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind == "f" else "---" for c in frame) + "|"
    body = [
        "| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def _print_prior_sweep(args: argparse.Namespace) -> int:
    settings = [
        (p_straight, lo, hi)
        for p_straight in args.prior_straight
        for lo in args.min_kappa_span
        for hi in args.max_kappa_span
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    table = prior_sweep(args.closures, tuple(args.seeds), settings)
    print(
        f"# benchmarks/accuracy.py --prior-sweep --closures {args.closures} --seeds "
        f"{' '.join(map(str, args.seeds))}: {len(settings)} priors; "
        f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s"
    )
    print(markdown(table))
    print("\n# one row per prior: % within 2 SE per mix, the worst |median| and straight |mean|,")
    print("# the median |error| of every mix (the plain fit's in brackets), all targets met?")
    print(markdown(sweep_summary(table)))
    return 0


def sweep_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per prior of a `prior_sweep` table."""
    rows = []
    keys = ["p_straight", "min_kappa_span", "max_kappa_span"]
    for key, part in table.groupby(keys, sort=False):
        row: dict[str, float | str] = dict(zip(keys, key, strict=True))
        for r in part.itertuples():
            row[f"cover_{r.population}_{r.noise_ppm:g}"] = r.within_2se_pct
        straight = part[part["population"] == "straight"]
        row["max_abs_median"] = float(part["median_pct"].abs().max())
        row["max_abs_mean_straight"] = float(straight["mean_pct"].abs().max())
        for r in part.itertuples():
            row[f"mad_{r.population}_{r.noise_ppm:g}"] = f"{r.mad_pct:.2f} ({r.plain_mad_pct:.2f})"
        row["all_met"] = "yes" if (part["meets"] == "yes").all() else "no"
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--closures", type=int, default=1000, help="closures per mix and seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="NAME=HM_FALLBACK",
        help="extra selection rules to tabulate, e.g. old=robust (FluxOptions.hm_fallback)",
    )
    p.add_argument(
        "--se-variants",
        type=int,
        default=0,
        metavar="R",
        help="tabulate the 2-SE coverage of other SEs instead (R bootstrap replicates)",
    )
    p.add_argument(
        "--prior-sweep",
        action="store_true",
        help="tabulate the default under other priors of the averaged HM instead",
    )
    p.add_argument("--prior-straight", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3])
    p.add_argument("--min-kappa-span", type=float, nargs="+", default=[-2.0, -1.0, -0.5, 0.0])
    p.add_argument("--max-kappa-span", type=float, nargs="+", default=[2.0, 3.0])
    args = p.parse_args(argv)
    if args.prior_sweep:
        return _print_prior_sweep(args)
    if args.se_variants:
        t0 = time.perf_counter()
        rows = []
        for pop in ACCURACY_POPULATIONS:
            for noise in (1.0, 3.0):
                cover = se_variant_coverage(
                    pop, noise, args.closures, tuple(args.seeds), args.se_variants
                )
                rows.append({"population": pop, "noise_ppm": noise, **cover})
        print(
            f"# benchmarks/accuracy.py --se-variants {args.se_variants} --closures "
            f"{args.closures} --seeds {' '.join(map(str, args.seeds))}: % within 2 SE; "
            f"{time.perf_counter() - t0:.0f} s"
        )
        print(markdown(pd.DataFrame(rows)))
        return 0
    rules = {"default": FluxOptions()}
    for spec in args.rule:
        name, _, fallback = spec.partition("=")
        rules[name] = replace(FluxOptions(), hm_fallback=fallback)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    table = accuracy_table(args.closures, tuple(args.seeds), rules)
    print(
        f"# benchmarks/accuracy.py --closures {args.closures} --seeds "
        f"{' '.join(map(str, args.seeds))}; {platform.node()} {platform.machine()}, "
        f"python {platform.python_version()}, {time.perf_counter() - t0:.0f} s"
    )
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        for (pop, noise), part in table.groupby(["population", "noise_ppm"], sort=False):
            print(f"\n## {pop}, {noise:g} ppm ({args.closures} closures × {len(args.seeds)} seeds)")
            print(markdown(part.drop(columns=["population", "noise_ppm"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
