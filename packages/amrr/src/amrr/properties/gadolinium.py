"""Mean-field (Weiss–Brillouin) model of a ferromagnetic refrigerant: gadolinium near T_C.

The room-temperature benchmark refrigerant of active magnetic regenerators. Per kg, the
specific entropy is a spin, a lattice and an electronic term (Smith et al., "Materials
challenges for high performance magnetocaloric refrigeration devices", Adv. Energy Mater.
2, 1288 (2012), §2.2.1; the DTU model of R. Bjørk, github:rabj/MFT model)::

    s(T, B) = N_s k_B [ln sinh((2J+1)χ/2J) − ln sinh(χ/2J) − χ B_J(χ)]     (spins)
            + N_a k_B [−3 ln(1 − e^{−θ_D/T}) + 12 (T/θ_D)³ ∫₀^{θ_D/T} t³/(e^t − 1) dt]  (Debye)
            + γ_e T                                                          (electrons)

with the self-consistent Brillouin argument (Weiss molecular field fixed by T_C)::

    χ = g μ_B J B / (k_B T) + 3 J/(J + 1) · (T_C/T) · B_J(χ),

σ = N_s g μ_B J B_J(χ) [A m²/kg]. C_B = T (∂s/∂T)_B and (∂s/∂B)_T are analytic
(implicit differentiation of the self-consistency, so ∂s/∂B = ∂σ/∂T holds to round-off):
with D = 1 − 3J/(J+1) (T_C/T) B_J'(χ), c_spin = N_s k_B χ² B_J'/D and
∂s/∂B = −N_s g μ_B J χ B_J' / (T D).

Parameters of :data:`GADOLINIUM`: J = 7/2, g = 2 (Gd³⁺, ⁸S₇/₂); T_C = 293 K (the maxima of
the measured ΔT_ad lie near 292 K: Benford & Brown, J. Appl. Phys. 52, 2110 (1981));
θ_D = 169 K and γ_e = 6.93 × 10⁻² J/(kg K²) as in the DTU model; one spin per atom
(N_s = N_A/M). Mean-field theory has no critical fluctuations and over-predicts the
magnetocaloric effect near T_C (AMRmodel's own note, github:TheoChristiaanse/AMRmodel
GD/README.md); ``docs/amrr/cycle.md`` compares it with measured ΔT_ad.

Validity: 150–450 K, 0–10 T (the model is evaluated outside it only with
``extrapolate=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from amrr.properties.constants import K_B, MU_B, N_A
from amrr.properties.validity import FloatArray, Range, temperature_range

TEMPERATURE_RANGE = temperature_range(
    150.0, 450.0, "mean-field gadolinium, set up for room-temperature regenerators"
)
FIELD_RANGE = Range(
    "field_T",
    0.0,
    10.0,
    "mean-field gadolinium, compared with data up to 7 T",
    limit_low=0.0,
    limit_source="field_T is the magnitude of the applied field; give |B|",
)

# Gauss–Legendre nodes for the Debye integrals on [0, θ_D/T] (integrands smooth, ~t² at 0)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


@dataclass(frozen=True)
class MeanFieldFerromagnet:
    """Parameters of a mean-field ferromagnet (see the module docstring).

    Attributes
    ----------
    name : str
        Label.
    curie_K : float
        Curie temperature T_C [K].
    J : float
        Total angular momentum quantum number [-].
    g : float
        Landé factor [-].
    molar_mass_kg_mol : float
        Molar mass [kg/mol].
    spins_per_kg : float
        Magnetic ions per kg N_s [1/kg].
    debye_K : float
        Debye temperature θ_D [K].
    sommerfeld_J_kgK2 : float
        Electronic heat-capacity coefficient γ_e [J/(kg K²)].
    density_kg_m3 : float
        Density [kg/m³].
    """

    name: str
    curie_K: float
    J: float
    g: float
    molar_mass_kg_mol: float
    spins_per_kg: float
    debye_K: float
    sommerfeld_J_kgK2: float
    density_kg_m3: float

    def __post_init__(self) -> None:
        for name in ("curie_K", "J", "g", "molar_mass_kg_mol", "spins_per_kg", "debye_K"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    @property
    def atoms_per_kg(self) -> float:
        """Atoms per kg N_A/M (the Debye term) [1/kg]."""
        return N_A / self.molar_mass_kg_mol


GADOLINIUM = MeanFieldFerromagnet(
    name="Gd",
    curie_K=293.0,
    J=3.5,
    g=2.0,
    molar_mass_kg_mol=0.15725,
    spins_per_kg=N_A / 0.15725,
    debye_K=169.0,
    sommerfeld_J_kgK2=6.93e-2,
    density_kg_m3=7900.0,
)


@dataclass(frozen=True)
class FerromagnetProperties:
    """Specific properties of a mean-field ferromagnet at (T, B).

    Attributes
    ----------
    temperature_K, field_T : ndarray
        State [K], [T].
    entropy_J_kgK : ndarray
        Specific entropy s (spins + lattice + electrons) [J/(kg K)].
    heat_capacity_J_kgK : ndarray
        C_B = T (∂s/∂T)_B [J/(kg K)].
    dS_dB_J_kgKT : ndarray
        (∂s/∂B)_T [J/(kg K T)].
    magnetisation_Am2_kg : ndarray
        Specific magnetisation σ [A m²/kg].
    enthalpy_J_kg : ndarray
        Magnetic enthalpy h = u − B σ [J/kg], dh = T ds − σ dB (zero-point energy left
        out): spins −σ B − ½ N_s k_B c B_J² (Weiss), Debye 9 N_a k_B T D₃-integral/y³,
        electrons γ_e T²/2.
    """

    temperature_K: FloatArray
    field_T: FloatArray
    entropy_J_kgK: FloatArray
    heat_capacity_J_kgK: FloatArray
    dS_dB_J_kgKT: FloatArray
    magnetisation_Am2_kg: FloatArray
    enthalpy_J_kg: FloatArray


def brillouin(chi: FloatArray, J: float) -> tuple[FloatArray, FloatArray]:
    """Brillouin function B_J(χ) and its derivative B_J'(χ) [-] (series for |χ| < 1e-4)."""
    a, b = (2.0 * J + 1.0) / (2.0 * J), 1.0 / (2.0 * J)
    small = np.abs(chi) < 1e-4
    x = np.where(small, 1.0, chi)
    bj = a / np.tanh(a * x) - b / np.tanh(b * x)
    dbj = -(a**2) / np.sinh(a * x) ** 2 + b**2 / np.sinh(b * x) ** 2
    slope = (J + 1.0) / (3.0 * J)
    return np.where(small, slope * chi, bj), np.where(small, slope, dbj)


