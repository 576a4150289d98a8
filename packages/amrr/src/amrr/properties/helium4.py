"""Superfluid 4He (He II) at saturated vapour pressure, 0.5–2.17 K.

Source: R. J. Donnelly and C. F. Barenghi, "The observed properties of liquid helium at the
saturated vapor pressure", J. Phys. Chem. Ref. Data 27, 1217 (1998), doi:10.1063/1.556028
(hereafter D&B). Entropy, enthalpy and superfluid density are D&B's recommended cubic
B-splines (knots and coefficients as published; transcription cross-checked against the
copy in github:jmeloranta/libdft ``src/helium-exp-bulk.h``); the total density is D&B's
0.05 K table (http://pages.uoregon.edu/rjd/vapor2.htm), interpolated with a cubic
Hermite (PCHIP) curve.

Two D&B splines overlap: the enthalpy spline and ∫ T ds from the entropy spline differ by up
to 2.2 % (measured, 1.1–1.9 K; see ``docs/amrr/properties.md``). :func:`helium4_svp` reports
the published enthalpy spline; the mixture model uses the entropy-consistent
:func:`molar_gibbs_J_mol` so that its h = g + T s holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import cumulative_simpson
from scipy.interpolate import BSpline, CubicSpline, PchipInterpolator

from amrr.properties.constants import HBAR, K_B, M4_KG_MOL
from amrr.properties.validity import FloatArray, OutOfRangeError, Range, temperature_range

T_LAMBDA_K = 2.1768  #: lambda temperature at SVP [K] (D&B 1998)

TEMPERATURE_RANGE = temperature_range(
    0.5,
    2.17,
    "He II at SVP, Donnelly & Barenghi (1998) splines",
    limit_high=T_LAMBDA_K,
    limit_source="T > 0; He I above T_λ = 2.1768 K is not modelled",
)
"""Every public function here: valid 0.5–2.17 K; ``extrapolate=True`` evaluates 0–T_λ
(s ∝ T³ phonons below the entropy spline's start at 0.1 K); above T_λ always raises."""
_SPLINE_LOW_K = 0.1  #: first knot of the D&B entropy spline [K]

# D&B (1998) entropy at SVP, s(T) [J/(g K)], cubic B-spline knots [K] and coefficients.
_S_KNOTS = (0.1, 0.1, 0.1, 0.1, 0.11123, 0.21625, 0.27672, 0.44817, 0.56369, 0.71969, 0.85360,
            1.00186, 1.40184, 1.72912, 1.99887, 2.07775, 2.15384, 2.17680, 2.17680, 2.17680,
            2.21160, 2.34820, 2.69075, 4.38277, 4.76361, 5.0, 5.0, 5.0, 5.0)  # fmt: skip
_S_COEFS = (6.60e-6, 7.60e-6, 1.60e-5, 4.61413e-5, 1.8400e-4, 4.68675e-4, 0.00121, 0.00236,
            0.00561, 0.01978, 0.08337, 0.35824, 0.76882, 1.17803, 1.38629, 1.53613, 1.58271,
            1.62419, 1.72261, 1.91862, 2.53529, 3.16601, 4.10379, 4.44077, 4.61570)  # fmt: skip
# D&B (1998) enthalpy H(T) - H(0) at SVP [J/mol].
_H_KNOTS = (0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 0.37, 0.5, 0.61, 0.74395, 0.87, 1.02755,
            1.25, 1.5, 1.75, 2.0, 2.13, 2.190120, 2.232940, 2.854200, 4.0, 4.9, 4.9, 4.9,
            4.9)  # fmt: skip
_H_COEFS = (0.0, 0.0, -1.65e-6, 1.801e-5, 1.185e-4, 4.108550e-4, 1.0332e-3, 2.71e-3, 6.09e-3,
            1.784e-2, 6.03274e-2, 2.4005e-1, 8.64372e-1, 2.4454, 5.55436, 8.8, 12.2013, 15.581,
            20.04, 32.231, 47.0464, 58.4893)  # fmt: skip
# D&B (1998) superfluid density rho_s(T) at SVP [g/cm3].
_RS_KNOTS = (0.0, 0.0, 0.0, 0.0, 0.443, 0.9012, 1.5419, 1.7540, 1.918, 2.111, 2.156991,
             2.173218, 2.175647, 2.176358, 2.176568, 2.176692, 2.176766, 2.176791, 2.176798,
             2.176799, 2.17679999, 2.1768, 2.1768, 2.1768, 2.1768)  # fmt: skip
_RS_COEFS = (1.451275432822459e-1, 1.451334563362309e-1, 1.449759191497576e-1,
             1.455008000684433e-1, 1.4075e-1, 1.095e-1, 8.15e-2, 5.30e-2, 2.1e-2, 8.904576e-3,
             3.053214e-3, 1.494043e-3, 8.342826e-4, 5.10686e-4, 2.8379e-4, 1.287426e-4,
             5.202569e-5, 2.153580e-5, 8.564206e-6, 3.567958e-6, 0.0)  # fmt: skip
# D&B (1998) density at SVP [g/cm3], T = 0, 0.05, ..., 2.20 K (vapor2.htm).
_RHO_TABLE = (1.451397e-1, 1.451397e-1, 1.451397e-1, 1.451396e-1, 1.451395e-1, 1.451395e-1,
              1.451393e-1, 1.451391e-1, 1.451388e-1, 1.451384e-1, 1.451377e-1, 1.451368e-1,
              1.451356e-1, 1.451342e-1, 1.451324e-1, 1.451304e-1, 1.451281e-1, 1.451257e-1,
              1.451232e-1, 1.451207e-1, 1.451183e-1, 1.451163e-1, 1.451150e-1, 1.451144e-1,
              1.451151e-1, 1.451173e-1, 1.451215e-1, 1.451281e-1, 1.451373e-1, 1.451493e-1,
              1.451646e-1, 1.451837e-1, 1.452071e-1, 1.452352e-1, 1.452686e-1, 1.453079e-1,
              1.453538e-1, 1.454070e-1, 1.454684e-1, 1.455394e-1, 1.456217e-1, 1.457181e-1,
              1.458340e-1, 1.459840e-1, 1.461049e-1)  # fmt: skip
# D&B (1998) excitation dispersion at SVP, E(k)/k_B [K] vs k [1/Å], cubic B-spline
# (phonon-maxon-roton curve; roton minimum 8.63 K at 1.931 1/Å, μ = 0.152 m4 from its curvature).
_E_KNOTS = (0.0894, 0.0894, 0.0894, 0.0894, 0.15, 0.510, 1.60, 2.023, 2.42, 2.665, 3.60, 3.60,
            3.60, 3.60)  # fmt: skip
_E_COEFS = (1.53895, 1.932, 4.8, 14.85, 14.88, 5.9384, 16.5014, 17.72455, 18.43656,
            18.43545)  # fmt: skip


@cache
def _splines() -> dict[str, BSpline | PchipInterpolator | CubicSpline]:
    s = BSpline(np.array(_S_KNOTS), np.array(_S_COEFS), 3, extrapolate=False)
    h = BSpline(np.array(_H_KNOTS), np.array(_H_COEFS), 3, extrapolate=False)
    rs = BSpline(np.array(_RS_KNOTS), np.array(_RS_COEFS), 3, extrapolate=False)
    rho = PchipInterpolator(0.05 * np.arange(len(_RHO_TABLE)), np.array(_RHO_TABLE))
    # Fountain pressure ∫ rho s dT [Pa] on a fine grid (Simpson), splined.
    grid = np.linspace(0.0, T_LAMBDA_K, 4001)
    s_grid = np.where(grid < _SPLINE_LOW_K, _S_COEFS[0] * (grid / _SPLINE_LOW_K) ** 3, s(grid))
    rho_s = 1e3 * rho(grid) * 1e3 * s_grid  # [kg/m3] x [J/(kg K)] = [Pa/K]
    fountain = cumulative_simpson(rho_s, x=grid, initial=0.0)
    return {
        "s": s,
        "ds": s.derivative(),
        "s_int": s.antiderivative(),
        "h": h,
        "rs": rs,
        "rho": rho,
        "fountain": CubicSpline(grid, fountain),
    }


def _entropy_J_gK(T: FloatArray) -> FloatArray:
    """D&B entropy [J/(g K)] with the phonon s ∝ T³ continuation below 0.1 K."""
    sp = _splines()
    t_low = _SPLINE_LOW_K
    s = np.asarray(sp["s"](np.clip(T, t_low, T_LAMBDA_K)), dtype=np.float64)
    return np.where(t_low > T, _S_COEFS[0] * (T / t_low) ** 3, s)


def molar_entropy_J_molK(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Molar entropy of He II at SVP, s4(T) [J/(mol K)] (D&B entropy spline).

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.5–2.17 K.
    extrapolate : bool
        Allow 0–2.1768 K (phonon s ∝ T³ below the spline's first knot, 0.1 K).
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    return 1e3 * M4_KG_MOL * _entropy_J_gK(T)


def molar_heat_capacity_J_molK(
    temperature_K: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Molar heat capacity at SVP, c4 = T ds4/dT [J/(mol K)] (D&B entropy spline)."""
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    t_low = _SPLINE_LOW_K
    ds = np.asarray(sp["ds"](np.clip(T, t_low, T_LAMBDA_K)), dtype=np.float64)
    ds = np.where(t_low > T, 3.0 * _entropy_J_gK(T) / T, ds)
    return 1e3 * M4_KG_MOL * T * ds


def molar_gibbs_J_mol(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Molar Gibbs energy of He II at SVP relative to T = 0, g4 = −∫₀ᵀ s4 dT [J/mol].

    Consistent with :func:`molar_entropy_J_molK` (s4 = −dg4/dT), so h4 = g4 + T s4 is the
    entropy-consistent enthalpy ∫₀ᵀ T ds4. The 0–0.1 K piece uses s ∝ T³.
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    t0 = _SPLINE_LOW_K
    Tc = np.clip(T, t0, T_LAMBDA_K)
    s0 = _S_COEFS[0]
    above = np.asarray(sp["s_int"](Tc) - sp["s_int"](t0), dtype=np.float64) + s0 * t0 / 4
    integral = np.where(t0 > T, s0 * T**4 / (4 * t0**3), above)
    return -1e3 * M4_KG_MOL * integral


# D&B (1998) viscosity of He II (the normal fluid's shear viscosity) at SVP [Pa s], cubic
# B-spline (numbers as transcribed in the Lancaster ULT group's helium module, authors
# noblemt/TsepelinV; D&B quote ~±2 % below 1.8 K). Valid from its first knot, 0.7913 K.
_ETA_KNOTS = (7.913364e-1, 7.913364e-1, 7.913364e-1, 7.913364e-1, 9.705100e-1, 1.064730,
              1.285930, 1.582100, 1.747010, 2.02568, 2.051740, 2.146961, 2.17680, 2.17680,
              2.17680, 2.212906, 2.221800, 2.618000, 3.253700, 3.784200, 4.025400, 4.406982,
              4.406982, 4.406982, 4.406982)  # fmt: skip
_ETA_COEFS = (1.730865e-5, 6.577810e-6, 4.956473e-6, 1.862435e-6, 1.452672e-6, 1.308345e-6,
              1.273173e-6, 1.338821e-6, 1.613257e-6, 1.956558e-6, 2.296259e-6, 2.514817e-6,
              2.487748e-6, 2.715638e-6, 3.125798e-6, 3.487019e-6, 3.564378e-6, 3.486451e-6,
              3.270547e-6, 3.226615e-6, 3.160000e-6)  # fmt: skip
VISCOSITY_RANGE = temperature_range(
    0.8,
    2.17,
    "D&B (1998) viscosity spline of He II, first knot 0.7913 K",
    limit_high=T_LAMBDA_K,
    limit_source="the spline starts at 0.7913 K; below, the roton mean free path exceeds "
    "any channel and a bulk viscosity is not defined; He I above T_λ is not modelled",
)
# the roton/phonon ratio ρn/s of the Landau sums is used up to here, D&B's ρs spline from
# _RN_JOIN_K[1] on, with a smooth (cosine) blend in between
_RN_JOIN_K = (1.5, 1.7)


@dataclass(frozen=True)
class Helium4Properties:
    """He II at saturated vapour pressure.

    Attributes
    ----------
    temperature_K : ndarray
        Temperature [K].
    entropy_J_kgK, entropy_J_molK : ndarray
        Entropy [J/(kg K)], [J/(mol K)] (D&B entropy spline).
    enthalpy_J_mol : ndarray
        Enthalpy H(T) − H(0 K) along SVP, ∫₀ᵀ T ds = ∫₀ᵀ c dT [J/mol] — consistent with
        the entropy and heat capacity (D&B's separate enthalpy spline differs by up to 2.2 %).
    heat_capacity_J_kgK : ndarray
        Heat capacity along SVP c_s = T ds/dT [J/(kg K)] (≈ c_p below 2 K).
    density_kg_m3 : ndarray
        Total density ρ [kg/m³].
    normal_fluid_density_kg_m3 : ndarray
        Normal-fluid density ρn [kg/m³] (:func:`normal_fluid_density_kg_m3`).
    superfluid_density_kg_m3 : ndarray
        Superfluid density ρs = ρ − ρn [kg/m³].
    superfluid_fraction : ndarray
        ρs/ρ [-].
    fountain_coefficient_Pa_K : ndarray
        London fountain coefficient dP/dT = ρ s [Pa/K].
    second_sound_m_s : ndarray
        Second-sound speed of the two-fluid model, u2 = √(T s² ρs/(c ρn)) [m/s], from the
        s, c, ρs and ρn above (Landau 1941; validated against D&B's measured u2).
    """

    temperature_K: FloatArray
    entropy_J_kgK: FloatArray
    entropy_J_molK: FloatArray
    enthalpy_J_mol: FloatArray
    heat_capacity_J_kgK: FloatArray
    density_kg_m3: FloatArray
    normal_fluid_density_kg_m3: FloatArray
    superfluid_density_kg_m3: FloatArray
    superfluid_fraction: FloatArray
    fountain_coefficient_Pa_K: FloatArray
    second_sound_m_s: FloatArray


def helium4_svp(temperature_K: ArrayLike, *, extrapolate: bool = False) -> Helium4Properties:
    """Properties of superfluid 4He at saturated vapour pressure (Donnelly & Barenghi 1998).

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K]; valid 0.5–2.17 K.
    extrapolate : bool
        Evaluate 0–2.1768 K (T_λ) instead of raising; above T_λ it always raises.

    Returns
    -------
    Helium4Properties
        See the dataclass for units.

    Examples
    --------
    >>> p = helium4_svp(1.6)
    >>> round(float(p.entropy_J_kgK), 1), round(float(p.superfluid_fraction), 3)
    (282.4, 0.836)
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    s = 1e3 * _entropy_J_gK(T)
    rho = 1e3 * np.asarray(sp["rho"](T), dtype=np.float64)
    rho_n = normal_fluid_density_kg_m3(T, extrapolate=True)
    c = molar_heat_capacity_J_molK(T, extrapolate=True) / M4_KG_MOL
    rho_s = rho - rho_n
    with np.errstate(divide="ignore", invalid="ignore"):
        u2 = np.sqrt(T * s * s * rho_s / (c * rho_n))
    h = molar_gibbs_J_mol(T, extrapolate=True) + T * s * M4_KG_MOL
    return Helium4Properties(
        temperature_K=np.asarray(T),
        entropy_J_kgK=s,
        entropy_J_molK=s * M4_KG_MOL,
        enthalpy_J_mol=h,
        heat_capacity_J_kgK=c,
        density_kg_m3=rho,
        normal_fluid_density_kg_m3=rho_n,
        superfluid_density_kg_m3=rho_s,
        superfluid_fraction=rho_s / rho,
        fountain_coefficient_Pa_K=rho * s,
        second_sound_m_s=u2,
    )


def enthalpy_spline_J_mol(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """D&B's (1998) own enthalpy spline H(T) − H(0) at SVP [J/mol], for comparison only.

    It was fitted to different data than the entropy spline and departs from ∫ T ds by up
    to −2.2 % near 1.85 K (measured, ``docs/amrr/properties.md``); :func:`helium4_svp`
    reports the entropy-consistent enthalpy.
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    return np.asarray(_splines()["h"](T), dtype=np.float64)


def fountain_pressure_Pa(
    temperature_K: ArrayLike,
    reference_temperature_K: ArrayLike,
    *,
    extrapolate: bool = False,
) -> FloatArray:
    """Thermomechanical (fountain) pressure of pure He II, ΔP = ∫ ρ s dT [Pa].

    Parameters
    ----------
    temperature_K : array_like
        Temperature of the warm side [K] (0.5–2.17 K).
    reference_temperature_K : array_like
        Temperature of the cold side across the superleak [K] (0.5–2.17 K).
    extrapolate : bool
        Allow 0–2.1768 K.

    Returns
    -------
    ndarray
        P(T) − P(T_ref) [Pa] at equal chemical potential (London, H. London 1939;
        D&B 1998 eq. for the fountain effect), positive when T > T_ref.

    Notes
    -----
    dP/dT = ρ s along constant μ4; integrated once with Simpson's rule on 4001 points
    (0–2.1768 K) and splined, so the result is smooth and vectorised.
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    Tr = TEMPERATURE_RANGE.check(reference_temperature_K, extrapolate=extrapolate)
    f = _splines()["fountain"]
    return np.asarray(f(T) - f(Tr), dtype=np.float64)


LANDAU_RANGE = temperature_range(
    0.5,
    2.17,
    "the ideal excitation gas; departures from the measured entropy are documented",
    limit_high=T_LAMBDA_K,
)
_LANDAU_T_MIN_K = 0.02  # the Landau tables start here; below, phonons only (s ∝ T³, ρn ∝ T⁴)


@cache
def _landau_tables() -> dict[str, CubicSpline]:
    """Ideal Bose gas of excitations with the D&B dispersion: s and ρn tabulated in T.

    Per mode, with n = 1/(e^{E/k_B T} − 1): entropy (n + 1) ln(n + 1) − n ln n, and
    Landau's normal density (ħk)²(−∂n/∂E)/3 = (ħk)² n(n + 1)/(3 k_B T).
    """
    disp = BSpline(np.array(_E_KNOTS), np.array(_E_COEFS), 3, extrapolate=False)
    k0, k_max = _E_KNOTS[0], _E_KNOTS[-1]
    k = np.linspace(1e-4, k_max, 6001)  # [1/Å]
    e0 = float(disp(k0))
    # below the spline's first knot: linear phonons with the slope E(k0)/k0
    energy = np.where(k < k0, e0 * k / k0, disp(np.clip(k, k0, k_max)))  # [K]
    T = np.linspace(_LANDAU_T_MIN_K, T_LAMBDA_K, 800)
    y = energy[None, :] / T[:, None]
    q = np.exp(-y)  # n = q/(1 − q) without overflow at large y
    n = q / -np.expm1(-y)
    per_mode = y * n - np.log1p(-q)  # = y n + ln(1 + n)
    kk = k * 1e10  # [1/m]
    s_vol = K_B * np.trapezoid(per_mode * kk**2, kk, axis=1) / (2.0 * np.pi**2)  # [J/(K m³)]
    rn = HBAR**2 * np.trapezoid(n * (n + 1.0) * kk**4, kk, axis=1) / (6.0 * np.pi**2 * K_B * T)
    rho = 1e3 * _splines()["rho"](T)  # [kg/m³]
    return {
        "s_molar": CubicSpline(T, s_vol * M4_KG_MOL / rho),
        "rn_over_s": CubicSpline(T, rn / s_vol),  # [kg K/J]: ρn per volumetric entropy
    }


def landau_entropy_J_molK(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Entropy of He II as an ideal gas of phonons, maxons and rotons [J/(mol K)].

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.5–2.17 K.
    extrapolate : bool
        Allow 0.02–2.1768 K.

    Returns
    -------
    ndarray
        s = (V_m k_B / 2π²) ∫ [(n + 1) ln(n + 1) − n ln n] k² dk, n = 1/(e^{E(k)/k_B T} − 1),
        with the measured low-temperature dispersion E(k) of D&B (1998) and V_m = M4/ρ(T)
        (Landau's quasiparticle picture; e.g. Khalatnikov, *An Introduction to the Theory of
        Superfluidity*, ch. 1–2).

    Notes
    -----
    No adjustable parameter: the departure from the measured entropy (the D&B entropy
    spline) shows where the excitation gas stops being ideal — the roton gap falls with
    temperature (roton–roton interaction). Measured departures are in
    ``docs/amrr/properties.md``; the He II thermodynamics in :func:`helium4_svp` and the
    mixture background use the measured entropy, not this model.

    Examples
    --------
    >>> round(float(landau_entropy_J_molK(1.0)), 4)
    0.0645
    """
    T = LANDAU_RANGE.check(temperature_K, extrapolate=extrapolate)
    if bool(np.any(T < _LANDAU_T_MIN_K)):
        raise OutOfRangeError(f"temperature_K below {_LANDAU_T_MIN_K} K: no Landau table there")
    return np.asarray(_landau_tables()["s_molar"](T), dtype=np.float64)


def normal_fluid_density_kg_m3(
    temperature_K: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Normal-fluid density ρn of He II at SVP [kg/m³].

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.5–2.17 K.
    extrapolate : bool
        Allow 0–2.1768 K (ρn ∝ T⁴, phonons, below 0.02 K).

    Returns
    -------
    ndarray
        ρn [kg/m³], smooth and increasing in T.

    Notes
    -----
    Below 1.5 K: ρn = (ρn/s)_Landau · ρ s — Landau's ratio of normal density to entropy of
    the ideal excitation gas, ρn = (1/3)∫ p² (−∂n/∂E) d³p/(2πħ)³ over s = ∫ [(n+1)ln(n+1) −
    n ln n] k_B d³p/(2πħ)³ with D&B's measured dispersion (L. D. Landau, J. Phys. USSR 5, 71
    (1941); Khalatnikov, ch. 2), times the *measured* entropy ρ s (D&B spline). Both sums
    count the same thermally excited rotons and phonons, so the ratio is insensitive to the
    fall of the roton gap with T that makes the absolute Landau sums too small above 1 K
    (−3 % in s at 1.2 K, −8 % at 1.6 K). Above 1.7 K: ρ − ρs with D&B's ρs spline (Maynard's
    and Tam & Ahlers's data, derived from second and fourth sound); a cosine blend joins the
    two on 1.5–1.7 K.

    Why not D&B's ρs spline everywhere: below 1 K it is not resolved (ρn is 10⁻⁵–10⁻³ of ρ,
    the spline wiggles by 10⁻⁵ ρ), giving ρs/ρ > 1 near 0.62 K and a non-monotonic ρn.
    Validation: the second sound built from s, c, ρs and ρn against D&B's measured u2
    (``test_second_sound_against_donnelly_barenghi``): within 4 % at 0.6–0.9 K, 1.5 % at
    0.9–1.5 K and 1 % at 1.5–2.1 K (table in ``docs/amrr/properties.md``).
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    rho = 1e3 * np.asarray(sp["rho"](T), dtype=np.float64)
    s_vol = rho * 1e3 * _entropy_J_gK(T)  # [J/(K m³)]
    tab = _landau_tables()["rn_over_s"]
    t_min = _LANDAU_T_MIN_K
    # phonons below the table: ρn/s ∝ T (ρn ∝ T⁴, s ∝ T³)
    ratio = np.where(t_min > T, float(tab(t_min)) * T / t_min, tab(np.maximum(T, t_min)))
    rn_landau = ratio * s_vol
    rn_db = rho - 1e3 * np.asarray(sp["rs"](T), dtype=np.float64)
    lo, hi = _RN_JOIN_K
    u = np.clip((T - lo) / (hi - lo), 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * u)  # 0 below 1.5 K, 1 above 1.7 K, C¹ in between
    return np.asarray((1.0 - w) * rn_landau + w * rn_db, dtype=np.float64)


def viscosity_Pa_s(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Shear viscosity of He II's normal fluid at SVP, η [Pa s].

    D&B (1998) recommended cubic B-spline (their viscosity chapter: rotating-cylinder,
    oscillating-disc and capillary data). The superfluid carries no shear stress, so η
    belongs to the normal fluid: the viscous pressure drop of a flow through a porous bed
    uses η and the normal-fluid velocity.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.8–2.17 K (``extrapolate``: 0.7913 K, the spline's first knot,
        to T_λ).
    extrapolate : bool
        Allow 0.7913–2.1768 K.

    Examples
    --------
    >>> round(float(viscosity_Pa_s(1.6)) * 1e6, 3)
    1.306
    """
    T = VISCOSITY_RANGE.check(temperature_K, extrapolate=extrapolate)
    if bool(np.any(_ETA_KNOTS[0] > T)):
        raise OutOfRangeError(
            f"temperature_K below {_ETA_KNOTS[0]:.4f} K, where D&B's viscosity spline starts "
            "(extrapolation is refused, not clamped)"
        )
    eta = BSpline(np.array(_ETA_KNOTS), np.array(_ETA_COEFS), 3, extrapolate=False)
    return np.asarray(eta(T), dtype=np.float64)


def temperature_from_entropy_K(
    entropy_J_kgK: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Inverse lookup: the temperature of He II at SVP with entropy s [K].

    Parameters
    ----------
    entropy_J_kgK : array_like
        Entropy [J/(kg K)], between s(0.5 K) and s(2.17 K) (``extrapolate``: s(0.02 K) to
        s(T_λ)).
    extrapolate : bool
        Widen the temperature range as in :func:`helium4_svp`.

    Returns
    -------
    ndarray
        T [K] with s(T) equal to the input to 1e-10 relative (s is strictly increasing:
        bisection-free Newton iterations, ds/dT = c/T, from a dense-table start).
    """
    return _invert(entropy_J_kgK, "entropy_J_kgK", "s", extrapolate)


def temperature_from_enthalpy_K(
    enthalpy_J_mol: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Inverse lookup: the temperature of He II at SVP with enthalpy H(T) − H(0) [K].

    Parameters
    ----------
    enthalpy_J_mol : array_like
        Enthalpy of :func:`helium4_svp` [J/mol], between h(0.5 K) and h(2.17 K).
    extrapolate : bool
        Widen the temperature range as in :func:`helium4_svp`.

    Returns
    -------
    ndarray
        T [K] with h(T) equal to the input to 1e-10 relative (dh/dT = c).
    """
    return _invert(enthalpy_J_mol, "enthalpy_J_mol", "h", extrapolate)


def _invert(value: ArrayLike, name: str, which: str, extrapolate: bool) -> FloatArray:
    lo = _LANDAU_T_MIN_K if extrapolate else TEMPERATURE_RANGE.low
    hi = T_LAMBDA_K if extrapolate else TEMPERATURE_RANGE.high

    def f(T: FloatArray) -> tuple[FloatArray, FloatArray]:
        p = helium4_svp(T, extrapolate=True)
        if which == "s":
            return p.entropy_J_kgK, p.heat_capacity_J_kgK / T
        return p.enthalpy_J_mol, p.heat_capacity_J_kgK * M4_KG_MOL

    grid = np.linspace(lo, hi, 4001)
    table, _ = f(grid)
    target = Range(
        name,
        float(table[0]),
        float(table[-1]),
        f"He II at SVP between {lo:g} and {hi:g} K",
        limit_low=0.0,
    ).check(value)
    T = np.interp(target, table, grid)
    for _ in range(8):
        y, dy = f(T)
        T = np.clip(T - (y - target) / dy, lo, hi)
    return np.asarray(T, dtype=np.float64)


def laminar_counterflow_conductivity_W_mK(
    temperature_K: ArrayLike, diameter_m: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Effective heat conductivity of He II by laminar counterflow in a tube [W/(m K)].

    Heat is carried by the normal fluid (q = ρ s T v_n) while the superfluid flows back; the
    fountain pressure gradient ∇p = ρ s ∇T drives the normal fluid through the tube as a
    Poiseuille flow, v_n = −d² ∇p/(32 η), so

        k_eff = (ρ s)² T d² / (32 η)

    (F. London, *Superfluids* II (1954); S. W. Van Sciver, *Helium Cryogenics*, 2nd ed.,
    Springer (2012), §7.3). Valid only below the critical counterflow velocity, where the
    superfluid is free of vortices; above it the Gorter–Mellink mutual friction (not
    modelled here) takes over and the heat flux grows only as ∇T^{1/3}.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.8–2.17 K (the viscosity's range).
    diameter_m : array_like
        Tube (or pore hydraulic) diameter d [m], > 0.
    extrapolate : bool
        As in :func:`viscosity_Pa_s`.

    Examples
    --------
    >>> round(float(laminar_counterflow_conductivity_W_mK(1.6, 1e-5)))
    6434
    """
    T = VISCOSITY_RANGE.check(temperature_K, extrapolate=extrapolate)
    d = Range("diameter_m", 1e-9, 1.0, "a channel", limit_low=0.0, limit_low_open=True).check(
        diameter_m, extrapolate=extrapolate
    )
    p = helium4_svp(T, extrapolate=True)
    eta = viscosity_Pa_s(T, extrapolate=extrapolate)
    rho_s = p.density_kg_m3 * p.entropy_J_kgK
    return np.asarray(rho_s**2 * T * d**2 / (32.0 * eta), dtype=np.float64)
