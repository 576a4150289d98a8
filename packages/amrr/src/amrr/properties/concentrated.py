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

Line match (default, :func:`line_match_J_mol`): the four constants leave μ4 of the two
phase models 0.67 J/mol apart on the lines at 0.2 K (ill-conditioned ln(1 − x_con));
Δg = a(T) y + b(T) y², splined through the mismatch, makes them agree to ≤ 0.0024 J/mol
over 0.2–0.6 K and tapers off to T_t, where the mismatch is the dilute model's own error.
:data:`PHASE_EQUILIBRIUM_FIT_CONSTANTS` is the model without it.

Not modelled: the 3He effective-mass change with 4He content (scaling the Fermi-liquid
entropy with T_F ∝ (x/v)^{2/3} was tried and follows Table 11 less well near T_t,
measured in the docs); critical behaviour at the tricritical point; the normal (He I)
mixture above T_t. φ < 1 means Henry's law is not recovered as y → 0: μ4 of the
concentrated phase is therefore not reliable where 1 − x ≲ 0.05 (T ≲ 0.4 K on the line),
which the docs measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline
from scipy.optimize import least_squares

from amrr.properties import helium3
from amrr.properties.constants import R
from amrr.properties.mixture import (
    CHAUDHRY_TABLE11_FIT,
    MixtureParameters,
    PhaseProperties,
    mixture_properties,
)
from amrr.properties.phase_diagram import (
    T_TRICRITICAL_K,
    X_TRICRITICAL,
    x_concentrated,
    x_dilute,
)
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
    match_line_to : MixtureParameters or None
        If given, A(T) carries the line match δ(T) (:func:`line_match_J_mol`): μ4 then
        equals this dilute model's μ4 on the published separation lines. None: the four
        constants alone.
    source : str
        How the numbers were obtained.
    """

    binding_K: float
    ln_c: float
    a2_per_K: float
    phi: float
    source: str = field(default="")
    match_line_to: MixtureParameters | None = field(default=None)

    def fitted(self) -> tuple[float, float, float, float]:
        """The calibrated numbers (E [K], ln c, a2 [1/K], φ)."""
        return (self.binding_K, self.ln_c, self.a2_per_K, self.phi)


PHASE_EQUILIBRIUM_FIT_CONSTANTS = ConcentratedParameters(
    binding_K=0.3325679,
    ln_c=1.287189,
    a2_per_K=0.8150644,
    phi=0.6694892,
    source=(
        "calibrate(): phase equilibrium with the dilute model CHAUDHRY_TABLE11_FIT on "
        "Chaudhry's published separation lines, T = 0.20-0.867 K; no line match"
    ),
)
"""The four calibrated constants alone (μ4 on the lines off the dilute model's by up to
0.67 J/mol at 0.2 K, ≤ 0.051 J/mol above 0.4 K): kept to measure what the line match does."""

PHASE_EQUILIBRIUM_FIT = replace(
    PHASE_EQUILIBRIUM_FIT_CONSTANTS,
    match_line_to=CHAUDHRY_TABLE11_FIT,
    source=(
        "calibrate(): phase equilibrium with the dilute model CHAUDHRY_TABLE11_FIT on "
        "Chaudhry's published separation lines, T = 0.20-0.867 K, plus the line match of "
        "μ4 to that model"
    ),
)
"""Default parameters: :func:`calibrate` on phase equilibrium with the dilute model, with
the line match δ(T) so that the two phase models' μ4 agree on the separation lines."""


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


#: k of the line match's y² part, 1/(x_t (1 − x_t)): it makes the match leave g, s and h
#: unchanged at the tricritical point (see :func:`line_match_J_mol`).
LINE_MATCH_K = 1.0 / (X_TRICRITICAL * (1.0 - X_TRICRITICAL))
#: The line match is full up to this temperature [K] and tapers to zero at T_t (0.867 K).
LINE_MATCH_FULL_BELOW_K = 0.6


def _taper(T: FloatArray) -> FloatArray:
    """1 below :data:`LINE_MATCH_FULL_BELOW_K`, cosine to 0 at T_t [-]."""
    u = np.clip((T - LINE_MATCH_FULL_BELOW_K) / (T_TRICRITICAL_K - LINE_MATCH_FULL_BELOW_K), 0, 1)
    return np.asarray(0.5 * (1.0 + np.cos(np.pi * u)), dtype=np.float64)


