"""AMRmodel's own default case — a room-temperature gadolinium regenerator in a water-glycol
mixture — set up for our cycle solver, so that the speed comparison with the only open
AMR model is made on the same problem.

Source: T. V. Christiaanse, github:TheoChristiaanse/AMRmodel, ``GD/regenerator.py`` (commit
f3d0a3b), the "debug scenario" at the end of the file, whose inputs are listed there as
(T_hot, T_cold, cen_loc, T_amb, V_d, f, CF, CS, CL, CVD, nodes, timesteps, d_sp) =
(308 K, 301.9 K, 0, 294 K, 5.15 cm³, 2 Hz, 0, 0, 0, 0, 50, 100, 300 µm); geometry and
materials from ``runActive`` in the same file; applied field from
``GD/sourcefiles/muhapl.txt``; fluid from ``GD/sourcefiles/fluid/*.txt`` (a water–ethylene
glycol mixture after Bohne, Fischer & Obermeier), read at 305 K:

| quantity | value |
|---|---|
| Gd bed: length, inner diameter | 22.9 mm, 16 mm |
| porosity, sphere diameter | 0.36, 300 µm |
| Gd density, demagnetisation factor | 7900 kg/m³, 0.368 |
| displaced volume per blow, frequency | 5.15 cm³, 2 Hz (τ = 0.5 s, no holds) |
| T_H, T_C | 308 K, 301.9 K (span 6.1 K) |
| fluid c_p, ρ, k, μ at 305 K | 3821 J/(kg K), 1023.8 kg/m³, 0.502 W/(m K), 1.26 mPa s |
| field at the bed centre vs magnet rotation 0°…360° | 1.492 … 0.126 T (table below) |
| switches | no axial conduction (CF = CS = 0), no leaks (CL = 0), no viscous heat (CVD = 0) |

What differs, and why (each is a limitation of our solver today or a simplification):

- **Gd properties**: mean-field Gd of :mod:`amrr.properties.gadolinium` (T_C = 293 K), where
  AMRmodel's GD folder ships its own mean-field tables (after Coey) — same model family,
  not the same numbers.
- **Flow waveform**: a block wave (constant flow over each 0.25 s blow, same displaced
  volume) where AMRmodel drives a sine; our solver's blows have constant flow. AMRmodel's
  code carries the block wave as its commented alternative.
- **Domain**: AMRmodel's whole domain is modelled (:meth:`AMRmodelCase.layers`: voids and
  glass-sphere buffers on both sides of the bed, :mod:`amrr.cycle.layered`); the buffers
  are essential — the fluid displaced per blow is three times the bed's pore volume, and
  the bed alone (``bed_only=True``) is flushed and lifts no heat. Heat leaks through the
  walls (AMRmodel's CL) are off, as in its debug call.
- **Field**: uniform along the bed (the table varies by < 1 % over ±11.5 mm), the
  magnet's rotation in phase with the flow as in AMRmodel (flow cold → hot while the
  field peaks); demagnetisation as AMRmodel does it — one factor
  1 − μ0 N ρ σ(T̄, B_max)/B_max on the whole schedule — but with σ at the mean of T_H and
  T_C, where AMRmodel updates it every cycle from each node's cycle-mean temperature.
- **Heat transfer**: Wakao & Kaguei with the Engelbrecht degradation factor in every packed
  layer, as AMRmodel's ``beHeff_I``, but with a constant c_s per layer (Gd: 300 J/(kg K)).

AMRmodel's README publishes no result for this case (the debug call itself lacks two of
``runActive``'s fifteen arguments, ``caseNum`` and ``CMCE``, and does not run as written);
issue 15 quotes about 145 cycles and ≈ 4 min of CPU at 200 × 200 nodes for its default
case, which we could not check against a source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from amrr.cycle.layered import Layer, LayeredRegenerator
from amrr.cycle.magnetic import MagneticCycleResult, OperatingPoint
from amrr.cycle.march import CycleSchedule
from amrr.cycle.media import (
    FerromagnetSolid,
    LiquidTable,
    TabulatedSolid,
    constant_property_liquid,
)
from amrr.cycle.steady import Method, SteadyState, cyclic_steady_state
from amrr.properties.gadolinium import GADOLINIUM, ferromagnet_properties

MU_0 = 4e-7 * np.pi  # vacuum permeability [T m/A]

#: Applied field [T] at the bed centre (x = 0 of the magnet) against the magnet's rotation
#: 0°, 30°, …, 360° (AMRmodel GD/sourcefiles/muhapl.txt, the x = 0 row).
ROTATION_DEG = np.arange(0.0, 361.0, 30.0)
APPLIED_FIELD_T = np.array(
    [
        1.49204,
        1.44390,
        1.29458,
        1.05838,
        0.75090,
        0.39598,
        0.12586,
        0.395928,
        0.750879,
        1.058211,
        1.318297,
        1.442873,
        1.49204,
    ]
)


@dataclass(frozen=True)
class AMRmodelCase:
    """Inputs of AMRmodel's default Gd case (module docstring), SI units.

    Attributes
    ----------
    hot_K, cold_K : float
        T_H, T_C [K].
    frequency_Hz : float
        Cycle frequency [Hz].
    displaced_volume_m3 : float
        Fluid volume displaced per blow [m³].
    length_m, diameter_m : float
        Bed length and inner diameter [m].
    porosity : float
        Bed porosity [-].
    particle_diameter_m : float
        Sphere diameter [m].
    solid_density_kg_m3 : float
        Gd density [kg/m³].
    demagnetisation_factor : float
        N of the bed [-].
    fluid_heat_capacity_J_kgK, fluid_density_kg_m3 : float
        Fluid c_p [J/(kg K)] and ρ [kg/m³] at 305 K.
    fluid_conductivity_W_mK, fluid_viscosity_Pa_s : float
        Fluid k [W/(m K)] and μ [Pa s] at 305 K.
    gd_conductivity_W_mK : float
        Gd conductivity [W/(m K)] (degradation factor).
    gd_heat_capacity_J_kgK : float
        Gd specific heat used only in the degradation factor [J/(kg K)] (AMRmodel takes the
        local one; the factor changes by < 1 % over 250–350 J/(kg K)).
    glass_porosity, glass_particle_diameter_m : float
        Glass-sphere buffer sections: porosity [-] and sphere diameter [m].
    glass_density_kg_m3, glass_heat_capacity_J_kgK, glass_conductivity_W_mK : float
        Borosilicate glass ρ [kg/m³], c [J/(kg K)], k [W/(m K)].
    """

    hot_K: float = 308.0
    cold_K: float = 301.9
    frequency_Hz: float = 2.0
    displaced_volume_m3: float = 5.15e-6
    length_m: float = 22.9e-3
    diameter_m: float = 16e-3
    porosity: float = 0.36
    particle_diameter_m: float = 300e-6
    solid_density_kg_m3: float = 7900.0
    demagnetisation_factor: float = 0.368
    fluid_heat_capacity_J_kgK: float = 3821.0
    fluid_density_kg_m3: float = 1023.8
    fluid_conductivity_W_mK: float = 0.502
    fluid_viscosity_Pa_s: float = 1.26e-3
    gd_conductivity_W_mK: float = 10.5
    gd_heat_capacity_J_kgK: float = 300.0
    glass_porosity: float = 0.41
    glass_particle_diameter_m: float = 3.125e-3
    glass_density_kg_m3: float = 2230.0
    glass_heat_capacity_J_kgK: float = 800.0
    glass_conductivity_W_mK: float = 1.2

    @property
    def blow_s(self) -> float:
        """Length of one blow, half a period [s]."""
        return 0.5 / self.frequency_Hz

    def fluid(self) -> LiquidTable:
        """The water–glycol mixture at constant properties over 270–340 K."""
        return constant_property_liquid(
            "water-glycol (AMRmodel GD)",
            self.fluid_heat_capacity_J_kgK,
            self.fluid_density_kg_m3,
            self.fluid_conductivity_W_mK,
            self.fluid_viscosity_Pa_s,
            270.0,
            340.0,
        )

    def demagnetisation_ratio(self) -> float:
        """B_int/B_appl = 1 − μ0 N ρ σ(T̄, B_max)/B_max, as AMRmodel's R(z) [-]."""
        b_max = float(APPLIED_FIELD_T.max())
        sigma = ferromagnet_properties(
            np.array([0.5 * (self.hot_K + self.cold_K)]), b_max, GADOLINIUM
        ).magnetisation_Am2_kg
        return float(
            1.0 - MU_0 * self.demagnetisation_factor * self.solid_density_kg_m3 * sigma[0] / b_max
        )

    def field_of_time(self) -> Callable[[float], float]:
        """Internal field B(t) [T], t [s] from the start of our hot blow (flow hot → cold).

        AMRmodel's magnet angle is 360 f t_A + 270° with the flow cold → hot in its first
        half-period; our hot blow is its second half, so the angle is 360 f t + 90°
        (the field passes its minimum, 180°, in the middle of the hot blow)."""
        ratio = self.demagnetisation_ratio()
        f = self.frequency_Hz

        def field(time_s: float) -> float:
            angle = (360.0 * f * time_s + 90.0) % 360.0
            return ratio * float(np.interp(angle, ROTATION_DEG, APPLIED_FIELD_T))

        return field

    def layers(self) -> list[Layer]:
        """AMRmodel's domain, hot end first: void2 39 mm, glass 24 mm, void1 29 mm,
        glass 26.1 mm, Gd 22.9 mm, glass 46 mm, void 33 mm (``x_discription``)."""
        bed = np.pi * self.diameter_m**2 / 4.0

        def glass(length_m: float) -> Layer:
            return Layer(
                "glass spheres",
                length_m,
                bed,
                self.glass_porosity,
                self.glass_particle_diameter_m,
                self.glass_density_kg_m3,
                self.glass_heat_capacity_J_kgK,
                self.glass_conductivity_W_mK,
            )

        cold_void = 460e-9 + np.pi * 1.9e-3**2 * 18e-3  # check-valve tube + 460 mm³
        return [
            Layer("void2", 0.039, 6.55e-7 / 0.039, 1.0),
            glass(0.024),
            Layer("void1", 0.029, 1.04e-6 / 0.029, 1.0),
            glass(0.110 - 0.061 - self.length_m),
            self.gadolinium_layer(),
            glass(0.061 - 0.015),
            Layer("void", 0.033, cold_void / 0.033, 1.0),
        ]

    def gadolinium_layer(self) -> Layer:
        """The Gd bed as a layer."""
        return Layer(
            "Gd",
            self.length_m,
            np.pi * self.diameter_m**2 / 4.0,
            self.porosity,
            self.particle_diameter_m,
            self.solid_density_kg_m3,
            self.gd_heat_capacity_J_kgK,
            self.gd_conductivity_W_mK,
            magnetocaloric=True,
        )

    def regenerator(
        self, cells: int, steps_per_blow: int, *, bed_only: bool = False, tabulated: bool = True
    ) -> LayeredRegenerator:
        """Our cycle model of the case on ``cells`` cells (over the whole domain) and
        ``steps_per_blow`` steps; ``tabulated`` evaluates the mean-field Gd on bicubic (T, B)
        tables (:meth:`solid`; off: the model itself, ≈ 5× the CPU); ``bed_only`` drops the
        buffer sections (the Gd bed
        directly between the heat exchangers)."""
        fluid = self.fluid()
        field = self.field_of_time()
        quarter = [field(i * self.blow_s / 2.0) for i in range(4)]
        point = OperatingPoint(
            hot_K=self.hot_K,
            cold_K=self.cold_K,
            molar_flow_mol_s=(self.displaced_volume_m3 / self.blow_s / fluid.molar_volume_m3_mol),
            field_T=(quarter[0], quarter[1], quarter[2], quarter[3]),
        )
        return LayeredRegenerator(
            [self.gadolinium_layer()] if bed_only else self.layers(),
            cells,
            point,
            CycleSchedule(self.blow_s, 0.0, steps_per_blow, 1),
            self.solid() if tabulated else FerromagnetSolid(GADOLINIUM),
            fluid,
            self.fluid_conductivity_W_mK,
            self.fluid_viscosity_Pa_s,
            field_of_time=field,
        )

    def solid(self) -> TabulatedSolid:
        """Mean-field Gd on tables over T_C − 15 K … T_H + 15 K and the field's range ± 0.05 T
        (0.05 K × 0.01 T knots; interpolation error ≤ 5 × 10⁻⁵ of each quantity's largest
        value, tested; the cycle's Q_C moves by < 10⁻⁹ relative); made once per case, so
        every grid of a study shares its tables."""
        return self._gd_tables

    @cached_property
    def _gd_tables(self) -> TabulatedSolid:
        """:meth:`solid`, built (its splines on first use)."""
        field = self.field_of_time()
        period = 2.0 * self.blow_s
        b = [field(t) for t in np.linspace(0.0, period, 721)]
        return TabulatedSolid(
            FerromagnetSolid(GADOLINIUM),
            self.cold_K - 15.0,
            self.hot_K + 15.0,
            max(0.0, min(b) - 0.05),
            max(b) + 0.05,
        )

    def utilisation(self) -> float:
        """AMRmodel's utilisation V_d ρ_f c_f/(m_Gd c_Gd) with its c_Gd = 350 J/(kg K) [-]."""
        layer = self.gadolinium_layer()
        mass = (1.0 - layer.porosity) * layer.area_m2 * layer.length_m * layer.solid_density_kg_m3
        return (
            self.displaced_volume_m3
            * self.fluid_density_kg_m3
            * self.fluid_heat_capacity_J_kgK
            / (350.0 * mass)
        )


