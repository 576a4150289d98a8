"""The two media of a magnetic regenerator, as interfaces the cycle solver calls.

- :class:`MagnetocaloricSolid`: per kg of refrigerant at (T [K], B [T]), vectorised over
  the nodes, C_B [J/(kg K)], (∂s/∂B)_T [J/(kg K T)], σ [A m²/kg] and the magnetic enthalpy
  h = u − B σ [J/kg] (dh = T ds − σ dB) — what the solid's energy balance
  m dh/dt = G (T_f − T_s) − m σ dB/dt (stepped in this conservative form), its Jacobian
  m [C_B dT/dt + T ∂s/∂B dB/dt] and the magnetic work ∮ m σ dB need. Implementations:
  :class:`ParamagnetSolid` (GGG, GLF of :mod:`amrr.properties.paramagnet`, the sub-kelvin
  default) and
  :class:`FerromagnetSolid` (mean-field gadolinium of :mod:`amrr.properties.gadolinium`),
  and :class:`TabulatedSolid`, any of them on bicubic (T, B) tables.
- :class:`FluidTable`: per mole of heat-transfer fluid, h(T) [J/mol], s(T) [J/(mol K)] and
  c(T) [J/(mol K)] on cubic splines, with the molar volume [m³/mol], molar mass [kg/mol]
  and table range [K]. Implementations: :class:`~amrr.cycle.magnetic.MixtureTable` (the
  ³He-⁴He mixture) and :func:`constant_property_liquid` (a liquid of constant c_p and ρ,
  e.g. water; per "mole" of any chosen molar mass — the solver's results do not depend
  on it, only on ρ and c_p).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
from scipy.interpolate import CubicSpline, RectBivariateSpline

from amrr.properties.constants import K_B, MU_B, R
from amrr.properties.gadolinium import GADOLINIUM, MeanFieldFerromagnet, ferromagnet_properties
from amrr.properties.paramagnet import MATERIALS, Model, paramagnet_properties
from amrr.properties.validity import FloatArray


@dataclass(frozen=True)
class SolidState:
    """What the cycle needs of the refrigerant at one step, per kg.

    Attributes
    ----------
    heat_capacity_J_kgK : ndarray
        C_B [J/(kg K)].
    dS_dB_J_kgKT : ndarray
        (∂s/∂B)_T [J/(kg K T)].
    magnetisation_Am2_kg : ndarray
        σ [A m²/kg].
    enthalpy_J_kg : ndarray
        Magnetic enthalpy h = u − B σ [J/kg], dh = T ds − σ dB, any fixed zero.
    """

    heat_capacity_J_kgK: FloatArray
    dS_dB_J_kgKT: FloatArray
    magnetisation_Am2_kg: FloatArray
    enthalpy_J_kg: FloatArray


class MagnetocaloricSolid(Protocol):
    """A refrigerant the cycle can step: state at (T [K], B [T]), outside the validity
    range by extrapolation (the cycle's transients may overshoot it briefly)."""

    def __call__(self, temperature_K: FloatArray, field_T: float) -> SolidState: ...


@dataclass(frozen=True)
class ParamagnetSolid:
    """GGG or GLF through :func:`amrr.properties.paramagnet_properties`.

    For the ``ideal`` and ``internal_field`` models (a free spin J in the field
    B_eff = √(B² + b²)) the state is evaluated by a lean path: the same closed forms as
    :func:`~amrr.properties.paramagnet_properties` (all levels summed at once, no
    validity bookkeeping), equal to it to round-off (tested); the cycle's Newton calls it
    several times per step. ``mean_field`` goes through the property function.

    Attributes
    ----------
    refrigerant : str
        ``"GGG"`` or ``"GLF"``.
    spin_model : str
        Spin model.
    internal_field_T : float or None
        Internal field b [T] of the ``internal_field`` model.
    """

    refrigerant: str
    spin_model: Model
    internal_field_T: float | None = None

    def __call__(self, temperature_K: FloatArray, field_T: float) -> SolidState:
        """State at (T [K], B [T])."""
        if self.spin_model in ("ideal", "internal_field"):
            return self._free_spin(np.asarray(temperature_K, dtype=np.float64), field_T)
        p = paramagnet_properties(
            temperature_K,
            field_T,
            self.refrigerant,
            model=self.spin_model,
            internal_field_T=self.internal_field_T,
            extrapolate=True,
        )
        return SolidState(
            np.asarray(p.heat_capacity_J_kgK),
            np.asarray(p.dS_dB_J_kgKT),
            np.asarray(p.magnetisation_Am2_mol) / p.molar_mass_kg_mol,
            np.asarray(p.enthalpy_J_kg),
        )

    @cached_property
    def _constants(self) -> tuple[Any, ...]:
        """J, g μ_B/k_B [K/T], the levels −J…J, R per kg of ions and of atoms [J/(kg K)],
        Θ_D [K] (or None) and the internal field [T] of the lean path."""
        params = MATERIALS[self.refrigerant.upper()]
        b_int = self.internal_field_T if self.spin_model == "internal_field" else 0.0
        if b_int is None:
            raise ValueError("model='internal_field' needs internal_field_T >= 0 [T]")
        return (
            params.J,
            params.g * MU_B / K_B,
            np.arange(-params.J, params.J + 0.5, 1.0),
            R * params.ions_per_formula_unit / params.molar_mass_kg_mol,
            params.atoms_per_formula_unit * R / params.molar_mass_kg_mol,
            params.debye_temperature_K,
            float(b_int),
        )

    def _free_spin(self, t: FloatArray, field_T: float) -> SolidState:
        """Free spin J in B_eff, per kg: with η = g μ_B B_eff/(k_B T), ⟨Jz⟩ = m and
        Var(Jz) = χ per ion, C = R η² χ, ∂s/∂B = −R η χ (g μ_B/k_B) B/(B_eff T),
        σ = N_A g μ_B m B/B_eff, h = −R (g μ_B/k_B) B_eff m; plus the Debye T³ lattice
        (C = c_l, h = c_l T/4) — :func:`amrr.properties.paramagnet_properties`."""
        if not (t.min() > 0.0 and np.isfinite(t.max())):  # NaN fails the first test
            raise ValueError("temperature_K must be finite and > 0")
        j, a, levels, r_ion, n_r, debye, b_int = self._constants
        field = abs(float(field_T))
        b_eff = float(np.hypot(field, b_int))
        eta = a * b_eff / t
        w = np.exp(np.multiply.outer(levels, eta) - j * np.abs(eta))
        z = np.ones_like(levels) @ w
        m = (levels @ w) / z
        chi = np.maximum((levels * levels) @ w / z - m * m, 0.0)
        proj = field / b_eff if b_eff > 0.0 else 0.0
        c = r_ion * eta**2 * chi
        ds_db = -r_ion * a * proj * eta * chi / t
        sigma = r_ion * a * proj * m  # n N_A g μ_B m B/B_eff per kg
        h = -r_ion * a * b_eff * m
        if debye is not None:
            c_lat = 12.0 * np.pi**4 / 5.0 * n_r * (t / debye) ** 3
            c = c + c_lat
            h = h + 0.25 * c_lat * t
        return SolidState(c, ds_db, sigma, h)


@dataclass(frozen=True)
class FerromagnetSolid:
    """A mean-field ferromagnet (default gadolinium) through
    :func:`amrr.properties.gadolinium.ferromagnet_properties`.

    Attributes
    ----------
    params : MeanFieldFerromagnet
        Material parameters.
    """

    params: MeanFieldFerromagnet = GADOLINIUM

    def __call__(self, temperature_K: FloatArray, field_T: float) -> SolidState:
        """State at (T [K], B [T])."""
        p = ferromagnet_properties(temperature_K, field_T, self.params, extrapolate=True)
        return SolidState(
            p.heat_capacity_J_kgK, p.dS_dB_J_kgKT, p.magnetisation_Am2_kg, p.enthalpy_J_kg
        )


@dataclass(frozen=True)
class TabulatedSolid:
    """A :class:`MagnetocaloricSolid` on bicubic tables over a (T, B) box.

    For a refrigerant whose model is costly per call (mean-field gadolinium solves its
    self-consistent magnetisation by iteration: 89 % of a cycle's CPU on AMRmodel's case),
    C_B, ∂s/∂B, σ and h are each tabulated on a regular grid and evaluated by
    ``scipy.interpolate.RectBivariateSpline`` (cubic in T and B). The cycle's first law does
    not rest on the table (it steps h and σ as given, §7 of docs/amrr/cycle.md); its
    accuracy does: :meth:`max_relative_error` states the interpolation error at the cell
    centres. States outside the box go to the model itself.

    Attributes
    ----------
    model : MagnetocaloricSolid
        The refrigerant's model.
    low_K, high_K : float
        Temperature range of the table [K].
    low_T, high_T : float
        Field range of the table [T].
    step_K, step_T : float
        Grid spacing [K], [T].
    """

    model: MagnetocaloricSolid
    low_K: float
    high_K: float
    low_T: float
    high_T: float
    step_K: float = 0.05
    step_T: float = 0.01

    def __post_init__(self) -> None:
        if not (0.0 < self.low_K < self.high_K and 0.0 <= self.low_T < self.high_T):
            raise ValueError("the table needs 0 < low_K < high_K and 0 <= low_T < high_T")
        if not (self.step_K > 0.0 and self.step_T > 0.0):
            raise ValueError("step_K and step_T must be > 0")

    @cached_property
    def _axes(self) -> tuple[FloatArray, FloatArray]:
        """Temperature [K] and field [T] knots."""
        nt = max(4, int(np.ceil((self.high_K - self.low_K) / self.step_K)) + 1)
        nb = max(4, int(np.ceil((self.high_T - self.low_T) / self.step_T)) + 1)
        return np.linspace(self.low_K, self.high_K, nt), np.linspace(self.low_T, self.high_T, nb)

    @cached_property
    def _splines(self) -> tuple[RectBivariateSpline, ...]:
        """Splines of C_B, ∂s/∂B, σ and h over (T, B)."""
        t, b = self._axes
        states = [self.model(t, float(bb)) for bb in b]
        columns = (
            "heat_capacity_J_kgK",
            "dS_dB_J_kgKT",
            "magnetisation_Am2_kg",
            "enthalpy_J_kg",
        )
        return tuple(
            RectBivariateSpline(t, b, np.column_stack([getattr(st, c) for st in states]))
            for c in columns
        )

    def __call__(self, temperature_K: FloatArray, field_T: float) -> SolidState:
        """State at (T [K], B [T]) from the tables (the model outside them)."""
        t = np.asarray(temperature_K, dtype=np.float64)
        b = float(field_T)
        inside = (t >= self.low_K) & (t <= self.high_K)
        if not (self.low_T <= b <= self.high_T and inside.any()):
            return self.model(t, b)
        values = [s.ev(t, np.full(t.shape, b)) for s in self._splines]
        if not inside.all():
            exact = self.model(t[~inside], b)
            for v, name in zip(values, _STATE_FIELDS, strict=True):
                v[~inside] = getattr(exact, name)
        return SolidState(*values)

    def max_relative_error(self) -> float:
        """Largest |table − model|/max|model| of C_B, ∂s/∂B, σ and h at the grid's cell
        centres [-] (each quantity relative to its largest magnitude on the grid)."""
        t, b = self._axes
        tc, bc = 0.5 * (t[1:] + t[:-1]), 0.5 * (b[1:] + b[:-1])
        worst = 0.0
        for field_T in bc:
            exact = self.model(tc, float(field_T))
            table = self(tc, float(field_T))
            for name in _STATE_FIELDS:
                e, v = getattr(exact, name), getattr(table, name)
                scale = float(np.max(np.abs(e))) or 1.0
                worst = max(worst, float(np.max(np.abs(v - e))) / scale)
        return worst


_STATE_FIELDS = ("heat_capacity_J_kgK", "dS_dB_J_kgKT", "magnetisation_Am2_kg", "enthalpy_J_kg")


class FluidTable(Protocol):
    """Molar h, s, c of a heat-transfer fluid on cubic splines (module docstring)."""

    @property
    def low_K(self) -> float: ...
    @property
    def high_K(self) -> float: ...
    @property
    def molar_volume_m3_mol(self) -> float: ...
    @property
    def molar_mass_kg_mol(self) -> float: ...
    @property
    def enthalpy(self) -> CubicSpline: ...
    @property
    def entropy(self) -> CubicSpline: ...
    @property
    def heat_capacity(self) -> CubicSpline: ...


@dataclass(frozen=True)
class LiquidTable:
    """h, s, c of a liquid at fixed pressure on cubic splines (a :class:`FluidTable`).

    Attributes
    ----------
    name : str
        Label.
    low_K, high_K : float
        Table range [K].
    molar_volume_m3_mol, molar_mass_kg_mol : float
        [m³/mol], [kg/mol].
    conductivity_W_mK, viscosity_Pa_s : float
        Thermal conductivity [W/(m K)] and dynamic viscosity [Pa s] (for the heat-transfer
        and pressure-drop correlations; the regenerator takes them from its spec).
    """

    name: str
    low_K: float
    high_K: float
    molar_volume_m3_mol: float
    molar_mass_kg_mol: float
    conductivity_W_mK: float
    viscosity_Pa_s: float
    enthalpy: CubicSpline = field(repr=False)
    entropy: CubicSpline = field(repr=False)
    heat_capacity: CubicSpline = field(repr=False)


def constant_property_liquid(
    name: str,
    heat_capacity_J_kgK: float,
    density_kg_m3: float,
    conductivity_W_mK: float,
    viscosity_Pa_s: float,
    low_K: float,
    high_K: float,
    molar_mass_kg_mol: float = 18.015e-3,
    knots: int = 201,
) -> LiquidTable:
    """An incompressible liquid of constant c_p and ρ: h = M c_p (T − T_low) [J/mol],
    s = M c_p ln(T/T_low) [J/(mol K)], c = M c_p [J/(mol K)], on ``knots`` knots over
    [low_K, high_K] (the spline of ln T is exact to < 1e-10 relative at 201 knots over
    250–350 K).

    Parameters
    ----------
    name : str
        Label.
    heat_capacity_J_kgK, density_kg_m3 : float
        c_p [J/(kg K)], ρ [kg/m³].
    conductivity_W_mK, viscosity_Pa_s : float
        k [W/(m K)], μ [Pa s].
    low_K, high_K : float
        Range [K].
    molar_mass_kg_mol : float
        Mass of the solver's "mole" [kg/mol] (default water's).
    knots : int
        Spline knots [-].
    """
    for label, value in (
        ("heat_capacity_J_kgK", heat_capacity_J_kgK),
        ("density_kg_m3", density_kg_m3),
        ("conductivity_W_mK", conductivity_W_mK),
        ("viscosity_Pa_s", viscosity_Pa_s),
        ("molar_mass_kg_mol", molar_mass_kg_mol),
        ("low_K", low_K),
    ):
        if not value > 0.0:
            raise ValueError(f"{label} must be > 0, got {value}")
    if not high_K > low_K:
        raise ValueError(f"need high_K > low_K, got {low_K}, {high_K}")
    grid = np.linspace(low_K, high_K, knots)
    c_mol = molar_mass_kg_mol * heat_capacity_J_kgK
    return LiquidTable(
        name=name,
        low_K=low_K,
        high_K=high_K,
        molar_volume_m3_mol=molar_mass_kg_mol / density_kg_m3,
        molar_mass_kg_mol=molar_mass_kg_mol,
        conductivity_W_mK=conductivity_W_mK,
        viscosity_Pa_s=viscosity_Pa_s,
        enthalpy=CubicSpline(grid, c_mol * (grid - low_K)),
        entropy=CubicSpline(grid, c_mol * np.log(grid / low_K)),
        heat_capacity=CubicSpline(grid, np.full_like(grid, c_mol)),
    )


__all__ = [
    "FerromagnetSolid",
    "FluidTable",
    "LiquidTable",
    "MagnetocaloricSolid",
    "ParamagnetSolid",
    "SolidState",
    "constant_property_liquid",
]
