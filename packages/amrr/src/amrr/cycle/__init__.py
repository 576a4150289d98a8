"""Transient cycle model of an active magnetic regenerator and its cyclic steady state.

- :mod:`~amrr.cycle.bed` — two-temperature packed bed, box scheme in space, TR-BDF2 in time.
- :mod:`~amrr.cycle.march` — the blow/hold schedule and the one-cycle map with its balances.
- :mod:`~amrr.cycle.steady` — cyclic steady state: marching, Anderson, Newton–Krylov.
- :mod:`~amrr.cycle.passive` — the balanced symmetric passive regenerator (NTU, U).
- :mod:`~amrr.cycle.reference` — an independent first-order reference for that case.
"""

from amrr.cycle.bed import BedCoefficients, Phase, PhaseStepper, PhaseTotals
from amrr.cycle.march import CycleBalance, CycleModel, CycleSchedule
from amrr.cycle.passive import PassiveResult, passive_effectiveness, small_utilisation_limit
from amrr.cycle.steady import METHODS, SteadyState, cyclic_steady_state

__all__ = [
    "METHODS",
    "BedCoefficients",
    "CycleBalance",
    "CycleModel",
    "CycleSchedule",
    "PassiveResult",
    "Phase",
    "PhaseStepper",
    "PhaseTotals",
    "SteadyState",
    "cyclic_steady_state",
    "passive_effectiveness",
    "small_utilisation_limit",
]
