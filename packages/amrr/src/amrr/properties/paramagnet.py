"""Paramagnetic refrigerants: GGG (Gd3Ga5O12) and GLF (LiGdF4).

Three models of the Gd3+ spins (J = 7/2, g = 2), selected with ``model``:

``"ideal"``
    Non-interacting Brillouin paramagnet.
``"mean_field"``
    Weiss molecular field with the Curie–Weiss temperature θ: B_eff = B + λ⟨Jz⟩,
    λ = 3 k_B θ / (g μ_B J (J + 1)). For θ < 0 (antiferromagnetic, GGG) the self-consistent
    ⟨Jz⟩ is unique and is found by a safeguarded vectorised Newton iteration.
``"internal_field"``
    Ideal paramagnet in the effective field B_eff = √(B² + b²) with a user-given internal
    field b (Pobell, *Matter and Methods at Low Temperatures*, 3rd ed., ch. 9); it lowers
    the zero-field entropy below T ≈ g μ_B J b / k_B.

plus an optional Debye T³ lattice term. The default model per material is documented on its
parameter set (:data:`GGG`, :data:`GLF`) together with the measured model spread: the
analytic models differ by up to a factor two in ∂S/∂B at 0.9–1.2 K (see
``docs/amrr/properties.md``); load measured S(T, B) with :mod:`amrr.properties.tabulated`
when you have it.

Thermodynamics (per ion, η = g μ_B B_eff / (k_B T), m = ⟨Jz⟩(η), χ = Var(Jz)(η))::

    S/k_B   = ln Z(η) − η m                      (Z = Σ_{mJ=-J..J} exp(mJ η))
    M       = N g μ_B m  (· B/B_eff for the internal-field variant)
    F/ion   = −k_B T ln Z(η) + ½ g μ_B λ m²      (mean field; stationary in m)

so that ∂S/∂B = ∂M/∂T (Maxwell) holds for every model; the derivatives below are
analytic (implicit differentiation of the self-consistency condition).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from amrr.properties.constants import K_B, MU_B, N_A, R
from amrr.properties.validity import FloatArray, Range, temperature_range

FIELD_RANGE = Range(
    "field_T",
    0.0,
    10.0,
    "analytic spin models, no data above 10 T",
    limit_low=0.0,
    limit_source="field_T is the magnitude of the applied field; give |B|",
)

Model = Literal["ideal", "mean_field", "internal_field"]
MODELS: tuple[Model, ...] = ("ideal", "mean_field", "internal_field")


@dataclass(frozen=True)
class ParamagnetParameters:
    """Named parameter set of a Gd3+ paramagnetic refrigerant.

    Attributes
    ----------
    name : str
        Short name (``"GGG"``).
    formula : str
        Chemical formula.
    molar_mass_kg_mol : float
        Molar mass of one formula unit [kg/mol].
    ions_per_formula_unit : int
        Magnetic Gd3+ ions per formula unit [-].
    atoms_per_formula_unit : int
        Atoms per formula unit, for the Debye lattice term [-].
    J : float
        Total angular momentum quantum number of the ion [-].
    g : float
        Landé g-factor [-].
    curie_weiss_K : float or None
        Curie–Weiss temperature θ [K] (negative: antiferromagnetic). ``None`` when no
        verified value is available; the mean-field model then needs ``curie_weiss_K=``.
    debye_temperature_K : float or None
        Debye temperature of the lattice [K]; ``None`` disables the lattice term.
    default_model : str
        Model used when the caller does not choose one.
    temperature_range : Range
        Validity range of ``temperature_K`` [K].
    field_range : Range
        Validity range of ``field_T`` [T].
    references : tuple of str
        Sources of the numbers above.
    nearest_neighbours : int or None
        Number z of nearest magnetic neighbours of an ion, for
        :func:`exchange_internal_field_T` [-].
    """

    name: str
    formula: str
    molar_mass_kg_mol: float
    ions_per_formula_unit: int
    atoms_per_formula_unit: int
    J: float
    g: float
    curie_weiss_K: float | None
    debye_temperature_K: float | None
    default_model: Model
    temperature_range: Range
    field_range: Range
    references: tuple[str, ...] = field(default=())
    nearest_neighbours: int | None = None


GGG = ParamagnetParameters(
    name="GGG",
    formula="Gd3Ga5O12",
    # 3 x 157.25 + 5 x 69.723 + 12 x 15.999 g/mol (IUPAC standard atomic weights)
    molar_mass_kg_mol=1.012353,
    ions_per_formula_unit=3,
    atoms_per_formula_unit=20,
    J=3.5,
    g=2.0,
    curie_weiss_K=-2.3,
    # Order-of-magnitude estimate (not a fitted value): with it the lattice entropy is
    # < 0.01 % of the spin entropy below 2 K, so the choice does not matter there.
    debye_temperature_K=500.0,
    default_model="mean_field",
    temperature_range=temperature_range(
        0.4,
        20.0,
        "GGG has spin-glass/field-induced AFM phases below ~0.4 K (Tsui, Snyder & Schiffer); "
        "above ~20 K the magnetocaloric effect is negligible and the lattice term is not T^3",
    ),
    field_range=FIELD_RANGE,
    # Gd sites of the garnet: two interpenetrating networks of corner-sharing triangles
    # (hyperkagome), 4 nearest Gd neighbours each (Tsui, Snyder & Schiffer; Ancliff et al.,
    # arXiv:2109.05827)
    nearest_neighbours=4,
    references=(
        "θ = -2.3 K: 'Low-temperature specific heat and thermal expansion in the frustrated "
        "garnet Gd3Ga5O12' (https://scilit.net/publications/ce0c71db3d87954bc6b1d81bb8d7de78)",
        "Phase diagram: Y. K. Tsui, J. Snyder, P. Schiffer, 'Analog to the 4He melting curve "
        "in a model geometrically frustrated magnet'",
        "J = 7/2, g = 2: free Gd3+ ion (8S7/2), e.g. Pobell, Matter and Methods at Low "
        "Temperatures, 3rd ed. (Springer 2007), ch. 9",
    ),
)
"""GGG, Gd3Ga5O12 (default model: mean field with θ = −2.3 K)."""

GLF = ParamagnetParameters(
    name="GLF",
    formula="LiGdF4",
    # 6.941 + 157.25 + 4 x 18.998 g/mol
    molar_mass_kg_mol=0.240183,
    ions_per_formula_unit=1,
    atoms_per_formula_unit=6,
    J=3.5,
    g=2.0,
    # arXiv:2307.06111 reports a strongly anisotropic θ; no verified powder value was
    # found, so the mean-field model needs curie_weiss_K= from the caller.
    curie_weiss_K=None,
    debye_temperature_K=None,
    default_model="ideal",
    temperature_range=temperature_range(
        0.3,
        20.0,
        "GLF is used down to ~0.35 K (C21_097 outlook); dipolar ordering below that",
    ),
    field_range=FIELD_RANGE,
    references=(
        "MCE and anisotropic Curie-Weiss θ: arXiv:2307.06111 (LiGdF4 single crystal, 2-10 K)",
        "Spin Hamiltonian, hidden frustration: arXiv:2210.09725",
        "Powder MCE: T. Numazawa et al., AIP Conf. Proc. 850, 1579 (2006)",
    ),
)
"""GLF, LiGdF4 (default model: ideal Brillouin; no verified Curie–Weiss θ)."""

MATERIALS: dict[str, ParamagnetParameters] = {"GGG": GGG, "GLF": GLF}


@dataclass(frozen=True)
class ParamagnetProperties:
    """Properties of a paramagnetic refrigerant, per mole of formula unit (and per kg).

    Attributes
    ----------
    temperature_K : ndarray
        Temperature [K].
    field_T : ndarray
        Applied magnetic flux density B = μ0 H [T].
    entropy_J_molK : ndarray
        Molar entropy S (spins + lattice) [J/(mol K)].
    heat_capacity_J_molK : ndarray
        Heat capacity at constant field C_B = T (∂S/∂T)_B [J/(mol K)].
    magnetisation_Am2_mol : ndarray
        Molar magnetic moment M along the field [A m²/mol].
    dS_dT_J_molK2 : ndarray
        (∂S/∂T)_B [J/(mol K²)].
    dS_dB_J_molKT : ndarray
        (∂S/∂B)_T = (∂M/∂T)_B [J/(mol K T)].
    enthalpy_J_mol : ndarray
        Magnetic enthalpy H = U − B M = G + T S [J/mol], dH = T dS − M dB (zero at T = 0,
        B = 0): the state function whose change over a field cycle is the heat the solid
        exchanges plus the magnetic work, so a cycle model storing it conserves energy.
    molar_mass_kg_mol : float
        Molar mass of the formula unit, to convert to per-kg values [kg/mol].
    model : str
        Model used.
    """

    temperature_K: FloatArray
    field_T: FloatArray
    entropy_J_molK: FloatArray
    heat_capacity_J_molK: FloatArray
    magnetisation_Am2_mol: FloatArray
    dS_dT_J_molK2: FloatArray
    dS_dB_J_molKT: FloatArray
    enthalpy_J_mol: FloatArray
    molar_mass_kg_mol: float
    model: str

    @property
    def entropy_J_kgK(self) -> FloatArray:
        """Specific entropy [J/(kg K)]."""
        return self.entropy_J_molK / self.molar_mass_kg_mol

    @property
    def heat_capacity_J_kgK(self) -> FloatArray:
        """Specific heat capacity at constant field [J/(kg K)]."""
        return self.heat_capacity_J_molK / self.molar_mass_kg_mol

    @property
    def dS_dB_J_kgKT(self) -> FloatArray:
        """(∂S/∂B)_T per kg [J/(kg K T)]."""
        return self.dS_dB_J_molKT / self.molar_mass_kg_mol

    @property
    def enthalpy_J_kg(self) -> FloatArray:
        """Magnetic enthalpy per kg [J/kg]."""
        return self.enthalpy_J_mol / self.molar_mass_kg_mol


def spin_moments(eta: ArrayLike, J: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ln Z, ⟨Jz⟩ and Var(Jz) of a free spin J in reduced field η.

    Parameters
    ----------
    eta : array_like
        Reduced Zeeman energy η = g μ_B B / (k_B T) [-].
    J : float
        Angular momentum quantum number [-].

    Returns
    -------
    ln_z, mean, variance : ndarray
        ln Z with Z = Σ exp(m η) over m = −J … J [-]; ⟨Jz⟩ [-]; Var(Jz) [-].

    Notes
    -----
    Summed level by level with the largest exponent factored out, so it is exact and
    overflow-free for any η (⟨Jz⟩ = J B_J(J η) with B_J the Brillouin function).
    """
    e = np.asarray(eta, dtype=np.float64)
    shift = J * np.abs(e)
    z = np.zeros_like(e)
    s1 = np.zeros_like(e)
    s2 = np.zeros_like(e)
    for m in np.arange(-J, J + 0.5, 1.0):
        w = np.exp(m * e - shift)
        z += w
        s1 += m * w
        s2 += m * m * w
    mean = s1 / z
    var = np.maximum(s2 / z - mean * mean, 0.0)
    return shift + np.log(z), mean, var


