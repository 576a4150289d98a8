"""From samples and closures to one flux row per closure and gas.

`compute_fluxes` holds no physics of its own: it pads chunks of closures into
(closures × samples) arrays and calls the pure functions of `soilflux.flux`,
`soilflux.deadband`, `soilflux.fit` and `soilflux.qc` on them.  Memory is bounded by
`FluxOptions.chunk_closures`; nothing loops over closures in Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from soilflux.deadband import auto_deadband
from soilflux.fit._batch import (
    Batch,
    BoolArray,
    FloatArray,
    compact_windows,
    make_batch,
    quiet,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit.averaged import averaged_hm_window
from soilflux.fit.exponential import exponential_from_curve, fit_exp_curve_batch
from soilflux.fit.hm import bounded_hm_curve, hm_from_curve
from soilflux.fit.lag import lag_basis
from soilflux.fit.linear import fit_linear_batch, fit_linear_lag_batch, fit_linear_slope_batch
from soilflux.fit.quadratic import fit_quadratic_batch, fit_quadratic_lag_batch
from soilflux.fit.robust import fit_robust_linear_batch
from soilflux.fit.shared import KAPPA_GRID_S, kappa_profile
from soilflux.flux import (
    PRESSURE_RANGE_KPA,
    TEMPERATURE_RANGE_C,
    WATER_RANGE_MMOL_MOL,
    dry_mole_fraction,
    flux_term,
    initial_values,
)
from soilflux.options import FluxOptions
from soilflux.pooling import (
    flag_not_flushed,
    select_pooled_hm,
    select_shared_hm,
)
from soilflux.qc import (
    LINE_MOMENTS,
    flag_bits,
    flags_to_strings,
    g_factor,
    hm_is_sound,
    kappa_max,
    line_slope_moments,
    mdf_christiansen,
    mdf_nickerson,
    nrmse,
    r_squared,
    select_model,
)
from soilflux.qc_record import clock_step, flux_stopped

#: Gas columns understood, with the gas name and the factor to µmol mol⁻¹.
GAS_COLUMNS: dict[str, tuple[str, float]] = {
    "co2_ppm": ("co2", 1.0),
    "ch4_ppb": ("ch4", 1e-3),
    "n2o_ppb": ("n2o", 1e-3),
}

MODELS: tuple[str, ...] = ("linear", "robust", "exp", "hm", "quadratic")

#: Pooled selection (`FluxOptions.hm_fallback="pooled"`): closures whose sound HM fit has
#: κ̂·T above this keep HM; the curvature-corrected line is for the others [-].
POOLED_MAX_KAPPA_SPAN = 2.0

#: Per-closure numbers of the chamber-shared HM's own window, kept for the pass after all
#: chunks (`soilflux.pooling.select_shared_hm`).
SHARED_COLUMNS: tuple[str, ...] = ("_sh_n", "_sh_sst", "_sh_range", "_sh_db")

#: Columns of the returned frame, in order (the CLI's output contract).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "closure",
    "chamber",
    "location",
    "gas",
    "start",
    "end",
    "n",
    "deadband_s",
    "flux_umol_m2_s",
    "flux_se_umol_m2_s",
    "model",
    "flux_linear",
    "flux_linear_se",
    "flux_robust",
    "flux_robust_se",
    "flux_exp",
    "flux_exp_se",
    "flux_hm",
    "flux_hm_se",
    "flux_quadratic",
    "flux_quadratic_se",
    "flux_hm_shared",
    "flux_hm_shared_se",
    "flux_hm_averaged",
    "flux_hm_averaged_se",
    "dcdt_ppm_s",
    "r2",
    "nrmse",
    "aicc",
    "mdf",
    "kappa",
    "kappa_max",
    "kappa_shared",
    "g_factor",
    "lux_mean",
    "t0_c",
    "p0_kpa",
    "w0_mmol_mol",
    "flags",
)

_NUMERIC_OUT = [
    c
    for c in OUTPUT_COLUMNS
    if c not in ("closure", "chamber", "location", "gas", "start", "end", "model", "flags")
]


@dataclass(frozen=True)
class _Chunk:
    """One chunk of closures as padded (k, m) arrays; rows are closures."""

    t: FloatArray
    valid: BoolArray  # t ≥ 0 and finite
    h2o: FloatArray
    temperature_c: FloatArray
    pressure_kpa: FloatArray
    lux: FloatArray
    gas: dict[str, FloatArray]  # µmol mol⁻¹, wet
    volume_cm3: FloatArray
    area_cm2: FloatArray
    deadband_s: FloatArray
    obs_length_s: FloatArray
    sensor_lag_s: FloatArray  # the closure's own, else the option's [s]
    has_h2o: bool
    # leading columns holding every sample of the initial-value window (rows are in time
    # order, t ≥ 0): `initial_values` of those columns alone is that of the whole rows
    head: int


def _require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks required column(s): {', '.join(missing)}")


def _float_column(frame: pd.DataFrame, name: str, column: str) -> FloatArray:
    """The column as float64; a float64 column as it is (not copied: only read here)."""
    if frame[column].dtype == np.float64:
        return frame[column].to_numpy(dtype=np.float64, copy=False)
    try:
        return np.asarray(pd.to_numeric(frame[column], errors="raise"), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}.{column} must be numeric: {exc}") from exc


def _closure_float(closures: pd.DataFrame, column: str) -> FloatArray:
    if column not in closures.columns:
        return np.full(len(closures), np.nan)
    return _float_column(closures, "closures", column)


def _closure_positions(index: pd.Index, ids: pd.Series) -> npt.NDArray[np.intp]:
    """Position in `index` of each id (−1 where absent), as `pd.Index.get_indexer`."""
    values = ids.to_numpy()
    n = len(index)
    if (
        n
        and index.dtype.kind == "i"
        and values.dtype.kind == "i"
        and index.is_monotonic_increasing
        and index.is_unique
        and index[0] == 0
        and index[-1] == n - 1
    ):  # the index is 0 … n − 1 (as segmentation numbers closures): the id is the position
        pos = values.astype(np.intp)
        pos[(pos < 0) | (pos >= n)] = -1
        return pos
    return np.asarray(index.get_indexer(pd.Index(ids)), dtype=np.intp)


def _iter_chunks(
    samples: pd.DataFrame, closures: pd.DataFrame, gases: list[str], opts: FluxOptions
) -> Iterator[tuple[npt.NDArray[np.int64], _Chunk]]:
    """Sort samples by (closure, elapsed time) and yield padded chunks of closures."""
    n_closures = len(closures)
    pos = _closure_positions(closures.index, samples["closure"])
    if (pos < 0).any():
        unknown = pd.unique(samples["closure"].to_numpy()[pos < 0])[:5]
        raise ValueError(f"samples.closure has ids not in closures.index: {list(unknown)}")
    elapsed = _float_column(samples, "samples", "elapsed_s")
    keep = np.isfinite(elapsed) & (elapsed >= 0)  # pre-closure rows are ignored
    every = bool(keep.all())  # the usual case: no row dropped, no copy of the columns

    def kept(x: FloatArray) -> FloatArray:
        return x if every else x[keep]

    cols: dict[str, FloatArray] = {}
    for col in gases:
        factor = GAS_COLUMNS[col][1]
        values = kept(_float_column(samples, "samples", col))
        cols[col] = values if factor == 1.0 else values * factor
    for col in ("temperature_c", "pressure_kpa"):
        cols[col] = kept(_float_column(samples, "samples", col))
    has_h2o = "h2o_mmol_mol" in samples.columns
    for col in ("h2o_mmol_mol", "lux"):
        cols[col] = (
            kept(_float_column(samples, "samples", col))
            if col in samples.columns
            else np.full(int(keep.sum()), np.nan)
        )
    pos_k = pos if every else pos[keep]
    el_k = kept(elapsed)
    # a total order that does not depend on the input row order (ties broken by values);
    # the contract asks for sorted input, so usually the check below spares the sort
    d_pos = np.diff(pos_k)
    d_el = np.diff(el_k)
    if not bool(np.all((d_pos > 0) | ((d_pos == 0) & (d_el > 0)))):
        tie = np.nan_to_num(cols[gases[0]], nan=np.inf)
        order = np.lexsort((tie, el_k, pos_k))
        pos_k, el_k = pos_k[order], el_k[order]
        for col in cols:
            cols[col] = cols[col][order]
    counts = np.bincount(pos_k, minlength=n_closures)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    volume = _closure_float(closures, "volume_cm3")
    area = _closure_float(closures, "area_cm2")
    for name, arr in (("volume_cm3", volume), ("area_cm2", area)):
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            ids = closures.index[bad][:5].tolist()
            raise ValueError(f"closures.{name} must be a positive number; bad in closures {ids}")
    db = _closure_float(closures, "deadband_s")
    obs = _closure_float(closures, "obs_length_s")
    own_lag = _closure_float(closures, "sensor_lag_s")
    if (own_lag < 0).any():
        ids = closures.index[own_lag < 0][:5].tolist()
        raise ValueError(f"closures.sensor_lag_s must be >= 0 s; negative in closures {ids}")
    lag = np.where(np.isfinite(own_lag), own_lag, opts.sensor_lag_s)
    # closures of similar length share a chunk, so padding wastes little
    by_length = np.argsort(counts, kind="stable")
    step = opts.chunk_closures
    for j0 in range(0, n_closures, step):
        rows = by_length[j0 : j0 + step]
        cnt = counts[rows]
        k = rows.size
        m = max(int(cnt.max()) if k else 0, 1)
        # each row reads its closure's run of samples, NaN past its end: m consecutive
        # values from the row's offset, copied row by row from a sliding-window view of the
        # column (a gather by a (k, m) index cost 5-7 times more; a scatter into a NaN-filled
        # array ten times more); rows whose m values would run past the column's end (the
        # last closures) take theirs by index
        n_rows = el_k.size
        start = offsets[rows]
        inside = start <= n_rows - m
        past_end = np.arange(m)[None, :] >= cnt[:, None]

        def pad(
            x: FloatArray,
            start: npt.NDArray[np.int64] = start,
            inside: BoolArray = inside,
            past_end: BoolArray = past_end,
            k: int = k,
            m: int = m,
        ) -> FloatArray:
            if x.size == 0:
                return np.full((k, m), np.nan)
            if inside.all():
                out = sliding_window_view(x, m)[start]
            else:
                out = np.empty((k, m))
                if inside.any():
                    out[inside] = sliding_window_view(x, m)[start[inside]]
                out_rows = ~inside
                index = np.minimum(start[out_rows][:, None] + np.arange(m), x.size - 1)
                out[out_rows] = x.take(index)
            out[past_end] = np.nan
            return out

        t = pad(el_k)
        head = int(np.count_nonzero(t < opts.initial_window_end_s, axis=1).max(initial=0))
        yield (
            rows,
            _Chunk(
                t=t,
                valid=np.isfinite(t),
                h2o=pad(cols["h2o_mmol_mol"]),
                temperature_c=pad(cols["temperature_c"]),
                pressure_kpa=pad(cols["pressure_kpa"]),
                lux=pad(cols["lux"]),
                gas={g: pad(cols[g]) for g in gases},
                volume_cm3=volume[rows],
                area_cm2=area[rows],
                deadband_s=db[rows],
                obs_length_s=obs[rows],
                sensor_lag_s=lag[rows],
                has_h2o=has_h2o,
                head=max(head, 1),
            ),
        )


def _row_mean(x: FloatArray, mask: BoolArray) -> FloatArray:
    ok = mask & np.isfinite(x)
    return safe_divide(np.where(ok, x, 0.0).sum(axis=1), ok.sum(axis=1).astype(np.float64))


def _change_across(t: FloatArray, y: FloatArray, mask: BoolArray) -> FloatArray:
    """Fitted change of y across the masked span (OLS slope × span) [unit of y]."""
    ok = mask & np.isfinite(y) & np.isfinite(t)
    b = make_batch(t, y, ok)
    slope = fit_linear_slope_batch(b)
    span = np.where(ok, t, -np.inf).max(axis=1) - np.where(ok, t, np.inf).min(axis=1)
    return np.asarray(slope * span)


def _process_gas(
    ch: _Chunk,
    gas_col: str,
    opts: FluxOptions,
    term: FloatArray,
) -> dict[str, npt.NDArray[np.generic]]:
    """All fits, fluxes and QC numbers of one gas for one chunk."""
    gas = GAS_COLUMNS[gas_col][0]
    precision = opts.precision_for(gas)
    c_wet = ch.gas[gas_col]
    valid = ch.valid & np.isfinite(c_wet)
    cdry = dry_mole_fraction(np.where(valid, c_wet, np.nan), ch.h2o, extrapolate=True)
    hd = ch.head
    c0 = initial_values(ch.t[:, :hd], cdry[:, :hd], valid[:, :hd], opts.initial_window_end_s)
    obs = ch.obs_length_s
    end = np.where(np.isfinite(obs), obs, np.inf)
    # the samples up to the end of the observation (all valid ones where no closure has one)
    observed = valid & (ch.t <= end[:, None]) if np.isfinite(obs).any() else valid
    if isinstance(opts.deadband_s, str):
        auto = auto_deadband(
            ch.t,
            cdry,
            observed,
            min_s=opts.auto_deadband_range_s()[0],
            max_s=opts.auto_deadband_range_s()[1],
            min_samples=opts.min_samples,
        )
        db = np.where(np.isfinite(ch.deadband_s), ch.deadband_s, auto)
    else:
        db = np.where(np.isfinite(ch.deadband_s), ch.deadband_s, float(opts.deadband_s))
    # the window starts after the dead band; a dead band of 0 takes the first sample too (as
    # the shared profile does, and as peers fitting whole tables do)
    win = observed & ((ch.t > db[:, None]) | (db[:, None] == 0))
    n_win = win.sum(axis=1)
    short = n_win < opts.min_samples
    win &= ~short[:, None]  # too few samples: flagged, not fitted
    b = make_batch(*compact_windows(ch.t, cdry, win))
    # sensor-lag compensation where soilflux chooses the start of the window itself: automatic
    # dead band, and no dead band of the closure's own (a LI-COR file's)
    auto_db = isinstance(opts.deadband_s, str) and opts.lag_compensation
    compensate = ~np.isfinite(ch.deadband_s) if auto_db else np.zeros(len(db), bool)
    h = None
    if (compensate & (ch.sensor_lag_s > 0)).any():
        h = lag_basis(b.t, b.w, np.where(compensate, ch.sensor_lag_s, 0.0))
    # the record's own straight-line change (no lag model) says whether CO2 rose at all
    plain = fit_linear_batch(b)
    if h is None:
        lin = plain
        rob = fit_robust_linear_batch(b)
        quad = fit_quadratic_batch(b, c0)
    else:
        lin = fit_linear_lag_batch(b, h)
        # robust line on the record with the (least-squares) lag transient removed: the
        # fast two-parameter IRLS; `fit_robust_linear_lag_batch` re-estimates B robustly
        # too, at three times the cost, for a fallback model
        lag_coef = np.asarray(lin.lag_coef, dtype=np.float64)
        b_lag = np.nan_to_num(lag_coef)[:, None] * h
        rob = fit_robust_linear_batch(b.with_c((b.c - b_lag) * b.w), maxit=20)
        # its SE must carry the lag column too: summary.rlm's SE is stddev·√((XᵀX)⁻¹)_bb,
        # and (XᵀX)⁻¹_bb grows with the extra column by the same factor as for OLS
        nf = b.n.astype(np.float64)
        unit_lag = lin.slope_se / np.sqrt(safe_divide(lin.sse, nf - 3))
        unit_plain = plain.slope_se / np.sqrt(safe_divide(plain.sse, nf - 2))
        inflate = np.where(np.abs(np.nan_to_num(lag_coef)) > 0, unit_lag / unit_plain, 1.0)
        rob = replace(rob, slope_se=rob.slope_se * inflate)
        quad = fit_quadratic_lag_batch(b, c0, h)
    curve = fit_exp_curve_batch(b, a_start=safe_divide(-2.0 * quad.b2, quad.b1), lag_basis=h)
    exp = exponential_from_curve(curve, c0)
    kmax = kappa_max(lin.slope, precision)
    hm = hm_from_curve(bounded_hm_curve(b, kmax, curve, 0.0, lag_basis=h), kmax, c0)

    out: dict[str, npt.NDArray[np.generic]] = {}
    slopes = {
        "linear": (lin.slope, lin.slope_se, lin.sse, lin.aicc, lin.ok),
        "robust": (rob.slope, rob.slope_se, rob.sse, rob.aicc, rob.ok),
        "exp": (exp.slope, exp.slope_se, exp.sse, exp.aicc, exp.ok),
        "hm": (hm.slope, hm.slope_se, hm.sse, hm.aicc, hm.ok),
        "quadratic": (quad.slope, quad.slope_se, quad.sse, quad.aicc, quad.ok),
    }
    for name, (slope, se, _, _, _) in slopes.items():
        out[f"flux_{name}"] = slope * term
        out[f"flux_{name}_se"] = se * np.abs(term)
    g = g_factor(out["flux_hm"], out["flux_linear"])
    if opts.method == "auto":
        sound = hm_is_sound(
            hm.ok,
            hm.at_bound,
            hm.kappa,
            kmax,
            g,
            np.asarray(out["flux_hm"], dtype=np.float64),
            np.asarray(out["flux_hm_se"], dtype=np.float64),
            g_limit=opts.g_factor_limit,
            max_relative_se=opts.hm_max_relative_se,
        )
        if opts.hm_fallback == "pooled":
            # provisional: the robust line everywhere it exists, curvature-corrected after
            # all chunks (`soilflux.pooling.select_pooled_hm`); HM only where sound and so
            # strongly curved (κ̂·T > POOLED_MAX_KAPPA_SPAN) that a line carries little of it
            strong = sound & (np.nan_to_num(hm.kappa * curve.span) > POOLED_MAX_KAPPA_SPAN)
            model = select_model(strong, rob.ok & ~strong, lin.ok & ~strong)
        else:
            model = select_model(sound, rob.ok, lin.ok)
    elif opts.method in ("hm_shared", "hm_averaged"):
        # set after all chunks, from the chamber's pool (`soilflux.pooling.select_shared_hm`)
        sound = np.zeros(b.n.size, dtype=bool)
        model = np.full(b.n.size, "")
    else:
        sound = np.zeros(b.n.size, dtype=bool)
        model = np.where(slopes[opts.method][4], opts.method, "")
    k = b.n.size
    out["flux_hm_averaged"] = np.full(k, np.nan)
    out["flux_hm_averaged_se"] = np.full(k, np.nan)
    if opts.averages_kappa:
        avg = averaged_hm_window(
            ch.t,
            cdry,
            observed,
            _averaged_start_s(ch.deadband_s, opts),
            np.where(_averaged_lagged(ch.deadband_s, opts), ch.sensor_lag_s, 0.0),
            opts.averaged_prior_straight,
            opts.averaged_max_kappa_span,
            opts.averaged_min_kappa_span,
        )
        out["flux_hm_averaged"] = avg.slope * term
        out["flux_hm_averaged_se"] = avg.slope_se * np.abs(term)
        use = np.isfinite(avg.slope) & ~short & (avg.n >= opts.min_samples)
        if opts.method == "auto":
            # the model fixes the lag's transient from the lid closing; a record that does not
            # follow it (another lag, no equilibrium at closing) fits worse than the free-lag
            # curve of the main window: the kappa.max rule then (methods §5)
            nf = b.n.astype(np.float64)
            free = np.where(exp.ok, safe_divide(exp.sse, nf - 4.0), safe_divide(lin.sse, nf - 3.0))
            own = safe_divide(avg.sse, avg.n.astype(np.float64) - 3.0)
            floor = (1e-6 * np.nan_to_num(avg.c_range)) ** 2
            use &= ~(own > opts.averaged_max_variance_ratio * np.nan_to_num(free) + floor)
        model = np.where(use, "hm_averaged", model)
        slopes["hm_averaged"] = (avg.slope, avg.slope_se, avg.sse, avg.aicc, use)
    # what the pooled-κ fallback needs (`select_pooled_hm`, after all chunks): how the
    # robust line's slope depends on curvature, and every closure's own κ̂ for the pool
    mu = np.full((k, LINE_MOMENTS), np.nan)
    t_ref = np.full(k, np.nan)
    span_w = np.full(k, np.nan)
    if opts.method == "auto" and opts.hm_fallback == "pooled":
        fb = np.flatnonzero(model == "robust")
        if fb.size:
            mu[fb], t_ref[fb], span_w[fb] = line_slope_moments(
                b.t[fb], b.w[fb], None if h is None else h[fb]
            )
    tau_fb = np.where(compensate, ch.sensor_lag_s, 0.0) if h is not None else np.zeros(k)
    k_hat = np.where(curve.converged & (~curve.at_bound | (curve.a == 0)), curve.a, np.nan)
    k_se = safe_sqrt(np.where(np.isfinite(k_hat), curve.cov[:, 2, 2], np.nan))
    dcdt = np.full(k, np.nan)
    sse = np.full(k, np.nan)
    aicc = np.full(k, np.nan)
    dcdt_se = np.full(k, np.nan)
    for name, (slope, slope_se, s, a, _) in slopes.items():
        sel = model == name
        dcdt[sel], sse[sel], aicc[sel] = slope[sel], s[sel], a[sel]
        dcdt_se[sel] = slope_se[sel]
    t_first = b.from_start()[0]  # NaN for an empty window (then span and frac are NaN)
    t_last = np.where(b.mask, b.t, -np.inf).max(axis=1)
    span = np.where(b.n > 0, t_last - t_first, np.nan)
    c_range = np.where(b.mask, b.c, -np.inf).max(axis=1) - np.where(b.mask, b.c, np.inf).min(axis=1)
    interval = safe_divide(span, (b.n - 1).astype(np.float64))
    mdf = (
        mdf_christiansen(precision, span, term)
        if opts.mdf_form == "christiansen"
        else mdf_nickerson(precision, span, interval, term)
    )
    # largest step between consecutive window samples (holes inside the window count)
    tw = np.where(b.mask, b.t, -np.inf)
    prev = np.maximum.accumulate(tw, axis=1)[:, :-1]
    steps = np.where(b.mask[:, 1:] & np.isfinite(prev), b.t[:, 1:] - prev, 0.0)
    max_step = steps.max(axis=1) if steps.shape[1] else np.zeros(k)
    frac = 1.0 - np.exp(-exp.a * (t_last - np.where(np.isfinite(exp.t0), exp.t0, t_first)))
    rises = np.abs(plain.slope * span) >= opts.stuck_co2_rise_ppm  # a curve, not noise
    saturated = (exp.ok & (exp.a > 0) & (frac >= opts.saturation_fraction) & rises) | (
        (np.where(valid, c_wet, -np.inf) >= opts.analyser_max_ppm * GAS_COLUMNS[gas_col][1]).any(
            axis=1
        )
        if gas == "co2"
        else np.zeros(k, dtype=bool)
    )
    out.update(
        n=b.n,
        deadband_s=db,
        flux_umol_m2_s=dcdt * term,
        model=model,
        dcdt_ppm_s=dcdt,
        r2=r_squared(sse, lin.sst),
        nrmse=nrmse(sse, b.n, c_range),
        aicc=aicc,
        mdf=np.abs(mdf),
        kappa=hm.kappa,
        kappa_max=kmax,
        g_factor=g,
        co2_change_ppm=plain.slope * span,
        flux_se=dcdt_se * np.abs(term),
    )
    out["n"] = n_win
    if opts.averages_kappa:  # the averaged HM's own window where it is selected
        sel = model == "hm_averaged"
        out["n"] = np.where(sel, avg.n, n_win)
        out["deadband_s"] = np.where(sel, avg.deadband_s, db)
        out["r2"] = np.where(sel, r_squared(sse, avg.sst), out["r2"])
        out["nrmse"] = np.where(sel, nrmse(sse, avg.n, avg.c_range), out["nrmse"])
    out["_mu"] = mu
    out["_sound"] = sound
    out["_t_ref"] = t_ref
    out["_span"] = span_w
    out["_tau"] = tau_fb
    out["_k_hat"] = k_hat
    out["_k_se"] = k_se
    out["_c0"] = c0
    out["_short"] = short
    if opts.shares_kappa:
        out.update(_shared_profile(ch, cdry, valid, end, opts))
    gap = (b.n >= 2) & (max_step > opts.gap_factor * interval)
    out["_gap"] = gap
    # the record's clock stepped inside the window (the gas did not move across the hole)
    step = np.zeros(k, dtype=bool)
    r = np.flatnonzero(gap)
    if r.size:
        sub = Batch(t=b.t[r], c=b.c[r], w=b.w[r], mask=b.mask[r], n=b.n[r])
        step[r] = clock_step(sub, opts.gap_factor)
    out["_clock_step"] = step
    # the soil's CO2 and H2O fluxes both stopped part-way through (a pot that clogged)
    out["_stopped"] = (
        flux_stopped(ch.t, cdry, ch.h2o, observed)
        if gas == "co2" and ch.has_h2o
        else np.zeros(k, dtype=bool)
    )
    out["_saturated"] = saturated
    return out


def _averaged_lagged(own_deadband_s: FloatArray, opts: FluxOptions) -> BoolArray:
    """Closures whose ``hm_averaged`` carries the analyser's lag from the lid closing:
    automatic dead band with `lag_compensation`, no dead band of their own."""
    auto = isinstance(opts.deadband_s, str) and opts.lag_compensation
    return np.asarray(~np.isfinite(own_deadband_s) & auto)


def _averaged_start_s(own_deadband_s: FloatArray, opts: FluxOptions) -> FloatArray:
    """Start of the ``hm_averaged`` window [s]: the closure's own dead band, else the
    option's; with the automatic dead band 0 s (the lag is in the model), or without
    `lag_compensation` the automatic rule's lowest dead band."""
    if isinstance(opts.deadband_s, str):
        default = 0.0 if opts.lag_compensation else opts.auto_deadband_range_s()[0]
    else:
        default = float(opts.deadband_s)
    return np.where(np.isfinite(own_deadband_s), own_deadband_s, default)


