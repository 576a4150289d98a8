"""Regenerator design model of the paper (eqs. 1–3): the canister length for one blow.

One regenerator during a flow process (paper C21_097, Cryocoolers 21, Fig. 2): the mixture
enters from the hot heat exchanger at T_h and leaves to the cold heat exchanger at the
target T_c. The temperature along the bed is taken linear from T_h to T_c and constant in
time (the paper: "this conservatively implies no internal energy change"). The GGG, cut
into N space nodes (i) and M field steps (j), takes up heat by the second law (eq. 1,
dQ_GGG = T dS_GGG), at constant temperature (eq. 2)::

    Q_ij = T_i · n_GGG,i · (∂S/∂B)|_(T_i, B_j) · (B_(j+1) − B_j)

and the first law on the fluid (eq. 3) balances it against the enthalpy the mixture
gives up::

    n_in h_HHX − n_out h_CHX = Σ_i Σ_j Q_ij.

With n_in = n_out = n (no storage in the fluid) and n_GGG,i proportional to the length ℓ
(n_GGG,i = ρ_GGG (1 − ε) A ℓ / (N M_GGG)), eq. 3 is linear in ℓ and is solved in closed
form: ℓ = n (h(T_h) − h(T_c)) / q′, q′ = Σ Q_ij / ℓ. The sum over j is the paper's
left-point rule in the field (first order in 1/M); the nodes sit at the centres of N equal
slices (second order in 1/N). ``docs/amrr/design.md`` has the convergence study.

SI units: lengths [m], fields [T], temperatures [K], amounts [mol], energies [J].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, cast

import numpy as np

from amrr.properties.mixture import mixture_properties
from amrr.properties.refrigerant import AnalyticRefrigerant, Refrigerant
from amrr.properties.validity import FloatArray

GGG_DENSITY_KG_M3: float = 7080.0
"""Density of single-crystal GGG [kg/m³] (X-ray density 7.08 g/cm³; e.g. Brandle & Valentino,
J. Cryst. Growth 12 (1972) 3, and crystal suppliers' data sheets)."""


@dataclass(frozen=True)
class RegeneratorSpec:
    """Inputs of the regenerator design model (one canister, one blow).

    Attributes
    ----------
    inner_diameter_m : float
        Canister inner diameter D [m].
    hot_temperature_K : float
        Inlet (hot heat exchanger) temperature T_h [K].
    cold_temperature_K : float
        Target outlet (to the cold heat exchanger) temperature T_c [K].
    high_field_T, low_field_T : float
        Field at the start and at the end of the (demagnetising) blow [T].
    moles_per_blow_mol : float
        Mixture through the regenerator in one blow, n_in = n_out [mol].
    x3 : float
        3He mole fraction of the mixture [-].
    porosity : float
        Void fraction ε of the packed bed [-] (the paper: 0.38).
    ggg_density_kg_m3 : float
        Density of the solid GGG [kg/m³].
    space_nodes : int
        N, slices along the bed [-] (second-order: N = 20 is within 10⁻⁴ of converged).
    field_steps : int
        M, field steps over the blow [-] (the paper's left-point rule is first order:
        M = 400 is within 0.2 % of converged for the default design).
    """

    inner_diameter_m: float
    hot_temperature_K: float = 1.6
    cold_temperature_K: float = 0.75
    high_field_T: float = 0.75
    low_field_T: float = 0.0
    moles_per_blow_mol: float = 0.1
    x3: float = 0.1
    porosity: float = 0.38
    ggg_density_kg_m3: float = GGG_DENSITY_KG_M3
    space_nodes: int = 20
    field_steps: int = 400

    def __post_init__(self) -> None:
        checks = {
            "inner_diameter_m": self.inner_diameter_m > 0,
            "moles_per_blow_mol": self.moles_per_blow_mol > 0,
            "porosity": 0 < self.porosity < 1,
            "ggg_density_kg_m3": self.ggg_density_kg_m3 > 0,
            "space_nodes": self.space_nodes >= 1,
            "field_steps": self.field_steps >= 1,
            "cold_temperature_K": 0 < self.cold_temperature_K < self.hot_temperature_K,
            "high_field_T": self.high_field_T > self.low_field_T >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is invalid: need D > 0, n > 0, "
                    "0 < ε < 1, ρ > 0, N, M ≥ 1, 0 < T_c < T_h, B_high > B_low ≥ 0"
                )

    @property
    def area_m2(self) -> float:
        """Canister cross-section π D²/4 [m²]."""
        return math.pi * self.inner_diameter_m**2 / 4.0


@dataclass(frozen=True)
class RegeneratorDesign:
    """The canister that holds the outlet at T_c for one blow (eqs. 1–3).

    Attributes
    ----------
    spec : RegeneratorSpec
        The inputs.
    length_m : float
        Required bed length ℓ [m].
    volume_m3 : float
        Bed volume A ℓ [m³].
    ggg_mass_kg : float
        GGG in the bed, ρ (1 − ε) A ℓ [kg].
    fill_fraction : float
        Solid fraction 1 − ε [-] (the paper packs 62 %).
    enthalpy_drop_J_mol : float
        h(T_h, x3) − h(T_c, x3) of the mixture [J/mol].
    heat_to_ggg_J : float
        Σ Q_ij over the blow = n Δh [J].
    heat_per_length_J_m : float
        q′ = Σ Q_ij / ℓ [J/m].
    node_position_m : ndarray
        Node centres from the hot end [m] (N).
    node_temperature_K : ndarray
        T_i, the linear profile [K] (N).
    node_heat_J : ndarray
        Σ_j Q_ij, heat taken up by each slice [J] (N).
    refrigerant : str
        Which S(T, B) model or table was used.
    """

    spec: RegeneratorSpec
    length_m: float
    volume_m3: float
    ggg_mass_kg: float
    fill_fraction: float
    enthalpy_drop_J_mol: float
    heat_to_ggg_J: float
    heat_per_length_J_m: float
    node_position_m: FloatArray
    node_temperature_K: FloatArray
    node_heat_J: FloatArray
    refrigerant: str


def default_refrigerant() -> Refrigerant:
    """GGG with its default spin model (:class:`~amrr.properties.AnalyticRefrigerant`).

    (The cast: ``AnalyticRefrigerant.name`` is a read-only property, which mypy does not
    accept for the protocol's plain ``name: str`` attribute.)
    """
    return cast(Refrigerant, AnalyticRefrigerant("GGG"))


def node_temperatures_K(hot_K: float, cold_K: float, nodes: int) -> FloatArray:
    """T_i at the centres of N equal slices of a linear profile, hot end first [K]."""
    frac = (np.arange(nodes) + 0.5) / nodes
    return np.asarray(hot_K - (hot_K - cold_K) * frac, dtype=np.float64)


def field_steps_T(high_T: float, low_T: float, steps: int) -> FloatArray:
    """B_1 … B_(M+1): M equal steps from the high to the low field [T]."""
    return np.asarray(np.linspace(high_T, low_T, steps + 1), dtype=np.float64)


def ggg_heat_per_mass_J_kg(
    temperature_K: FloatArray, field_T: FloatArray, refrigerant: Refrigerant
) -> FloatArray:
    """Eq. 2 per kg of refrigerant, summed over the field steps: Σ_j T (∂S/∂B)|_(T,B_j) ΔB_j.

    Parameters
    ----------
    temperature_K : ndarray
        Node temperatures T_i [K] (N).
    field_T : ndarray
        Field sequence B_1 … B_(M+1) [T].
    refrigerant : Refrigerant
        S(T, B) source (per kg).

    Returns
    -------
    ndarray
        Heat into 1 kg at each T_i over the field sequence [J/kg] (N); positive for a
        demagnetising blow (B falling, ∂S/∂B < 0).
    """
    T = np.asarray(temperature_K, dtype=np.float64)[:, None]
    B = np.asarray(field_T, dtype=np.float64)
    state = refrigerant(T, B[None, :-1])
    dB = np.diff(B)[None, :]
    return np.asarray(np.sum(T * state.dS_dB_J_kgKT * dB, axis=1), dtype=np.float64)


def mixture_enthalpy_drop_J_mol(hot_K: float, cold_K: float, x3: float) -> float:
    """h(T_h, x3) − h(T_c, x3) of the He II mixture [J/mol].

    From :func:`~amrr.properties.mixture_properties` (per mole of mixture, constant x3).
    """
    h = mixture_properties(np.array([hot_K, cold_K]), x3).enthalpy_J_mol
    return float(h[0] - h[1])


def design_regenerator(
    spec: RegeneratorSpec, refrigerant: Refrigerant | None = None
) -> RegeneratorDesign:
    """Solve eq. 3 for the bed length that holds the outlet at T_c (closed form).

    Parameters
    ----------
    spec : RegeneratorSpec
        Geometry, temperatures, field swing, moles per blow, discretisation.
    refrigerant : Refrigerant, optional
        S(T, B) per kg; default GGG with its default spin model
        (:class:`~amrr.properties.AnalyticRefrigerant`).

    Returns
    -------
    RegeneratorDesign
        Length, GGG mass and the per-node heat.

    Raises
    ------
    ValueError
        If the property models refuse the inputs (out of their validity ranges) or the
        field change releases heat instead of absorbing it.
    """
    ref = default_refrigerant() if refrigerant is None else refrigerant
    T = node_temperatures_K(spec.hot_temperature_K, spec.cold_temperature_K, spec.space_nodes)
    B = field_steps_T(spec.high_field_T, spec.low_field_T, spec.field_steps)
    q_per_kg = ggg_heat_per_mass_J_kg(T, B, ref)
    solid_kg_per_m = spec.ggg_density_kg_m3 * (1.0 - spec.porosity) * spec.area_m2
    # Each slice holds 1/N of the bed: q′ = Σ_i (ρ (1 − ε) A / N) Σ_j T_i ∂S/∂B ΔB.
    q_per_length = float(solid_kg_per_m * q_per_kg.sum() / spec.space_nodes)
    if not q_per_length > 0.0:
        raise ValueError(
            "the field change does not absorb heat (Σ Q ≤ 0): the regenerator model needs a "
            "demagnetising blow, high_field_T > low_field_T"
        )
    dh = mixture_enthalpy_drop_J_mol(spec.hot_temperature_K, spec.cold_temperature_K, spec.x3)
    heat = spec.moles_per_blow_mol * dh
    length = heat / q_per_length
    positions = (np.arange(spec.space_nodes) + 0.5) / spec.space_nodes * length
    return RegeneratorDesign(
        spec=spec,
        length_m=length,
        volume_m3=spec.area_m2 * length,
        ggg_mass_kg=solid_kg_per_m * length,
        fill_fraction=1.0 - spec.porosity,
        enthalpy_drop_J_mol=dh,
        heat_to_ggg_J=heat,
        heat_per_length_J_m=q_per_length,
        node_position_m=np.asarray(positions, dtype=np.float64),
        node_temperature_K=T,
        node_heat_J=np.asarray(solid_kg_per_m * length / spec.space_nodes * q_per_kg),
        refrigerant=ref.name,
    )


SENSITIVITY_INPUTS: tuple[str, ...] = (
    "inner_diameter_m",
    "hot_temperature_K",
    "cold_temperature_K",
    "high_field_T",
    "low_field_T",
    "moles_per_blow_mol",
    "x3",
    "porosity",
    "ggg_density_kg_m3",
)


def length_sensitivities(
    spec: RegeneratorSpec,
    refrigerant: Refrigerant | None = None,
    *,
    relative_step: float = 1e-3,
    field_step_T: float = 1e-3,
) -> dict[str, float]:
    """Sensitivity of the bed length to every input, ∂ℓ/∂p · (p/ℓ) [-] (central differences).

    For an input whose base value is 0 (a zero low field) the absolute derivative
    ∂ℓ/∂p / ℓ [1/unit] is returned instead, with a step of ``field_step_T``.

    Parameters
    ----------
    spec : RegeneratorSpec
        Base design.
    refrigerant : Refrigerant, optional
        As for :func:`design_regenerator`.
    relative_step : float
        Relative perturbation of each input [-].
    field_step_T : float
        Absolute step for a zero-valued field [T].
    """
    base = design_regenerator(spec, refrigerant).length_m
    names = {f.name for f in fields(spec)}
    out: dict[str, float] = {}
    for name in SENSITIVITY_INPUTS:
        if name not in names:
            continue
        value = float(getattr(spec, name))
        if value == 0.0:
            step = field_step_T
            changed: dict[str, Any] = {name: step}
            up = design_regenerator(replace(spec, **changed), refrigerant).length_m
            out[name] = (up - base) / step / base
            continue
        step = relative_step * value
        hi: dict[str, Any] = {name: value + step}
        lo: dict[str, Any] = {name: value - step}
        up = design_regenerator(replace(spec, **hi), refrigerant).length_m
        down = design_regenerator(replace(spec, **lo), refrigerant).length_m
        out[name] = (up - down) / (2.0 * step) * value / base
    return out