def _mean_field_moment(
    temperature_K: FloatArray, field_T: FloatArray, J: float, a: float, lam: float
) -> FloatArray:
    """Solve m = ⟨Jz⟩(a (B + λ m)/T) for m (λ ≤ 0: unique root in [−J, J]).

    Safeguarded Newton ("rtsafe", Press et al., Numerical Recipes 3rd ed., §9.4): a Newton
    step is taken only when it stays inside the bracket and halves the step; otherwise
    bisection. Started from the Curie–Weiss guess B_eff = B T/(T − θ).
    """
    T = temperature_K
    lo = np.full_like(T, -J)
    hi = np.full_like(T, J)
    theta = lam * a * J * (J + 1.0) / 3.0
    _, m, _ = spin_moments(a * field_T / (T - theta), J)
    dx_old = hi - lo
    dx = dx_old.copy()
    done = ~np.isfinite(T * field_T)  # NaN in, NaN out, without iterating
    for _ in range(100):
        _, mm, chi = spin_moments(a * (field_T + lam * m) / T, J)
        f = m - mm  # increasing in m for λ ≤ 0
        fp = 1.0 - chi * a * lam / T  # ≥ 1
        lo = np.where(f < 0.0, m, lo)
        hi = np.where(f >= 0.0, m, hi)
        bisect = (((m - hi) * fp - f) * ((m - lo) * fp - f) > 0.0) | (
            np.abs(2.0 * f) > np.abs(dx_old * fp)
        )
        dx_old = dx
        dx = np.where(done, 0.0, np.where(bisect, 0.5 * (hi - lo), f / fp))
        m = np.where(done, m, np.where(bisect, lo + dx, m - dx))
        done |= np.abs(dx) <= 1e-13 * J  # frozen: the bracket test misfires at f = 0
        if bool(np.all(done)):
            break
    return m


