"""One full cycle of a regenerator: blow, hold, reverse blow, hold.

:class:`CycleSchedule` is the flow schedule (the paper's 80/10/80/10 s by default);
:class:`CycleModel` strings the four :class:`~amrr.cycle.bed.PhaseStepper` together and
gives the one-cycle map y → Φ(y) whose fixed point is the cyclic steady state, and the
per-cycle energy and entropy balances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amrr.cycle.bed import BedCoefficients, Phase, PhaseStepper, PhaseTotals
from amrr.properties.validity import FloatArray


@dataclass(frozen=True)
class CycleSchedule:
    """Flow schedule of one regenerator and its time resolution.

    Attributes
    ----------
    blow_s : float
        Duration of each blow [s] (paper: 80 s).
    hold_s : float
        Duration of each no-flow hold [s] (paper: 10 s; 0 for none).
    steps_per_blow : int
        Time steps per blow [-].
    steps_per_hold : int
        Time steps per hold [-].
    """

    blow_s: float = 80.0
    hold_s: float = 10.0
    steps_per_blow: int = 160
    steps_per_hold: int = 20

    def __post_init__(self) -> None:
        if not self.blow_s > 0.0:
            raise ValueError(f"blow_s must be > 0, got {self.blow_s}")
        if not self.hold_s >= 0.0:
            raise ValueError(f"hold_s must be >= 0, got {self.hold_s}")
        if self.steps_per_blow < 1 or (self.hold_s > 0.0 and self.steps_per_hold < 1):
            raise ValueError("steps_per_blow and steps_per_hold must be >= 1")

    @property
    def period_s(self) -> float:
        """Cycle period τ = 2 (blow + hold) [s]."""
        return 2.0 * (self.blow_s + self.hold_s)


@dataclass(frozen=True)
class CycleBalance:
    """Energy and entropy bookkeeping of one cycle.

    Attributes
    ----------
    phases : tuple of PhaseTotals
        Totals of each phase in order (hot blow, hold, cold blow, hold; holds omitted when
        ``hold_s`` is 0).
    stored_change_J : float
        Change of the bed's stored energy over the cycle [J].
    energy_residual_J : float
        Inflow + sources − outflow − stored change [J]; zero to round-off by construction.
    entropy_generation_J_K : float
        Outflow minus inflow entropy of the fluid (constant c_f) over the cycle [J/K]; at
        cyclic steady state the entropy generated in the bed (≥ 0).
    """

    phases: tuple[PhaseTotals, ...]
    stored_change_J: float
    energy_residual_J: float
    entropy_generation_J_K: float


class CycleModel:
    """A regenerator bed under a symmetric blow/hold schedule between two inlet temperatures.

    Parameters
    ----------
    bed : BedCoefficients
        The discretised bed.
    schedule : CycleSchedule
        Durations and steps.
    capacity_rate_W_K : float
        W = ṁ c_f during both blows [W/K].
    hot_inlet_K, cold_inlet_K : float
        Temperature of the fluid entering at node 0 (hot blow, flow towards node N) and at
        node N (cold blow) [K].
    solid_heat_W : sequence of 4 arrays or None
        Optional heat [W] added to the solid nodes in each phase (hot blow, hold, cold
        blow, hold).
    """

    def __init__(
        self,
        bed: BedCoefficients,
        schedule: CycleSchedule,
        capacity_rate_W_K: float,
        hot_inlet_K: float,
        cold_inlet_K: float,
        solid_heat_W: Sequence[FloatArray | None] | None = None,
    ) -> None:
        heat = list(solid_heat_W) if solid_heat_W is not None else [None] * 4
        if len(heat) != 4:
            raise ValueError("solid_heat_W needs one entry per phase (4)")
        s = schedule
        phases = [
            Phase(s.blow_s, s.steps_per_blow, capacity_rate_W_K, +1, hot_inlet_K, heat[0]),
            Phase(s.hold_s, s.steps_per_hold, 0.0, 0, 0.0, heat[1]),
            Phase(s.blow_s, s.steps_per_blow, capacity_rate_W_K, -1, cold_inlet_K, heat[2]),
            Phase(s.hold_s, s.steps_per_hold, 0.0, 0, 0.0, heat[3]),
        ]
        if s.hold_s == 0.0:
            phases = [phases[0], phases[2]]
        self.bed = bed
        self.schedule = schedule
        self.capacity_rate_W_K = capacity_rate_W_K
        self.hot_inlet_K = hot_inlet_K
        self.cold_inlet_K = cold_inlet_K
        self.steppers = [PhaseStepper(bed, p) for p in phases]
        self.size = 2 * (bed.cells + 1)
        self.cycles_run = 0

    def initial_state(self) -> FloatArray:
        """A linear profile from the hot to the cold inlet temperature in both phases [K]."""
        profile = np.linspace(self.hot_inlet_K, self.cold_inlet_K, self.bed.cells + 1)
        return np.repeat(profile, 2)

    def cycle(self, y0: FloatArray) -> FloatArray:
        """The one-cycle map Φ(y0): the state after one full cycle [K]."""
        y = np.asarray(y0, dtype=np.float64)
        for st in self.steppers:
            y, _, _ = st.run(y)
        self.cycles_run += 1
        return y

    def cycle_with_balance(
        self, y0: FloatArray, record: bool = False
    ) -> tuple[FloatArray, CycleBalance, list[FloatArray]]:
        """One cycle with its energy/entropy balance and (optionally) the state history."""
        y = np.asarray(y0, dtype=np.float64)
        start = self.bed.energy_J(y)
        totals: list[PhaseTotals] = []
        maps: list[FloatArray] = []
        for st in self.steppers:
            y, tot, hist = st.run(y, record=record)
            totals.append(tot)
            if hist is not None:
                maps.append(hist)
        self.cycles_run += 1
        stored = self.bed.energy_J(y) - start
        inflow = sum(t.inflow_energy_J + t.source_energy_J for t in totals)
        outflow = sum(t.outflow_energy_J for t in totals)
        s_gen = sum(t.outflow_entropy_J_K - t.inflow_entropy_J_K for t in totals)
        balance = CycleBalance(tuple(totals), stored, inflow - outflow - stored, s_gen)
        return y, balance, maps

    def residual(self, y: FloatArray) -> FloatArray:
        """Φ(y) − y [K]: zero at cyclic steady state."""
        return self.cycle(y) - y