def _solve_chi(t: FloatArray, field_T: FloatArray, p: MeanFieldFerromagnet) -> FloatArray:
    """The stable root χ ≥ 0 of the self-consistency by Newton from the saturated side
    (F(χ) = χ − a/T − c T_C B_J(χ)/T is convex for χ > 0, so the iterates fall
    monotonically onto the largest root, the stable one below T_C)."""
    a = p.g * MU_B * p.J * field_T / K_B
    c = 3.0 * p.J / (p.J + 1.0) * p.curie_K
    chi = (a + c) / t + 1.0
    for _ in range(200):
        bj, dbj = brillouin(chi, p.J)
        f = chi - (a + c * bj) / t
        step = f / np.maximum(1.0 - c * dbj / t, 1e-12)
        chi = np.maximum(chi - step, 0.0)
        if float(np.max(np.abs(step))) < 1e-13 * max(1.0, float(np.max(chi))):
            break
    return np.asarray(chi, dtype=np.float64)


def _debye(t: FloatArray, theta_K: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Debye entropy and heat capacity per atom in units of k_B [-], and energy per atom
    over k_B [K]."""
    y = theta_K / t
    u = 0.5 * y[..., None] * (_GL_X + 1.0)  # nodes on [0, y]
    w = 0.5 * y[..., None] * _GL_W
    em1 = np.expm1(u)
    d3 = np.sum(w * u**3 / em1, axis=-1)
    d4 = np.sum(w * u**4 * (em1 + 1.0) / em1**2, axis=-1)
    s = -3.0 * np.log(-np.expm1(-y)) + 12.0 * d3 / y**3
    c = 9.0 * d4 / y**3
    return s, c, 9.0 * t * d3 / y**3


def ferromagnet_properties(
    temperature_K: ArrayLike,
    field_T: ArrayLike,
    params: MeanFieldFerromagnet = GADOLINIUM,
    *,
    extrapolate: bool = False,
) -> FerromagnetProperties:
    """s, C_B, ∂s/∂B and σ of a mean-field ferromagnet (module docstring), vectorised.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K] (150–450 K unless ``extrapolate``).
    field_T : array_like
        Magnetic flux density acting on the spins [T] (0–10 T); broadcast with T.
    params : MeanFieldFerromagnet
        Material (default :data:`GADOLINIUM`).
    extrapolate : bool
        Evaluate outside the validity range.
    """
    t_in = TEMPERATURE_RANGE.check(temperature_K, extrapolate=extrapolate)
    b_in = FIELD_RANGE.check(field_T, extrapolate=extrapolate)
    t, b = np.broadcast_arrays(t_in, b_in)
    t = np.asarray(t, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    chi = _solve_chi(t, b, params)
    bj, dbj = brillouin(chi, params.J)
    c = 3.0 * params.J / (params.J + 1.0) * params.curie_K
    # D > 0 on the stable branch; D = 0 only at B = 0, T = T_C, where χ = 0 and the spin
    # terms vanish (the mean-field jump of C_B is taken from above)
    denominator = np.maximum(1.0 - c * dbj / t, 1e-12)
    a1, b1 = (2.0 * params.J + 1.0) / (2.0 * params.J), 1.0 / (2.0 * params.J)
    small = chi < 1e-4
    x = np.where(small, 1.0, chi)
    # ln(sinh(a x)/sinh(b x)) written to stay finite for large x
    log_ratio = np.where(
        small,
        np.log(2.0 * params.J + 1.0) + (a1**2 - b1**2) * chi**2 / 6.0,
        (a1 - b1) * x + np.log(-np.expm1(-2.0 * a1 * x)) - np.log(-np.expm1(-2.0 * b1 * x)),
    )
    n_k = params.spins_per_kg * K_B
    s_spin = n_k * (log_ratio - chi * bj)
    c_spin = n_k * chi**2 * dbj / denominator
    moment = params.g * MU_B * params.J
    ds_db = -params.spins_per_kg * moment * chi * dbj / (t * denominator)
    s_lat, c_lat, u_lat = _debye(t, params.debye_K)
    sigma = params.spins_per_kg * moment * bj
    h_spin = -sigma * b - 0.5 * n_k * c * bj**2
    n_a = params.atoms_per_kg * K_B
    gamma_t = params.sommerfeld_J_kgK2 * t
    return FerromagnetProperties(
        temperature_K=t,
        field_T=b,
        entropy_J_kgK=np.asarray(s_spin + n_a * s_lat + gamma_t, dtype=np.float64),
        heat_capacity_J_kgK=np.asarray(c_spin + n_a * c_lat + gamma_t, dtype=np.float64),
        dS_dB_J_kgKT=np.asarray(ds_db, dtype=np.float64),
        magnetisation_Am2_kg=np.asarray(sigma, dtype=np.float64),
        enthalpy_J_kg=np.asarray(
            h_spin + n_a * u_lat + 0.5 * params.sommerfeld_J_kgK2 * t**2, dtype=np.float64
        ),
    )


def adiabatic_temperature_change_K(
    temperature_K: ArrayLike,
    field_from_T: float,
    field_to_T: float,
    params: MeanFieldFerromagnet = GADOLINIUM,
) -> FloatArray:
    """ΔT_ad = T₁ − T₀ of a field step B₀ → B₁ at constant entropy [K]:
    s(T₁, B₁) = s(T₀, B₀), solved by Newton on T with (∂s/∂T)_B = C_B/T.

    Parameters
    ----------
    temperature_K : array_like
        Starting temperature T₀ [K].
    field_from_T, field_to_T : float
        Fields B₀ and B₁ [T].
    params : MeanFieldFerromagnet
        Material.
    """
    t0 = TEMPERATURE_RANGE.check(temperature_K)
    s0 = ferromagnet_properties(t0, field_from_T, params).entropy_J_kgK
    t = np.array(t0, dtype=np.float64)
    for _ in range(60):
        p = ferromagnet_properties(t, field_to_T, params, extrapolate=True)
        step = (p.entropy_J_kgK - s0) * t / p.heat_capacity_J_kgK
        t = t - step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return np.asarray(t - t0, dtype=np.float64)


__all__ = [
    "GADOLINIUM",
    "FerromagnetProperties",
    "MeanFieldFerromagnet",
    "adiabatic_temperature_change_K",
    "brillouin",
    "ferromagnet_properties",
]
