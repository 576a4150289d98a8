"""Axial heat conduction along a packed bed: stagnant conduction of both phases and thermal
dispersion by the flow.

Stagnant effective conductivity of a bed of spheres (solid and fluid together) by Zehner &
Schlünder (1970), Chem. Ing. Tech. 42, 933 (VDI Heat Atlas, 2nd ed., 2010, M5 §2), without
radiation and particle flattening::

    k_e0/k_f = 1 − √(1 − ε)
               + 2 √(1 − ε)/(1 − B/κ) · [ (1 − 1/κ) B/(1 − B/κ)² · ln(κ/B)
                                          − (B + 1)/2 − (B − 1)/(1 − B/κ) ],
    B = 1.25 ((1 − ε)/ε)^(10/9),   κ = k_s/k_f,

ε the porosity [-], k_f and k_s the fluid and solid conductivities [W/(m K)]. It lies between
the series and parallel (Wiener) bounds and equals k_f at κ = 1. Contacts between the
particles are points, so at large κ it grows only like ln κ: the solid's own conductivity
matters little.

Thermal dispersion (axial, the flow's mixing): Wakao & Kaguei (1982), *Heat and Mass Transfer
in Packed Beds*, Gordon and Breach, ch. 5 — k_ax = k_e0 + 0.5 Pr Re k_f with Pr Re k_f =
ρ c_p u d_p, u the superficial velocity; the same book as the bed's heat-transfer
coefficient. Per mole: 0.5 ṅ c d_p/A, ṅ [mol/s], c [J/(mol K)], A the bed's cross-section.

In the cycle model both are applied to the bed as one conductance between neighbouring
nodes of the solid (a one-temperature treatment of axial conduction: the two phases are in
close thermal contact over a cell, NTU per cell ≫ 1), K_c = k_ax A/Δx [W/K].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from amrr.properties.validity import FloatArray


def zehner_schlunder_conductivity_W_mK(
    porosity: float, fluid_conductivity_W_mK: ArrayLike, solid_conductivity_W_mK: ArrayLike
) -> FloatArray:
    """Stagnant effective conductivity k_e0 of a packed bed of spheres [W/(m K)].

    Zehner & Schlünder (1970), see the module docstring. Valid for porosity 0.2–0.8 (the
    correlation's spheres data span 0.26–0.6) and any κ = k_s/k_f > 0; within 10⁻³ of the
    removable singularity κ = B it is interpolated linearly between both sides (O(10⁻⁶)).

    Parameters
    ----------
    porosity : float
        Void fraction ε [-].
    fluid_conductivity_W_mK, solid_conductivity_W_mK : array_like
        k_f and k_s [W/(m K)], > 0.
    """
    if not 0.2 <= porosity <= 0.8:
        raise ValueError(f"porosity {porosity!r} outside the correlation's range 0.2–0.8")
    kf = np.asarray(fluid_conductivity_W_mK, dtype=np.float64)
    ks = np.asarray(solid_conductivity_W_mK, dtype=np.float64)
    if np.any(~(kf > 0)) or np.any(~(ks > 0)):
        raise ValueError("conductivities must be > 0 [W/(m K)]")
    b = 1.25 * ((1.0 - porosity) / porosity) ** (10.0 / 9.0)
    kappa = ks / kf
    near = np.abs(kappa / b - 1.0) < _NEAR_B
    # at κ = B the bracket and 1 − B/κ vanish together: interpolate linearly between the
    # two sides at B (1 ± δ), exact to O(δ²), without the cancellation
    lo = _ratio(b * (1.0 - _NEAR_B), b, porosity)
    hi = _ratio(b * (1.0 + _NEAR_B), b, porosity)
    bridged = lo + (kappa / b - (1.0 - _NEAR_B)) / (2.0 * _NEAR_B) * (hi - lo)
    safe = np.where(near, 2.0 * b, kappa)
    return np.asarray(kf * np.where(near, bridged, _ratio(safe, b, porosity)))


_NEAR_B = 1e-3


def _ratio(kappa: FloatArray | float, b: float, porosity: float) -> FloatArray:
    """k_e0/k_f of Zehner–Schlünder at κ ≠ B [-]."""
    k = np.asarray(kappa, dtype=np.float64)
    r = 1.0 - b / k
    root = np.sqrt(1.0 - porosity)
    core = (1.0 - 1.0 / k) * b / r**2 * np.log(k / b) - (b + 1.0) / 2.0 - (b - 1.0) / r
    return np.asarray(1.0 - root + 2.0 * root / r * core)


def dispersion_conductivity_W_mK(
    molar_flow_mol_s: float,
    molar_heat_capacity_J_molK: ArrayLike,
    particle_diameter_m: float,
    area_m2: float,
) -> FloatArray:
    """Axial thermal dispersion 0.5 Pr Re k_f = 0.5 ṅ c d_p/A [W/(m K)] (Wakao & Kaguei).

    Parameters
    ----------
    molar_flow_mol_s : float
        ṅ [mol/s] (its magnitude is used; 0 in a hold).
    molar_heat_capacity_J_molK : array_like
        The fluid's c [J/(mol K)].
    particle_diameter_m, area_m2 : float
        d_p [m] and the bed's cross-section A [m²].
    """
    c = np.asarray(molar_heat_capacity_J_molK, dtype=np.float64)
    return np.asarray(0.5 * abs(molar_flow_mol_s) * c * particle_diameter_m / area_m2)


__all__ = ["dispersion_conductivity_W_mK", "zehner_schlunder_conductivity_W_mK"]
