"""A layered regenerator: magnetocaloric, passive packed and empty (void) sections in series.

Real test rigs put buffer sections between the magnetocaloric bed and the heat exchangers
(AMRmodel's Gd case: glass spheres and void volumes on both sides); this is the cycle map of
:class:`~amrr.cycle.magnetic.MagneticRegenerator` on such a domain. Per cell, the layer
sets the cross-section, porosity, particle diameter and solid; per node the solid's heat
capacity, ∂s/∂B and magnetisation are the mass-weighted sums of the adjacent half cells
(the magnetocaloric term only from the magnetocaloric layer, where the field acts).

Heat transfer per packed layer: Wakao & Kaguei (1982) Nu = 2 + 1.1 Re^0.6 Pr^(1/3) with the
degradation factor for intra-particle conduction of Engelbrecht, Nellis & Klein (2006),
DF = 1/(1 + Bi φ_H/5), Bi = Nu k_f/(2 k_s), φ_H = 1 − 4/(35 Fo), Fo = 4 k_s/(ρ_s c_s f d_p²)
(f the cycle frequency; c_s a constant per layer). A void layer is fluid only: it carries
a token solid (10⁻⁶ of the fluid's heat capacity, coupled by 10⁻⁶ of its capacity rate) so
that the same banded system applies; the fluid there is advected without exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from amrr.cycle.bed import node_lumped
from amrr.cycle.magnetic import MagneticRegenerator, OperatingPoint, RegeneratorSpec
from amrr.cycle.march import CycleSchedule
from amrr.cycle.media import FluidTable, MagnetocaloricSolid
from amrr.properties.validity import FloatArray

_TOKEN = 1e-6  # void layers: token solid capacity and coupling, relative to the fluid's


@dataclass(frozen=True)
class Layer:
    """One section of a layered regenerator.

    Attributes
    ----------
    name : str
        Label (e.g. ``"Gd"``, ``"glass spheres"``, ``"void"``).
    length_m : float
        Section length [m].
    area_m2 : float
        Cross-section [m²].
    porosity : float
        Void fraction [-] (1 for a void).
    particle_diameter_m : float
        Particle diameter [m] (ignored for a void).
    solid_density_kg_m3 : float
        Solid density [kg/m³] (ignored for a void).
    solid_heat_capacity_J_kgK : float
        Solid specific heat [J/(kg K)]: the heat capacity of a passive layer, and c_s of
        the degradation factor in every packed layer.
    solid_conductivity_W_mK : float
        Solid conductivity k_s [W/(m K)] (degradation factor).
    magnetocaloric : bool
        Whether the solid is the refrigerant (properties from the regenerator's solid model).
    """

    name: str
    length_m: float
    area_m2: float
    porosity: float
    particle_diameter_m: float = 1e-3
    solid_density_kg_m3: float = 1.0
    solid_heat_capacity_J_kgK: float = 1.0
    solid_conductivity_W_mK: float = 1.0
    magnetocaloric: bool = False

    def __post_init__(self) -> None:
        if not (self.length_m > 0.0 and self.area_m2 > 0.0):
            raise ValueError(f"layer {self.name}: length_m and area_m2 must be > 0")
        if not 0.0 < self.porosity <= 1.0:
            raise ValueError(f"layer {self.name}: porosity must lie in (0, 1]")
        if self.magnetocaloric and self.is_void:
            raise ValueError(f"layer {self.name}: a void cannot be magnetocaloric")

    @property
    def is_void(self) -> bool:
        """Whether the layer holds fluid only."""
        return self.porosity >= 1.0


class LayeredRegenerator(MagneticRegenerator):
    """The cycle map of a layered regenerator (module docstring). Node 0 is the hot end;
    ``layers`` are listed from the hot end to the cold end.

    Parameters
    ----------
    layers : sequence of Layer
        Sections, hot end first.
    cells : int
        Cells over the whole length, shared out in proportion to the layer lengths (at
        least 2 per layer; the total may differ by a few) [-].
    point, schedule, solid, fluid, field_of_time :
        As :class:`~amrr.cycle.magnetic.MagneticRegenerator`; ``solid`` describes the
        magnetocaloric layers, ``fluid`` the heat-transfer fluid (k and μ from
        ``fluid_conductivity_W_mK``, ``fluid_viscosity_Pa_s``).
    fluid_conductivity_W_mK, fluid_viscosity_Pa_s : float
        Fluid k [W/(m K)] and μ [Pa s].
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        cells: int,
        point: OperatingPoint,
        schedule: CycleSchedule,
        solid: MagnetocaloricSolid,
        fluid: FluidTable,
        fluid_conductivity_W_mK: float,
        fluid_viscosity_Pa_s: float,
        field_of_time: Callable[[float], float] | None = None,
    ) -> None:
        if not layers:
            raise ValueError("a layered regenerator needs at least one layer")
        mce = [layer for layer in layers if layer.magnetocaloric]
        if not mce:
            raise ValueError("a layered regenerator needs a magnetocaloric layer")
        length = float(sum(layer.length_m for layer in layers))
        # cells per layer in proportion to its length (at least 2), so that every layer
        # boundary is a node: no layer is lengthened or shortened by the grid
        counts = [max(2, round(cells * layer.length_m / length)) for layer in layers]
        index = np.repeat(np.arange(len(layers)), counts)
        dx = np.concatenate(
            [np.full(k, layer.length_m / k) for k, layer in zip(counts, layers, strict=True)]
        )
        ref = mce[0]
        spec = RegeneratorSpec(
            length_m=length,
            diameter_m=float(np.sqrt(4.0 * ref.area_m2 / np.pi)),
            porosity=min(ref.porosity, 0.99),
            particle_diameter_m=ref.particle_diameter_m,
            solid_density_kg_m3=ref.solid_density_kg_m3,
            fluid_conductivity_W_mK=fluid_conductivity_W_mK,
            fluid_viscosity_Pa_s=fluid_viscosity_Pa_s,
            kapitza_W_m2K4=None,
            cells=int(sum(counts)),
            viscous_heating=False,
        )
        super().__init__(
            spec, point, schedule, solid=solid, fluid=fluid, field_of_time=field_of_time
        )
        self.layers = tuple(layers)
        self.layer_of_cell = index
        self.cell_length_m = dx

        def per_cell(values: Sequence[float]) -> FloatArray:
            return np.asarray(values, dtype=np.float64)[index]

        area = per_cell([layer.area_m2 for layer in layers])
        eps = per_cell([layer.porosity for layer in layers])
        void = per_cell([1.0 if layer.is_void else 0.0 for layer in layers]) > 0.5
        magnetic = per_cell([1.0 if layer.magnetocaloric else 0.0 for layer in layers]) > 0.5
        rho_s = per_cell([layer.solid_density_kg_m3 for layer in layers])
        c_s = per_cell([layer.solid_heat_capacity_J_kgK for layer in layers])
        assert self.table is not None
        c_fluid = float(self.table.heat_capacity(0.5 * (point.hot_K + point.cold_K)))
        self.fluid_mol_cell = eps * area * dx / self.table.molar_volume_m3_mol
        # solid mass per cell; a void's token solid has heat capacity _TOKEN × the fluid's
        token_mass = _TOKEN * self.fluid_mol_cell * c_fluid
        mass_cell = np.where(void, token_mass, (1.0 - np.minimum(eps, 1.0)) * area * dx * rho_s)
        capacity_cell = np.where(void, token_mass, mass_cell * c_s)  # passive layers [J/K]
        self.solid_mass_node = node_lumped(mass_cell)
        # per node: fraction of the lumped mass that is refrigerant, and the passive
        # capacity per kg of the lumped mass
        self.magnetic_fraction_node = node_lumped(np.where(magnetic, mass_cell, 0.0)) / (
            self.solid_mass_node
        )
        self.passive_capacity_node = (
            node_lumped(np.where(magnetic, 0.0, capacity_cell)) / self.solid_mass_node
        )
        self.cell_area_m2 = area
        self.cell_void = void
        self.cell_particle_m = per_cell([layer.particle_diameter_m for layer in layers])
        self.surface_cell_m2 = np.where(
            void, 0.0, 6.0 * (1.0 - np.minimum(eps, 1.0)) / self.cell_particle_m * area * dx
        )
        self.cell_k_solid = per_cell([layer.solid_conductivity_W_mK for layer in layers])
        self.cell_rho_c_solid = rho_s * c_s
        self.frequency_Hz = 1.0 / self.schedule.period_s

    @property
    def refrigerant_mass_kg(self) -> float:
        """Mass of the magnetocaloric layers [kg]."""
        return float(self.solid_mass_node @ self.magnetic_fraction_node)

    def _solid(self, temperature_K: FloatArray, field_T: float) -> tuple[FloatArray, ...]:
        c_b, ds_db, sigma, enthalpy = super()._solid(temperature_K, field_T)
        if temperature_K.shape != self.magnetic_fraction_node.shape:
            return c_b, ds_db, sigma, enthalpy  # not the nodes (the utilisation estimate)
        f = self.magnetic_fraction_node
        # passive layers: constant c, so their enthalpy is c T
        return (
            f * c_b + self.passive_capacity_node,
            f * ds_db,
            f * sigma,
            f * enthalpy + self.passive_capacity_node * temperature_K,
        )

    def _conductance_cell(self, temperature_K: FloatArray, flowing: bool) -> FloatArray:
        """h a A Δx per cell [W/K]: Wakao–Kaguei with the degradation factor; token
        coupling in voids."""
        assert self.table is not None
        spec, tab = self.spec, self.table
        k, mu = spec.fluid_conductivity_W_mK, spec.fluid_viscosity_Pa_s
        rho = self.molar_mass / tab.molar_volume_m3_mol
        cp = tab.heat_capacity(temperature_K) / self.molar_mass
        dp = self.cell_particle_m
        if flowing:
            u = self.molar_flow_now_mol_s * tab.molar_volume_m3_mol / self.cell_area_m2
            re = rho * u * dp / mu
        else:
            re = np.zeros_like(dp)
        nu = 2.0 + 1.1 * re**0.6 * (cp * mu / k) ** (1.0 / 3.0)
        biot = nu * k / (2.0 * self.cell_k_solid)
        fourier = 4.0 * self.cell_k_solid / (self.cell_rho_c_solid * self.frequency_Hz * dp**2)
        phi = np.clip(1.0 - 4.0 / (35.0 * fourier), 0.0, 1.0)  # the fit's range
        h = nu * k / dp / (1.0 + biot * phi / 5.0)
        token = _TOKEN * self.molar_flow_now_mol_s * tab.heat_capacity(temperature_K)
        return np.asarray(np.where(self.cell_void, token, h * self.surface_cell_m2))


__all__ = ["Layer", "LayeredRegenerator"]