def paramagnet_properties(
    temperature_K: ArrayLike,
    field_T: ArrayLike,
    material: str | ParamagnetParameters = "GGG",
    *,
    model: Model | None = None,
    curie_weiss_K: float | None = None,
    internal_field_T: float | None = None,
    lattice: bool = True,
    extrapolate: bool = False,
) -> ParamagnetProperties:
    """Entropy, heat capacity, magnetisation and their derivatives of GGG or GLF.

    Parameters
    ----------
    temperature_K : array_like
        Temperature T [K].
    field_T : array_like
        Applied field B [T] (the sign is irrelevant for S; M follows it).
    material : {"GGG", "GLF"} or ParamagnetParameters
        Refrigerant, or a custom parameter set.
    model : {"ideal", "mean_field", "internal_field"}, optional
        Spin model; default ``material.default_model``.
    curie_weiss_K : float, optional
        Override of the Curie–Weiss temperature θ [K] for ``"mean_field"``. Must be ≤ 0
        (a ferromagnetic mean field has several roots below T_C and is not supported).
    internal_field_T : float, optional
        Internal field b [T] for ``"internal_field"`` (required there).
    lattice : bool
        Add the Debye T³ lattice term S = (4π⁴/5) n R (T/Θ_D)³ (n atoms per formula unit).
    extrapolate : bool
        Evaluate outside ``material.temperature_range`` / ``field_range`` instead of raising.

    Returns
    -------
    ParamagnetProperties
        Per mole of formula unit (3 Gd for GGG); see the dataclass for units.

    Raises
    ------
    OutOfRangeError
        Temperature or field outside the material's validity range.
    ValueError
        Unknown model or missing model parameter.

    Examples
    --------
    >>> p = paramagnet_properties(1.6, 1.0, "GGG", model="ideal")
    >>> round(float(p.entropy_J_kgK), 1)
    29.4
    """
    if isinstance(material, str):
        if material.upper() not in MATERIALS:
            raise ValueError(f"material={material!r} is not one of {sorted(MATERIALS)}")
        params = MATERIALS[material.upper()]
    else:
        params = material
    chosen: Model = params.default_model if model is None else model
    if chosen not in MODELS:
        raise ValueError(f"model={chosen!r} is not one of {MODELS}")
    T = params.temperature_range.check(temperature_K, extrapolate=extrapolate)
    B_in = params.field_range.check(field_T, extrapolate=extrapolate)
    T, B_abs = np.broadcast_arrays(T, B_in)
    sign = np.ones_like(T)  # field_T is a magnitude (>= 0); M is along the field

    J, g = params.J, params.g
    a = g * MU_B / K_B  # [K/T]
    n_ion = params.ions_per_formula_unit
    lam = 0.0
    b_int = 0.0
    if chosen == "mean_field":
        theta = params.curie_weiss_K if curie_weiss_K is None else curie_weiss_K
        if theta is None:
            raise ValueError(
                f"{params.name} has no verified Curie-Weiss temperature; pass curie_weiss_K="
            )
        if theta > 0.0:
            raise ValueError("curie_weiss_K must be <= 0 (antiferromagnetic mean field)")
        lam = 3.0 * theta / (a * J * (J + 1.0))  # [T per unit <Jz>]
    elif chosen == "internal_field":
        if internal_field_T is None or internal_field_T < 0.0:
            raise ValueError("model='internal_field' needs internal_field_T >= 0 [T]")
        b_int = float(internal_field_T)

    B_eff0 = np.sqrt(B_abs * B_abs + b_int * b_int)
    if chosen == "mean_field":
        m = _mean_field_moment(T, B_abs, J, a, lam)
        B_eff = B_abs + lam * m
    else:
        B_eff = B_eff0
    eta = a * B_eff / T
    ln_z, m, chi = spin_moments(eta, J)

    # Per ion, in units of k_B; implicit differentiation of m = <Jz>(a(B + λ m)/T).
    s_ion = ln_z - eta * m
    denom = T - a * lam * chi  # = T for λ = 0
    dm_dT = -chi * eta / denom
    dm_dB = a * chi / denom
    if chosen == "internal_field":
        deta_dT = -eta / T
        deta_dB = np.where(B_eff > 0.0, a * B_abs / (np.where(B_eff > 0.0, B_eff, 1.0) * T), 0.0)
        proj = np.where(B_eff > 0.0, B_abs / np.where(B_eff > 0.0, B_eff, 1.0), 0.0)
    else:
        deta_dT = (a * lam * dm_dT - eta) / T
        deta_dB = a * (1.0 + lam * dm_dB) / T
        proj = np.ones_like(T)
    ds_dT = -eta * chi * deta_dT
    ds_dB = -eta * chi * deta_dB

    R_ion = R * n_ion  # per mole of formula unit
    # H = G + T S per ion [K]: G = −T ln Z + a λ m²/2 (Weiss free energy, stationary in m),
    # so H = −a m (B_eff − λ m/2); with λ = 0 (ideal, internal field) H = −a B_eff m
    h_ion = -a * m * (B_eff - 0.5 * lam * m)
    H = R_ion * h_ion
    S = R_ion * s_ion
    dSdT = R_ion * ds_dT
    dSdB = R_ion * ds_dB * sign
    M = n_ion * N_A * g * MU_B * m * proj * sign
    if lattice and params.debye_temperature_K is not None:
        nR = params.atoms_per_formula_unit * R
        c_lat = 12.0 * np.pi**4 / 5.0 * nR * (T / params.debye_temperature_K) ** 3
        S = S + c_lat / 3.0
        dSdT = dSdT + c_lat / T
        H = H + 0.25 * c_lat * T  # U = ∫ C dT of the T³ law
    return ParamagnetProperties(
        temperature_K=T.copy(),
        field_T=(B_abs * sign).copy(),
        entropy_J_molK=S,
        heat_capacity_J_molK=T * dSdT,
        magnetisation_Am2_mol=M,
        dS_dT_J_molK2=dSdT,
        dS_dB_J_molKT=dSdB,
        enthalpy_J_mol=H,
        molar_mass_kg_mol=params.molar_mass_kg_mol,
        model=chosen,
    )


