"""Saturated vapour pressure of liquid 4He and 3He on the ITS-90 scale.

ITS-90 (H. Preston-Thomas, Metrologia 27, 3 (1990), eq. (3) and Table 3) defines T90 from
the vapour pressure p [Pa] of helium::

    T90 = A0 + Σ_{i=1}^{9} Ai [(ln p − B)/C]^i

4He, 1.25–2.1768 K and 2.1768–5.0 K: the coefficients as given by Donnelly & Barenghi
(1998), chapter 17 (pages.uoregon.edu/rjd/vapor18.htm), the same numbers in the Lancaster
ULT helium module. 3He, 0.65–3.2 K: ITS-90 Table 3, typed in from the ITS-90 text; no second
copy of the digits was found, so they are cross-checked against the independent 1962 3He
scale (Sherman, Sydoriak & Roberts, J. Res. NBS 68A, 579 (1964)): at equal pressure
T90 − T62 rises smoothly and monotonically from +2.9 mK at 0.66 K to +6.4 mK at 3.19 K
(the T62 scale's own error; a change of 1e-2 in any coefficient, or 1e-3 in most, breaks
that), plus p monotone in T, the normal boiling point (3.19–3.20 K at 101.325 kPa;
measured 3.1968 K) and the low-temperature latent heat R T² d ln p/dT. p(T) is the root of
the T90(p) equation (Newton on ln p).

Below 1.25 K the 4He pressure comes from D&B's recommended B-spline of p(T) (their Table
17.2, 0.5–5.1 K), which the test compares with the ITS-90 equation where both hold.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import BSpline

from amrr.properties.validity import FloatArray, OutOfRangeError, Range, temperature_range

_HE4_LOW = (1.392408, 0.527153, 0.166756, 0.050988, 0.026514, 0.001975, -0.017976, 0.005409,
            0.013259, 0.0, 5.6, 2.9)  # fmt: skip
_HE4_HIGH = (3.146631, 1.357655, 0.413923, 0.091159, 0.016349, 0.001826, -0.004325,
             -0.004973, 0.0, 0.0, 10.3, 1.9)  # fmt: skip
_HE3 = (1.053447, 0.980106, 0.676380, 0.372692, 0.151656, -0.002263, 0.006596, 0.088966,
        -0.004770, -0.054943, 7.3, 4.3)  # fmt: skip
T_LAMBDA_K = 2.1768  #: the two 4He equations meet at T_λ [K]

# D&B (1998) Table 17.2: p(T) of 4He at SVP [Pa], cubic B-spline on T90.
_P4_KNOTS = (0.5, 0.5, 0.5, 0.5, 0.52, 0.53, 0.56, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.92, 1.0,
             1.1, 1.25, 1.5, 1.7, 1.85, 2.0, 2.2, 2.5, 2.7, 3.0, 3.3, 3.7, 4.05, 4.5, 5.1, 5.1,
             5.1, 5.1)  # fmt: skip
_P4_COEFS = (0.00183797, 0.0025, 0.00376, 0.00624, 0.01236, 0.03306, 0.09339, 0.25856,
             0.6269, 1.37025, 2.93305, 6.37318, 15.0042, 38.057, 116.050, 362.7, 990.9, 1886.0,
             3194.0, 5569.5, 9279.1, 15370.0, 23480.0, 37355.0, 57050.0, 87170.0, 132825.0,
             179650.0, 211567.0)  # fmt: skip

HELIUM4_RANGE = temperature_range(
    1.25,
    5.0,
    "ITS-90 4He vapour-pressure equations",
    limit_high=5.0,
    limit_source="T > 0; the 4He critical point is 5.195 K and ITS-90 stops at 5.0 K",
)
HELIUM4_EXTRAPOLATED_LOW_K = 0.5  #: D&B's p(T) spline starts here [K]
HELIUM3_RANGE = temperature_range(
    0.65,
    3.2,
    "ITS-90 3He vapour-pressure equation",
    limit_high=3.2,
    limit_source="T > 0; the 3He critical point is 3.32 K and ITS-90 stops at 3.2 K",
)


def _t90(p: FloatArray, coef: tuple[float, ...]) -> tuple[FloatArray, FloatArray]:
    """T90(p) [K] and dT90/d ln p [K] of the ITS-90 equation with ``coef`` (A0..A9, B, C)."""
    A, B, C = coef[:10], coef[10], coef[11]
    u = (np.log(p) - B) / C
    # Horner for the polynomial in u and its u-derivative
    T = np.full_like(u, A[9])
    dT = np.zeros_like(u)
    for a in A[8::-1]:
        dT = dT * u + T
        T = T * u + a
    return T, dT / C


def _invert(T: FloatArray, coef: tuple[float, ...], p0: FloatArray) -> FloatArray:
    """p [Pa] with T90(p) = T: Newton on ln p from ``p0``, until the step is < 1e-13."""
    lnp = np.log(p0)
    for _ in range(30):
        t, dt = _t90(np.exp(lnp), coef)
        step = (t - T) / dt
        lnp = lnp - step
        # NaN steps compare False: points where this equation diverges (the other 4He
        # range, discarded by the caller) do not hold the loop, only unconverged ones do
        if not bool(np.any(np.abs(step) > 1e-13)):
            break
    return np.asarray(np.exp(lnp), dtype=np.float64)


def _p4_spline() -> BSpline:
    return BSpline(np.array(_P4_KNOTS), np.array(_P4_COEFS), 3, extrapolate=False)


def helium4_vapour_pressure_Pa(
    temperature_K: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Saturated vapour pressure of liquid 4He, p(T90) [Pa] (ITS-90).

    Parameters
    ----------
    temperature_K : array_like
        T90 [K], 1.25–5.0 K.
    extrapolate : bool
        Allow 0.5–1.25 K, from D&B's (1998) p(T) spline (their Table 17.2); below 0.5 K
        refused.

    Returns
    -------
    ndarray
        p [Pa].

    Examples
    --------
    >>> round(float(helium4_vapour_pressure_Pa(4.2)))
    99233
    """
    T = HELIUM4_RANGE.check(temperature_K, extrapolate=extrapolate)
    if bool(np.any(T < HELIUM4_EXTRAPOLATED_LOW_K)):
        raise OutOfRangeError(
            f"temperature_K={float(T.min()):.6g} is below 0.5 K, where D&B's p(T) spline "
            "starts; extrapolation is refused there, not clamped"
        )
    start = np.asarray(_p4_spline()(np.clip(T, 0.5, 5.0)), dtype=np.float64)
    low = _invert(T, _HE4_LOW, start)
    high = _invert(T, _HE4_HIGH, start)
    itsp = np.where(T <= T_LAMBDA_K, low, high)
    return np.asarray(np.where(HELIUM4_RANGE.low > T, start, itsp), dtype=np.float64)


