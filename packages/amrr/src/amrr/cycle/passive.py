"""The balanced, symmetric passive regenerator (magnetocaloric effect off).

Constant properties, no axial conduction, no fluid storage, no holds; two blows of length
P in opposite directions with equal capacity rates W = ṁ c_f. Two numbers define it
(Nellis & Klein, *Heat Transfer*, 2009, §8.10):

    NTU = h A / (ṁ c_f)             (one blow),
    U   = ṁ c_f P / (M c_m)         (utilisation).

Effectiveness ε = ∫_hot blow W (T_H − T_out) dt / [W P (T_H − T_C)]. As U → 0 the two blows
act as a balanced counterflow exchanger of conductance hA/2, so ε → NTU/(2 + NTU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amrr.cycle.bed import BedCoefficients
from amrr.cycle.march import CycleModel, CycleSchedule
from amrr.cycle.steady import Method, cyclic_steady_state

NTU_RANGE = (0.01, 1.0e4)
UTILISATION_RANGE = (1.0e-4, 10.0)


@dataclass(frozen=True)
class PassiveResult:
    """Effectiveness of a passive regenerator at cyclic steady state.

    Attributes
    ----------
    ntu, utilisation : float
        The case [-].
    effectiveness : float
        ε of the hot blow [-].
    effectiveness_cold_blow : float
        ε of the cold blow [-] (equal to ``effectiveness`` by symmetry).
    energy_residual_fraction : float
        Cycle energy residual / heat regenerated per cycle [-].
    entropy_generation_J_K : float
        Entropy generated per cycle [J/K] with W = 1 W/K, P = 1 s, T_H = 1.6 K and
        T_C = 0.9 K.
    cycles : int
        Cycle evaluations used to reach cyclic steady state [-].
    residual_K : float
        Cycle residual at the end [K].
    """

    ntu: float
    utilisation: float
    effectiveness: float
    effectiveness_cold_blow: float
    energy_residual_fraction: float
    entropy_generation_J_K: float
    cycles: int
    residual_K: float


def check_case(ntu: float, utilisation: float) -> None:
    """Raise ``ValueError`` naming the argument if NTU or U is outside its range."""
    for name, value, (lo, hi) in (
        ("ntu", ntu, NTU_RANGE),
        ("utilisation", utilisation, UTILISATION_RANGE),
    ):
        if not (np.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{name}={value!r} is outside {lo:g}–{hi:g}")


def default_resolution(ntu: float, utilisation: float) -> tuple[int, int]:
    """Cells and time steps per blow that resolve the case to well below 0.1 % in ε [-].

    The thermal wave has a width of order 1/NTU of the bed and the solid's time constant
    is 1/(NTU·U) of a blow; the scheme is second order, so a few cells across each suffice.
    """
    cells = int(np.clip(8.0 * np.sqrt(ntu) + 20.0, 40, 400))
    steps = int(np.clip(8.0 * np.sqrt(ntu * utilisation) + 20.0, 40, 400))
    return cells, steps


def passive_model(
    ntu: float,
    utilisation: float,
    cells: int,
    steps_per_blow: int,
    hot_inlet_K: float = 1.6,
    cold_inlet_K: float = 0.9,
) -> CycleModel:
    """The passive regenerator as a :class:`CycleModel` with W = 1 W/K, P = 1 s.

    Parameters
    ----------
    ntu, utilisation : float
        NTU = hA/(ṁ c_f) per blow and U = ṁ c_f P/(M c_m) [-].
    cells, steps_per_blow : int
        Resolution in space and time [-].
    hot_inlet_K, cold_inlet_K : float
        Inlet temperatures [K] (ε does not depend on them; entropy does).
    """
    check_case(ntu, utilisation)
    w = 1.0
    blow = 1.0
    solid = np.full(cells, w * blow / utilisation / cells)
    bed = BedCoefficients(
        solid_capacity_J_K=solid,
        fluid_capacity_J_K=np.zeros(cells),
        conductance_W_K=np.full(cells, ntu * w / cells),
        solid_conduction_W_K=np.zeros(cells),
    )
    schedule = CycleSchedule(blow_s=blow, hold_s=0.0, steps_per_blow=steps_per_blow)
    return CycleModel(bed, schedule, w, hot_inlet_K, cold_inlet_K)


def passive_effectiveness(
    ntu: float,
    utilisation: float,
    *,
    cells: int | None = None,
    steps_per_blow: int | None = None,
    method: Method = "newton-krylov",
    tol_K: float = 1e-10,
) -> PassiveResult:
    """Effectiveness of the balanced symmetric passive regenerator at cyclic steady state.

    Parameters
    ----------
    ntu, utilisation : float
        NTU (0.01–10⁴) and U (10⁻⁴–10) [-].
    cells, steps_per_blow : int, optional
        Resolution; default :func:`default_resolution`.
    method : str
        Steady-state method (see :mod:`amrr.cycle.steady`).
    tol_K : float
        Cycle-residual tolerance [K] on a 0.7 K span.

    Returns
    -------
    PassiveResult
    """
    c0, s0 = default_resolution(ntu, utilisation)
    model = passive_model(ntu, utilisation, cells or c0, steps_per_blow or s0)
    css = cyclic_steady_state(model, model.initial_state(), method=method, tol_K=tol_K)
    _, bal, _ = model.cycle_with_balance(css.state_K)
    hot, cold = bal.phases[0], bal.phases[-1]
    span = model.hot_inlet_K - model.cold_inlet_K
    eff_hot = (model.hot_inlet_K - hot.outlet_mean_temperature_K) / span
    eff_cold = (cold.outlet_mean_temperature_K - model.cold_inlet_K) / span
    regenerated = hot.inflow_energy_J - hot.outflow_energy_J
    return PassiveResult(
        ntu=ntu,
        utilisation=utilisation,
        effectiveness=float(eff_hot),
        effectiveness_cold_blow=float(eff_cold),
        energy_residual_fraction=float(bal.energy_residual_J / regenerated),
        entropy_generation_J_K=float(bal.entropy_generation_J_K),
        cycles=css.cycles,
        residual_K=css.residual_K,
    )


def small_utilisation_limit(ntu: float) -> float:
    """ε → NTU/(2 + NTU) as U → 0 (counterflow exchanger of conductance hA/2) [-]."""
    return ntu / (2.0 + ntu)