def with_curie_weiss(params: ParamagnetParameters, curie_weiss_K: float) -> ParamagnetParameters:
    """Copy of ``params`` with another Curie–Weiss temperature θ [K]."""
    return replace(params, curie_weiss_K=curie_weiss_K)


def exchange_internal_field_T(material: str | ParamagnetParameters = "GGG") -> float:
    """Internal field b that gives the exchange's zero-field heat-capacity tail [T].

    The leading high-temperature term of the zero-field heat capacity of a Heisenberg
    magnet with z nearest neighbours and Curie–Weiss temperature θ is, per ion,
    C/k_B = (3/2) θ²/(z T²) (second moment ⟨H²⟩ of the exchange energy; e.g. G. S.
    Rushbrooke, P. J. Wood, Mol. Phys. 1, 257 (1958)). The internal-field model
    (B_eff = √(B² + b²), Pobell ch. 9) has C/k_B = (g μB b/k_B T)² J(J + 1)/3 in the same
    limit, so

        b = (k_B |θ| / g μB) · √(9 / (2 z J(J + 1)))

    (0.458 T for GGG: θ = −2.3 K, z = 4, J = 7/2, g = 2). It gives the spin heat capacity
    and the fall of the zero-field entropy below ~1 K that the ideal and mean-field models
    lack; it is exact only for T ≫ |θ| and an interpolation near 1 K (no measured GGG
    table is in this library to check it against).

    Parameters
    ----------
    material : str or ParamagnetParameters
        Needs ``curie_weiss_K`` and ``nearest_neighbours``.

    Returns
    -------
    float
        b [T].

    Examples
    --------
    >>> round(exchange_internal_field_T("GGG"), 3)
    0.458
    """
    params = MATERIALS[material.upper()] if isinstance(material, str) else material
    if params.curie_weiss_K is None or params.nearest_neighbours is None:
        raise ValueError(f"{params.name} needs curie_weiss_K and nearest_neighbours for b")
    J, z = params.J, params.nearest_neighbours
    return float(
        K_B * abs(params.curie_weiss_K) / (params.g * MU_B) * np.sqrt(9.0 / (2.0 * z * J * (J + 1)))
    )