def _shared_profile(
    ch: _Chunk,
    cdry: FloatArray,
    valid: BoolArray,
    end: FloatArray,
    opts: FluxOptions,
) -> dict[str, npt.NDArray[np.generic]]:
    """Each closure's fits on the κ grid for the chamber-shared HM (`soilflux.fit.shared`).

    The window starts at the closure's own dead band, else at `FluxOptions.shared_deadband_s`
    (the model carries the analyser's lag, so no time is skipped for it) and ends where the
    main window ends.  Stored in float32: (closures × grid) arrays for a whole season.
    """
    own = np.isfinite(ch.deadband_s)
    db = np.where(own, ch.deadband_s, opts.shared_deadband_s)
    win = valid & ((ch.t > db[:, None]) | (db[:, None] == 0)) & (ch.t <= end[:, None])
    b = make_batch(*compact_windows(ch.t, cdry, win))
    tau = np.where(~own & opts.lag_compensation, ch.sensor_lag_s, 0.0)
    prof = kappa_profile(b, tau, KAPPA_GRID_S, dtype=np.float32)
    c_range = np.where(b.mask, b.c, -np.inf).max(axis=1) - np.where(b.mask, b.c, np.inf).min(axis=1)
    return {
        "_sh_sse": prof.sse,
        "_sh_slope": prof.slope,
        "_sh_se": prof.slope_se,
        "_sh_n": prof.n,
        "_sh_sst": prof.sst,
        "_sh_range": np.where(b.n > 0, c_range, np.nan),
        "_sh_db": db,
    }


