"""Analyser precision from a steady-air record: white noise, Allan deviation, drift.

A gas analyser left in steady air (a calibration room, a flushed chamber, a gas bottle)
reads y_i = c + d·t_i + w(t_i) + ε_i: the true concentration c, a slow drift d, slower
wander w (the room air itself) and the reading noise ε_i. The precision A_a that soilflux
uses in the minimal detectable flux and κ_max (``FluxOptions.precision_ppm``) is the
standard deviation of ε per reading. This module estimates it per sensor without being
misled by the drift, the wander, a few spikes or gaps in the record:

* σ_white from first differences, 1.4826·MAD(Δy)/√2 (:func:`sigma_white`);
* the overlapping Allan deviation σ_A(τ), τ = m·Δt (:func:`allan_deviation`), which for
  white noise equals σ_white at τ = Δt and falls as τ^-1/2 — where it stops falling,
  averaging stops helping;
* the lag-1 autocorrelation of the detrended readings (:func:`lag1_autocorrelation`) and
  the drift (:func:`drift_per_h`);
* all of it per sensor over a long table (:func:`noise_summary`, :func:`allan_table`).

Series are regularly sampled with step Δt (the median step); a step longer than
``gap_factor``·Δt (default 3) splits a series into segments (:func:`split_at_gaps`) and
no statistic takes a difference or an average across a gap. Nothing is interpolated.

Values are in the unit of the column analysed ([µmol mol⁻¹] = [ppm] for ``co2_ppm``);
times in [s].

References
----------
Allan, D. W. (1966). Statistics of atomic frequency standards. Proc. IEEE 54(2), 221–230.
IEEE Std 1139-2008. Standard definitions of physical quantities for fundamental frequency
and time metrology — random instabilities.
Riley, W. J. (2008). Handbook of Frequency Stability Analysis. NIST Special Publication
1065 (§5.2.4 overlapping Allan variance; §5.3.3 equivalent degrees of freedom).
Howe, D. A., Allan, D. W., Barnes, J. A. (1981). Properties of signal sources and
measurement methods. Proc. 35th Frequency Control Symposium (edf of the overlapping
Allan variance).
Rousseeuw, P. J., Croux, C. (1993). Alternatives to the median absolute deviation.
J. Am. Stat. Assoc. 88, 1273–1283 (MAD consistency factor 1.4826 and its efficiency).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Consistency factor of the MAD for a normal distribution: 1/Φ⁻¹(3/4).
MAD_TO_SIGMA = 1.482602218505602
#: A step longer than this many median steps is a gap (as in :mod:`soilflux.segment`).
GAP_FACTOR = 3.0
#: Fewest readings of one sensor :func:`noise_summary` accepts.
MIN_READINGS = 20


def split_at_gaps(
    time_s: npt.ArrayLike, *, gap_factor: float = GAP_FACTOR, name: str = "series"
) -> tuple[IntArray, float]:
    """Segment number of each reading, a new segment after each gap.

    Δt = median(t_{i+1} − t_i); a step > ``gap_factor``·Δt starts a new segment.

    Parameters
    ----------
    time_s : array_like
        Reading times [s], finite and strictly increasing.
    gap_factor : float
        A step longer than this many median steps is a gap [–], > 1.
    name : str
        Name of the series in error messages (e.g. the sensor).

    Returns
    -------
    segment : numpy.ndarray of int
        0, 0, …, 1, 1, … (non-decreasing, one number per reading).
    dt_s : float
        The sampling interval Δt, the median step [s].

    Raises
    ------
    ValueError
        Fewer than 2 readings, non-finite times, or times that do not strictly increase
        (the message names ``name`` and the first offending reading).
    """
    t = np.asarray(time_s, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"{name}: need at least 2 readings, got {t.size}")
    if not gap_factor > 1:
        raise ValueError(f"gap_factor must be > 1, got {gap_factor!r}")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"{name}: time of reading {int(bad[0])} is not finite")
    step = np.diff(t)
    back = np.flatnonzero(step <= 0)
    if back.size:
        i = int(back[0])
        raise ValueError(
            f"{name}: time is not strictly increasing at reading {i + 1} "
            f"({t[i + 1]:g} s after {t[i]:g} s)"
        )
    dt_s = float(np.median(step))
    segment = np.concatenate([[0], np.cumsum(step > gap_factor * dt_s)]).astype(np.int64)
    return segment, dt_s


def _segments(n: int, segment: npt.ArrayLike | None, name: str) -> IntArray:
    """Validated segment numbers (all 0 when ``segment`` is None)."""
    if segment is None:
        return np.zeros(n, dtype=np.int64)
    seg = np.asarray(segment)
    if seg.shape != (n,):
        raise ValueError(f"{name}: segment must have one entry per reading ({n}), got {seg.shape}")
    seg = seg.astype(np.int64)
    if np.any(np.diff(seg) < 0):
        raise ValueError(f"{name}: segment numbers must not decrease")
    return seg


def _values(values: npt.ArrayLike, name: str) -> FloatArray:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"{name}: values must be one-dimensional, got shape {y.shape}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"{name}: value of reading {int(bad[0])} is not finite")
    return y


def allan_deviation(
    values: npt.ArrayLike,
    m: npt.ArrayLike,
    *,
    segment: npt.ArrayLike | None = None,
    name: str = "series",
) -> tuple[FloatArray, IntArray]:
    """Overlapping Allan deviation σ_A(τ) at τ = m·Δt of a regularly sampled series.

    With ȳ_j(m) the mean of the m readings y_j … y_{j+m−1} (Riley 2008, eq. 11 written for
    readings instead of fractional frequency; Allan 1966; IEEE Std 1139)::

        σ_A²(m·Δt) = 1 / (2·K) · Σ_{j} (ȳ_{j+m}(m) − ȳ_j(m))²,

    the sum over every start j (overlapping) whose 2·m readings lie in one segment, K the
    number of such j (M − 2m + 1 for one segment of M readings). Computed from the
    cumulative sum X_k = Σ_{i<k} y_i as ȳ_{j+m} − ȳ_j = (X_{j+2m} − 2·X_{j+m} + X_j)/m.
    Segments are pooled: their squared differences are summed and divided by their
    total count. For white noise of standard deviation σ, σ_A(m·Δt) = σ/√m.

    Parameters
    ----------
    values : array_like
        Readings in time order, one segment after the other [unit of the readings].
    m : array_like of int
        Averaging factors, ≥ 1 (τ = m·Δt).
    segment : array_like of int, optional
        Segment number of each reading, non-decreasing (:func:`split_at_gaps`); default one
        segment.
    name : str
        Name of the series in error messages.

    Returns
    -------
    adev : numpy.ndarray
        σ_A at each m [unit of the readings]; NaN where no segment holds 2·m readings.
    n_terms : numpy.ndarray of int
        K, the number of overlapping differences behind each value.
    """
    y = _values(values, name)
    seg = _segments(y.size, segment, name)
    ms = np.atleast_1d(np.asarray(m))
    if ms.ndim != 1 or not np.issubdtype(ms.dtype, np.integer) or np.any(ms < 1):
        raise ValueError(f"m must be integers >= 1, got {np.asarray(m)!r}")
    # centring keeps the cumulative sum small; it cancels in the second differences
    x = np.concatenate([[0.0], np.cumsum(y - (y.mean() if y.size else 0.0))])
    adev = np.full(ms.size, np.nan)
    n_terms = np.zeros(ms.size, dtype=np.int64)
    for k, mk in enumerate(ms.tolist()):
        if 2 * mk > y.size:
            continue
        j = np.arange(y.size - 2 * mk + 1)
        inside = seg[j] == seg[j + 2 * mk - 1]
        j = j[inside]
        if j.size == 0:
            continue
        d = (x[j + 2 * mk] - 2.0 * x[j + mk] + x[j]) / mk
        adev[k] = math.sqrt(0.5 * float(np.mean(d * d)))
        n_terms[k] = j.size
    return adev, n_terms


def allan_edf_white(n_readings: npt.ArrayLike, m: npt.ArrayLike) -> FloatArray:
    """Equivalent degrees of freedom of the overlapping Allan variance, white noise.

    For white noise in the readings (white FM in Riley's terms), with N = M + 1 points of
    the cumulative sum of M readings (Howe, Allan & Barnes 1981; Riley 2008 §5.3.3)::

        edf = (3·(N − 1)/(2·m) − 2·(N − 2)/N) · 4·m² / (4·m² + 5)

    σ̂_A²/σ_A² then follows χ²(edf)/edf: the relative standard error of σ̂_A is about
    1/√(2·edf). Independent segments add their edf.

    Parameters
    ----------
    n_readings : array_like of int
        Readings M in the segment [–].
    m : array_like of int
        Averaging factor [–], 2·m ≤ M.

    Returns
    -------
    numpy.ndarray
        edf [–]; NaN where 2·m > M.
    """
    big_m = np.asarray(n_readings, dtype=np.float64)
    mm = np.asarray(m, dtype=np.float64)
    n = big_m + 1.0
    edf = (3.0 * (n - 1.0) / (2.0 * mm) - 2.0 * (n - 2.0) / n) * 4.0 * mm**2 / (4.0 * mm**2 + 5.0)
    return np.asarray(np.where(2.0 * mm <= big_m, edf, np.nan), dtype=np.float64)


def _within(seg: IntArray) -> npt.NDArray[np.bool_]:
    """Which first differences lie inside one segment."""
    return np.asarray(seg[1:] == seg[:-1], dtype=np.bool_)


def sigma_white(
    values: npt.ArrayLike, *, segment: npt.ArrayLike | None = None, name: str = "series"
) -> float:
    """White-noise standard deviation per reading from first differences.

    Δy_i = y_{i+1} − y_i inside segments; for white noise of σ, Var(Δy) = 2σ², so::

        σ_white = 1.4826 · median(|Δy − median(Δy)|) / √2

    A linear drift adds a constant to every Δy and drops out exactly; slower wander is
    second order; a spike spoils two differences, which the median ignores (breakdown
    50 %). Correlated noise (lag-1 autocorrelation ρ₁) gives σ·√(1 − ρ₁) instead of σ.
    Standard error: :func:`sigma_white_se`.

    Parameters
    ----------
    values : array_like
        Readings in time order [unit of the readings].
    segment : array_like of int, optional
        Segment numbers (:func:`split_at_gaps`); no difference is taken across segments.
    name : str
        Name of the series in error messages.

    Returns
    -------
    float
        σ_white [unit of the readings].
    """
    y = _values(values, name)
    seg = _segments(y.size, segment, name)
    d = np.diff(y)[_within(seg)]
    if d.size < 2:
        raise ValueError(f"{name}: need at least 2 consecutive differences, got {d.size}")
    return float(MAD_TO_SIGMA * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


@functools.lru_cache(maxsize=1)
def _mad_variance_factor() -> float:
    """Asymptotic n·Var(σ̂_white)/σ² for Gaussian white noise (see :func:`sigma_white_se`)."""
    from scipy import integrate, stats

    q = float(stats.norm.ppf(0.75))  # MAD of a standard normal
    rho = -0.5  # correlation of consecutive first differences of white noise
    s = math.sqrt(1.0 - rho * rho)

    def inner(x: float) -> float:
        upper = float(stats.norm.cdf((q - rho * x) / s))
        lower = float(stats.norm.cdf((-q - rho * x) / s))
        return float(stats.norm.pdf(x)) * (upper - lower)

    both_inside = float(integrate.quad(inner, -q, q, epsabs=1e-13, epsrel=1e-12)[0])
    sign_correlation = 4.0 * (both_inside - 0.25)
    iid = 1.0 / (4.0 * q * float(stats.norm.pdf(q))) ** 2
    return iid * (1.0 + 2.0 * sign_correlation)


def sigma_white_se(sigma: npt.ArrayLike, n_differences: npt.ArrayLike) -> FloatArray:
    """Asymptotic standard error of :func:`sigma_white` for Gaussian white noise.

    The MAD's influence function is sign(|Δ| − q)/(4·f(q)) (q the MAD, f the density of
    Δ): for independent Δ the relative standard error of 1.4826·MAD is
    1/(4·q₀·φ(q₀)·√n) = 1.1664/√n, q₀ = Φ⁻¹(3/4) (Rousseeuw & Croux 1993). Consecutive
    differences of white noise correlate with ρ = −½, which correlates consecutive signs;
    the variance is multiplied by 1 + 2·Corr(sign₁, sign₂) = 1.2128 (bivariate normal
    integral), giving::

        SE(σ̂_white) ≈ 1.2845 · σ / √n

    Parameters
    ----------
    sigma : array_like
        σ_white [unit of the readings].
    n_differences : array_like of int
        Number of first differences used, inside segments [–].

    Returns
    -------
    numpy.ndarray
        Standard error [unit of the readings].
    """
    n = np.asarray(n_differences, dtype=np.float64)
    se = np.asarray(sigma, dtype=np.float64) * math.sqrt(_mad_variance_factor()) / np.sqrt(n)
    return np.asarray(se, dtype=np.float64)


def _line(t: FloatArray, y: FloatArray) -> tuple[float, FloatArray]:
    """Least-squares slope through all readings and the residuals about that line."""
    tc = t - t.mean()
    yc = y - y.mean()
    sxx = float(np.dot(tc, tc))
    if sxx == 0.0:
        return math.nan, yc
    slope = float(np.dot(tc, yc)) / sxx
    return slope, yc - slope * tc


def drift_per_h(time_s: npt.ArrayLike, values: npt.ArrayLike, *, name: str = "series") -> float:
    """Drift: the slope of the least-squares line through all readings, per hour.

    ::

        d = 3600 · Σ (t_i − t̄)(y_i − ȳ) / Σ (t_i − t̄)²

    One line through every reading, across gaps: over a record of hours it is far better
    determined than slopes inside short segments, but a step between segments (a
    restart, a recalibration) shows up as drift.

    Parameters
    ----------
    time_s : array_like
        Reading times [s].
    values : array_like
        Readings [unit of the readings].
    name : str
        Name of the series in error messages.

    Returns
    -------
    float
        Drift [unit of the readings h⁻¹]; NaN when all readings share one time.
    """
    y = _values(values, name)
    t = np.asarray(time_s, dtype=np.float64)
    if t.shape != y.shape or y.size < 2:
        raise ValueError(f"{name}: need >= 2 times and values of one length ({t.size}, {y.size})")
    slope, _ = _line(t - t[0], y)
    return slope * 3600.0


def lag1_autocorrelation(
    time_s: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    segment: npt.ArrayLike | None = None,
    name: str = "series",
) -> float:
    """Lag-1 autocorrelation of the readings after removing the drift line.

    r = the residuals about a line with one slope for all segments and one intercept per
    segment (a step across a gap does not count); pairs only inside segments::

        ρ₁ = Σ r_i·r_{i+1} / Σ r_i²

    ≈ 0 for white noise (bias −O(1/n)); AR(1) noise r_i = φ·r_{i−1} + e_i gives φ.
    Anything slower than the line — the room air's own changes — also raises it; the
    Allan deviation shows at which τ.

    Parameters
    ----------
    time_s : array_like
        Reading times [s].
    values : array_like
        Readings [unit of the readings].
    segment : array_like of int, optional
        Segment numbers (:func:`split_at_gaps`).
    name : str
        Name of the series in error messages.

    Returns
    -------
    float
        ρ₁ [–]; NaN when the residuals are all zero.
    """
    y = _values(values, name)
    t = np.asarray(time_s, dtype=np.float64)
    if t.shape != y.shape or y.size < 2:
        raise ValueError(f"{name}: need >= 2 times and values of one length ({t.size}, {y.size})")
    seg = _segments(y.size, segment, name)
    _, inverse, counts = np.unique(seg, return_inverse=True, return_counts=True)
    tc = t - (np.bincount(inverse, weights=t) / counts)[inverse]
    r = y - (np.bincount(inverse, weights=y) / counts)[inverse]
    sxx = float(np.dot(tc, tc))
    if sxx > 0.0:
        r = r - float(np.dot(tc, r)) / sxx * tc
    denominator = float(np.dot(r, r))
    if denominator == 0.0:
        return math.nan
    within = _within(seg)
    return float(np.dot(r[:-1][within], r[1:][within])) / denominator


def _time_seconds(time: pd.Series, column: str, first_line: int) -> FloatArray:
    """Seconds since 1970 (UTC) of datetimes or ISO 8601 text; numbers are taken as [s]."""
    if pd.api.types.is_bool_dtype(time):
        raise ValueError(f"column {column!r}: not times")
    if pd.api.types.is_numeric_dtype(time):
        return time.to_numpy(dtype=np.float64, na_value=np.nan)
    if isinstance(time.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(time):
        stamps = pd.to_datetime(time, utc=True)
    else:
        text = time.astype("string").str.strip()
        text = text.mask(text == "")
        stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        bad = stamps.isna() & text.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"column {column!r}, line {first_line + i}: not an ISO 8601 time or a number "
                f"of seconds ({text.iloc[i]!r})"
            )
    ok = stamps.notna().to_numpy()
    ns = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.asarray(np.where(ok, ns / 1e9, np.nan), dtype=np.float64)


def _numeric(values: pd.Series, column: str, first_line: int) -> FloatArray:
    """Floats; blanks and NA spellings are missing, other text is an error."""
    if pd.api.types.is_bool_dtype(values):
        raise ValueError(f"column {column!r}: not numbers")
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    text = values.astype("string").str.strip()
    missing = text.isna() | text.str.lower().isin(["", "na", "nan", "null", "none"])
    parsed = pd.to_numeric(text.mask(missing), errors="coerce")
    bad = parsed.isna() & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"column {column!r}, line {first_line + i}: not a number ({text.iloc[i]!r})"
        )
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def parse_readings(
    frame: pd.DataFrame,
    *,
    time: str = "time",
    column: str = "co2_ppm",
    by: str | None = "chamber",
    first_line: int = 1,
) -> pd.DataFrame:
    """The time, value and group columns of a long table, converted and checked.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table, one row per reading.
    time : str
        Time column: datetimes, ISO 8601 text (no offset = UTC) or numbers [s].
    column : str
        Value column [unit of the readings]; blank or NA cells are missing values.
    by : str or None
        Group column (sensor, chamber), or None for one series.
    first_line : int
        Line number of the first row in messages (2 for a CSV file with a header line).

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` → float seconds since 1970 UTC (numbers as given) [s], ``column``
        → float (NaN = missing), ``by`` unchanged; same rows and order.

    Raises
    ------
    ValueError
        A column missing, a time or value that cannot be read, an empty time or group
        (naming the column and line).
    """
    for name in (time, column, *([by] if by else [])):
        if name not in frame.columns:
            raise ValueError(
                f"column {name!r} not found (columns: {', '.join(map(str, frame.columns))})"
            )
    out = pd.DataFrame(index=frame.index)
    if by:
        keys = frame[by]
        empty = keys.isna().to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise ValueError(f"column {by!r}, line {first_line + i}: empty")
        out[by] = keys
    t = _time_seconds(frame[time], time, first_line)
    empty = ~np.isfinite(t)
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise ValueError(f"column {time!r}, line {first_line + i}: empty or not finite")
    out[time] = t
    out[column] = _numeric(frame[column], column, first_line)
    return out


def _series(
    frame: pd.DataFrame, time: str, column: str, by: str | None
) -> list[tuple[Hashable, FloatArray, FloatArray, int]]:
    """Per group, sorted by time: (group, time [s], values, readings dropped as missing)."""
    parsed = parse_readings(frame, time=time, column=column, by=by)
    t_all = parsed[time].to_numpy(dtype=np.float64)
    y_all = parsed[column].to_numpy(dtype=np.float64)
    if by:
        codes, uniques = pd.factorize(parsed[by], sort=True)
    else:
        codes, uniques = np.zeros(len(parsed), dtype=np.int64), pd.Index(["all"])
    out: list[tuple[Hashable, FloatArray, FloatArray, int]] = []
    for k, group in enumerate(uniques):
        rows = np.flatnonzero(codes == k)
        t, y = t_all[rows], y_all[rows]
        ok = np.isfinite(y)
        order = np.argsort(t[ok], kind="stable")
        out.append((group, t[ok][order], y[ok][order], int((~ok).sum())))
    return out


def _check_length(label: str, t: FloatArray, column: str, min_readings: int) -> None:
    if t.size < min_readings:
        raise ValueError(
            f"{label}: {t.size} readings of {column!r}, need at least {min_readings} "
            "(a steady-air record of minutes to hours)"
        )
    same = np.flatnonzero(np.diff(t) == 0)
    if same.size:
        raise ValueError(
            f"{label}: time is not strictly increasing: two readings at the same time, "
            f"{t[same[0]] - t[0]:g} s after its first reading"
        )


def _label(by: str | None, group: Hashable) -> str:
    return f"{by} {group!r}" if by else "the series"


def noise_summary(
    frame: pd.DataFrame,
    *,
    time: str = "time",
    column: str = "co2_ppm",
    by: str | None = "chamber",
    unit: str = "ppm",
    tau_s: float = 60.0,
    gap_factor: float = GAP_FACTOR,
    min_readings: int = MIN_READINGS,
) -> pd.DataFrame:
    """Noise statistics per sensor of a steady-air long table.

    Each group's rows are sorted by time (the row order of ``frame`` does not matter),
    readings without a value are dropped (counted in ``n_missing``), the series is split
    at gaps (:func:`split_at_gaps`), and then per group:

    ============================  ==========================================================
    column                        meaning [unit]
    ============================  ==========================================================
    ``<by>``                      the group (sensor, chamber)
    ``n``, ``n_missing``          readings used; readings without a value [–]
    ``n_segments``                pieces between gaps [–]
    ``dt_s``                      sampling interval Δt, the median step [s]
    ``duration_h``                first to last reading [h]
    ``mean_<unit>``               mean reading [unit]
    ``sigma_white_<unit>``        :func:`sigma_white` [unit]
    ``sigma_white_se_<unit>``     its standard error, :func:`sigma_white_se` [unit]
    ``adev_1step_<unit>``         :func:`allan_deviation` at τ = Δt [unit]
    ``tau_s``                     τ = round(tau_s/Δt)·Δt of the next column [s]
    ``adev_<tau_s>s_<unit>``      Allan deviation at that τ (``adev_60s_ppm``) [unit]
    ``adev_white_<tau_s>s_<unit>``  what white noise of σ_white would give there, σ/√m
    ``lag1_autocorr``             :func:`lag1_autocorrelation` [–]
    ``drift_<unit>_h``            :func:`drift_per_h` [unit h⁻¹]
    ============================  ==========================================================

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table, one row per reading.
    time : str
        Time column: datetimes, ISO 8601 text, or numbers [s].
    column : str
        Value column (e.g. ``co2_ppm`` [µmol mol⁻¹]).
    by : str or None
        Group column (one series per value); None: the whole table is one series.
    unit : str
        Unit of ``column``, used in the output column names.
    tau_s : float
        Averaging time of the second Allan deviation column [s], > 0.
    gap_factor : float
        A step longer than this many median steps is a gap [–].
    min_readings : int
        Fewest readings per group [–], ≥ 3.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by group.

    Raises
    ------
    ValueError
        A missing or unreadable column; a group with too few readings or two readings at
        the same time (the message names the group and the problem).
    """
    if not tau_s > 0:
        raise ValueError(f"tau_s must be > 0 s, got {tau_s!r}")
    if min_readings < 3:
        raise ValueError(f"min_readings must be >= 3, got {min_readings}")
    rows = []
    tau_name = f"{tau_s:g}s"
    for group, t, y, n_missing in _series(frame, time, column, by):
        label = _label(by, group)
        _check_length(label, t, column, min_readings)
        seg, dt_s = split_at_gaps(t, gap_factor=gap_factor, name=label)
        m_tau = max(1, round(tau_s / dt_s))
        adev, _ = allan_deviation(y, np.array([1, m_tau]), segment=seg, name=label)
        sigma = sigma_white(y, segment=seg, name=label)
        n_diff = int(_within(seg).sum())
        rows.append(
            {
                by or "series": group,
                "n": int(y.size),
                "n_missing": n_missing,
                "n_segments": int(seg[-1]) + 1,
                "dt_s": dt_s,
                "duration_h": float(t[-1] - t[0]) / 3600.0,
                f"mean_{unit}": float(np.mean(y)),
                f"sigma_white_{unit}": sigma,
                f"sigma_white_se_{unit}": float(sigma_white_se(sigma, n_diff)),
                f"adev_1step_{unit}": float(adev[0]),
                "tau_s": m_tau * dt_s,
                f"adev_{tau_name}_{unit}": float(adev[1]),
                f"adev_white_{tau_name}_{unit}": sigma / math.sqrt(m_tau),
                "lag1_autocorr": lag1_autocorrelation(t, y, segment=seg, name=label),
                f"drift_{unit}_h": drift_per_h(t, y, name=label),
            }
        )
    return pd.DataFrame(rows)


def allan_table(
    frame: pd.DataFrame,
    *,
    time: str = "time",
    column: str = "co2_ppm",
    by: str | None = "chamber",
    unit: str = "ppm",
    gap_factor: float = GAP_FACTOR,
    min_readings: int = MIN_READINGS,
    per_decade: int = 8,
) -> pd.DataFrame:
    """Allan deviation curve of every group, at log-spaced m (for plots and tables).

    Groups are read as in :func:`noise_summary`. m runs from 1 to a quarter of the longest
    segment's length (beyond, fewer than ~4 degrees of freedom remain), about
    ``per_decade`` values per decade.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table, one row per reading.
    time, column, by, unit, gap_factor, min_readings
        As :func:`noise_summary`.
    per_decade : int
        Averaging factors per decade of τ [–].

    Returns
    -------
    pandas.DataFrame
        Columns ``<by>``, ``m`` [–], ``tau_s`` [s], ``adev_<unit>`` [unit], ``n_terms`` [–]
        and ``edf`` [–] (:func:`allan_edf_white`, summed over segments).
    """
    parts = []
    for group, t, y, _ in _series(frame, time, column, by):
        label = _label(by, group)
        _check_length(label, t, column, min_readings)
        seg, dt_s = split_at_gaps(t, gap_factor=gap_factor, name=label)
        lengths = np.bincount(seg)
        top = max(1, int(lengths.max()) // 4)  # edf ≥ ~4 at the longest τ
        n_points = 1 + math.ceil(per_decade * math.log10(top)) if top > 1 else 1
        ms = np.unique(np.round(np.logspace(0, math.log10(top), n_points)))
        ms = ms[ms <= top].astype(np.int64)
        adev, n_terms = allan_deviation(y, ms, segment=seg, name=label)
        edf = np.nansum(allan_edf_white(lengths[:, None], ms[None, :]), axis=0)
        parts.append(
            pd.DataFrame(
                {
                    by or "series": [group] * ms.size,
                    "m": ms,
                    "tau_s": ms * dt_s,
                    f"adev_{unit}": adev,
                    "n_terms": n_terms,
                    "edf": edf,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
