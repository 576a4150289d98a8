"""Mechanical and thermal budget: Kevlar suspension, parasitic heat, net cooling power.

Each regenerator canister hangs inside its magnet's bore from a centre disk held by Kevlar
strands in an aluminium ring on the mandrel (paper C21_097, "Final component designs"). The
strands are sized here for the canister's weight, launch accelerations and the magnetic
force on the paramagnetic GGG, with a safety factor on Kevlar's tensile strength
(≈ 2.5 GPa, the paper's figure); the heat they conduct from the mandrel to the cold end,
radiation and a lumped allowance for everything else are then subtracted from the gross
cooling power.

SI units: forces [N], stresses [Pa], lengths [m], heat flows [W].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from amrr.properties.validity import FloatArray, Range

STANDARD_GRAVITY_M_S2: float = 9.80665  #: g_n [m/s²] (CGPM 1901)
STEFAN_BOLTZMANN_W_M2K4: float = 5.670374419e-8  #: σ [W/(m² K⁴)] (CODATA 2018)

_KEVLAR_RANGE = Range(
    "temperature_K", 0.1, 3.2, "Ventura & Martelli measured Kevlar 49 over 0.1–3.2 K"
)


@dataclass(frozen=True)
class KevlarProperties:
    """Kevlar 49 yarn as a cryogenic suspension material.

    Thermal conductivity below ~3 K as a power law k(T) = k1 (T / 1 K)^n.

    Attributes
    ----------
    tensile_strength_Pa : float
        Ultimate tensile strength of the yarn [Pa].
    density_kg_m3 : float
        Fibre density [kg/m³].
    conductivity_at_1K_W_mK : float
        k1 [W/(m K)].
    conductivity_exponent : float
        n [-].
    temperature_range : Range
        Where the conductivity law holds [K].
    source : str
        Where the numbers come from and how sure they are.
    """

    tensile_strength_Pa: float = 2.5e9
    density_kg_m3: float = 1440.0
    conductivity_at_1K_W_mK: float = 3.9e-3
    conductivity_exponent: float = 1.17
    temperature_range: Range = field(default_factory=lambda: _KEVLAR_RANGE)
    source: str = (
        "Tensile strength ≈ 2.5 GPa: the paper (C21_097); density: DuPont Kevlar 49 data "
        "sheet (1.44 g/cm³). Thermal conductivity: Kevlar 49 was measured over 0.1–3.2 K by "
        "G. Ventura and V. Martelli (Cryogenics 49 (2009) 376; cited in their 7–290 K note, "
        "Cryogenics 49 (2009) 735). The power-law coefficients here (3.9e-3 W/(m K) at 1 K, "
        "exponent 1.17) were NOT checked against that paper (it was not available to us): "
        "treat them as an order-of-magnitude lead and replace them with the paper's fit."
    )

    def conductivity_W_mK(self, temperature_K: ArrayLike) -> FloatArray:
        """k(T) = k1 T^n [W/(m K)], 0.1–3.2 K."""
        T = self.temperature_range.check(temperature_K)
        return np.asarray(
            self.conductivity_at_1K_W_mK * T**self.conductivity_exponent, dtype=np.float64
        )

    def conductivity_integral_W_m(self, cold_K: float, warm_K: float) -> float:
        """∫_{T_c}^{T_w} k dT = k1 (T_w^(n+1) − T_c^(n+1)) / (n + 1) [W/m]."""
        self.temperature_range.check(np.array([cold_K, warm_K]))
        n1 = self.conductivity_exponent + 1.0
        return float(self.conductivity_at_1K_W_mK * (warm_K**n1 - cold_K**n1) / n1)


KEVLAR_49 = KevlarProperties()


def magnetic_force_bound_N(
    ggg_moles_mol: float, magnetisation_Am2_mol: float, max_field_gradient_T_m: float
) -> float:
    """Upper bound of the axial magnetic force on a paramagnetic bed, n M |∇B|_max [N].

    A bed centred in its solenoid feels no net force; this bound puts the bed's whole moment
    in the steepest gradient of the coil (a bed pulled off-centre, or a neighbouring magnet),
    so it overestimates: a safe sizing load.

    Parameters
    ----------
    ggg_moles_mol : float
        Moles of formula unit in the bed [mol].
    magnetisation_Am2_mol : float
        Molar magnetisation at the operating field and temperature [A m²/mol].
    max_field_gradient_T_m : float
        Largest |dB/dz| on the axis [T/m].
    """
    return abs(ggg_moles_mol * magnetisation_Am2_mol * max_field_gradient_T_m)


@dataclass(frozen=True)
class Suspension:
    """A Kevlar suspension sized for its loads, and the heat it conducts.

    Attributes
    ----------
    weight_N : float
        m g_n [N].
    launch_load_N : float
        m a_launch [N].
    magnetic_force_N : float
        Magnetic force taken by the strands [N].
    design_load_N : float
        safety_factor × (launch load + magnetic force), carried by the loaded strands [N].
    strand_area_m2 : float
        Cross-section each strand needs [m²].
    strand_diameter_m : float
        Equivalent round diameter of that area [m].
    strands : int
        Strands per suspension disk [-].
    conducted_heat_W : float
        Heat from the warm ring to the cold disk through all strands [W].
    safety_factor : float
        Applied to Kevlar's tensile strength [-].
    """

    weight_N: float
    launch_load_N: float
    magnetic_force_N: float
    design_load_N: float
    strand_area_m2: float
    strand_diameter_m: float
    strands: int
    conducted_heat_W: float
    safety_factor: float


def size_suspension(
    mass_kg: float,
    *,
    launch_acceleration_g: float,
    magnetic_force_N: float,
    safety_factor: float,
    strands: int,
    loaded_strands: int,
    strand_length_m: float,
    cold_temperature_K: float,
    warm_temperature_K: float,
    kevlar: KevlarProperties = KEVLAR_49,
) -> Suspension:
    """Size the strands of one suspension disk and compute the heat they conduct.

    Load: F = SF · (m a_launch + F_mag) shared by ``loaded_strands`` (strands pull only in
    tension: in an opposed pattern about half carry a given load). Area per strand
    A = F / (loaded_strands σ_UTS). Heat: Q = strands · A / ℓ · ∫ k dT.

    Parameters
    ----------
    mass_kg : float
        Suspended mass (canister, GGG, helium) [kg].
    launch_acceleration_g : float
        Quasi-static design acceleration in units of g_n [-] (≥ 1: on the ground).
    magnetic_force_N : float
        Magnetic force to carry [N] (e.g. :func:`magnetic_force_bound_N`).
    safety_factor : float
        Factor on the tensile strength [-].
    strands, loaded_strands : int
        Strands per disk, and how many share one load direction [-].
    strand_length_m : float
        Free length of one strand, ring to disk [m].
    cold_temperature_K, warm_temperature_K : float
        Disk and ring temperatures [K].
    kevlar : KevlarProperties
        Material.
    """
    for name, value in (
        ("mass_kg", mass_kg),
        ("launch_acceleration_g", launch_acceleration_g),
        ("safety_factor", safety_factor),
        ("strand_length_m", strand_length_m),
    ):
        if not value > 0:
            raise ValueError(f"{name}={value!r} must be > 0")
    if not 1 <= loaded_strands <= strands:
        raise ValueError("need 1 ≤ loaded_strands ≤ strands")
    weight = mass_kg * STANDARD_GRAVITY_M_S2
    launch = weight * launch_acceleration_g
    load = safety_factor * (launch + abs(magnetic_force_N))
    area = load / (loaded_strands * kevlar.tensile_strength_Pa)
    heat = (
        strands
        * area
        / strand_length_m
        * kevlar.conductivity_integral_W_m(cold_temperature_K, warm_temperature_K)
    )
    return Suspension(
        weight_N=weight,
        launch_load_N=launch,
        magnetic_force_N=abs(magnetic_force_N),
        design_load_N=load,
        strand_area_m2=area,
        strand_diameter_m=math.sqrt(4.0 * area / math.pi),
        strands=strands,
        conducted_heat_W=heat,
        safety_factor=safety_factor,
    )


def radiation_heat_W(
    area_m2: float, cold_temperature_K: float, warm_temperature_K: float, emissivity: float
) -> float:
    """Radiation between close grey surfaces, σ ε_eff A (T_w⁴ − T_c⁴) [W].

    ε_eff: the effective emissivity of the pair (≈ ε/2 for two equal, low-ε surfaces).
    """
    return (
        STEFAN_BOLTZMANN_W_M2K4
        * emissivity
        * area_m2
        * (warm_temperature_K**4 - cold_temperature_K**4)
    )


@dataclass(frozen=True)
class CoolingBudget:
    """Gross cooling minus parasitic loads at the cold heat exchanger.

    Attributes
    ----------
    gross_cooling_W : float
        Cycle-average heat the mixture can absorb between T_c and T_load [W].
    suspension_heat_W : float
        Conduction through all cold-end suspensions [W].
    radiation_heat_W : float
        Radiation onto the cold parts [W].
    other_parasitics_W : float
        Lumped allowance for everything else (wiring, CHX supports, fill lines) [W].
    net_cooling_W : float
        gross − parasitics [W].
    """

    gross_cooling_W: float
    suspension_heat_W: float
    radiation_heat_W: float
    other_parasitics_W: float
    net_cooling_W: float


def gross_cooling_W(
    moles_per_blow_mol: float, enthalpy_rise_J_mol: float, cycle_time_s: float
) -> float:
    """Cycle-average cooling at the CHX, 2 n Δh / τ_cycle [W].

    Each cycle has two blows (clockwise and counter-clockwise), each sending n moles through
    the cold heat exchanger, where they warm from T_c to T_load and absorb Δh each.
    """
    if not cycle_time_s > 0:
        raise ValueError("cycle_time_s must be > 0")
    return 2.0 * moles_per_blow_mol * enthalpy_rise_J_mol / cycle_time_s


def cooling_budget(
    gross_W: float, suspension_W: float, radiation_W: float, other_W: float
) -> CoolingBudget:
    """Subtract the parasitic loads from the gross cooling power [W]."""
    return CoolingBudget(
        gross_cooling_W=gross_W,
        suspension_heat_W=suspension_W,
        radiation_heat_W=radiation_W,
        other_parasitics_W=other_W,
        net_cooling_W=gross_W - suspension_W - radiation_W - other_W,
    )
