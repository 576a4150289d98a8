"""Agreement between two measuring methods: Bland–Altman limits, OLS and Deming lines, the
share of pairs inside a relative band, and matching a reference instrument's observations
to the fleet's closures by location and time.

Used to compare the fleet's chambers with a reference flux meter (an LI-COR chamber placed
on the same pot shortly before or after a fleet closure). Every function takes the two
methods' values as arrays in one unit (e.g. µmol m⁻² s⁻¹) and returns results in that
unit; ``test`` is the method being checked, ``reference`` the one it is compared with.

References
----------
Bland, J. M., Altman, D. G. (1986). Statistical methods for assessing agreement between
two methods of clinical measurement. Lancet 327(8476), 307–310.
Bland, J. M., Altman, D. G. (1999). Measuring agreement in method comparison studies.
Stat. Methods Med. Res. 8, 135–160.
Linnet, K. (1990). Estimation of the linear relationship between the measurements of two
methods with proportional errors. Stat. Med. 9, 1463–1473 (jackknife CIs of Deming).
Cornbleet, P. J., Gochman, N. (1979). Incorrect least-squares regression coefficients in
method-comparison analysis. Clin. Chem. 25, 432–438 (Deming regression).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def _pairs(test: ArrayLike, reference: ArrayLike, minimum: int) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(test, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"test and reference must be 1-d arrays of one length, got {x.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("test and reference must be finite (drop unmatched pairs first)")
    if len(x) < minimum:
        raise ValueError(f"need at least {minimum} pairs, got {len(x)}")
    return x, y


@dataclass(frozen=True)
class BlandAltman:
    """Bland–Altman agreement of ``test`` with ``reference`` (units of the inputs).

    Attributes
    ----------
    n : int
        Pairs.
    bias : float
        Mean difference d̄ = mean(test − reference) [input unit].
    sd : float
        Sample standard deviation of the differences (ddof 1) [input unit].
    loa_low, loa_high : float
        Limits of agreement d̄ ∓ k·sd (k = 1.96 by default) [input unit].
    bias_ci95_low, bias_ci95_high : float
        95 % CI of the bias: d̄ ± t₀.₉₇₅,ₙ₋₁ · sd/√n [input unit].
    loa_ci95_halfwidth : float
        Half-width of the approximate 95 % CI of each limit: t₀.₉₇₅,ₙ₋₁ · √(3 sd²/n)
        (Bland & Altman 1986, section 5) [input unit].
    """

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci95_low: float
    bias_ci95_high: float
    loa_ci95_halfwidth: float


def bland_altman(test: ArrayLike, reference: ArrayLike, *, k: float = 1.96) -> BlandAltman:
    """Bias and 95 % limits of agreement of two methods (Bland & Altman 1986).

    .. math::
        d_i = x_i - y_i,\\quad \\bar d = \\frac1n\\sum d_i,\\quad
        s = \\sqrt{\\tfrac{1}{n-1}\\sum (d_i-\\bar d)^2},\\quad
        \\mathrm{LoA} = \\bar d \\mp k\\,s

    Parameters
    ----------
    test, reference : array_like
        Paired finite measurements of one quantity by the two methods [any one unit], at
        least 3 pairs.
    k : float
        Multiple of sd in the limits [-]: 1.96 (normal 95 %; Bland & Altman 1999), or 2 as
        in the 1986 paper's worked example. In (0, 10].

    Returns
    -------
    BlandAltman
        In the unit of the inputs. Swapping the methods flips the sign of the bias and the
        limits and keeps ``sd``.
    """
    if not (0 < k <= 10):
        raise ValueError(f"k must be in (0, 10], got {k}")
    x, y = _pairs(test, reference, 3)
    d = x - y
    n = len(d)
    bias = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    t = float(stats.t.ppf(0.975, n - 1))
    se = sd / np.sqrt(n)
    return BlandAltman(
        n=n,
        bias=bias,
        sd=sd,
        loa_low=bias - k * sd,
        loa_high=bias + k * sd,
        bias_ci95_low=float(bias - t * se),
        bias_ci95_high=float(bias + t * se),
        loa_ci95_halfwidth=t * float(np.sqrt(3.0 * sd**2 / n)),
    )


@dataclass(frozen=True)
class Line:
    """A fitted line ``y = intercept + slope · x`` with 95 % confidence intervals.

    Attributes
    ----------
    method : str
        ``ols`` or ``deming``.
    n : int
        Pairs.
    slope : float
        [unit of y per unit of x] (1 when both share a unit).
    intercept : float
        [unit of y].
    slope_ci95_low, slope_ci95_high, intercept_ci95_low, intercept_ci95_high : float
        95 % confidence limits (OLS: Student t on the classical standard errors; Deming:
        jackknife, Linnet 1990).
    r2 : float
        Squared Pearson correlation of x and y [-].
    """

    method: str
    n: int
    slope: float
    intercept: float
    slope_ci95_low: float
    slope_ci95_high: float
    intercept_ci95_low: float
    intercept_ci95_high: float
    r2: float


def ols(x: ArrayLike, y: ArrayLike) -> Line:
    """Ordinary least-squares line of ``y`` on ``x`` with Student-t 95 % CIs.

    .. math::
        b = \\frac{S_{xy}}{S_{xx}},\\quad a = \\bar y - b\\bar x,\\quad
        \\mathrm{CI}(b) = b \\pm t_{0.975,n-2}\\,\\mathrm{SE}(b)

    Parameters
    ----------
    x, y : array_like
        Paired finite values [unit of x], [unit of y]; at least 3 pairs and x not constant.

    Returns
    -------
    Line
        ``method="ols"``.
    """
    xa, ya = _pairs(x, y, 3)
    if np.ptp(xa) == 0:
        raise ValueError("x is constant: no line can be fitted")
    fit = stats.linregress(xa, ya)
    t = float(stats.t.ppf(0.975, len(xa) - 2))
    return Line(
        method="ols",
        n=len(xa),
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        slope_ci95_low=float(fit.slope - t * fit.stderr),
        slope_ci95_high=float(fit.slope + t * fit.stderr),
        intercept_ci95_low=float(fit.intercept - t * fit.intercept_stderr),
        intercept_ci95_high=float(fit.intercept + t * fit.intercept_stderr),
        r2=float(fit.rvalue**2),
    )


def _deming_coefficients(x: FloatArray, y: FloatArray, lam: float) -> tuple[float, float]:
    mx, my = float(np.mean(x)), float(np.mean(y))
    sxx = float(np.sum((x - mx) ** 2))
    syy = float(np.sum((y - my) ** 2))
    sxy = float(np.sum((x - mx) * (y - my)))
    if sxy == 0:
        raise ValueError("x and y are uncorrelated: the Deming slope is undefined")
    u = syy - lam * sxx
    slope = (u + np.sqrt(u**2 + 4.0 * lam * sxy**2)) / (2.0 * sxy)
    return float(slope), my - float(slope) * mx


def _loo_coefficients(x: FloatArray, y: FloatArray, lam: float) -> tuple[float, float]:
    """Deming coefficients of a leave-one-out sample; NaN where it is degenerate."""
    try:
        return _deming_coefficients(x, y, lam)
    except ValueError:
        return float("nan"), float("nan")


def deming(x: ArrayLike, y: ArrayLike, *, variance_ratio: float = 1.0) -> Line:
    """Deming regression of ``y`` on ``x`` (errors in both), jackknife 95 % CIs.

    With λ = var(error of y) / var(error of x) (Cornbleet & Gochman 1979):

    .. math::
        b = \\frac{S_{yy} - λS_{xx} + \\sqrt{(S_{yy} - λS_{xx})^2 + 4λS_{xy}^2}}{2S_{xy}},
        \\quad a = \\bar y - b\\bar x

    The CIs are jackknife (leave-one-out pseudo-values, Student t with n − 1 degrees of
    freedom; Linnet 1990); they are NaN when a leave-one-out sample has no correlation.
    λ = 1 is orthogonal regression.

    Parameters
    ----------
    x, y : array_like
        Paired finite values in one unit; at least 3 pairs.
    variance_ratio : float
        λ [-], > 0 and finite.

    Returns
    -------
    Line
        ``method="deming"``.
    """
    xa, ya = _pairs(x, y, 3)
    if not (np.isfinite(variance_ratio) and variance_ratio > 0):
        raise ValueError(f"variance_ratio must be finite and > 0, got {variance_ratio}")
    slope, intercept = _deming_coefficients(xa, ya, variance_ratio)
    n = len(xa)
    keep = ~np.eye(n, dtype=bool)
    loo = np.array([_loo_coefficients(xa[keep[i]], ya[keep[i]], variance_ratio) for i in range(n)])
    pseudo = n * np.array([slope, intercept]) - (n - 1) * loo
    centre = pseudo.mean(axis=0)
    se = pseudo.std(axis=0, ddof=1) / np.sqrt(n)
    t = float(stats.t.ppf(0.975, n - 1))
    r = float(np.corrcoef(xa, ya)[0, 1])
    return Line(
        method="deming",
        n=n,
        slope=slope,
        intercept=intercept,
        slope_ci95_low=float(centre[0] - t * se[0]),
        slope_ci95_high=float(centre[0] + t * se[0]),
        intercept_ci95_low=float(centre[1] - t * se[1]),
        intercept_ci95_high=float(centre[1] + t * se[1]),
        r2=r * r,
    )


def share_within_band(test: ArrayLike, reference: ArrayLike, band: float = 0.15) -> float:
    """Share of pairs whose test value lies within ±``band`` of the reference [-].

    ``|test − reference| ≤ band · |reference|`` (the seed's ±15 % criterion for the
    fleet against the reference flux meter).

    Parameters
    ----------
    test, reference : array_like
        Paired finite values in one unit, at least one pair.
    band : float
        Relative half-width [-], in (0, 1].

    Returns
    -------
    float
        Fraction in [0, 1].
    """
    if not (0 < band <= 1):
        raise ValueError(f"band must be in (0, 1], got {band}")
    x, y = _pairs(test, reference, 1)
    return float(np.mean(np.abs(x - y) <= band * np.abs(y)))


def match_reference(
    fleet: pd.DataFrame, reference: pd.DataFrame, *, max_gap_s: float = 1800.0
) -> pd.DataFrame:
    """Pair each reference observation with the nearest fleet closure at its location.

    Parameters
    ----------
    fleet : pandas.DataFrame
        Fleet closures: ``location``, ``start`` (aware), ``flux_umol_m2_s``
        [µmol m⁻² s⁻¹]; other columns (``device``, ``cyc``) are carried along.
    reference : pandas.DataFrame
        Reference observations: ``location``, ``time`` (aware), ``flux_umol_m2_s``
        [µmol m⁻² s⁻¹]; other columns (``source``) are carried along.
    max_gap_s : float
        Largest |start − time| accepted [s], > 0.

    Returns
    -------
    pandas.DataFrame
        One row per matched reference observation: its columns suffixed ``_reference``,
        the fleet closure's suffixed ``_fleet``, ``location`` and ``gap_s`` [s]
        (fleet start − reference time). A reference observation without a fleet closure
        at its location within ``max_gap_s`` is left out.
    """
    if not (np.isfinite(max_gap_s) and max_gap_s > 0):
        raise ValueError(f"max_gap_s must be finite and > 0, got {max_gap_s}")
    for name, frame, cols in (
        ("fleet", fleet, ("location", "start", "flux_umol_m2_s")),
        ("reference", reference, ("location", "time", "flux_umol_m2_s")),
    ):
        for c in cols:
            if c not in frame.columns:
                raise ValueError(f"{name} table has no {c!r} column")
    f = fleet[fleet["location"].notna() & np.isfinite(fleet["flux_umol_m2_s"])].copy()
    r = reference[reference["location"].notna()].copy()
    f["_t"] = pd.to_datetime(f["start"], utc=True).astype("datetime64[ns, UTC]")
    r["_t"] = pd.to_datetime(r["time"], utc=True).astype("datetime64[ns, UTC]")
    f["location"] = f["location"].astype(str)
    r["location"] = r["location"].astype(str)
    merged = pd.merge_asof(
        r.sort_values("_t")
        .add_suffix("_reference")
        .rename(columns={"_t_reference": "_t", "location_reference": "location"}),
        f.sort_values("_t")
        .add_suffix("_fleet")
        .rename(columns={"_t_fleet": "_tf", "location_fleet": "location"}),
        left_on="_t",
        right_on="_tf",
        by="location",
        direction="nearest",
        tolerance=pd.Timedelta(seconds=max_gap_s),
    )
    merged = merged[merged["_tf"].notna()].copy()
    merged["gap_s"] = (merged["_tf"] - merged["_t"]).dt.total_seconds()
    return merged.drop(columns=["_t", "_tf"]).reset_index(drop=True)
