"""Open, vectorised thermophysical properties for a sub-Kelvin AMRR.

Modules, one physical concept each:

- :mod:`~amrr.properties.paramagnet` — GGG and GLF: Brillouin, mean-field and
  internal-field spin models plus the lattice term.
- :mod:`~amrr.properties.gadolinium` — mean-field gadolinium (Weiss–Brillouin, Debye, electrons)
  for room-temperature regenerators and AMRmodel's Gd case.
- :mod:`~amrr.properties.tabulated` — a user's measured S(T, B) table, interpolated
  thermodynamically consistently.
- :mod:`~amrr.properties.refrigerant` — one interface (``Refrigerant``) over a spin model
  and a measured table, for the regenerator and cycle models.
- :mod:`~amrr.properties.helium4` — superfluid 4He at SVP (Donnelly & Barenghi 1998).
- :mod:`~amrr.properties.phase_diagram` — 3He-4He phase-separation and lambda lines
  (Chaudhry 2009).
- :mod:`~amrr.properties.mixture` — He II 3He-4He mixtures, quasiparticle model.
- :mod:`~amrr.properties.concentrated` — the 3He-rich (normal, concentrated) phase below the
  tricritical point: pure-3He Fermi liquid plus dissolved 4He, calibrated by phase
  equilibrium with the dilute model.
- :mod:`~amrr.properties.helium3` — pure normal liquid 3He at SVP (Greywall 1983).
- :mod:`~amrr.properties.fermi` — ideal Fermi gas functions used by the mixture model.
- :mod:`~amrr.properties.validity` — validity ranges and the ``extrapolate`` switch.

SI units throughout; argument names carry units (``temperature_K``, ``field_T``, ``x3``).
"""

from amrr.properties.concentrated import ConcentratedProperties, concentrated_properties
from amrr.properties.helium4 import Helium4Properties, fountain_pressure_Pa, helium4_svp
from amrr.properties.mixture import MixtureProperties, PhaseProperties, mixture_properties
from amrr.properties.paramagnet import (
    GGG,
    GLF,
    MATERIALS,
    ModelSpread,
    ParamagnetParameters,
    ParamagnetProperties,
    exchange_internal_field_T,
    model_spread,
    paramagnet_properties,
)
from amrr.properties.phase_diagram import (
    lambda_temperature_K,
    phase_label,
    x_concentrated,
    x_dilute,
)
from amrr.properties.refrigerant import (
    AnalyticRefrigerant,
    Refrigerant,
    RefrigerantState,
    TabulatedRefrigerant,
)
from amrr.properties.tabulated import EntropyTable, TableError
from amrr.properties.validity import OutOfRangeError

__all__ = [
    "GGG",
    "GLF",
    "MATERIALS",
    "AnalyticRefrigerant",
    "ConcentratedProperties",
    "EntropyTable",
    "Helium4Properties",
    "MixtureProperties",
    "ModelSpread",
    "OutOfRangeError",
    "ParamagnetParameters",
    "ParamagnetProperties",
    "PhaseProperties",
    "Refrigerant",
    "RefrigerantState",
    "TableError",
    "TabulatedRefrigerant",
    "concentrated_properties",
    "exchange_internal_field_T",
    "fountain_pressure_Pa",
    "helium4_svp",
    "lambda_temperature_K",
    "mixture_properties",
    "model_spread",
    "paramagnet_properties",
    "phase_label",
    "x_concentrated",
    "x_dilute",
]
