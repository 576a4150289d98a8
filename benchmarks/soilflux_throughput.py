"""Throughput of soilflux: closures per second per model and for the full pipeline.

Compares the batched fits with a plain per-closure ``scipy.optimize.curve_fit`` loop on the
same closures (the loop runs on a subset; its per-closure rate is extrapolated), and reports
the peak resident memory.  The season figure is the fleet's: 1.5 million closures of 60–100
samples (3-s samples, 180–300-s closures), computed in batches as a CLI run over many files
would, from a pool of synthetic closures generated once (generation is not timed).

Usage::

    python benchmarks/soilflux_throughput.py                    # full season, 1.5 M closures
    python benchmarks/soilflux_throughput.py --closures 200000  # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit, least_squares
from soilflux.fit import Batch, make_batch
from soilflux.fit.exponential import exponential_from_curve, fit_exp_curve_batch
from soilflux.fit.hm import bounded_hm_curve
from soilflux.fit.lag import lag_basis
from soilflux.fit.linear import fit_linear_batch, fit_linear_lag_batch
from soilflux.fit.quadratic import fit_quadratic_batch, fit_quadratic_lag_batch
from soilflux.fit.robust import fit_robust_linear_batch
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.synthetic import synthetic_closures

DEADBAND_S = 20.0  # the pipeline's automatic lower bound for the SCD30 with lag compensation
LAG_S = 20.0  # SCD30 response time


def padded(pool_samples: pd.DataFrame, n_closures: int) -> tuple[np.ndarray, np.ndarray]:
    """(closures × samples) arrays of time and CO2 from the long table."""
    cnt = pool_samples.groupby("closure", sort=True).size().to_numpy()[:n_closures]
    rows = int(cnt.sum())
    m = int(cnt.max())
    t = np.full((n_closures, m), np.nan)
    c = np.full((n_closures, m), np.nan)
    r = np.repeat(np.arange(n_closures), cnt)
    col = np.arange(rows) - np.repeat(np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
    t[r, col] = pool_samples["elapsed_s"].to_numpy()[:rows]
    c[r, col] = pool_samples["co2_ppm"].to_numpy()[:rows]
    return t, c


def batches(t: np.ndarray, c: np.ndarray, size: int) -> list[Batch]:
    """Fit windows (t > dead band), compacted to the left, in chunks of `size` closures."""
    out = []
    for i in range(0, t.shape[0], size):
        tt, cc = t[i : i + size], c[i : i + size]
        win = np.isfinite(tt) & (tt > DEADBAND_S)
        first = np.argmax(win, axis=1)
        width = int((win.sum(axis=1)).max())
        idx = np.minimum(first[:, None] + np.arange(width), tt.shape[1] - 1)
        mask = np.take_along_axis(win, idx, axis=1) & (np.arange(width) < win.sum(axis=1)[:, None])
        out.append(make_batch(np.take_along_axis(tt, idx, 1), np.take_along_axis(cc, idx, 1), mask))
    return out


def rate(func: Callable[[Batch], object], work: list[Batch], n: int) -> float:
    """Closures per second of `func` over all batches (single thread)."""
    start = time.perf_counter()
    for b in work:
        func(b)
    return n / (time.perf_counter() - start)


def exp_and_hm(b: Batch) -> None:
    q = fit_quadratic_batch(b)
    curve = fit_exp_curve_batch(b, a_start=-2 * q.b2 / q.b1)
    exponential_from_curve(curve, np.full(b.n.size, 420.0))
    bounded_hm_curve(b, np.full(b.n.size, 0.01), curve)


def exp_and_hm_lag(b: Batch) -> None:
    h = lag_basis(b.t, b.w, LAG_S)
    q = fit_quadratic_lag_batch(b, None, h)
    curve = fit_exp_curve_batch(b, a_start=-2 * q.b2 / q.b1, lag_basis=h)
    exponential_from_curve(curve, np.full(b.n.size, 420.0))
    bounded_hm_curve(b, np.full(b.n.size, 0.01), curve, lag_basis=h)


def curve_fit_loop(t: np.ndarray, c: np.ndarray, n: int) -> tuple[float, float]:
    """Per-closure scipy loop: linear and LI-COR exponential by ``curve_fit`` (closures/s)."""

    def line(x: np.ndarray, a: float, b: float) -> np.ndarray:
        return a + b * x

    def expo(x: np.ndarray, cx: float, c1: float, k: float) -> np.ndarray:
        return cx + (c1 - cx) * np.exp(-k * (x - DEADBAND_S))

    start = time.perf_counter()
    for i in range(n):
        ok = np.isfinite(t[i]) & (t[i] > DEADBAND_S)
        curve_fit(line, t[i, ok], c[i, ok])
    lin_rate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(n):
        ok = np.isfinite(t[i]) & (t[i] > DEADBAND_S)
        x, y = t[i, ok], c[i, ok]
        with contextlib.suppress(RuntimeError):  # non-convergence still costs its time
            curve_fit(expo, x, y, p0=[y[-1] + 50.0, y[0], 0.005], maxfev=2000)
    return lin_rate, n / (time.perf_counter() - start)


def curve_fit_loop_all_models(t: np.ndarray, c: np.ndarray, n: int) -> float:
    """Per-closure scipy loop over the models the pipeline fits (closures/s).

    Linear, quadratic and LI-COR exponential by ``curve_fit``; robust linear by
    ``least_squares`` with the Huber loss.  The bounded HM fit is left out: done per closure
    with ``curve_fit(bounds=...)`` it costs ~40 ms (trust-region reflective on a badly
    scaled problem), which would flatter the ratio; soilflux derives HM from the exponential.
    """

    def line(x: np.ndarray, a: float, b: float) -> np.ndarray:
        return a + b * x

    def quad(x: np.ndarray, a: float, b: float, q: float) -> np.ndarray:
        return a + b * x + q * x * x

    def expo(x: np.ndarray, cx: float, c1: float, k: float) -> np.ndarray:
        return cx + (c1 - cx) * np.exp(-k * (x - DEADBAND_S))

    def huber_residual(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return line(x, p[0], p[1]) - y

    start = time.perf_counter()
    for i in range(n):
        ok = np.isfinite(t[i]) & (t[i] > DEADBAND_S)
        x, y = t[i, ok], c[i, ok]
        p_lin, _ = curve_fit(line, x, y)
        least_squares(huber_residual, p_lin, loss="huber", f_scale=3.0, args=(x, y))
        curve_fit(quad, x, y)
        with contextlib.suppress(RuntimeError):
            curve_fit(expo, x, y, p0=[y[-1] + 50.0, y[0], 0.005], maxfev=2000)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closures", type=int, default=1_500_000, help="closures in the season")
    parser.add_argument("--pool", type=int, default=100_000, help="synthetic closures generated")
    parser.add_argument("--loop", type=int, default=1_000, help="closures in the curve_fit loop")
    parser.add_argument("--workers", type=int, default=None, help="pipeline threads")
    args = parser.parse_args()

    pool = synthetic_closures(args.pool, seed=1, kappa_s=(0.0, 0.002), leak_s=(0.0, 0.0005))
    t, c = padded(pool.samples, args.pool)
    n_model = min(args.pool, 100_000)
    work = batches(t[:n_model], c[:n_model], 2_000)
    rows: list[tuple[str, float]] = []
    rows.append(("linear (OLS)", rate(fit_linear_batch, work, n_model)))
    rows.append(("robust linear (Huber IRLS)", rate(fit_robust_linear_batch, work, n_model)))
    rows.append(("quadratic", rate(lambda b: fit_quadratic_batch(b), work, n_model)))
    rows.append(("exponential (LI-COR) + HM (κ_max)", rate(exp_and_hm, work, n_model)))
    lin_lag = rate(lambda b: fit_linear_lag_batch(b, lag_basis(b.t, b.w, LAG_S)), work, n_model)
    rows.append(("linear + lag term", lin_lag))
    rows.append(("exponential + HM, + lag term", rate(exp_and_hm_lag, work, n_model)))
    lin_loop, exp_loop = curve_fit_loop(t, c, min(args.loop, args.pool))
    all_loop = curve_fit_loop_all_models(t, c, min(args.loop, args.pool) // 2)

    opts = FluxOptions(workers=args.workers)
    done = 0
    start = time.perf_counter()
    while done < args.closures:
        take = min(args.pool, args.closures - done)
        if take == args.pool:
            compute_fluxes(pool.samples, pool.closures, opts)
        else:
            keep = pool.samples["closure"] < take
            compute_fluxes(pool.samples[keep], pool.closures.iloc[:take], opts)
        done += take
    season_s = time.perf_counter() - start
    pipe_rate = done / season_s
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # the fleet's selection (chamber-shared HM): a chamber closing every 10 min, so that
    # every closure has a pool; its κ grid is the extra cost
    fleet = synthetic_closures(
        min(args.pool, 50_000), seed=2, chambers=1, kappa_per_chamber=True, c0_ppm=(440, 450)
    )
    shared_opts = FluxOptions(workers=args.workers, hm_fallback="shared")
    start = time.perf_counter()
    out = compute_fluxes(fleet.samples, fleet.closures, shared_opts)
    shared_rate = len(fleet.closures) / (time.perf_counter() - start)
    shared_share = float((out["model"] == "hm_shared").mean())
    # the kappa.max rule, the default until 2026-12 (no κ profile): the cost of the default's
    start = time.perf_counter()
    compute_fluxes(
        pool.samples, pool.closures, FluxOptions(workers=args.workers, hm_fallback="robust")
    )
    robust_rate = len(pool.closures) / (time.perf_counter() - start)
    load = os.getloadavg()[0]

    workers = opts.workers if opts.workers is not None else min(2, os.cpu_count() or 1)
    py = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {py}")
    print(f"closures: {done:,} in batches of {args.pool:,} (3-s samples, 180–300 s)")
    print(f"pipeline threads: {workers}; load average at the end: {load:.2f}")
    print()
    print("| what | closures/s | vs curve_fit loop |")
    print("|---|---:|---:|")
    print(f"| scipy curve_fit loop, linear | {lin_loop:,.0f} | 1× |")
    print(f"| scipy curve_fit loop, exponential | {exp_loop:,.0f} | 1× |")
    print(f"| scipy loop: linear, Huber, quadratic, exponential | {all_loop:,.0f} | 1× |")
    for name, r in rows:
        ref = exp_loop if ("exp" in name or "quadratic" in name) else lin_loop
        print(f"| soilflux {name}, 1 thread | {r:,.0f} | {r / ref:,.0f}× |")
    print(
        f"| soilflux compute_fluxes, full pipeline (default: all models, hm_averaged, QC, flags) | "
        f"{pipe_rate:,.0f} | {pipe_rate / all_loop:,.0f}× (vs four-model loop); "
        f"{pipe_rate / exp_loop:,.0f}× (vs exponential loop) |"
    )
    print(
        f"| soilflux compute_fluxes, hm_fallback='shared' (chamber-shared HM, "
        f"{shared_share:.0%} of closures pooled) | {shared_rate:,.0f} | "
        f"{shared_rate / all_loop:,.0f}× (vs four-model loop) |"
    )
    print(
        f"| soilflux compute_fluxes, hm_fallback='robust' (the kappa.max rule, default "
        f"until 2026-12) | {robust_rate:,.0f} | {robust_rate / all_loop:,.0f}× (vs four-model "
        "loop) |"
    )
    print()
    print(f"season of {done:,} closures: {season_s:.1f} s; peak resident memory {peak_mb:,.0f} MB")
    print(f"the same season with hm_fallback='shared' (extrapolated): {done / shared_rate:.0f} s")
    loop_h = done / exp_loop / 3600
    print(f"curve_fit loop (exponential only) extrapolated to the season: {loop_h:.1f} h")
    print(f"four-model scipy loop extrapolated to the season: {done / all_loop / 3600:.1f} h")


if __name__ == "__main__":
    main()
