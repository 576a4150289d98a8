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

from amrr.properties.constants import K_B, M4_KG_MOL
from amrr.properties.validity import FloatArray, Range

T_LAMBDA_K = 2.1768  #: lambda temperature at SVP [K] (D&B 1998)

TEMPERATURE_RANGE = Range(
    "temperature_K", 0.5, 2.17, "He II at SVP, Donnelly & Barenghi (1998) splines"
)
#: wider internal range used by the mixture model (the entropy spline starts at 0.1 K)
_INTERNAL_RANGE = Range("temperature_K", 0.1, T_LAMBDA_K, "D&B entropy spline domain")

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
    grid = np.linspace(_INTERNAL_RANGE.low, T_LAMBDA_K, 4001)
    rho_s = 1e3 * rho(grid) * 1e3 * s(grid)  # [kg/m3] x [J/(kg K)] = [Pa/K]
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
    t_low = _INTERNAL_RANGE.low
    s = np.asarray(sp["s"](np.clip(T, t_low, T_LAMBDA_K)), dtype=np.float64)
    return np.where(t_low > T, _S_COEFS[0] * (T / t_low) ** 3, s)


def molar_entropy_J_molK(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Molar entropy of He II at SVP, s4(T) [J/(mol K)] (D&B entropy spline).

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.1–2.1768 K.
    extrapolate : bool
        Allow T outside 0.1–2.1768 K (phonon T³ below, clipped above T_λ).
    """
    T = _INTERNAL_RANGE.check(temperature_K, extrapolate=extrapolate)
    return 1e3 * M4_KG_MOL * _entropy_J_gK(T)


def molar_heat_capacity_J_molK(
    temperature_K: ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Molar heat capacity at SVP, c4 = T ds4/dT [J/(mol K)] (D&B entropy spline)."""
    T = _INTERNAL_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    t_low = _INTERNAL_RANGE.low
    ds = np.asarray(sp["ds"](np.clip(T, t_low, T_LAMBDA_K)), dtype=np.float64)
    ds = np.where(t_low > T, 3.0 * _entropy_J_gK(T) / T, ds)
    return 1e3 * M4_KG_MOL * T * ds


def molar_gibbs_J_mol(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Molar Gibbs energy of He II at SVP relative to T = 0, g4 = −∫₀ᵀ s4 dT [J/mol].

    Consistent with :func:`molar_entropy_J_molK` (s4 = −dg4/dT), so h4 = g4 + T s4 is the
    entropy-consistent enthalpy ∫₀ᵀ T ds4. The 0–0.1 K piece uses s ∝ T³.
    """
    T = _INTERNAL_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    t0 = _INTERNAL_RANGE.low
    Tc = np.clip(T, t0, T_LAMBDA_K)
    s0 = _S_COEFS[0]
    above = np.asarray(sp["s_int"](Tc) - sp["s_int"](t0), dtype=np.float64) + s0 * t0 / 4
    integral = np.where(t0 > T, s0 * T**4 / (4 * t0**3), above)
    return -1e3 * M4_KG_MOL * integral


@dataclass(frozen=True)
class Helium4Properties:
    """He II at saturated vapour pressure.

    Attributes
    ----------
    temperature_K : ndarray
        Temperature [K].
    entropy_J_kgK, entropy_J_molK : ndarray
        Entropy [J/(kg K)], [J/(mol K)].
    enthalpy_J_mol : ndarray
        Enthalpy H(T) − H(0 K) along SVP [J/mol] (D&B enthalpy spline).
    heat_capacity_J_kgK : ndarray
        Heat capacity along SVP c_s = T ds/dT [J/(kg K)] (≈ c_p below 2 K).
    density_kg_m3 : ndarray
        Total density ρ [kg/m³].
    superfluid_density_kg_m3 : ndarray
        Superfluid density ρ_s [kg/m³].
    superfluid_fraction : ndarray
        ρ_s/ρ [-].
    fountain_coefficient_Pa_K : ndarray
        London fountain coefficient dP/dT = ρ s [Pa/K].
    """

    temperature_K: FloatArray
    entropy_J_kgK: FloatArray
    entropy_J_molK: FloatArray
    enthalpy_J_mol: FloatArray
    heat_capacity_J_kgK: FloatArray
    density_kg_m3: FloatArray
    superfluid_density_kg_m3: FloatArray
    superfluid_fraction: FloatArray
    fountain_coefficient_Pa_K: FloatArray


def helium4_svp(temperature_K: ArrayLike, *, extrapolate: bool = False) -> Helium4Properties:
    """Properties of superfluid 4He at saturated vapour pressure (Donnelly & Barenghi 1998).

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K]; valid 0.5–2.17 K.
    extrapolate : bool
        Evaluate down to 0.1 K and up to T_λ = 2.1768 K instead of raising.

    Returns
    -------
    Helium4Properties
        See the dataclass for units.

    Examples
    --------
    >>> p = helium4_svp(1.6)
    >>> round(float(p.entropy_J_kgK), 1), round(float(p.superfluid_fraction), 3)
    (282.4, 0.838)
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    sp = _splines()
    Tc = np.clip(T, _INTERNAL_RANGE.low, T_LAMBDA_K)
    s = 1e3 * _entropy_J_gK(Tc)
    rho = 1e3 * np.asarray(sp["rho"](Tc), dtype=np.float64)
    rho_s = 1e3 * np.asarray(sp["rs"](Tc), dtype=np.float64)
    c = molar_heat_capacity_J_molK(Tc) / M4_KG_MOL
    return Helium4Properties(
        temperature_K=np.asarray(T),
        entropy_J_kgK=s,
        entropy_J_molK=s * M4_KG_MOL,
        enthalpy_J_mol=np.asarray(sp["h"](Tc), dtype=np.float64),
        heat_capacity_J_kgK=c,
        density_kg_m3=rho,
        superfluid_density_kg_m3=rho_s,
        superfluid_fraction=rho_s / rho,
        fountain_coefficient_Pa_K=rho * s,
    )


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
        Allow 0.1–2.1768 K.

    Returns
    -------
    ndarray
        P(T) − P(T_ref) [Pa] at equal chemical potential (London, H. London 1939;
        D&B 1998 eq. for the fountain effect), positive when T > T_ref.

    Notes
    -----
    dP/dT = ρ s along constant μ4; integrated once with Simpson's rule on 4001 points
    (0.1–2.1768 K) and splined, so the result is smooth and vectorised.
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    Tr = TEMPERATURE_RANGE.check(reference_temperature_K, extrapolate=extrapolate)
    f = _splines()["fountain"]
    lo, hi = _INTERNAL_RANGE.low, T_LAMBDA_K
    return np.asarray(f(np.clip(T, lo, hi)) - f(np.clip(Tr, lo, hi)), dtype=np.float64)


@cache
def _landau_table() -> CubicSpline:
    """Entropy of the ideal Bose gas of excitations with the D&B dispersion, tabulated in T."""
    disp = BSpline(np.array(_E_KNOTS), np.array(_E_COEFS), 3, extrapolate=False)
    k0, k_max = _E_KNOTS[0], _E_KNOTS[-1]
    k = np.linspace(1e-4, k_max, 6001)  # [1/Å]
    e0 = float(disp(k0))
    # below the spline's first knot: linear phonons with the slope E(k0)/k0
    energy = np.where(k < k0, e0 * k / k0, disp(np.clip(k, k0, k_max)))  # [K]
    T = np.linspace(0.05, T_LAMBDA_K, 600)
    y = energy[None, :] / T[:, None]
    n = 1.0 / np.expm1(y)
    # per excitation mode: (n + 1) ln(n + 1) − n ln n = y n + ln(1 + n)
    per_mode = y * n + np.log1p(n)
    s_vol = K_B * np.trapezoid(per_mode * k**2, k, axis=1) / (2.0 * np.pi**2) * 1e30  # [J/(K m³)]
    rho = 1e3 * _splines()["rho"](T)  # [kg/m³]
    return CubicSpline(T, s_vol * M4_KG_MOL / rho)


def landau_entropy_J_molK(temperature_K: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
    """Entropy of He II as an ideal gas of phonons, maxons and rotons [J/(mol K)].

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.5–2.17 K.
    extrapolate : bool
        Allow 0.05–2.1768 K.

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
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    Tc = np.clip(T, 0.05, T_LAMBDA_K)
    return np.asarray(_landau_table()(Tc), dtype=np.float64)