@dataclass(frozen=True)
class ModelSpread:
    """The band spanned by the three spin models, per kg.

    No published GGG S(T, B) data are in this library yet (Fisher et al. 1973, Daudin et al.
    1982, Dai et al. 1988, Schiffer et al. 1994, Kleinhans et al. 2022 were not found as
    data), so the spread between the ideal, the mean-field and the internal-field model
    (b from θ, :func:`exchange_internal_field_T`) stands in for the uncertainty of every GGG
    number; a design or cycle result should report it. The internal-field model is the one
    with a zero-field spin heat capacity and a zero-field entropy below R ln 8.

    Attributes
    ----------
    entropy_low_J_kgK, entropy_high_J_kgK : ndarray
        Smaller and larger entropy of the two models [J/(kg K)].
    dS_dB_low_J_kgKT, dS_dB_high_J_kgKT : ndarray
        Smaller and larger ∂S/∂B [J/(kg K T)] (both ≤ 0; "low" is the stronger effect).
    heat_capacity_low_J_kgK, heat_capacity_high_J_kgK : ndarray
        Smaller and larger C_B [J/(kg K)].
    """

    entropy_low_J_kgK: FloatArray
    entropy_high_J_kgK: FloatArray
    dS_dB_low_J_kgKT: FloatArray
    dS_dB_high_J_kgKT: FloatArray
    heat_capacity_low_J_kgK: FloatArray
    heat_capacity_high_J_kgK: FloatArray


