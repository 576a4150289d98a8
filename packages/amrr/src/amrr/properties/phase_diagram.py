"""Phase diagram of liquid 3He-4He mixtures at saturated vapour pressure.

Fits of G. Chaudhry, *Thermodynamic properties of liquid 3He-4He mixtures between 0.15 K
and 1.8 K*, PhD thesis, MIT (2009); also G. Chaudhry and J. G. Brisson, J. Low Temp. Phys.
155, 235 (2009), doi:10.1007/s10909-009-9882-2. Coefficients as transcribed in
github:slazav/he3lib ``functions/he34.f`` (cross-checked against cryopy ``Helium7.py``).
Below 0.15 K the dilute line continues with Edwards, Ifft & Sarwinski (1969), eq. 23, as
quoted in he3lib ``functions/he34.f``, joined to Chaudhry's with a continuous value and
slope (the two published lines differ by 0.74 % at 0.15 K); the concentrated line stays at
x = 1, where Chaudhry's ends.

Tricritical point: x_t = 0.674, T_t = 0.867 K. With dT = T − T_t::

    x_dil(T) = x_t − 0.209148 dT/(dT − 0.080280) + 0.960222 dT + 0.549920 dT²
    x_con(T) = x_t − 0.746805 dT − 0.180743 dT² + 0.316170 dT³
    T_λ(x)   = T_t − 2.620259 (x − x_t) − 1.023726 (x − x_t)²
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amrr.properties.validity import FloatArray, Range

X_TRICRITICAL = 0.674  #: 3He fraction at the tricritical point [-]
T_JOIN_K = 0.15  #: lowest temperature of Chaudhry's separation-line fits [K]
T_TRICRITICAL_K = 0.867  #: tricritical temperature [K]

SEPARATION_RANGE = Range(
    "temperature_K",
    0.0,
    T_TRICRITICAL_K,
    "phase separation exists only below T_t = 0.867 K",
    limit_low=0.0,
    limit_high=T_TRICRITICAL_K,
    limit_source="T ≥ 0; no phase separation above the tricritical point",
)
T_LAMBDA_PURE_4HE_K = 2.1768  #: λ point of pure 4He at SVP [K] (Donnelly & Barenghi 1998)
_LAMBDA_DELTA_K = T_LAMBDA_PURE_4HE_K - (
    T_TRICRITICAL_K + 2.620259 * X_TRICRITICAL - 1.023726 * X_TRICRITICAL**2
)
_LAMBDA_A2 = 1.023726 - _LAMBDA_DELTA_K / X_TRICRITICAL**2  # quadratic coefficient [K]
LAMBDA_RANGE = Range("x3", 0.0, 1.0, "3He mole fraction", limit_low=0.0, limit_high=1.0)


def x_dilute(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """3He fraction of the dilute (4He-rich, superfluid) phase on the separation line.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0–0.867 K.
    extrapolate : bool
        Do not check the range.

    Returns
    -------
    ndarray
        x3 [-] (Chaudhry 2009 for T ≥ 0.15 K; below, Edwards et al. 1969,
        x = 0.064(1 + 10.8 T²), plus a T² + T³ correction (at most 7.1e-4) that joins it to
        Chaudhry's line with a continuous value and slope at 0.15 K).

    Examples
    --------
    >>> round(float(x_dilute(0.75)), 4)
    0.4451
    """
    T = SEPARATION_RANGE.check(temperature_K, extrapolate=extrapolate)
    a2, a3 = _dilute_join()
    low = 0.064 * (1.0 + 10.8 * T**2) + a2 * T**2 + a3 * T**3
    return np.where(T >= T_JOIN_K, _x_dilute_chaudhry(T), low)


def _x_dilute_chaudhry(T: FloatArray) -> FloatArray:
    dT = T - T_TRICRITICAL_K
    return np.asarray(
        X_TRICRITICAL - 0.209148 * dT / (dT - 0.080280) + 0.960222 * dT + 0.549920 * dT**2,
        dtype=np.float64,
    )


@cache
def _dilute_join() -> tuple[float, float]:
    """a2, a3 of the a2 T² + a3 T³ correction that joins Edwards et al.'s x_dil to Chaudhry's.

    The two published lines differ by 0.74 % at 0.15 K (0.07955 against 0.08014). The
    correction vanishes with its slope at T = 0 (keeping Edwards et al.'s x(0) = 0.064) and
    makes the joined line and its slope continuous at 0.15 K (value and slope of Chaudhry's).
    """
    t, e = T_JOIN_K, 1e-7
    x_c = float(_x_dilute_chaudhry(np.array(t)))
    dx_c = float(_x_dilute_chaudhry(np.array(t + e)) - _x_dilute_chaudhry(np.array(t - e))) / (
        2 * e
    )
    d0 = x_c - 0.064 * (1.0 + 10.8 * t * t)
    d1 = dx_c - 0.064 * 21.6 * t
    # a2 t² + a3 t³ = d0,  2 a2 t + 3 a3 t² = d1
    a3 = (d1 * t - 2.0 * d0) / t**3
    a2 = (d0 - a3 * t**3) / t**2
    return a2, a3


def x_concentrated(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """3He fraction of the concentrated (3He-rich) phase on the separation line.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0–0.867 K.
    extrapolate : bool
        Do not check the range.

    Returns
    -------
    ndarray
        x3 [-] (Chaudhry 2009 for T ≥ 0.15 K, capped at 1; 1 below 0.15 K, where
        Chaudhry's line has reached x = 1.0000 (his Table 11). Edwards et al.'s (1969) 4He
        solubility 1.13 T^1.5 exp(−0.71/T) = 5.8e-4 at 0.15 K cannot be joined to it
        continuously, so it is not used.)
    """
    T = SEPARATION_RANGE.check(temperature_K, extrapolate=extrapolate)
    dT = T - T_TRICRITICAL_K
    fit = X_TRICRITICAL - 0.746805 * dT - 0.180743 * dT**2 + 0.316170 * dT**3
    # Chaudhry's cubic reaches x = 1 at 0.150 K (1 − x = −3.6e-7) and turns back below it;
    # a continuous, monotone line therefore stays at x = 1 below 0.15 K.
    return np.asarray(np.minimum(np.where(T >= T_JOIN_K, fit, 1.0), 1.0), dtype=np.float64)


def lambda_temperature_K(x3: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Superfluid transition temperature of the mixture, T_λ(x) [K] (Chaudhry 2009).

    Parameters
    ----------
    x3 : array_like
        3He mole fraction [-], 0–1 (the line ends at the tricritical point, x = 0.674;
        beyond it the formula is the metastable continuation).
    extrapolate : bool
        Do not check the range.

    Returns
    -------
    ndarray
        T_λ [K]. Chaudhry's quadratic T_t − 2.620259 d − 1.023726 d² (d = x − x_t) gives
        T_λ(0) = 2.1680 K against pure 4He's 2.1768 K (D&B 1998); the term
        δ (d/x_t)², δ = 8.80 mK, makes the line end at the pure-4He value while keeping
        T_λ(x_t) = T_t and the slope there (a change of at most 8.8 mK, at x = 0).
    """
    x = LAMBDA_RANGE.check(x3, extrapolate=extrapolate)
    d = x - X_TRICRITICAL
    return T_TRICRITICAL_K - 2.620259 * d - _LAMBDA_A2 * d * d


def x_lambda(temperature_K: ArrayLike) -> FloatArray:
    """3He fraction on the lambda line at ``temperature_K`` [K] (inverse of T_λ(x)) [-].

    The root of the quadratic T_λ(x) = T on the physical branch; NaN above T_λ(0).
    """
    T = np.asarray(temperature_K, dtype=np.float64)
    a, b = _LAMBDA_A2, 2.620259
    disc = b * b - 4.0 * a * (T - T_TRICRITICAL_K)
    with np.errstate(invalid="ignore"):
        d = (-b + np.sqrt(disc)) / (2.0 * a)
    return np.asarray(X_TRICRITICAL + d, dtype=np.float64)


def superfluid_boundary_x3(temperature_K: ArrayLike) -> FloatArray:
    """Largest x3 of the homogeneous He II (dilute) phase at ``temperature_K`` [-].

    x_dil(T) below T_t = 0.867 K, the lambda line x_λ(T) above it.
    """
    T = np.asarray(temperature_K, dtype=np.float64)
    below = T <= T_TRICRITICAL_K
    xd = x_dilute(np.minimum(T, T_TRICRITICAL_K), extrapolate=True)
    xl = x_lambda(np.maximum(T, T_TRICRITICAL_K))
    return np.where(below, xd, xl)


def phase_label(temperature_K: ArrayLike, x3: ArrayLike) -> NDArray[np.str_]:
    """Which liquid phase a state (T, x3) at SVP belongs to.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K].
    x3 : array_like
        3He mole fraction [-].

    Returns
    -------
    ndarray of str
        ``"dilute"`` (superfluid He II, x3 ≤ x_dil(T) below T_t or x3 ≤ x_λ(T) above),
        ``"concentrated"`` (3He-rich normal liquid, x3 ≥ x_con(T), T ≤ T_t),
        ``"two-phase"`` (x_dil < x3 < x_con, T < T_t) or ``"normal"`` (He I, x3 > x_λ(T),
        T > T_t); ``"undefined"`` for NaN.

    Examples
    --------
    >>> [str(v) for v in phase_label(0.5, [0.1, 0.5, 0.95])]
    ['dilute', 'two-phase', 'concentrated']
    """
    T, x = np.broadcast_arrays(
        np.asarray(temperature_K, dtype=np.float64), np.asarray(x3, dtype=np.float64)
    )
    undefined = np.isnan(T) | np.isnan(x)
    T = np.where(undefined, T_TRICRITICAL_K, T)  # labelled "undefined" below
    below = T <= T_TRICRITICAL_K
    xc = x_concentrated(np.clip(T, 0.0, T_TRICRITICAL_K), extrapolate=True)
    dilute = x <= superfluid_boundary_x3(T) + 1e-9
    concentrated = below & (x >= xc - 1e-4)
    labels = np.select(
        [undefined, dilute, concentrated, below],
        ["undefined", "dilute", "concentrated", "two-phase"],
        default="normal",
    )
    return np.asarray(labels, dtype=np.str_)