@lru_cache(maxsize=8)
def _line_match_splines(constants: ConcentratedParameters) -> tuple[CubicSpline, CubicSpline]:
    """Natural cubic splines a(T), b(T) [J/mol] of the line match for the constants-only
    model ``constants``, through :data:`CALIBRATION_TEMPERATURES_K`."""
    assert constants.match_line_to is not None
    T = np.asarray(CALIBRATION_TEMPERATURES_K, dtype=np.float64)
    r = coexistence_residuals(
        T, params=replace(constants, match_line_to=None), dilute=constants.match_line_to
    )
    delta = -r.mu4_J_mol * _taper(T)
    yc = 1.0 - x_concentrated(T)
    b = LINE_MATCH_K * delta
    a = delta - b * yc * (2.0 - yc)
    # natural: second derivative 0 at both ends, so the linear continuation keeps C continuous
    return CubicSpline(T, a, bc_type="natural"), CubicSpline(T, b, bc_type="natural")


def _continued(sp: CubicSpline, T: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A natural spline, continued linearly outside its knots: value, d/dT, d²/dT²."""
    lo, hi = float(sp.x[0]), float(sp.x[-1])
    Tc = np.clip(T, lo, hi)
    d1 = sp(Tc, 1)
    return sp(Tc) + d1 * (T - Tc), d1, np.where((lo <= T) & (hi >= T), sp(Tc, 2), 0.0)


def line_match_J_mol(
    temperature_K: ArrayLike, params: ConcentratedParameters = PHASE_EQUILIBRIUM_FIT
) -> tuple[tuple[FloatArray, FloatArray, FloatArray], tuple[FloatArray, FloatArray, FloatArray]]:
    """The line match Δg = a(T) y + b(T) y² added to the concentrated model's g.

    Why: with the four constants alone, μ4 of this model at Chaudhry's x_con(T) and of the
    dilute model at x_dil(T) differ by up to 0.67 J/mol at 0.2 K (μ4 ∝ φ R T ln(1 − x_con)
    with 1 − x_con = 0.002, ill-conditioned) and by 0.051 J/mol at the tricritical point.
    The match removes that mismatch δ(T) = μ4_dil − μ4_con on the lines up to 0.6 K and
    tapers off (cosine) to zero at T_t: above 0.8 K the mismatch is the dilute model's own
    μ4 error (+2.9 % of Table 11 at T_t; its ∂μ4/∂x does not flatten towards the
    tricritical point while Chaudhry's x_dil(T) bends sharply there), and following it
    gave C < 0 in this phase near 0.84 K. Δμ4 = a + b y (2 − y), Δμ3 = −b y²,
    Δs = −(a′ y + b′ y²), ΔC = −T (a″ y + b″ y²), so μ4 on the line moves by
    a + b y_c (2 − y_c) = δ (y_c = 1 − x_con). The split b = k δ, a = δ − b y_c (2 − y_c),
    k = 1/(x_t (1 − x_t)), is chosen because any shift of μ4 on the line must change g or s
    there (Gibbs–Duhem along the line): a pure A(T) shift (b = 0) changes s by −y_c δ′ and
    imports the slope of the dilute model's μ4 error, +10 % in s and +21 % in h at T_t
    against Table 11; with this split g and s on the line are unchanged at T_t, where y_c
    = 1 − x_t, up to the y_c′ term. At low T (y_c → 0) it reduces to the A(T) shift.

    a and b are natural cubic splines through their values at
    :data:`CALIBRATION_TEMPERATURES_K` (0.20–0.867 K every 0.01 K), continued linearly
    outside (second derivative 0 at the ends, so C stays continuous).

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K].
    params : ConcentratedParameters
        Model constants; the match is zero if ``params.match_line_to`` is None.

    Returns
    -------
    tuple
        (a, da/dT, d²a/dT²) and (b, db/dT, d²b/dT²) [J/mol, J/(mol K), J/(mol K²)].
    """
    T = np.asarray(temperature_K, dtype=np.float64)
    if params.match_line_to is None:
        zero = np.zeros_like(T)
        return (zero, zero, zero), (zero, zero, zero)
    sa, sb = _line_match_splines(replace(params, source=""))
    return _continued(sa, T), _continued(sb, T)


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
    (a, da, d2a), (b, db, d2b) = line_match_J_mol(T, p)
    phiR = p.phi * R
    y2 = y * y
    g = x * g3 + y * A + phiR * T * ylny + a * y + b * y2
    s = x * s3 - y * dA - phiR * ylny - da * y - db * y2
    c = x * c3 - y * T * d2A - T * (d2a * y + d2b * y2)
    mu3 = g3 - phiR * T * y - b * y2
    with np.errstate(invalid="ignore"):
        mu4 = A + phiR * T * (lny + x) + a + b * y * (2.0 - y)
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
    match_line: bool = True,
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
    match_line : bool
        Return the constants with the line match to ``dilute`` (:func:`line_match_J_mol`)
        switched on (the default model) or off.

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
    return replace(trial(fit.x), match_line_to=dilute if match_line else None)


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
    0.35 % against 2.9 % at 0.867 K; ≤ 1.43 % over 0.4–0.867 K, ``docs/amrr/properties.md``).
    Below 0.6 K the line match makes it equal to the dilute model's μ4.

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
