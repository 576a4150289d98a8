"""Pure normal liquid 3He at saturated vapour pressure (a Landau Fermi liquid), 0.007–2.5 K.

Source: D. S. Greywall, "Specific heat of normal liquid 3He", Phys. Rev. B 27, 2747 (1983),
the analytic fit of C_V/R as a function of temperature T [K] and molar volume V [cm³/mol]
(coefficients as transcribed in github:slazav/he3lib ``he3_other.f``, function
``he3_cv_n``)::

    T < 0.1 K:        C_V/R = Σ_{i=1..5} Σ_{j=0..3} a_ij V^(−j) T^i
    0.1 ≤ T < 2.5 K:  C_V/R = Σ_{i=0..3} Σ_{j=0..2} b_ij V^j T^(−i)
                              + exp(−Σ_j d_j V^j / T) Σ_{i=1..3} Σ_{j=0..2} c_ij V^j T^(−i)

evaluated at the SVP molar volume V = 36.84 cm³/mol (the T → 0 volume of liquid 3He at
zero pressure; github:slazav/he3lib ``matlab/plot_f0.m`` gives 36.837 cm³/mol). The
leading term is the Fermi-liquid γ = C/(R T) = 2.741 K⁻¹ (T → 0), i.e. an effective mass
m*/m3 = 2.75 (:func:`effective_mass_ratio`). The entropy is s = ∫₀ᵀ C dT/T and the Gibbs
energy g = −∫₀ᵀ s dT (reference: g = h = 0 for pure 3He at T = 0, as in Chaudhry 2009).

Approximations: the heat capacity along SVP is taken equal to Greywall's C_V at the fixed
SVP volume; the small change of the liquid's volume along SVP is not modelled (the fit's
entropy changes by only 0.05 % per cm³/mol at 0.5 K, measured), and C_p − C_V is neglected
(not quantified here). Check: s3(0.15 K) = 2.987 J/(mol K) against 2.984 J/(mol K) for
the x3 = 1.0000 row of Chaudhry (2009) Table 11 (tested).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import cumulative_simpson
from scipy.interpolate import BSpline, make_interp_spline

from amrr.properties.constants import HBAR, K_B, M3_KG, N_A, R
from amrr.properties.validity import FloatArray, temperature_range

V_SVP_CM3_MOL = 36.84  #: molar volume of liquid 3He at SVP, T → 0 [cm³/mol]

TEMPERATURE_RANGE = temperature_range(
    0.007,
    2.5,
    "Greywall (1983) normal-liquid 3He heat-capacity fit; superfluid below ~1 mK",
    limit_high=2.5,
    limit_source="T > 0; the entropy spline of Greywall's fit ends at 2.5 K",
)

# Greywall (1983) C_V/R coefficients. _A[i][j]: T^(i+1) V^(-j), T < 0.1 K.
_A = (
    (-2.9190414, 5.2893401e2, -1.8869641e4, 2.6031315e5),
    (0.0, 0.0, 0.0, 0.0),
    (-2.4752597e3, 1.8377260e5, -3.4946553e6, 0.0),
    (3.8887481e4, -2.8649769e6, 5.2526785e7, 0.0),
    (-1.7505655e5, 1.2809001e7, -2.3037701e8, 0.0),
)
# _B[i][j]: T^(-i) V^j; _C[i][j]: T^(-(i+1)) V^j; _D[j]: V^j (0.1 <= T < 2.5 K).
_B = (
    (-6.5521193e-2, 1.3502371e-2, 0.0),
    (4.1359033e-2, 3.8233755e-4, -5.3468396e-5),
    (5.7976786e-3, -6.5611532e-4, 1.2689707e-5),
    (-3.8374623e-4, 3.2072581e-5, -5.3038906e-7),
)
_C = (
    (-2.5482958e1, 1.6416936, -1.5110378e-2),
    (3.7882751e1, -2.8769188, 3.5751181e-2),
    (2.4412956e1, -2.4244083, 6.7775905e-2),
)
_D = (-7.1613436, 6.0525139e-1, -7.1295855e-3)
_T_SPLIT = 0.1  # K, where Greywall's two fit pieces meet


def greywall_cv_over_R(temperature_K: ArrayLike, molar_volume_cm3_mol: float) -> FloatArray:
    """Greywall (1983) heat capacity of normal liquid 3He, C_V/R [-].

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0 < T < 2.5 K (not checked: this is the raw published fit).
    molar_volume_cm3_mol : float
        Molar volume V [cm³/mol] (26–36.8 cm³/mol in Greywall's data).

    Returns
    -------
    ndarray
        C_V/R [-].

    Examples
    --------
    >>> round(float(greywall_cv_over_R(0.5, 36.84)), 4)
    0.3967
    """
    T = np.asarray(temperature_K, dtype=np.float64)
    V = float(molar_volume_cm3_mol)
    low = sum(
        _A[i][j] * V ** (-j) * T ** (i + 1) for i in range(len(_A)) for j in range(len(_A[0]))
    )
    Th = np.maximum(T, _T_SPLIT)  # the high-T piece is only used where T >= 0.1 K
    poly = sum(_B[i][j] * V**j * Th ** (-i) for i in range(len(_B)) for j in range(len(_B[0])))
    expo = sum(
        _C[i][j] * V**j * Th ** (-(i + 1)) for i in range(len(_C)) for j in range(len(_C[0]))
    )
    d = sum(_D[j] * V**j for j in range(len(_D)))
    high = poly + np.exp(-d / Th) * expo
    return np.asarray(np.where(T < _T_SPLIT, low, high), dtype=np.float64)


def gamma_per_K(molar_volume_cm3_mol: float = V_SVP_CM3_MOL) -> float:
    """Fermi-liquid coefficient γ = lim_{T→0} C_V/(R T) of Greywall's fit [1/K]."""
    V = float(molar_volume_cm3_mol)
    return float(sum(_A[0][j] * V ** (-j) for j in range(len(_A[0]))))


def effective_mass_ratio(molar_volume_cm3_mol: float = V_SVP_CM3_MOL) -> float:
    """Landau effective mass m*/m3 from γ: γ = π² k_B m* / (ħ² (3π² n)^(2/3)) [-].

    n = N_A / V is the number density; the ideal Fermi gas of mass m* has
    C/(N k_B T) = π²/(2 T_F), k_B T_F = ħ² (3π² n)^(2/3)/(2 m*).

    Examples
    --------
    >>> round(effective_mass_ratio(), 2)
    2.75
    """
    n = N_A / (float(molar_volume_cm3_mol) * 1e-6)
    kf2 = (3.0 * np.pi**2 * n) ** (2.0 / 3.0)
    return float(gamma_per_K(molar_volume_cm3_mol) * HBAR**2 * kf2 / (np.pi**2 * M3_KG * K_B))


@cache
def _entropy_spline() -> tuple[BSpline, BSpline, BSpline]:
    """Quintic interpolating spline of s(T)/R at SVP and its derivative and antiderivative."""
    grid = np.concatenate([np.linspace(0.0, _T_SPLIT, 401)[:-1], np.linspace(_T_SPLIT, 2.5, 4801)])
    Tpos = np.maximum(grid, 1e-12)
    c_over_T = greywall_cv_over_R(Tpos, V_SVP_CM3_MOL) / Tpos
    c_over_T[0] = gamma_per_K()  # the T → 0 limit
    s_over_R = cumulative_simpson(c_over_T, x=grid, initial=0.0)
    spline = make_interp_spline(grid, s_over_R, k=5)
    return spline, spline.derivative(), spline.antiderivative()


def molar_entropy_J_molK(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Molar entropy of liquid 3He at SVP, s3 = R ∫₀ᵀ (C_V/R) dT/T [J/(mol K)].

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.007–2.5 K.
    extrapolate : bool
        Allow 0–0.007 K (the spline starts at 0 K); above 2.5 K always raises.

    Examples
    --------
    >>> round(float(molar_entropy_J_molK(0.15)), 3)
    2.987
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    s, _, _ = _entropy_spline()
    return np.asarray(R * s(np.clip(T, 0.0, 2.5)), dtype=np.float64)


def molar_heat_capacity_J_molK(
    temperature_K: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Molar heat capacity of liquid 3He at SVP, c3 = T ds3/dT [J/(mol K)].

    The derivative of the entropy spline, so c3 = T ds3/dT holds exactly; it reproduces
    Greywall's C_V to the spline accuracy (tested).
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    _, ds, _ = _entropy_spline()
    Tc = np.clip(T, 0.0, 2.5)
    return np.asarray(R * Tc * ds(Tc), dtype=np.float64)


def molar_gibbs_J_mol(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Molar Gibbs energy of liquid 3He at SVP, g3 = −∫₀ᵀ s3 dT [J/mol] (g3(0) = 0).

    Consistent with :func:`molar_entropy_J_molK` (s3 = −dg3/dT exactly).

    Examples
    --------
    >>> round(float(molar_gibbs_J_mol(0.15)), 4)
    -0.2379
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    _, _, s_int = _entropy_spline()
    Tc = np.clip(T, 0.0, 2.5)
    return np.asarray(-R * (s_int(Tc) - s_int(0.0)), dtype=np.float64)
