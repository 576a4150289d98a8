"""The concentrated (3He-rich, normal-liquid) phase of 3He-4He mixtures at SVP, 0.15–0.867 K.

Below the tricritical point (T_t = 0.867 K, x_t = 0.674) a mixture with x3 above the
dilute line separates into the superfluid dilute phase (:mod:`.mixture`) and a normal
3He-rich liquid with x3 ≥ x_con(T) (:func:`.phase_diagram.x_concentrated`). This module
models that liquid as pure liquid 3He — a Landau Fermi liquid, taken from Greywall's
measured heat capacity (:mod:`.helium3`) — with 4He dissolved in it. One molar Gibbs
energy per mole of mixture, y = 1 − x the 4He fraction::

    g(T, x) = x g3(T) + y A(T) + φ R T y ln y
    A(T)    = R [E − T ln c − (3/2) T ln T + a2 T²]       (T in K)
    s = −∂g/∂T,  h = g + T s,  C = T (∂s/∂T)_x
    μ3 = g + y ∂g/∂x = g3(T) − φ R T y
    μ4 = g − x ∂g/∂x = A(T) + φ R T (ln y + x)

g3 is the Gibbs energy of pure 3He at SVP (its entropy is Greywall's, m*/m3 = 2.75, so
the 3He-rich end carries the measured Fermi-liquid physics). A(T) is the standard chemical
potential of a dissolved 4He atom: a binding energy E and the translational free energy
of a heavy, non-degenerate impurity, −(3/2) R T ln T + const·T — the form behind the
low-temperature solubility 1 − x_con = 1.13 T^{3/2} e^{−0.71/T} of Edwards, Ifft &
Sarwinski (1969) — plus a T² correction. φ R T y ln y is the 4He mixing term; φ = 1
would be the ideal (Henry's law) solute, φ < 1 a reduced mixing entropy of the 4He
(correlated 4He atoms); −φ R T y in μ3 is the corresponding osmotic (Raoult) term.

Calibration — phase equilibrium, not the concentrated column. The four constants E, ln c,
a2, φ are fixed (:func:`calibrate`) by the two coexistence conditions μ3 and μ4 equal in
both phases along the published separation lines: the concentrated phase at Chaudhry's
x_con(T) against the dilute quasiparticle model (:data:`.mixture.CHAUDHRY_TABLE11_FIT`,
calibrated on the dilute column only) at Chaudhry's x_dil(T), for T = 0.20, 0.21, …,
0.86, 0.867 K. Each mismatch is weighted by the composition shift it implies
(Δμ4 · y/(R T) ≈ Δx_con from the μ4 term; Δμ3 · x_dil/(R T) on the dilute side), so the
fit asks for the coexisting compositions rather than for equal absolute μ3 where the
dilute model's μ3 is poorly determined (its 1/x_dil amplification at low T). Below 0.2 K
1 − x_con < 0.002 and the published line cannot fix ln y. No number of Table 11's
concentrated column (s, h, g, μ4, v) is used; it is the validation (``docs/amrr/
properties.md``). Pure 3He is independent data (Greywall 1983), so the model is exact at
x = 1 by construction.

Not modelled: the 3He effective-mass change with 4He content (scaling the Fermi-liquid
entropy with T_F ∝ (x/v)^{2/3} was tried and follows Table 11 less well near T_t,
measured in the docs); critical behaviour at the tricritical point; the normal (He I)
mixture above T_t. φ < 1 means Henry's law is not recovered as y → 0: μ4 of the
concentrated phase is therefore not reliable where 1 − x ≲ 0.05 (T ≲ 0.4 K on the line),
which the docs measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from amrr.properties import helium3
from amrr.properties.constants import R
from amrr.properties.mixture import (
    CHAUDHRY_TABLE11_FIT,
    MixtureParameters,
    PhaseProperties,
    mixture_properties,
)
from amrr.properties.phase_diagram import T_TRICRITICAL_K, x_concentrated, x_dilute
from amrr.properties.validity import FloatArray, Range, require, temperature_range

TEMPERATURE_RANGE = temperature_range(
    0.15,
    T_TRICRITICAL_K,
    "the 3He-rich phase exists below the tricritical point 0.867 K; calibrated by phase "
    "equilibrium down to 0.2 K and validated on Chaudhry (2009) Table 11 from 0.15 K",
    limit_high=helium3.TEMPERATURE_RANGE.limit_high,
    limit_source="T > 0; the pure-3He data (Greywall 1983) end at 2.5 K",
)
X3_RANGE = Range("x3", 0.0, 1.0, "3He mole fraction", limit_low=0.0, limit_high=1.0)
V4_M3_MOL = 27.58e-6  #: molar volume of pure 4He at SVP, T → 0 [m³/mol] (as in .mixture)
_X_TOLERANCE = 1e-4  # x_con(T) reproduces Table 11 to 4.2e-5; the table has 4 decimals
V3_M3_MOL = helium3.V_SVP_CM3_MOL * 1e-6  #: molar volume of pure 3He at SVP [m³/mol]

#: Temperatures [K] of the phase-equilibrium calibration (published lines, not table rows).
CALIBRATION_TEMPERATURES_K: tuple[float, ...] = (
    *(round(0.20 + 0.01 * i, 2) for i in range(67)),
    T_TRICRITICAL_K,
)


@dataclass(frozen=True)
class ConcentratedParameters:
    """Constants of the concentrated-phase model.

    Attributes
    ----------
    binding_K : float
        E, the T → 0 limit of A(T)/R: energy of a dissolved 4He atom in 3He over k_B [K].
    ln_c : float
        ln c of the translational term −R T ln c in A(T) [-].
    a2_per_K : float
        a2 of the R a2 T² correction in A(T) [1/K].
    phi : float
        φ, the 4He mixing-entropy factor (1 = ideal solute) [-].
    source : str
        How the numbers were obtained.
    """

    binding_K: float
    ln_c: float
    a2_per_K: float
    phi: float
    source: str = field(default="")

    def fitted(self) -> tuple[float, float, float, float]:
        """The calibrated numbers (E [K], ln c, a2 [1/K], φ)."""
        return (self.binding_K, self.ln_c, self.a2_per_K, self.phi)


PHASE_EQUILIBRIUM_FIT = ConcentratedParameters(
    binding_K=0.3325679,
    ln_c=1.287189,
    a2_per_K=0.8150644,
    phi=0.6694892,
    source=(
        "calibrate(): phase equilibrium with the dilute model CHAUDHRY_TABLE11_FIT on "
        "Chaudhry's published separation lines, T = 0.20-0.867 K"
    ),
)
"""Default parameters: :func:`calibrate` on phase equilibrium with the dilute model."""


@dataclass(frozen=True)
class ConcentratedProperties(PhaseProperties):
    """The 3He-rich normal liquid: `PhaseProperties` with μ4 = −∞ at x3 = 1, the osmotic
    pressure of the dissolved 4He against pure 3He, π = (g3 − μ3)/v3 (x·h_os equals h at
    x3 = 1), and v = x v3 + (1 − x) v4 (ideal mixing of the pure liquids)."""


def check_domain(
    temperature_K: ArrayLike, x3: ArrayLike, *, extrapolate: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Validate (T, x) against the 3He-rich single-phase domain; return broadcast arrays.

    Raises :class:`~amrr.properties.validity.OutOfRangeError` for T outside 0.15–0.867 K,
    x outside 0–1, or x more than 10⁻⁴ (the line's accuracy against Chaudhry's 4-decimal
    Table 11) below the concentrated phase-separation line x_con(T), unless ``extrapolate``.
    """
    T = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    x = X3_RANGE.check(x3, extrapolate=extrapolate)
    T, x = np.broadcast_arrays(T, x)
    if not extrapolate:
        boundary = x_concentrated(T, extrapolate=True)
        ok = np.isnan(T) | np.isnan(x) | (x >= boundary - _X_TOLERANCE)
        if not bool(np.all(ok)):
            i = int(np.flatnonzero(~ok)[0])
            require(
                ok,
                f"x3={x.flat[i]:.4g} at temperature_K={T.flat[i]:.4g} is outside the "
                f"concentrated (3He-rich) single-phase region (x3 >= {boundary.flat[i]:.4g}, "
                "the concentrated phase-separation line)",
            )
    return np.asarray(T, dtype=np.float64), np.asarray(x, dtype=np.float64)


