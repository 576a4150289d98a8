"""Physical constants (CODATA 2018 via :mod:`scipy.constants`) and helium isotope data.

All values SI. Helium atomic masses: CODATA/AME 2016 as tabulated in
:data:`scipy.constants.physical_constants` ("helion mass" is the bare nucleus, so the atomic
masses below are quoted directly from the AME: 3.016029 g/mol and 4.002602 g/mol).
"""

from __future__ import annotations

import math

from scipy import constants as _c

K_B: float = _c.k  #: Boltzmann constant [J/K]
N_A: float = _c.N_A  #: Avogadro constant [1/mol]
R: float = _c.R  #: molar gas constant [J/(mol K)]
HBAR: float = _c.hbar  #: reduced Planck constant [J s]
MU_B: float = _c.physical_constants["Bohr magneton"][0]  #: Bohr magneton [J/T]
AMU: float = _c.physical_constants["atomic mass constant"][0]  #: [kg]

M3_KG_MOL: float = 3.016029e-3  #: molar mass of 3He [kg/mol] (AME 2016)
M4_KG_MOL: float = 4.002602e-3  #: molar mass of 4He [kg/mol] (AME 2016)
M3_KG: float = M3_KG_MOL / N_A  #: mass of one 3He atom [kg]

LN8: float = math.log(8.0)  #: ln(2J + 1) for Gd3+ (J = 7/2)
