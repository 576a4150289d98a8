"""3He-4He mixtures in the He II (dilute, superfluid) region at saturated vapour pressure.

Quasiparticle model (Landau & Pomeranchuk; Bardeen, Baym & Pines 1967; Radebaugh, NBS TN
362 (1967); Ebner & Edwards, Phys. Rep. 2, 77 (1971)): the dissolved 3He atoms are a
Fermi gas of effective mass m*(x) moving in the He II background, whose own phonon and roton
excitations are taken from pure 4He (Donnelly & Barenghi 1998 entropy spline). One molar
Gibbs energy g(T, x) defines everything, so h = g + T s, s = −∂g/∂T, C = T ∂s/∂T and the
Gibbs–Duhem relation hold identically::

    g(T, x) = (1 − x) g4(T) + x N_A [ε3 + a_F(T, n3; m*)] + x² (w1 + w2 x + ω T^ν)
    n3 = x N_A / v(x),   v(x) = v4 (1 + α x)
    k_B T_F = ħ² (3π² n3)^{2/3} / (2 m*),   m*(x) = m3 (m0 + m1 x + m2 x²)
    μ4 = g − x ∂g/∂x,   μ3 = g + (1 − x) ∂g/∂x,   π = (g4 − μ4)/v4

a_F is the Helmholtz energy per particle of the ideal Fermi gas (:mod:`.fermi`), g4 = −∫ s4 dT
the pure-4He Gibbs energy, ε3 a constant binding term, x²(w1 + w2 x) the mean-field
3He–3He interaction energy (the BBP interaction at this order) and x² ω T^ν an empirical
temperature-dependent interaction free energy (T in K; it stands for the thermal part of the
interaction and the momentum dependence of m* that an ideal Fermi gas lacks). Reference state
(as in Chaudhry 2009): g = h = 0 for pure 4He at T = 0 and μ3 = 0 for pure 3He at T = 0.

Calibration. Chaudhry's single-phase He II fits were not available, so m0, m1, m2, ε3, w1,
w2, ω, ν were fitted (:func:`calibrate`) to the dilute-phase columns of Chaudhry (2009)
Table 11 (s, h, μ4 along the dilute phase-separation line, 0.15–0.867 K, x = 0.08–0.67),
using the even rows; the odd rows are a hold-out. v4 = 27.58 cm³/mol and α = 0.284 are the
usual BBP values (Ebner & Edwards 1971; he3lib ``he3_wire.f``). A six-parameter fit without
the ω term (:data:`CHAUDHRY_TABLE11_FIT_6P`) is kept to measure how much the working-region
results depend on the calibration form. The measured departures are in
``docs/amrr/properties.md``.

Not modelled: the 3He–roton interaction (roton gap lowered by 3He), which matters above
~1.2 K; the concentrated 3He-rich phase (normal liquid) — evaluating it requires
``extrapolate=True`` and departs strongly from Table 11 (documented).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from amrr.properties import helium4
from amrr.properties.constants import HBAR, K_B, M3_KG, N_A, R
from amrr.properties.fermi import fermi_gas
from amrr.properties.phase_diagram import (
    T_TRICRITICAL_K,
    lambda_temperature_K,
    superfluid_boundary_x3,
)
from amrr.properties.validity import (
    FloatArray,
    OutOfRangeError,
    Range,
    require,
    temperature_range,
)

TEMPERATURE_RANGE = temperature_range(
    0.15,
    1.8,
    "calibrated on Chaudhry (2009) Table 11 down to 0.15 K; 3He-roton coupling "
    "neglected, so not above 1.8 K",
    limit_high=helium4.T_LAMBDA_K,
    limit_source="T > 0; the 4He background is He II, which ends at T_λ = 2.1768 K",
)
X3_RANGE = Range("x3", 0.0, 1.0, "3He mole fraction", limit_low=0.0, limit_high=1.0)
_X_MIN = 1e-12  # the Fermi part is evaluated at max(x, _X_MIN); its weight x makes it vanish


@dataclass(frozen=True)
class MixtureParameters:
    """Parameters of the quasiparticle mixture model.

    Attributes
    ----------
    v4_m3_mol : float
        Molar volume of pure 4He at SVP, T → 0 [m³/mol].
    alpha : float
        BBP excess-volume parameter α in v = v4 (1 + α x) [-].
    m0, m1, m2 : float
        Effective-mass ratio m*/m3 = m0 + m1 x + m2 x² [-].
    eps3_K : float
        Binding term ε3/k_B per 3He atom [K].
    w1_J_mol, w2_J_mol : float
        Interaction energy x² (w1 + w2 x) [J/mol].
    wT_J_mol : float
        ω of the temperature-dependent interaction term x² ω (T/1 K)^ν [J/mol].
    wT_exponent : float
        ν of that term [-].
    source : str
        How the numbers were obtained.
    """

    v4_m3_mol: float
    alpha: float
    m0: float
    m1: float
    m2: float
    eps3_K: float
    w1_J_mol: float
    w2_J_mol: float
    wT_J_mol: float = 0.0
    wT_exponent: float = 2.0
    source: str = field(default="")

    def fitted(self) -> tuple[float, ...]:
        """The calibrated numbers (m0, m1, m2, ε3/k_B, w1, w2, ω, ν)."""
        return (
            self.m0,
            self.m1,
            self.m2,
            self.eps3_K,
            self.w1_J_mol,
            self.w2_J_mol,
            self.wT_J_mol,
            self.wT_exponent,
        )


CHAUDHRY_TABLE11_FIT_6P = MixtureParameters(
    v4_m3_mol=27.58e-6,
    alpha=0.284,
    m0=2.345610,
    m1=0.633196,
    m2=-1.057721,
    eps3_K=-0.303581,
    w1_J_mol=-5.516581,
    w2_J_mol=-5.384882,
    source=(
        "least squares (calibrate(thermal_interaction=False)) to Chaudhry (2009) Table 11, "
        "dilute phase, even rows (T = 0.15, 0.2, ..., 0.85 K) of s, h and mu4"
    ),
)
"""Six-parameter calibration without the ω T^ν term (kept for the sensitivity check)."""

CHAUDHRY_TABLE11_FIT = MixtureParameters(
    v4_m3_mol=27.58e-6,
    alpha=0.284,
    m0=2.313829,
    m1=2.513063,
    m2=0.9356718,
    eps3_K=-0.3158747,
    w1_J_mol=-3.456112,
    w2_J_mol=1.030854,
    wT_J_mol=8.362867,
    wT_exponent=1.339377,
    source=(
        "least squares (calibrate()) to Chaudhry (2009) Table 11, dilute phase, even rows "
        "(T = 0.15, 0.2, ..., 0.85 K) of s, h and mu4"
    ),
)
"""Default parameter set, calibrated on Chaudhry (2009) Table 11 (dilute line)."""


@dataclass(frozen=True)
class PhaseProperties:
    """Thermodynamic properties of a 3He-4He liquid phase at SVP, per mole of mixture.

    Attributes
    ----------
    temperature_K : ndarray
        Temperature [K].
    x3 : ndarray
        3He mole fraction [-].
    gibbs_J_mol : ndarray
        Molar Gibbs energy g [J/mol].
    entropy_J_molK : ndarray
        Molar entropy s [J/(mol K)].
    enthalpy_J_mol : ndarray
        Molar enthalpy h = g + T s [J/mol].
    heat_capacity_J_molK : ndarray
        Heat capacity at constant x, C = T (∂s/∂T)_x [J/(mol K)].
    mu3_J_mol : ndarray
        3He chemical potential [J/(mol 3He)].
    mu4_J_mol : ndarray
        4He chemical potential [J/(mol 4He)].
    osmotic_pressure_Pa : ndarray
        Osmotic pressure of the phase's solute [Pa] (each phase defines it).
    x_h_osmotic_J_mol : ndarray
        Osmotic enthalpy x·h_os = h − (1 − x) μ4 [J/mol] (as in Chaudhry Table 11).
    molar_volume_m3_mol : ndarray
        Molar volume v [m³/mol].
    """

    temperature_K: FloatArray
    x3: FloatArray
    gibbs_J_mol: FloatArray
    entropy_J_molK: FloatArray
    enthalpy_J_mol: FloatArray
    heat_capacity_J_molK: FloatArray
    mu3_J_mol: FloatArray
    mu4_J_mol: FloatArray
    osmotic_pressure_Pa: FloatArray
    x_h_osmotic_J_mol: FloatArray
    molar_volume_m3_mol: FloatArray


@dataclass(frozen=True)
class MixtureProperties(PhaseProperties):
    """The dilute (He II) phase: `PhaseProperties` with π = (g4 − μ4)/v4 and
    v = v4 (1 + α x), plus the quasiparticle numbers.

    Attributes
    ----------
    fermi_temperature_K : ndarray
        Fermi temperature of the 3He quasiparticles [K].
    effective_mass_ratio : ndarray
        m*/m3 [-].
    """

    fermi_temperature_K: FloatArray
    effective_mass_ratio: FloatArray


def check_domain(
    temperature_K: ArrayLike, x3: ArrayLike, *, extrapolate: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Validate (T, x) against the He II single-phase domain; return broadcast arrays.

    Raises :class:`~amrr.properties.validity.OutOfRangeError` for T outside 0.15–1.8 K, x
    outside 0–1, or x above the dilute phase-separation line (T < 0.867 K) or the lambda
    line (T ≥ 0.867 K), unless ``extrapolate``.
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    x = X3_RANGE.check(x3, extrapolate=extrapolate)
    T, x = np.broadcast_arrays(T, x)
    boundary = superfluid_boundary_x3(T)
    ok = np.isnan(T) | np.isnan(x) | (x <= boundary + 1e-9)
    if not extrapolate and not bool(np.all(ok)):
        i = int(np.flatnonzero(~ok)[0])
        require(
            ok,
            f"x3={x.flat[i]:.4g} at temperature_K={T.flat[i]:.4g} is outside the He II "
            f"single-phase region (x3 <= {boundary.flat[i]:.4g}: dilute phase-separation "
            "line below 0.867 K, lambda line above)",
        )
    return np.asarray(T, dtype=np.float64), np.asarray(x, dtype=np.float64)


def mixture_properties(
    temperature_K: ArrayLike,
    x3: ArrayLike,
    *,
    params: MixtureParameters = CHAUDHRY_TABLE11_FIT,
    extrapolate: bool = False,
) -> MixtureProperties:
    """Properties of a superfluid 3He-4He mixture at SVP from the quasiparticle model.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.15–1.8 K.
    x3 : array_like
        3He mole fraction [-], up to the dilute phase-separation / lambda line.
    params : MixtureParameters
        Model parameters; default :data:`CHAUDHRY_TABLE11_FIT`.
    extrapolate : bool
        Evaluate outside the He II single-phase domain instead of raising.

    Returns
    -------
    MixtureProperties
        Per mole of mixture; see the class for units.

    Examples
    --------
    >>> p = mixture_properties(0.75, 0.1)
    >>> round(float(p.entropy_J_molK), 2)
    2.78
    """
    T, x = check_domain(temperature_K, x3, extrapolate=extrapolate)
    p = params
    xs = np.maximum(x, _X_MIN)
    mr = p.m0 + p.m1 * xs + p.m2 * xs * xs
    dmr = p.m1 + 2.0 * p.m2 * xs
    v = p.v4_m3_mol * (1.0 + p.alpha * xs)
    n3 = xs * N_A / v
    TF = HBAR**2 * (3.0 * np.pi**2 * n3) ** (2.0 / 3.0) / (2.0 * M3_KG * mr * K_B)
    fg = fermi_gas(T / TF)
    Tb = T  # within helium4's hard limits (0, T_λ] by TEMPERATURE_RANGE: nothing clamped
    g4 = helium4.molar_gibbs_J_mol(Tb, extrapolate=True)
    s4 = helium4.molar_entropy_J_molK(Tb, extrapolate=True)
    c4 = helium4.molar_heat_capacity_J_molK(Tb, extrapolate=True)

    a_F = R * T * fg.free_energy_over_kT  # per mole of 3He [J/mol]
    e3 = N_A * K_B * p.eps3_K
    nu = p.wT_exponent
    wT = p.wT_J_mol * T**nu  # x² ω T^ν; its T-derivatives enter s and C
    w = xs * xs * (p.w1_J_mol + p.w2_J_mol * xs + wT)
    dw = xs * (2.0 * (p.w1_J_mol + wT) + 3.0 * p.w2_J_mol * xs)
    x2 = np.where(x > 0.0, xs * xs, 0.0)
    g = (1.0 - x) * g4 + x * (e3 + a_F) + np.where(x > 0.0, w, 0.0)
    s = (1.0 - x) * s4 + x * R * fg.entropy - x2 * nu * wT / T
    c = (1.0 - x) * c4 + x * R * fg.heat_capacity_v - x2 * nu * (nu - 1.0) * wT / T
    # x d(ln T_F)/dx, written without 1/x so that x -> 0 is finite
    x_dlnTF = (2.0 / 3.0) * (1.0 - p.alpha * xs / (1.0 + p.alpha * xs)) - xs * dmr / mr
    # d/dx [x a_F] = a_F + x (dA/dT_F)(dT_F/dx), with dA/dT_F = U/T_F per particle
    dg_dx = -g4 + e3 + a_F + R * T * fg.energy_over_kT * x_dlnTF + np.where(x > 0.0, dw, 0.0)
    mu4 = g - x * dg_dx
    mu3 = g + (1.0 - x) * dg_dx
    h = g + T * s
    return MixtureProperties(
        temperature_K=T,
        x3=x,
        gibbs_J_mol=g,
        entropy_J_molK=s,
        enthalpy_J_mol=h,
        heat_capacity_J_molK=c,
        mu3_J_mol=mu3,
        mu4_J_mol=mu4,
        osmotic_pressure_Pa=(g4 - mu4) / p.v4_m3_mol,
        x_h_osmotic_J_mol=h - (1.0 - x) * mu4,
        fermi_temperature_K=TF,
        molar_volume_m3_mol=p.v4_m3_mol * (1.0 + p.alpha * x),
        effective_mass_ratio=mr,
    )


def calibrate(
    temperature_K: Sequence[float] | FloatArray,
    x3: Sequence[float] | FloatArray,
    entropy_J_molK: Sequence[float] | FloatArray,
    enthalpy_J_mol: Sequence[float] | FloatArray,
    mu4_J_mol: Sequence[float] | FloatArray,
    *,
    start: MixtureParameters = CHAUDHRY_TABLE11_FIT_6P,
    thermal_interaction: bool = True,
    enthalpy_floor_J_mol: float = 0.2,
) -> MixtureParameters:
    """Fit the model parameters to tabulated (T, x, s, h, μ4) of the He II phase.

    Parameters
    ----------
    temperature_K, x3 : array_like
        State points [K], [-].
    entropy_J_molK, enthalpy_J_mol, mu4_J_mol : array_like
        Tabulated s [J/(mol K)], h [J/mol], μ4 [J/mol] (Chaudhry's reference state).
    start : MixtureParameters
        Starting point; v4 and α are kept from it.
    thermal_interaction : bool
        Also fit ω and ν of the x² ω T^ν term (8 parameters); otherwise ω = 0 (6).
    enthalpy_floor_J_mol : float
        Enthalpy residuals are divided by max(|h|, floor) [J/mol], so that tiny h at the
        lowest T do not dominate.

    Returns
    -------
    MixtureParameters
        Least-squares fit (relative residuals of s, h, μ4 equally weighted).
    """
    T = np.asarray(temperature_K, dtype=np.float64)
    x = np.asarray(x3, dtype=np.float64)
    s_ref = np.asarray(entropy_J_molK, dtype=np.float64)
    h_ref = np.asarray(enthalpy_J_mol, dtype=np.float64)
    mu4_ref = np.asarray(mu4_J_mol, dtype=np.float64)
    names = ["m0", "m1", "m2", "eps3_K", "w1_J_mol", "w2_J_mol"]
    if thermal_interaction:
        names += ["wT_J_mol", "wT_exponent"]
    q0 = np.array([getattr(start, n) for n in names])
    if thermal_interaction and start.wT_J_mol == 0.0:
        q0[-1] = 1.0  # ν: any start away from the degenerate ω = 0 works

    def trial(q: FloatArray) -> MixtureParameters:
        kw = {n: float(v) for n, v in zip(names, q, strict=True)}
        if not thermal_interaction:
            kw["wT_J_mol"] = 0.0
        return replace(start, source="calibrate() least squares", **kw)

    def residuals(q: FloatArray) -> FloatArray:
        m = mixture_properties(T, x, params=trial(q), extrapolate=True)
        return np.concatenate(
            [
                m.entropy_J_molK / s_ref - 1.0,
                (m.enthalpy_J_mol - h_ref) / np.maximum(np.abs(h_ref), enthalpy_floor_J_mol),
                m.mu4_J_mol / mu4_ref - 1.0,
            ]
        )

    fit = least_squares(residuals, q0, x_scale="jac")
    return trial(fit.x)


def temperature_from_enthalpy_K(
    enthalpy_J_mol: ArrayLike,
    x3: float,
    *,
    params: MixtureParameters = CHAUDHRY_TABLE11_FIT,
) -> FloatArray:
    """Inverse lookup: the temperature of the He II mixture with molar enthalpy h at x3 [K].

    Parameters
    ----------
    enthalpy_J_mol : array_like
        Molar enthalpy h [J/mol] (Chaudhry's reference state, as :func:`mixture_properties`).
    x3 : float
        3He mole fraction [-], fixed.
    params : MixtureParameters
        Model parameters.

    Returns
    -------
    ndarray
        T [K] with h(T, x3) equal to the input to 1e-10 relative. h increases with T at
        fixed x3 (dh/dT = C > 0), so the root is unique; the range is the He II single-phase
        domain at this x3 (from the dilute separation line, or 0.15 K, to 1.8 K or the λ
        line).
    """
    return _invert_at_x(enthalpy_J_mol, x3, "enthalpy_J_mol", params)


def temperature_from_entropy_K(
    entropy_J_molK: ArrayLike,
    x3: float,
    *,
    params: MixtureParameters = CHAUDHRY_TABLE11_FIT,
) -> FloatArray:
    """Inverse lookup: the temperature of the He II mixture with molar entropy s at x3 [K].

    Parameters
    ----------
    entropy_J_molK : array_like
        Molar entropy s [J/(mol K)].
    x3 : float
        3He mole fraction [-], fixed.
    params : MixtureParameters
        Model parameters.

    Returns
    -------
    ndarray
        T [K] with s(T, x3) equal to the input to 1e-10 relative (ds/dT = C/T > 0).
    """
    return _invert_at_x(entropy_J_molK, x3, "entropy_J_molK", params)


def _temperature_window_K(x3: float) -> tuple[float, float]:
    """He II single-phase temperatures at fixed x3 [K] (separation line / λ line bounds)."""
    x = float(X3_RANGE.check(x3))
    lo, hi = TEMPERATURE_RANGE.low, TEMPERATURE_RANGE.high
    if x > float(superfluid_boundary_x3(lo)):
        # the dilute line x_dil(T) rises with T: the lowest T where x3 is single-phase
        a, b = lo, T_TRICRITICAL_K
        if x > float(superfluid_boundary_x3(b)):
            raise OutOfRangeError(f"x3={x:g} is above the tricritical composition 0.674")
        for _ in range(80):
            m = 0.5 * (a + b)
            a, b = (m, b) if x > float(superfluid_boundary_x3(m)) else (a, m)
        lo = b
    hi = min(hi, float(lambda_temperature_K(x)) - 1e-9)
    return lo, hi


def _invert_at_x(value: ArrayLike, x3: float, name: str, params: MixtureParameters) -> FloatArray:
    lo, hi = _temperature_window_K(x3)
    grid = np.linspace(lo, hi, 2001)

    def f(T: FloatArray) -> tuple[FloatArray, FloatArray]:
        m = mixture_properties(T, x3, params=params, extrapolate=True)
        if name == "enthalpy_J_mol":
            return m.enthalpy_J_mol, m.heat_capacity_J_molK
        return m.entropy_J_molK, m.heat_capacity_J_molK / T

    table, _ = f(grid)
    target = Range(
        name, float(table[0]), float(table[-1]), f"He II at x3={x3:g}, {lo:.4g}–{hi:.4g} K"
    ).check(value)
    T = np.interp(target, table, grid)
    for _ in range(8):
        y, dy = f(T)
        T = np.clip(T - (y - target) / dy, lo, hi)
    return np.asarray(T, dtype=np.float64)