def _standard_mu4(
    T: FloatArray, p: ConcentratedParameters
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A(T) [J/mol], dA/dT [J/(mol K)] and d²A/dT² [J/(mol K²)]."""
    lnT = np.log(T)
    A = R * (p.binding_K - T * p.ln_c - 1.5 * T * lnT + p.a2_per_K * T * T)
    dA = R * (-p.ln_c - 1.5 * lnT - 1.5 + 2.0 * p.a2_per_K * T)
    d2A = R * (-1.5 / T + 2.0 * p.a2_per_K)
    return A, dA, d2A


def concentrated_properties(
    temperature_K: ArrayLike,
    x3: ArrayLike,
    *,
    params: ConcentratedParameters = PHASE_EQUILIBRIUM_FIT,
    extrapolate: bool = False,
) -> ConcentratedProperties:
    """Properties of the concentrated (3He-rich) liquid phase at SVP.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.15–0.867 K.
    x3 : array_like
        3He mole fraction [-], from the concentrated separation line x_con(T) to 1.
    params : ConcentratedParameters
        Model constants; default :data:`PHASE_EQUILIBRIUM_FIT`.
    extrapolate : bool
        Evaluate outside that domain instead of raising.

    Returns
    -------
    ConcentratedProperties
        Per mole of mixture; see the class for units.

    Examples
    --------
    >>> p = concentrated_properties(0.5, 1.0)  # pure 3He: Greywall's entropy
    >>> round(float(p.entropy_J_molK), 3)
    6.518
    """
    T, x = check_domain(temperature_K, x3, extrapolate=extrapolate)
    p = params
    y = 1.0 - x
    ypos = y > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lny = np.where(ypos, np.log(np.where(ypos, y, 1.0)), -np.inf)
    ylny = np.where(ypos, y * np.where(ypos, lny, 0.0), 0.0)
    Tb = T  # the hard limits of TEMPERATURE_RANGE are helium3's: nothing is clamped
    g3 = helium3.molar_gibbs_J_mol(Tb, extrapolate=True)
    s3 = helium3.molar_entropy_J_molK(Tb, extrapolate=True)
    c3 = helium3.molar_heat_capacity_J_molK(Tb, extrapolate=True)
    A, dA, d2A = _standard_mu4(T, p)
    phiR = p.phi * R
    g = x * g3 + y * A + phiR * T * ylny
    s = x * s3 - y * dA - phiR * ylny
    c = x * c3 - y * T * d2A
    mu3 = g3 - phiR * T * y
    with np.errstate(invalid="ignore"):
        mu4 = A + phiR * T * (lny + x)
        x_h_os = np.where(ypos, g + T * s - y * mu4, g + T * s)
    return ConcentratedProperties(
        temperature_K=T,
        x3=x,
        gibbs_J_mol=g,
        entropy_J_molK=s,
        enthalpy_J_mol=g + T * s,
        heat_capacity_J_molK=c,
        mu3_J_mol=mu3,
        mu4_J_mol=mu4,
        osmotic_pressure_Pa=(g3 - mu3) / V3_M3_MOL,
        x_h_osmotic_J_mol=x_h_os,
        molar_volume_m3_mol=x * V3_M3_MOL + y * V4_M3_MOL,
    )


@dataclass(frozen=True)
class CoexistenceResiduals:
    """Chemical-potential mismatch of the two models on the published separation lines.

    Attributes
    ----------
    temperature_K : ndarray
        Temperature [K].
    mu3_J_mol, mu4_J_mol : ndarray
        μ_i(concentrated model at x_con) − μ_i(dilute model at x_dil) [J/mol].
    """

    temperature_K: FloatArray
    mu3_J_mol: FloatArray
    mu4_J_mol: FloatArray


def coexistence_residuals(
    temperature_K: ArrayLike,
    *,
    params: ConcentratedParameters = PHASE_EQUILIBRIUM_FIT,
    dilute: MixtureParameters = CHAUDHRY_TABLE11_FIT,
) -> CoexistenceResiduals:
    """μ3 and μ4 mismatch between the phases on Chaudhry's separation lines.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.15–0.867 K.
    params : ConcentratedParameters
        Concentrated-phase constants.
    dilute : MixtureParameters
        Dilute (He II) model parameters.

    Returns
    -------
    CoexistenceResiduals
        Zero for exact phase equilibrium [J/mol].
    """
    T = TEMPERATURE_RANGE.check(temperature_K)
    c = concentrated_properties(T, x_concentrated(T), params=params, extrapolate=True)
    d = mixture_properties(T, x_dilute(T), params=dilute, extrapolate=True)
    return CoexistenceResiduals(
        temperature_K=T,
        mu3_J_mol=c.mu3_J_mol - d.mu3_J_mol,
        mu4_J_mol=c.mu4_J_mol - d.mu4_J_mol,
    )


def calibrate(
    temperature_K: Sequence[float] | FloatArray = CALIBRATION_TEMPERATURES_K,
    *,
    dilute: MixtureParameters = CHAUDHRY_TABLE11_FIT,
    start: ConcentratedParameters | None = None,
) -> ConcentratedParameters:
    """Fix E, ln c, a2 and φ by phase equilibrium with the dilute model.

    Least squares over ``temperature_K`` of the two coexistence conditions on the
    published lines (Chaudhry 2009): the concentrated model at x_con(T) against the
    dilute model at x_dil(T), residuals [Δμ3 x_dil/(R T), Δμ4 (1 − x_con)/(R T)]
    (the composition shifts the mismatches imply). Uses no tabulated property.

    Parameters
    ----------
    temperature_K : array_like
        Calibration temperatures [K], where 1 − x_con(T) is resolved by the line (≥ 0.2 K).
    dilute : MixtureParameters
        Dilute-model parameters the concentrated phase is brought into equilibrium with.
    start : ConcentratedParameters, optional
        Starting point; default E = 0.71 K, ln c = ln 1.13, a2 = 0, φ = 1 (the
        Edwards–Ifft–Sarwinski low-temperature solubility, ideal solute).

    Returns
    -------
    ConcentratedParameters
    """
    T = np.asarray(temperature_K, dtype=np.float64)
    xd = x_dilute(T)
    xc = x_concentrated(T)
    y = 1.0 - xc
    d = mixture_properties(T, xd, params=dilute, extrapolate=True)
    q0 = np.array(start.fitted() if start is not None else (0.71, float(np.log(1.13)), 0.0, 1.0))

    def trial(q: FloatArray) -> ConcentratedParameters:
        return ConcentratedParameters(
            binding_K=float(q[0]),
            ln_c=float(q[1]),
            a2_per_K=float(q[2]),
            phi=float(q[3]),
            source="calibrate(): phase equilibrium with the dilute model",
        )

    def residuals(q: FloatArray) -> FloatArray:
        c = concentrated_properties(T, xc, params=trial(q), extrapolate=True)
        return np.concatenate(
            [
                xd * (c.mu3_J_mol - d.mu3_J_mol) / (R * T),
                y * (c.mu4_J_mol - d.mu4_J_mol) / (R * T),
            ]
        )

    fit = least_squares(residuals, q0, x_scale="jac", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    return trial(fit.x)


SEPARATION_MU4_RANGE = temperature_range(
    0.4,
    T_TRICRITICAL_K,
    "below 0.4 K the 4He fraction of the concentrated phase (< 5 %) makes its μ4 "
    "ill-conditioned (dμ4/dx ∝ R T/(1 − x)) and φ < 1 departs from Henry's law",
    limit_high=T_TRICRITICAL_K,
    limit_source="T > 0; no phase separation above the tricritical point 0.867 K",
)


def separation_line_mu4_J_mol(
    temperature_K: ArrayLike,
    *,
    params: ConcentratedParameters = PHASE_EQUILIBRIUM_FIT,
    extrapolate: bool = False,
) -> FloatArray:
    """4He chemical potential of the coexisting phases, from the concentrated side [J/mol].

    In phase equilibrium μ4 is the same in both phases, so μ4 on the dilute separation line
    can be taken from the concentrated model at x_con(T). Near the tricritical point this
    is closer to Chaudhry (2009) Table 11 than the dilute model's own μ4 (measured:
    0.4 % against 2.9 % at 0.867 K; ≤ 1.9 % over 0.4–0.867 K, ``docs/amrr/properties.md``).

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K], 0.4–0.867 K.
    params : ConcentratedParameters
        Concentrated-phase constants.
    extrapolate : bool
        Allow 0.15–0.4 K (ill-conditioned, see the range) instead of raising.

    Returns
    -------
    ndarray
        μ4 [J/(mol 4He)], Chaudhry's reference state (g = 0 for pure 4He at 0 K).

    Examples
    --------
    >>> round(float(separation_line_mu4_J_mol(0.867)), 3)
    -2.033
    """
    T = SEPARATION_MU4_RANGE.check(temperature_K, extrapolate=extrapolate)
    xc = x_concentrated(T, extrapolate=True)
    return concentrated_properties(T, xc, params=params, extrapolate=True).mu4_J_mol