def model_spread(
    temperature_K: ArrayLike,
    field_T: ArrayLike,
    material: str | ParamagnetParameters = "GGG",
    *,
    extrapolate: bool = False,
) -> ModelSpread:
    """Uncertainty band of a paramagnet's S, ∂S/∂B and C_B over the three spin models.

    Parameters
    ----------
    temperature_K : array_like
        Temperature [K].
    field_T : array_like
        Field magnitude |B| [T].
    material : str or ParamagnetParameters
        ``"GGG"`` (default) or a material with a Curie–Weiss θ.
    extrapolate : bool
        As in :func:`paramagnet_properties`.

    Returns
    -------
    ModelSpread
        Elementwise min and max of the ideal, mean-field and internal-field models
        (units in the class).

    Examples
    --------
    >>> b = model_spread(0.9, 1.5)
    >>> round(float(b.dS_dB_low_J_kgKT), 1), round(float(b.dS_dB_high_J_kgKT), 1)
    (-23.9, -9.7)
    """
    b = exchange_internal_field_T(material)
    runs = [
        paramagnet_properties(temperature_K, field_T, material, model=m, extrapolate=extrapolate,
                              internal_field_T=b if m == "internal_field" else None)
        for m in MODELS
    ]  # fmt: skip
    S = np.stack([r.entropy_J_kgK for r in runs])
    D = np.stack([r.dS_dB_J_kgKT for r in runs])
    C = np.stack([r.heat_capacity_J_kgK for r in runs])
    return ModelSpread(
        entropy_low_J_kgK=S.min(axis=0),
        entropy_high_J_kgK=S.max(axis=0),
        dS_dB_low_J_kgKT=D.min(axis=0),
        dS_dB_high_J_kgKT=D.max(axis=0),
        heat_capacity_low_J_kgK=C.min(axis=0),
        heat_capacity_high_J_kgK=C.max(axis=0),
    )
