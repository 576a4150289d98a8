"""Steps of `soilflux.pipeline.compute_fluxes` that need every closure of the call.

They run after all chunks, on the per-gas result arrays (``results[gas][column]``): the
``not_flushed`` flag (a chamber's earlier closures), the pooled-κ selection (§5.1: the
call's closures) and the chamber-shared HM (§5.3: a chamber's neighbouring closures), and
the re-derivation of the flags that depend on a late-selected flux.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.fit._batch import BoolArray, FloatArray, gaussian_aicc
from soilflux.fit.shared import KAPPA_GRID_S, at_kappa, shared_kappa
from soilflux.options import FluxOptions
from soilflux.qc import (
    FLAGS,
    flag_bits,
    lag_calibration,
    line_curvature_factor,
    not_flushed,
    nrmse,
    r_squared,
    shrunk_kappa,
)

#: Closures used for the lag calibration need κ̂·T at least this (enough curvature) [-].
POOLED_MIN_KAPPA_SPAN = 0.3

#: Flags that keep a closure out of the pools of the chamber-shared κ: the lid or the
#: window was not a normal closure, or light bends the curve (photosynthesis).
SHARED_POOL_EXCLUDE: tuple[str, ...] = (
    "daylight",
    "stuck_chamber",
    "not_flushed",
    "short",
    "gap",
    "saturated",
    "out_of_range",
)


def start_seconds(closures: pd.DataFrame) -> FloatArray:
    """Start of each closure [s since the epoch]; NaN where unknown."""
    start = pd.to_datetime(closures["start"], utc=True, errors="coerce")
    return np.where(
        start.isna().to_numpy(),
        np.nan,
        start.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9,
    )


def select_shared_hm(
    closures: pd.DataFrame,
    gases: list[str],
    opts: FluxOptions,
    results: dict[str, dict[str, npt.NDArray[np.generic]]],
) -> None:
    """``hm_shared``: κ* from each closure's pool, the flux at κ*, and its selection.

    Per gas: the pool of a closure is its chamber's closures within ±`shared_window_s`/2
    without a `SHARED_POOL_EXCLUDE` flag (`soilflux.fit.shared.shared_kappa`).  The slope
    and its standard error at κ* are interpolated on the grid; the standard error adds the
    uncertainty of κ* (∂F′/∂κ · SE(κ*)).  The model becomes ``"hm_shared"`` where the pool
    exists, κ* lies inside the grid and the closure is not ``short``; the flags that depend
    on the selected CO2 flux are re-derived there.
    """
    exclude = flag_bits({name: np.ones(1, bool) for name in SHARED_POOL_EXCLUDE}, 1)[0]
    chamber = closures["chamber"].astype(object).to_numpy()
    start_s = start_seconds(closures)
    grid = KAPPA_GRID_S
    half_step = 0.5 * float(grid[1] - grid[0])
    for g in gases:
        res = results[g]

        def col(name: str, res: dict[str, npt.NDArray[np.generic]] = res) -> FloatArray:
            return np.asarray(res[name], dtype=np.float64)

        bits = np.asarray(res["_bits"], dtype=np.int64)
        sk = shared_kappa(
            np.asarray(res["_sh_sse"]),
            col("_sh_n"),
            grid,
            chamber,
            start_s,
            (bits & exclude) == 0,
            opts.shared_window_s,
            opts.shared_min_closures,
        )
        slope_grid = np.asarray(res["_sh_slope"])
        slope = at_kappa(slope_grid, grid, sk.kappa_s)
        d_slope = (
            at_kappa(slope_grid, grid, sk.kappa_s + half_step)
            - at_kappa(slope_grid, grid, sk.kappa_s - half_step)
        ) / (2.0 * half_step)
        se = np.sqrt(
            at_kappa(np.asarray(res["_sh_se"]), grid, sk.kappa_s) ** 2
            + (d_slope * np.nan_to_num(sk.kappa_se_s)) ** 2
        )
        term = col("_term")
        res["flux_hm_shared"] = slope * term
        res["flux_hm_shared_se"] = se * np.abs(term)
        res["kappa_shared"] = sk.kappa_s
        # not where the closure is `short` (its record was cut: no fit, as for every model)
        short = (bits & flag_bits({"short": np.ones(1, bool)}, 1)[0]) != 0
        n_sh = col("_sh_n")
        use = np.isfinite(slope * term) & ~sk.at_bound & ~short & (n_sh >= opts.min_samples)
        if not use.any():
            continue
        sse = at_kappa(np.asarray(res["_sh_sse"]), grid, sk.kappa_s)
        n = n_sh
        updates = {
            "flux_umol_m2_s": slope * term,
            "dcdt_ppm_s": slope,
            "_flux_se": se * np.abs(term),
            "n": n,
            "deadband_s": col("_sh_db"),
            "r2": r_squared(sse, col("_sh_sst")),
            "nrmse": nrmse(sse, n, col("_sh_range")),
            "aicc": gaussian_aicc(sse, n.astype(np.int64), 2),
        }
        for name, value in updates.items():
            x = col(name)
            x[use] = value[use]
            res[name] = x
        model = np.asarray(res["model"]).copy()
        model[use] = "hm_shared"
        res["model"] = model
        if g == "co2_ppm":
            rederive_flux_flags(res, use, opts)


def rederive_flux_flags(
    res: dict[str, npt.NDArray[np.generic]], rows: BoolArray, opts: FluxOptions
) -> None:
    """Re-derive the flags that depend on the selected CO2 flux on `rows` (after a late
    selection): ``below_threshold``, ``clogged`` (not where ``stuck_chamber``), ``fit_failed``."""
    bit = {name: np.int64(1) << i for i, name in enumerate(FLAGS)}
    flux = np.asarray(res["flux_umol_m2_s"], dtype=np.float64)
    se = np.asarray(res["_flux_se"], dtype=np.float64)
    bits = np.asarray(res["_bits"], dtype=np.int64).copy()
    stuck = (bits & bit["stuck_chamber"]) != 0
    near_zero = (np.abs(flux) < opts.clogged_flux_umol_m2_s) | (np.abs(flux) < opts.clogged_z * se)
    for name, value in (
        ("below_threshold", flux < opts.flux_threshold_umol_m2_s),
        ("clogged", (near_zero | (np.asarray(res["_stopped"]) > 0)) & ~stuck),
        ("fit_failed", ~np.isfinite(flux)),
    ):
        on = bits | bit[name]
        off = bits & ~bit[name]
        bits = np.where(rows, np.where(value, on, off), bits)
    res["_bits"] = bits


def select_pooled_hm(
    gases: list[str],
    opts: FluxOptions,
    results: dict[str, dict[str, npt.NDArray[np.generic]]],
) -> None:
    """The default selection: the robust line corrected for the closure's shrunk HM κ.

    Per gas, over all closures of the call (docs/soilflux/methods.md §5): κᵢ* from
    `soilflux.qc.shrunk_kappa`, the lag calibration c from `soilflux.qc.lag_calibration`
    on closures with a precise sound HM fit, and F = F_robust / (r(κᵢ*)·(1 − cκᵢ*)) with
    r from `soilflux.qc.line_curvature_factor`; the model becomes ``"hm_pooled"``.  Flags
    that depend on the selected CO2 flux (``below_threshold``, ``clogged``, ``fit_failed``)
    are re-derived for those rows.
    """
    for g in gases:
        res = results[g]

        def col(name: str, res: dict[str, npt.NDArray[np.generic]] = res) -> FloatArray:
            return np.asarray(res[name], dtype=np.float64)

        mu, t_ref, span, tau = col("_mu"), col("_t_ref"), col("_span"), col("_tau")
        k_hat, k_se = col("_k_hat"), col("_k_se")
        model = np.asarray(res["model"])
        fb = model == "robust"
        if not fb.any():
            continue
        star, _, _ = shrunk_kappa(k_hat, k_se)
        hm, hm_se, rob = col("flux_hm"), col("flux_hm_se"), col("flux_robust")
        precise = (
            (col("_sound") > 0)
            & (hm_se <= opts.pooled_calibration_relative_se * np.abs(hm))
            & (k_hat * span >= POOLED_MIN_KAPPA_SPAN)
        )
        r_own = line_curvature_factor(mu, t_ref, span, np.nan_to_num(k_hat), tau)
        c = lag_calibration(hm, rob, r_own, k_hat, precise)
        kap = np.nan_to_num(star)
        r = line_curvature_factor(mu, t_ref, span, kap, tau) * (1.0 - c * kap)
        fb &= np.isfinite(r) & (r > 0)
        for name in ("flux_umol_m2_s", "dcdt_ppm_s", "_flux_se"):
            x = col(name)
            x[fb] = x[fb] / r[fb]
            res[name] = x
        model = model.copy()
        model[fb] = "hm_pooled"
        res["model"] = model
        if g == "co2_ppm":
            rederive_flux_flags(res, fb, opts)


def flag_not_flushed(
    closures: pd.DataFrame,
    gases: list[str],
    opts: FluxOptions,
    results: dict[str, dict[str, npt.NDArray[np.generic]]],
) -> None:
    """``not_flushed`` from each chamber's sequence of CO2 closures (`soilflux.qc.not_flushed`).

    A closure that was not flushed is a lid stuck closed: it also gets ``stuck_chamber``
    and loses ``clogged`` (its near-zero flux is the saturated chamber's, not the soil's).
    """
    if "co2_ppm" not in gases or not len(closures):
        return
    start_s = start_seconds(closures)
    co2 = results["co2_ppm"]
    hit = not_flushed(
        closures["chamber"].astype(object).to_numpy(),
        start_s,
        np.asarray(co2["_c0"], dtype=np.float64),
        np.asarray(co2["_rise"], dtype=np.float64),
        excess_ppm=opts.not_flushed_ppm,
        window_s=opts.not_flushed_window_s,
        step_fraction=opts.not_flushed_step_fraction,
        min_step_ppm=opts.not_flushed_min_step_ppm,
        min_rise_ppm=opts.stuck_co2_rise_ppm,
        max_gap_s=opts.not_flushed_max_gap_s,
    )
    if not hit.any():
        return
    add = flag_bits({"not_flushed": hit, "stuck_chamber": hit}, hit.size)
    clear = flag_bits({"clogged": hit}, hit.size)
    for g in gases:
        bits = np.asarray(results[g]["_bits"], dtype=np.int64)
        results[g]["_bits"] = (bits | add) & ~clear
