"""Flow through a packed bed of spheres: Ergun's pressure drop and the heat it dissipates.

Ergun (1952), "Fluid flow through packed columns", Chem. Eng. Prog. 48, 89::

    −dp/dx = 150 μ (1 − ε)² u / (ε³ d_p²) + 1.75 ρ (1 − ε) u² / (ε³ d_p),

u the superficial (empty-tube) velocity [m/s], ε the porosity [-], d_p the particle
diameter [m], μ the dynamic viscosity [Pa s], ρ the fluid density [kg/m³]. The first term is
the viscous (Blake–Kozeny) part, the second the inertial (Burke–Plummer) part. Ergun fitted
it for 1 < Re/(1 − ε) < 2000 over spheres, sand and crushed solids at ε ≈ 0.35–0.55; below
that range only the viscous term matters and it holds (Kozeny–Carman), so the lower end is
not enforced. The work the pressure drop does on the fluid, Δp V̇, is dissipated as heat in
the bed (steady, incompressible flow).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from amrr.properties.validity import FloatArray

ERGUN_POROSITY_RANGE = (0.2, 0.8)  # beyond Ergun's data (0.35–0.55) but the form holds
ERGUN_MAX_MODIFIED_REYNOLDS = 2000.0  # Re/(1 − ε) of Ergun's highest data


def modified_reynolds(
    superficial_velocity_m_s: ArrayLike,
    density_kg_m3: float,
    viscosity_Pa_s: float,
    porosity: float,
    particle_diameter_m: float,
) -> FloatArray:
    """Ergun's Reynolds number ρ u d_p / (μ (1 − ε)) [-]."""
    u = np.abs(np.asarray(superficial_velocity_m_s, dtype=np.float64))
    return np.asarray(density_kg_m3 * u * particle_diameter_m / (viscosity_Pa_s * (1 - porosity)))


def ergun_pressure_gradient_Pa_m(
    superficial_velocity_m_s: ArrayLike,
    density_kg_m3: float,
    viscosity_Pa_s: float,
    porosity: float,
    particle_diameter_m: float,
) -> FloatArray:
    """Magnitude of the pressure gradient |dp/dx| of Ergun's equation [Pa/m].

    Parameters
    ----------
    superficial_velocity_m_s : array_like
        Superficial velocity u = V̇/A [m/s] (sign ignored).
    density_kg_m3 : float
        Fluid density ρ [kg/m³].
    viscosity_Pa_s : float
        Dynamic viscosity μ [Pa s].
    porosity : float
        Void fraction ε [-], within 0.2–0.8.
    particle_diameter_m : float
        Particle diameter d_p [m].

    Raises
    ------
    ValueError
        Non-positive properties, porosity outside 0.2–0.8, or Re/(1 − ε) above 2000
        (turbulent packed-bed flow, outside Ergun's data).
    """
    for name, value in (
        ("density_kg_m3", density_kg_m3),
        ("viscosity_Pa_s", viscosity_Pa_s),
        ("particle_diameter_m", particle_diameter_m),
    ):
        if not value > 0.0:
            raise ValueError(f"{name} must be > 0, got {value}")
    lo, hi = ERGUN_POROSITY_RANGE
    if not lo <= porosity <= hi:
        raise ValueError(f"porosity {porosity} outside Ergun's range {lo}–{hi}")
    u = np.abs(np.asarray(superficial_velocity_m_s, dtype=np.float64))
    re = modified_reynolds(u, density_kg_m3, viscosity_Pa_s, porosity, particle_diameter_m)
    if np.any(re > ERGUN_MAX_MODIFIED_REYNOLDS):
        raise ValueError(
            f"Re/(1 − ε) = {float(np.max(re)):.4g} exceeds {ERGUN_MAX_MODIFIED_REYNOLDS:g}, "
            "outside Ergun's data"
        )
    e3 = porosity**3
    viscous = 150.0 * viscosity_Pa_s * (1 - porosity) ** 2 * u / (e3 * particle_diameter_m**2)
    inertial = 1.75 * density_kg_m3 * (1 - porosity) * u**2 / (e3 * particle_diameter_m)
    return np.asarray(viscous + inertial)


__all__ = [
    "ERGUN_MAX_MODIFIED_REYNOLDS",
    "ERGUN_POROSITY_RANGE",
    "ergun_pressure_gradient_Pa_m",
    "modified_reynolds",
]