def solve_amrmodel_case(
    cells: int = 50,
    steps_per_blow: int = 50,
    *,
    case: AMRmodelCase | None = None,
    method: Method = "anderson",
    tol_K: float = 6.1e-6,
    max_cycles: int = 3000,
    bed_only: bool = False,
) -> tuple[MagneticCycleResult, SteadyState]:
    """Cyclic steady state and performance of AMRmodel's default case with our solver.

    Parameters
    ----------
    cells, steps_per_blow : int
        Grid [-].
    case : AMRmodelCase, optional
        Inputs (default: AMRmodel's).
    method : str
        Steady-state method (:mod:`amrr.cycle.steady`).
    tol_K : float
        Cycle residual [K]; the default is AMRmodel's 10⁻⁶ on (T − T_C)/(T_H − T_C).
    max_cycles : int
        Budget of cycle evaluations [-].
    bed_only : bool
        Drop the buffer sections (:meth:`AMRmodelCase.regenerator`).
    """
    model = (case or AMRmodelCase()).regenerator(cells, steps_per_blow, bed_only=bed_only)
    css = cyclic_steady_state(
        model, model.initial_state(), method=method, tol_K=tol_K, max_cycles=max_cycles
    )
    return model.performance(css), css


__all__ = ["APPLIED_FIELD_T", "ROTATION_DEG", "AMRmodelCase", "solve_amrmodel_case"]
