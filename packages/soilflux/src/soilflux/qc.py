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
    "clock_skew",
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
    "clock_skew",
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


#: Moments of the slope weights kept per closure for `line_curvature_factor` (p = 2 … 12).
LINE_MOMENTS = 11


def line_slope_moments(
    t_s: FloatArray, w: FloatArray, lag_basis: FloatArray | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """What a least-squares line's slope makes of a curve: moments of its slope weights.

    The OLS slope of a window (columns 1, t and, with lag compensation, the transient
    e^{−t/τ_s}) is b̂ = Σⱼ ωⱼ cⱼ with weights ω that depend on the sample times only.  The
    moments μ_p = Σⱼ ωⱼ τⱼ^p / T^{p−1} (τ = t − t_ref from the window start t_ref, T the
    window length) are all `line_curvature_factor` needs to say how far that slope falls
    below the initial slope of an HM curve of any κ.  μ₁ = 1 (a line gives its own slope).

    Parameters
    ----------
    t_s : (k, m) float
        Times since the lid closed, 0 outside the window [s].
    w : (k, m) float
        1 inside the window, 0 outside.
    lag_basis : (k, m) float or None
        The transient column of the lag-compensated line (`soilflux.fit.lag.lag_basis`).

    Returns
    -------
    mu : (k, LINE_MOMENTS) float
        μ_p for p = 2 … LINE_MOMENTS + 1 [-]; NaN where the line is not defined.
    t_ref : (k,) float
        Window start [s].
    span : (k,) float
        Window length T [s].
    """
    k = t_s.shape[0]
    mask = w > 0
    t_ref = np.where(mask, t_s, np.inf).min(axis=1) if k else np.zeros(0)
    t_ref = np.where(np.isfinite(t_ref), t_ref, np.nan)
    tau = (t_s - np.nan_to_num(t_ref)[:, None]) * w
    span = tau.max(axis=1) if tau.size else np.zeros(k)
    u = tau / np.where(span > 0, span, 1.0)[:, None]  # in [0, 1]
    n = w.sum(axis=1)
    su = u.sum(axis=1)
    # by Frisch–Waugh–Lovell the slope weights are u's residual after the other columns
    # (1 and the transient), normalised so that Σ ω u = 1
    mean_u = safe_divide(su, n)
    alpha, beta = mean_u, np.zeros(k)
    if lag_basis is not None:
        sh = lag_basis.sum(axis=1)
        shh = np.einsum("ij,ij->i", lag_basis, lag_basis)
        suh = np.einsum("ij,ij->i", u, lag_basis)
        det = n * shh - sh**2
        good = det > 1e-9 * n * shh  # a transient that vanished on the window is dropped
        den = np.where(good, det, 1.0)
        alpha = np.where(good, (shh * su - sh * suh) / den, mean_u)
        beta = np.where(good, (n * suh - sh * su) / den, 0.0)
    resid = (u - np.nan_to_num(alpha)[:, None]) * w
    if lag_basis is not None:
        resid -= beta[:, None] * lag_basis
    norm = np.einsum("ij,ij->i", resid, u)
    mu = np.empty((k, LINE_MOMENTS))
    up = u * u
    for i in range(LINE_MOMENTS):
        mu[:, i] = np.einsum("ij,ij->i", resid, up)
        if i + 1 < LINE_MOMENTS:
            up *= u
    ok = (n >= (3 if lag_basis is None else 4)) & (span > 0) & (norm > 1e-12 * n)
    mu = safe_divide(mu, np.where(ok, norm, np.nan)[:, None])
    return mu, t_ref, span


def line_curvature_factor(
    mu: FloatArray, t_ref_s: FloatArray, span_s: FloatArray, kappa_s: FloatArray, tau_s: FloatArray
) -> FloatArray:
    """Expected (line slope) / (true initial slope) for an HM curve of curvature κ.

    A closure that follows C(t) = C₀ + s(1 − e^{−κt})/κ from the lid closing (t = 0), seen
    through a first-order sensor lag τ_s, gives the lag-compensated line (`line_slope_moments`)
    the slope s·r(κ) in expectation, with

        r(κ) = e^{−κ t_ref} / (1 − κτ_s) · Σ_{p≥1} (−κT)^{p−1} μ_p / p!

    (the constant and the transient lie in the line's columns; e^{−κτ} is expanded in
    powers of τ/T).  τ_s = 0 for lines fitted without the transient.  The series is
    truncated after p = LINE_MOMENTS + 1, exact to < 1e-6 for κT ≤ 2; κT is capped at 3.

    Parameters
    ----------
    mu : (k, LINE_MOMENTS) float
        From `line_slope_moments`.
    t_ref_s, span_s : (k,) float
        Window start and length [s].
    kappa_s : (k,) float
        HM curvature κ ≥ 0 [s⁻¹].
    tau_s : (k,) float
        Sensor time constant of the transient fitted with the line (0: none) [s].

    Returns
    -------
    (k,) float
        r(κ) [-]; 1 at κ = 0.
    """
    kappa = np.asarray(kappa_s, dtype=np.float64)
    x = -np.minimum(kappa * span_s, 3.0)
    total = np.ones_like(x)
    term = np.ones_like(x)
    fact = 1.0
    for i in range(mu.shape[1]):
        p = i + 2
        fact *= p
        term = term * x
        total = total + term * mu[:, i] / fact
    lag = np.asarray(tau_s, dtype=np.float64)
    return np.asarray(np.exp(-kappa * t_ref_s) / (1.0 - kappa * lag) * total)


def shrunk_kappa(
    kappa_s: npt.ArrayLike, kappa_se_s: npt.ArrayLike
) -> tuple[FloatArray, float, float]:
    """Empirical-Bayes curvature of every closure: its own κ̂ shrunk toward the pool's.

    HM's κ is a property of the chamber and its soil (headspace height, diffusivity), not of
    the size of the flux, so a closure too noisy to estimate its own κ can borrow it from
    the closures that could.  With κ̂ᵢ ± sᵢ the fitted curvatures of the call, the
    between-closure variance v is DerSimonian–Laird's (method of moments, ≥ 0), the centre
    κ̄ the random-effects mean Σ κ̂ᵢ/(sᵢ² + v) / Σ 1/(sᵢ² + v), and

        κᵢ* = κ̄ + v/(v + sᵢ²)·(κ̂ᵢ − κ̄),   clipped to ≥ 0

    (the posterior mean under a normal prior N(κ̄, v)): a precise κ̂ stays, a vague one
    goes to κ̄.  Members: finite κ̂ ≥ 0 with a finite SE > 0; a closure with SE 0 keeps its
    κ̂, one without κ̂ gets κ̄.  Order-invariant.

    Parameters
    ----------
    kappa_s, kappa_se_s : array_like
        Fitted curvature κ̂ ≥ 0 and its standard error per closure [s⁻¹].

    Returns
    -------
    kappa_star : (k,) float
        κᵢ* [s⁻¹] (NaN where neither the closure nor the pool has a κ̂).
    centre : float
        κ̄ [s⁻¹] (NaN without members).
    between_var : float
        v [s⁻²].
    """
    kap = np.asarray(kappa_s, dtype=np.float64)
    se = np.asarray(kappa_se_s, dtype=np.float64)
    member = np.isfinite(kap) & (kap >= 0) & np.isfinite(se) & (se > 0)
    exact = np.isfinite(kap) & (kap >= 0) & (se == 0)
    if member.sum() < 2:
        centre = float(np.mean(kap[member])) if member.any() else np.nan
        return np.where(exact | member, kap, centre), centre, 0.0
    x, s2 = kap[member], se[member] ** 2
    w = 1.0 / s2
    fixed = float(np.sum(w * x) / np.sum(w))
    q = float(np.sum(w * (x - fixed) ** 2))
    denom = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    between = max((q - (x.size - 1)) / denom, 0.0) if denom > 0 else 0.0
    wr = 1.0 / (s2 + between)
    centre = float(np.sum(wr * x) / np.sum(wr))
    own = between / (between + np.where(member, se, 1.0) ** 2)
    star = np.where(member, centre + own * (kap - centre), centre)
    star = np.where(exact, kap, star)
    return np.maximum(star, 0.0), centre, between


def lag_calibration(
    flux_hm: FloatArray,
    flux_line: FloatArray,
    factor_at_own_kappa: FloatArray,
    kappa_s: FloatArray,
    precise: BoolArray,
    *,
    min_closures: int = 20,
) -> float:
    """Systematic difference c between the curvature-corrected line and HM, per unit of κ.

    `line_curvature_factor` assumes the sensor lag it is told; HM does not need to (its
    slope is taken where the curve passes C′₀).  On closures where HM is precise, the ratio
    ρᵢ = F_HM,ᵢ·r(κ̂ᵢ)/F_lineᵢ should be 1; a lag that is not there (or not as long) gives
    ρ ≈ 1/(1 − κτ_s).  c = median of (1 − 1/ρᵢ)/κ̂ᵢ over the `precise` closures (0 when
    fewer than `min_closures`), and the corrected line is F_line/(r(κ)·(1 − cκ)) [s].
    """
    ratio = safe_divide(flux_hm * factor_at_own_kappa, flux_line)
    ci = safe_divide(1.0 - safe_divide(np.ones_like(ratio), ratio), kappa_s)
    use = precise & np.isfinite(ci)
    if use.sum() < min_closures:
        return 0.0
    return float(np.median(ci[use]))


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