def compute_fluxes(
    samples: pd.DataFrame,
    closures: pd.DataFrame,
    options: FluxOptions | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Fluxes of every closure and gas: all models, the selected flux, QC numbers and flags.

    Parameters
    ----------
    samples : DataFrame
        One row per sample: ``closure`` (key into `closures`), ``elapsed_s`` [s since the lid
        closed; negative rows are ignored], gas columns as measured (wet) ``co2_ppm``
        [µmol mol⁻¹], ``ch4_ppb``, ``n2o_ppb`` [nmol mol⁻¹] (at least one),
        ``temperature_c`` [°C], ``pressure_kpa`` [kPa], optional ``h2o_mmol_mol``
        [mmol mol⁻¹] (absent/NaN → dry air) and ``lux`` [lx].  Any row order.
    closures : DataFrame
        Index ``closure``; ``chamber``, ``location`` (optional), ``start``, ``end``,
        ``volume_cm3`` [cm³], ``area_cm2`` [cm²], optional ``deadband_s`` [s],
        ``obs_length_s`` [s, end of the fit window after the lid closed],
        ``sensor_lag_s`` [s, the analyser's first-order time constant, e.g. measured per
        device; NaN/absent → `FluxOptions.sensor_lag_s`] and ``segment_flags``
        (comma-separated, carried into ``flags``).
    options : FluxOptions, optional
        Defaults to ``FluxOptions()``.
    progress : bool
        Show a progress bar over chunks of closures.

    Returns
    -------
    DataFrame
        One row per closure and gas, columns `OUTPUT_COLUMNS`.  Every flux is in
        µmol m⁻² s⁻¹, for every gas (CH4 and N2O in ppb are converted to µmol mol⁻¹ before
        fitting, so their fluxes are µmol m⁻² s⁻¹ too: multiply by 1000 for nmol).
        ``dcdt_ppm_s`` is the selected model's ∂C′/∂t [µmol mol⁻¹ s⁻¹]; ``mdf``
        [µmol m⁻² s⁻¹]; ``kappa``, ``kappa_max`` [s⁻¹]; ``flags`` comma-separated.
        ``model`` is the selected model; with ``method="auto"`` and the opt-in
        ``hm_fallback="pooled"`` mostly ``"hm_pooled"`` (the robust line corrected for the
        HM curvature pooled over the call's closures; docs/soilflux/methods.md §5), so
        the selected flux of a closure then depends on the other closures of the call.

    Raises
    ------
    ValueError
        Missing columns, samples of unknown closures, non-numeric values, or a closure
        whose volume or area is not a positive number (naming the closures).
    """
    opts = options if options is not None else FluxOptions()
    _require(samples, "samples", ("closure", "elapsed_s", "temperature_c", "pressure_kpa"))
    _require(closures, "closures", ("chamber", "start", "end", "volume_cm3", "area_cm2"))
    gases = [g for g in GAS_COLUMNS if g in samples.columns]
    if not gases:
        raise ValueError(f"samples has no gas column; expected one of {', '.join(GAS_COLUMNS)}")
    n_closures = len(closures)
    if closures.index.has_duplicates:
        dup = closures.index[closures.index.duplicated()][:5].tolist()
        raise ValueError(f"closures.index (closure) has duplicates: {dup}")
    if opts.hm_fallback == "pooled" and n_closures < opts.pooled_min_closures:
        # too few closures to pool κ: the kappa.max rule (HM where sound, else robust line)
        opts = replace(opts, hm_fallback="robust")
    results: dict[str, dict[str, npt.NDArray[np.generic]]] = {}
    for g in gases:
        results[g] = {c: np.full(n_closures, np.nan) for c in _NUMERIC_OUT}
        results[g]["model"] = np.full(n_closures, "", dtype="<U11")
        results[g]["_bits"] = np.zeros(n_closures, dtype=np.int64)
        results[g]["_c0"] = np.full(n_closures, np.nan)
        results[g]["_rise"] = np.full(n_closures, np.nan)
        results[g]["_mu"] = np.full((n_closures, LINE_MOMENTS), np.nan)
        for c in ("_t_ref", "_span", "_tau", "_k_hat", "_k_se", "_flux_se", "_sound"):
            results[g][c] = np.full(n_closures, np.nan)
        results[g]["_term"] = np.full(n_closures, np.nan)
        results[g]["_stopped"] = np.zeros(n_closures)
        if opts.shares_kappa:
            for c in ("_sh_sse", "_sh_slope", "_sh_se"):
                results[g][c] = np.full((n_closures, KAPPA_GRID_S.size), np.nan, np.float32)
            for c in SHARED_COLUMNS:
                results[g][c] = np.full(n_closures, np.nan)
    chunks = _iter_chunks(samples, closures, gases, opts)
    if progress:
        from tqdm import tqdm

        total = -(-n_closures // opts.chunk_closures)
        chunks = iter(tqdm(chunks, total=total, unit="chunk", desc="closures"))

    def run(rows: npt.NDArray[np.int64], ch: _Chunk) -> None:
        _process_chunk(rows, ch, gases, opts, results)

    workers = opts.workers if opts.workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1:
        for rows, ch in chunks:
            run(rows, ch)
    else:
        # chunks write disjoint slices of the result arrays; numpy releases the GIL in its
        # loops, so threads use both cores.  At most 2 × workers chunks are in memory.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: list[Future[None]] = []
            for rows, ch in chunks:
                pending.append(pool.submit(run, rows, ch))
                if len(pending) >= 2 * workers:
                    pending.pop(0).result()
            for fut in pending:
                fut.result()
    if opts.method == "auto" and opts.hm_fallback == "pooled":
        select_pooled_hm(gases, opts, results)
    flag_not_flushed(closures, gases, opts, results)
    if opts.shares_kappa:
        select_shared_hm(closures, gases, opts, results)
    return _assemble(closures, gases, results)


@quiet
def _process_chunk(
    rows: npt.NDArray[np.int64],
    ch: _Chunk,
    gases: list[str],
    opts: FluxOptions,
    results: dict[str, dict[str, npt.NDArray[np.generic]]],
) -> None:
    """Fill `rows` of `results` from one padded chunk."""
    if True:
        base = ch.valid
        h, end0 = ch.head, opts.initial_window_end_s
        p0 = initial_values(ch.t[:, :h], ch.pressure_kpa[:, :h], base[:, :h], end0)
        t0 = initial_values(ch.t[:, :h], ch.temperature_c[:, :h], base[:, :h], end0)
        w0 = initial_values(ch.t[:, :h], ch.h2o[:, :h], base[:, :h], end0)
        term = flux_term(ch.volume_cm3, ch.area_cm2, p0, t0, w0, extrapolate=True)
        out_of_range = (
            ~((p0 >= PRESSURE_RANGE_KPA[0]) & (p0 <= PRESSURE_RANGE_KPA[1]))
            | ~((t0 >= TEMPERATURE_RANGE_C[0]) & (t0 <= TEMPERATURE_RANGE_C[1]))
            | (
                np.isfinite(w0)
                & ~((w0 >= WATER_RANGE_MMOL_MOL[0]) & (w0 <= WATER_RANGE_MMOL_MOL[1]))
            )
        )
        lux_mean = _row_mean(ch.lux, base)
        h2o_change = _change_across(ch.t, ch.h2o, base)
        per_gas = {g: _process_gas(ch, g, opts, term) for g in gases}
        # chamber-state flags come from CO2 (the gas the lid and the soil act on)
        stuck = np.zeros(rows.size, dtype=bool)
        clogged = np.zeros(rows.size, dtype=bool)
        if "co2_ppm" in per_gas:
            co2 = per_gas["co2_ppm"]
            no_rise = (
                np.abs(np.asarray(co2["co2_change_ppm"], dtype=np.float64))
                < opts.stuck_co2_rise_ppm
            )
            # a sealed chamber over soil only gains water: a rise says the lid closed, a fall
            # (exchange with drier air) or no change does not; NaN: unknown
            no_h2o = ~(h2o_change >= opts.stuck_h2o_change_mmol_mol)
            stuck = no_rise & no_h2o
            flux_sel = np.asarray(co2["flux_umol_m2_s"], dtype=np.float64)
            flux_se = np.asarray(co2["flux_se"], dtype=np.float64)
            near_zero = (np.abs(flux_sel) < opts.clogged_flux_umol_m2_s) | (
                np.abs(flux_sel) < opts.clogged_z * flux_se
            )
            clogged = (near_zero | np.asarray(co2["_stopped"], dtype=bool)) & ~stuck
        for g, out in per_gas.items():
            res = results[g]
            for c in _NUMERIC_OUT:
                if c in out:
                    res[c][rows] = out[c]
            res["model"][rows] = out["model"]
            res["lux_mean"][rows] = lux_mean
            res["t0_c"][rows] = t0
            res["p0_kpa"][rows] = p0
            res["w0_mmol_mol"][rows] = w0 if ch.has_h2o else np.nan
            res["_c0"][rows] = np.asarray(out["_c0"], dtype=np.float64)
            res["_rise"][rows] = np.asarray(out["co2_change_ppm"], dtype=np.float64)
            for c in ("_mu", "_t_ref", "_span", "_tau", "_k_hat", "_k_se", "_sound"):
                res[c][rows] = np.asarray(out[c], dtype=np.float64)
            res["_flux_se"][rows] = np.asarray(out["flux_se"], dtype=np.float64)
            res["_term"][rows] = term
            res["_stopped"][rows] = np.asarray(per_gas[g]["_stopped"], dtype=np.float64)
            if opts.shares_kappa:
                for c in ("_sh_sse", "_sh_slope", "_sh_se", *SHARED_COLUMNS):
                    res[c][rows] = out[c]
            flux_sel = np.asarray(out["flux_umol_m2_s"], dtype=np.float64)
            flags = {
                "daylight": lux_mean > opts.lux_threshold,
                "below_threshold": (flux_sel < opts.flux_threshold_umol_m2_s)
                if g == "co2_ppm"
                else np.zeros_like(stuck),
                "stuck_chamber": stuck,
                "clogged": clogged,
                "short": np.asarray(out["_short"], dtype=bool),
                "gap": np.asarray(out["_gap"], dtype=bool),
                "clock_skew": np.asarray(out["_clock_step"], dtype=bool),
                "fit_failed": ~np.isfinite(flux_sel),
                "saturated": np.asarray(out["_saturated"], dtype=bool),
                "out_of_range": out_of_range,
            }
            res["_bits"][rows] = flag_bits(flags, rows.size)


def _assemble(
    closures: pd.DataFrame,
    gases: list[str],
    results: dict[str, dict[str, npt.NDArray[np.generic]]],
) -> pd.DataFrame:
    """The output frame: one row per closure and gas, in closure order."""
    n_closures = len(closures)
    seg = (
        closures["segment_flags"]
        .astype(object)
        .where(closures["segment_flags"].notna(), "")
        .to_numpy()
        if "segment_flags" in closures.columns
        else np.full(n_closures, "", dtype=object)
    )
    ids = closures.reset_index(names="closure")
    if "location" not in ids.columns:
        ids["location"] = None
    ids = ids[["closure", "chamber", "location", "start", "end"]]  # keeps every dtype
    frames = []
    for gi, g in enumerate(gases):
        res = results[g]
        cols: dict[str, object] = {c: res[c] for c in OUTPUT_COLUMNS[6:-1]}
        cols["flux_se_umol_m2_s"] = res["_flux_se"]
        cols["n"] = np.nan_to_num(np.asarray(res["n"], dtype=np.float64)).astype(np.int64)
        cols["flags"] = flags_to_strings(np.asarray(res["_bits"], dtype=np.int64), seg)
        cols["_order"] = np.arange(n_closures) * len(gases) + gi
        frame = pd.concat(
            [ids.assign(gas=GAS_COLUMNS[g][0]), pd.DataFrame(cols, index=ids.index)], axis=1
        )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        out = out.sort_values("_order", kind="stable").reset_index(drop=True)
    out = out.drop(columns="_order")
    return out[list(OUTPUT_COLUMNS)]