def helium3_vapour_pressure_Pa(
    temperature_K: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Saturated vapour pressure of liquid 3He, p(T90) [Pa] (ITS-90, 0.65–3.2 K).

    Parameters
    ----------
    temperature_K : array_like
        T90 [K], 0.65–3.2 K.
    extrapolate : bool
        Evaluate the ITS-90 equation below 0.65 K (to 0.5 K; it is known to depart from
        thermodynamic temperature by up to ~1 mK at 0.65 K already, Engert et al.,
        Metrologia 44, 40 (2007)).

    Returns
    -------
    ndarray
        p [Pa].

    Examples
    --------
    >>> round(float(helium3_vapour_pressure_Pa(1.0)))
    1160
    """
    T = HELIUM3_RANGE.check(temperature_K, extrapolate=extrapolate)
    if bool(np.any(T < 0.5)):
        raise OutOfRangeError(
            f"temperature_K={float(T.min()):.6g} is below 0.5 K: the ITS-90 3He equation is "
            "not extrapolated that far"
        )
    # start: Clausius–Clapeyron with L ≈ 30 J/mol through the normal boiling point
    p0 = 101325.0 * np.exp(-30.0 / 8.314 * (1.0 / T - 1.0 / 3.19))
    return _invert(T, _HE3, p0)


def helium4_temperature_from_vapour_pressure_K(pressure_Pa: ArrayLike) -> FloatArray:
    """T90 [K] of liquid 4He with saturated vapour pressure p [Pa] (ITS-90, 1.25–5.0 K).

    Parameters
    ----------
    pressure_Pa : array_like
        p [Pa], between p(1.25 K) and p(5.0 K).
    """
    lo, hi = (float(v) for v in helium4_vapour_pressure_Pa([1.25, 5.0]))
    p = Range("pressure_Pa", lo, hi, "ITS-90 4He, 1.25–5.0 K", limit_low=0.0).check(pressure_Pa)
    p_lambda = float(helium4_vapour_pressure_Pa(T_LAMBDA_K))
    low, _ = _t90(p, _HE4_LOW)
    high, _ = _t90(p, _HE4_HIGH)
    return np.asarray(np.where(p <= p_lambda, low, high), dtype=np.float64)


def helium3_temperature_from_vapour_pressure_K(pressure_Pa: ArrayLike) -> FloatArray:
    """T90 [K] of liquid 3He with saturated vapour pressure p [Pa] (ITS-90, 0.65–3.2 K)."""
    lo, hi = (float(v) for v in helium3_vapour_pressure_Pa([0.65, 3.2]))
    p = Range("pressure_Pa", lo, hi, "ITS-90 3He, 0.65–3.2 K", limit_low=0.0).check(pressure_Pa)
    T, _ = _t90(p, _HE3)
    return np.asarray(T, dtype=np.float64)
