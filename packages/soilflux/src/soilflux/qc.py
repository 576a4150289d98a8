"""Quality control of closure fluxes: goodness of fit, detection limits, flags, selection.

Everything here is a pure, vectorised function of per-closure arrays, except `filtered`,
which works on the flux table that `soilflux.pipeline.compute_fluxes` returns.

Flags are never a silent deletion: they are written into the ``flags`` column, and
`filtered` applies them and reports how many closures each flag removed.

References
----------
Christiansen, J. R. et al. (2015). Agric. For. Meteorol. 211:48–57 (MDF).
Nickerson, N. (2016). "Extending MDF to high-frequency measurements", Eosense (MDF with the
standard error of the mean).
Hüppi, R. et al. (2018). PLOS ONE 13(7):e0200876 (κ_max).
Rheault, K. et al. (2024). goFlux, J. Open Source Softw. 9(96):6393 (g-factor, best.flux).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.fit._batch import BoolArray, FloatArray, safe_divide, safe_sqrt

#: Flags the engine raises, in bit order.  Segmenting may add its own (gap, duplicate_time,
#: clock_jump, out_of_order, short, …), carried through from ``closures.segment_flags``.
FLAGS: tuple[str, ...] = (
    "daylight",
    "below_threshold",
    "stuck_chamber",
    "clogged",
    "short",
    "gap",
    "fit_failed",
    "saturated",
    "out_of_range",
    "not_flushed",
)

#: Flags `filtered` drops by default: the Carbdown fleet's own filter (night only, fluxes
#: ≥ 0.1 µmol m⁻² s⁻¹, no stuck chambers or clogged pots) plus closures without a flux.
DEFAULT_DROP: tuple[str, ...] = (
    "daylight",
    "below_threshold",
    "stuck_chamber",
    "clogged",
    "fit_failed",
    "short",
)


def r_squared(sse: npt.ArrayLike, sst: npt.ArrayLike) -> FloatArray:
    """R² = 1 − SSE/SST [-] (SST about the mean of the window)."""
    return np.asarray(1.0 - safe_divide(np.asarray(sse, float), np.asarray(sst, float)))


def nrmse(sse: npt.ArrayLike, n: npt.ArrayLike, c_range: npt.ArrayLike) -> FloatArray:
    """Normalised RMSE = √(SSE/n) / (C_max − C_min) of the window [-]."""
    rmse = safe_sqrt(safe_divide(np.asarray(sse, float), np.asarray(n, float)))
    return safe_divide(rmse, np.asarray(c_range, float))


def mdf_christiansen(
    precision_ppm: npt.ArrayLike, closure_time_s: npt.ArrayLike, flux_term_mol_m2: npt.ArrayLike
) -> FloatArray:
    """Minimal detectable flux of Christiansen et al. (2015): MDF = (A_a / t_c) · flux_term.

    Parameters
    ----------
    precision_ppm : array_like
        Analyser precision A_a [µmol mol⁻¹].
    closure_time_s : array_like
        Closure (fit window) duration t_c [s], > 0.
    flux_term_mol_m2 : array_like
        V·P·(1 − W)/(R·S·T) from `soilflux.flux.flux_term` [mol m⁻²].

    Returns
    -------
    ndarray
        MDF [µmol m⁻² s⁻¹].
    """
    a = np.asarray(precision_ppm, dtype=np.float64)
    tc = np.asarray(closure_time_s, dtype=np.float64)
    return np.asarray(safe_divide(a, tc) * np.asarray(flux_term_mol_m2, dtype=np.float64))


def mdf_nickerson(
    precision_ppm: npt.ArrayLike,
    closure_time_s: npt.ArrayLike,
    sampling_interval_s: npt.ArrayLike,
    flux_term_mol_m2: npt.ArrayLike,
) -> FloatArray:
    """MDF of Nickerson (2016): the precision replaced by its standard error A_a/√(t_c/P_s).

    MDF = A_a / (t_c · √(t_c / P_s)) · flux_term.

    Parameters
    ----------
    precision_ppm : array_like
        Analyser precision A_a [µmol mol⁻¹].
    closure_time_s : array_like
        Closure duration t_c [s].
    sampling_interval_s : array_like
        Sampling period P_s [s].
    flux_term_mol_m2 : array_like
        See `mdf_christiansen` [mol m⁻²].

    Returns
    -------
    ndarray
        MDF [µmol m⁻² s⁻¹].
    """
    tc = np.asarray(closure_time_s, dtype=np.float64)
    n = safe_divide(tc, np.asarray(sampling_interval_s, dtype=np.float64))
    return np.asarray(mdf_christiansen(precision_ppm, tc, flux_term_mol_m2) / safe_sqrt(n))


def kappa_max(dcdt_linear_ppm_s: npt.ArrayLike, precision_ppm: npt.ArrayLike) -> FloatArray:
    """Largest plausible HM curvature, Hüppi et al. (2018): κ_max = f_lin / (MDF · t_c).

    With the Christiansen MDF this is |dC/dt_lin| / A_a (goFlux ``k.max``).

    Parameters
    ----------
    dcdt_linear_ppm_s : array_like
        Linear slope [µmol mol⁻¹ s⁻¹].
    precision_ppm : array_like
        Analyser precision A_a [µmol mol⁻¹].

    Returns
    -------
    ndarray
        κ_max [s⁻¹].
    """
    return safe_divide(
        np.abs(np.asarray(dcdt_linear_ppm_s, dtype=np.float64)),
        np.broadcast_to(np.asarray(precision_ppm, dtype=np.float64), np.shape(dcdt_linear_ppm_s)),
    )


def g_factor(flux_hm: npt.ArrayLike, flux_linear: npt.ArrayLike) -> FloatArray:
    """g-factor = F_HM / F_lin (goFlux; limits 4 flexible, 2 medium, 1.25 conservative) [-]."""
    return safe_divide(np.asarray(flux_hm, float), np.asarray(flux_linear, float))


def hm_is_sound(
    hm_ok: BoolArray,
    hm_at_bound: BoolArray,
    kappa: FloatArray,
    kappa_max_s: FloatArray,
    g: FloatArray,
    flux_hm: FloatArray,
    flux_hm_se: FloatArray,
    *,
    g_limit: float = 2.0,
    max_relative_se: float = 0.5,
) -> BoolArray:
    """Where the HM fit may be selected (the default selection rule).

    HM is sound where the fit converged strictly inside its bounds, 0 < κ < κ_max (Hüppi et
    al. 2018), |g-factor| ≤ `g_limit` (goFlux), and SE(F_HM) ≤ `max_relative_se`·|F_HM|.
    """
    rel_se = safe_divide(flux_hm_se, np.abs(flux_hm))
    return np.asarray(
        hm_ok
        & ~hm_at_bound
        & (kappa > 0)
        & (kappa < kappa_max_s)
        & (np.abs(g) <= g_limit)
        & (rel_se <= max_relative_se),
        dtype=bool,
    )


def select_model(
    hm_sound: BoolArray, robust_ok: BoolArray, linear_ok: BoolArray
) -> npt.NDArray[np.str_]:
    """Default model-selection rule: HM where sound, else robust linear, else linear.

    This is gasfluxes' ``kappa.max`` rule (Hüppi et al. 2018) with goFlux's g-factor and a
    standard-error guard added to "sound".  Returns "hm", "robust", "linear" or "" (none).
    """
    out = np.full(hm_sound.shape, "", dtype="<U6")
    out[linear_ok] = "linear"
    out[robust_ok] = "robust"
    out[hm_sound] = "hm"
    return out


def not_flushed(
    chamber: npt.ArrayLike,
    start_s: npt.ArrayLike,
    c0_ppm: npt.ArrayLike,
    rise_ppm: npt.ArrayLike,
    *,
    excess_ppm: float = 100.0,
    window_s: float = 6 * 3600.0,
    step_fraction: float = 0.5,
    min_step_ppm: float = 25.0,
    min_rise_ppm: float = 5.0,
    max_gap_s: float = 3600.0,
) -> BoolArray:
    """Closures that started in a chamber that was not flushed (a lid stuck closed).

    A working chamber is flushed with ambient air between closures, so every closure starts
    near the chamber's ambient level.  A lid stuck closed keeps accumulating: each closure
    starts where the previous one ended, or higher.  Per chamber, in order of start time, a
    closure is flagged where either

    * its C′₀ exceeds the lowest C′₀ of the chamber's closures that started within the
      preceding `window_s` (itself included) by more than `excess_ppm`, or
    * its C′₀ exceeds the previous closure's C′₀ (started at most `max_gap_s` earlier) by
      at least `min_step_ppm` and by at least `step_fraction` of the previous closure's
      own rise, where that rise was at least `min_rise_ppm` (the gas was not flushed out).

    Vectorised: one sort and a grouped rolling minimum, no loop over closures.

    Parameters
    ----------
    chamber : array_like
        Chamber key of each closure (any hashable values).
    start_s : array_like
        Start of each closure [s, any epoch]; NaN → the closure is not flagged.
    c0_ppm : array_like
        Initial dry mole fraction C′₀ of CO2 [µmol mol⁻¹]; NaN → not flagged.
    rise_ppm : array_like
        Fitted CO2 change across each closure's window [µmol mol⁻¹].
    excess_ppm, window_s, step_fraction, min_step_ppm, min_rise_ppm, max_gap_s : float
        The thresholds above [µmol mol⁻¹, s, -, µmol mol⁻¹, µmol mol⁻¹, s].

    Returns
    -------
    ndarray of bool
        In the input order.
    """
    codes, _ = pd.factorize(pd.Series(np.asarray(chamber, dtype=object)), use_na_sentinel=True)
    t = np.asarray(start_s, dtype=np.float64)
    c0 = np.asarray(c0_ppm, dtype=np.float64)
    rise = np.asarray(rise_ppm, dtype=np.float64)
    n = t.size
    out = np.zeros(n, dtype=bool)
    usable = np.flatnonzero(np.isfinite(t) & (codes >= 0))
    if usable.size == 0:
        return out
    order = usable[np.lexsort((t[usable], codes[usable]))]
    g, ts, c, r = codes[order], t[order], c0[order], rise[order]
    frame = pd.DataFrame({"g": g, "t": pd.to_datetime(ts, unit="s"), "c": c})
    lowest = (
        frame.groupby("g", sort=False)
        .rolling(pd.Timedelta(seconds=window_s), on="t", closed="both", min_periods=1)["c"]
        .min()
        .to_numpy(dtype=np.float64)
    )
    excess = c - lowest > excess_ppm
    step = np.zeros(order.size, dtype=bool)
    if order.size > 1:
        same = (g[1:] == g[:-1]) & (ts[1:] - ts[:-1] <= max_gap_s)
        dc = c[1:] - c[:-1]
        prev_rise = r[:-1]
        step[1:] = (
            same
            & (prev_rise >= min_rise_ppm)
            & (dc >= min_step_ppm)
            & (dc >= step_fraction * prev_rise)
        )
    out[order] = excess | step
    return out


def flag_bits(flags: dict[str, BoolArray], size: int) -> npt.NDArray[np.int64]:
    """Pack named boolean flags into integers, bit i ↔ FLAGS[i]."""
    bits = np.zeros(size, dtype=np.int64)
    for i, name in enumerate(FLAGS):
        if name in flags:
            bits |= np.asarray(flags[name], dtype=bool).astype(np.int64) << i
    return bits


def flags_to_strings(bits: npt.NDArray[np.int64], extra: Iterable[str] | None = None) -> list[str]:
    """Comma-separated flag strings from packed bits (+ optional extra flag strings per row).

    Only the distinct combinations are formatted, so this is fast on millions of rows.
    """
    bits = np.asarray(bits, dtype=np.int64)
    extra_arr = (
        np.asarray(list(extra), dtype=object)
        if extra is not None
        else np.full(bits.size, "", dtype=object)
    )
    extra_codes, extra_uniques = pd.factorize(pd.Series(extra_arr).fillna(""))
    key = bits * max(len(extra_uniques), 1) + extra_codes
    uniq, inv = np.unique(key, return_inverse=True)
    texts = []
    for u in uniq:
        b, e = divmod(int(u), max(len(extra_uniques), 1))
        names = [n for i, n in enumerate(FLAGS) if b >> i & 1]
        seg = str(extra_uniques[e]) if len(extra_uniques) else ""
        for s in (x.strip() for x in seg.split(",")):
            if s and s not in names:
                names.append(s)
        texts.append(",".join(names))
    return list(np.asarray(texts, dtype=object)[inv])


def has_flag(flags: pd.Series, name: str) -> pd.Series:
    """Whether each comma-separated ``flags`` string contains `name`."""
    padded = "," + flags.fillna("").astype(str) + ","
    return padded.str.contains("," + name + ",", regex=False)


def filtered(
    fluxes: pd.DataFrame, drop_flags: Iterable[str] = DEFAULT_DROP
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply flags: the kept rows, and how many closures each flag removed.

    Parameters
    ----------
    fluxes : DataFrame
        Output of `soilflux.pipeline.compute_fluxes` (needs a ``flags`` column).
    drop_flags : iterable of str
        Flags that remove a row, applied in this order.

    Returns
    -------
    kept : DataFrame
        Rows carrying none of `drop_flags` (a copy; `fluxes` is unchanged).
    report : DataFrame
        One row per flag in `drop_flags`, then ``total``: ``flagged`` (rows carrying the
        flag), ``removed`` (rows removed by it that no earlier flag had removed) and
        ``removed_pct`` (removed as % of all rows).  Rows are closures × gases.
    """
    if "flags" not in fluxes.columns:
        raise ValueError("fluxes has no 'flags' column; pass the output of compute_fluxes")
    drop = list(dict.fromkeys(drop_flags))
    total = len(fluxes)
    gone = pd.Series(False, index=fluxes.index)
    rows = []
    for name in drop:
        hit = has_flag(fluxes["flags"], name)
        newly = hit & ~gone
        rows.append((name, int(hit.sum()), int(newly.sum())))
        gone |= hit
    rows.append(("total", int(gone.sum()), int(gone.sum())))
    report = pd.DataFrame(rows, columns=["flag", "flagged", "removed"])
    report["removed_pct"] = 100.0 * report["removed"] / total if total else 0.0
    return fluxes.loc[~gone].copy(), report
