"""The cycle model built from an ``amrr design`` file — the same file, the same numbers.

Orchestration only (no physics of its own): :func:`amrr.design.evaluate` sizes the pair
(regenerator length by eqs. 1–3, pump displacement, suspension), and this module hands its
outputs to :mod:`amrr.cycle.magnetic`:

- geometry: canister inner diameter, porosity, particle diameter, refrigerant density from
  the file; bed length = the design tool's regenerator length;
- flow: the superfluid magnetic pump's displacement per blow (``amrr.pump``) over the blow
  time, ṅ = n_blow / P [mol/s];
- field: the regenerator's swing ΔB = high − low. The paper (C21_097, "AMRR System
  Operation") demagnetises the regenerator during the hot blow (the mixture flows from the
  hot heat exchanger to the cold one), magnetises it during the return blow, and "during the
  no-flow processes, the regenerators change field to adjust their cold-end temperatures";
  it gives no number for that share. ``hold_swing_fraction`` f (the design file's
  ``cycle.hold_swing_fraction``, 0–1) puts f ΔB in each hold:
  high − f ΔB → low during the hot blow, low → low + f ΔB in the next hold (adiabatic
  magnetisation), → high during the return blow, high → high − f ΔB in the last hold
  (adiabatic demagnetisation before the next hot blow). The shipped paper design uses
  f = hold/(blow + hold) = 1/9: one constant ramp rate all cycle long [assumption]; f = 0
  moves the field only during the blows, f = 1 is a Brayton cycle (blows at constant
  field). With f = 0 field and flow are in quadrature: each bed node sweeps the same
  temperature range in both blows, so the pair pumps almost no heat (docs/amrr/cycle.md);
- temperatures: T_H = ``cycle.hot_temperature_K``, the cold heat exchanger's outlet at
  T_C = ``cycle.load_temperature_K`` (the temperature the cooling is quoted at);
- parasitic heat at the cold end from :mod:`amrr.budget` (suspension conduction, radiation,
  the lumped allowance), recomputed at each T_C with the design's suspension and canister.

The net cooling at T_C is the cycle's heater load Q_C minus those parasitics. The design
tool's own estimate (``DesignResult.budget``) assumes the mixture leaves the regenerator at
``cycle.cold_outlet_temperature_K``; the cycle computes that outlet, so the two differ by
exactly 2 n_blow [h(T_out) − h(T_c,design)]/τ (up to the O(Δx) inlet term of the cycle):
:attr:`DesignCoolingPoint.outlet_shortfall_W`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from amrr.budget import radiation_heat_W, size_suspension
from amrr.cycle.magnetic import (
    MagneticCycleResult,
    MixtureTable,
    OperatingPoint,
    RegeneratorSpec,
    solve_cycle,
)
from amrr.cycle.march import CycleSchedule
from amrr.cycle.steady import Method, SteadyState
from amrr.design import Design, DesignResult, band_models, evaluate, pump_flow_of
from amrr.properties.paramagnet import Model
from amrr.properties.validity import FloatArray
from amrr.pump import PumpFlow

PAPER_COOLING_W = (600e-6, 1e-3)
"""The paper's first-law estimate of the cooling power at 900 mK, 600 µW–1 mW [W]."""


@dataclass(frozen=True)
class ParasiticLoads:
    """Heat leaking onto the cold end at T_C, both regenerators [W].

    Attributes
    ----------
    suspension_W : float
        Kevlar conduction of the two cold-end suspension disks [W].
    radiation_W : float
        Radiation onto both canisters [W].
    other_W : float
        The design file's lumped allowance (CHX supports, wiring, fill lines) [W].
    """

    suspension_W: float
    radiation_W: float
    other_W: float

    @property
    def total_W(self) -> float:
        """Sum of the parasitic loads [W]."""
        return self.suspension_W + self.radiation_W + self.other_W


@dataclass(frozen=True)
class DesignCycle:
    """Cycle-model inputs taken from a design and the design tool's result.

    Attributes
    ----------
    design : dict
        The validated design (``amrr.design.load_design``).
    result : DesignResult
        The design tool's evaluation of it.
    spec : RegeneratorSpec
        Geometry, refrigerant and grid of one regenerator of the cycle model.
    point : OperatingPoint
        T_H, T_C = load temperature, pump flow, field schedule.
    schedule : CycleSchedule
        Blow and hold times of the design, with the time grid.
    hold_swing_fraction : float
        Share f of the field swing made in each no-flow process [-].
    pump_flow : PumpFlow or None
        The pump's flow over a blow (the design's ``pump.flow_profile``); None: constant.
    """

    design: Design
    result: DesignResult
    spec: RegeneratorSpec
    point: OperatingPoint
    schedule: CycleSchedule
    hold_swing_fraction: float = 0.0
    pump_flow: PumpFlow | None = None

    @property
    def flow_of_blow_time(self) -> Callable[[float], float] | None:
        """φ(τ) of the pump's flow over a blow for :class:`MagneticRegenerator` (None:
        constant)."""
        return None if self.pump_flow is None else self.pump_flow.flow_at

    @property
    def hold_ramp_voltage_V(self) -> float:
        """Magnet voltage L ΔI/Δt of the fastest field ramp of the schedule [V].

        ΔI = I ΔB/B_centre for the field moved in a phase (f ΔB in a hold, (1 − f) ΔB in a
        blow), I and B_centre the design's current and centre field, L its inductance;
        above the protection diodes' forward voltage they would shunt the ramp.
        """
        m, s = self.result.magnet, self.schedule
        b = self.point.field_T
        amps_per_T = m.current_A / m.centre_field_T
        rates = [abs(b[0] - b[1]) / s.blow_s, abs(b[3] - b[2]) / s.blow_s]
        if s.hold_s > 0:
            rates += [abs(b[2] - b[1]) / s.hold_s, abs(b[3] - b[0]) / s.hold_s]
        return m.inductance_H * amps_per_T * max(rates)

    def parasitic_loads(self, cold_K: float) -> ParasiticLoads:
        """The design's parasitic heat at a cold-end temperature ``cold_K`` [K] → [W].

        Same parts and the same public functions as :func:`amrr.design.evaluate`, with the
        cold end at ``cold_K`` instead of the design's cold outlet temperature.
        """
        d, r = self.design, self.result
        sp, rg, pa, c = d["suspension"], d["regenerator"], d["parasitics"], d["cycle"]
        suspension = size_suspension(
            r.canister_mass_kg,
            launch_acceleration_g=sp["launch_acceleration_g"],
            magnetic_force_N=r.suspension.magnetic_force_N,
            safety_factor=sp["safety_factor"],
            strands=sp["strands"],
            loaded_strands=sp["loaded_strands"],
            strand_length_m=sp["strand_length_m"],
            cold_temperature_K=cold_K,
            warm_temperature_K=sp["warm_temperature_K"],
        )
        outer_d = rg["inner_diameter_m"] + 2 * rg["wall_thickness_m"]
        area = 2 * math.pi * outer_d * r.regenerator.length_m
        radiation = radiation_heat_W(
            area, cold_K, c["hot_temperature_K"], pa["radiation_emissivity"]
        )
        return ParasiticLoads(2 * suspension.conducted_heat_W, radiation, pa["other_W"])


def cycle_from_design(
    design: Design,
    *,
    result: DesignResult | None = None,
    cells: int = 40,
    steps_per_blow: int = 80,
    steps_per_hold: int = 10,
    spin_model: Model = "internal_field",
    hold_swing_fraction: float | None = None,
) -> DesignCycle:
    """Cycle-model inputs for a validated design (see the module docstring).

    Parameters
    ----------
    design : dict
        From :func:`amrr.design.load_design` or :func:`amrr.design.default_design`.
    result : DesignResult, optional
        The design tool's evaluation (computed if not given).
    cells, steps_per_blow, steps_per_hold : int
        Grid of the cycle model [-].
    spin_model : str
        GGG spin model of the cycle. Default ``"internal_field"``: the design tool's
        ``mean_field`` and ``ideal`` models have no spin heat capacity at B = 0, where the
        design's field ends each blow, so they leave the bed's temperature undetermined
        there (see docs/amrr/cycle.md); they are kept for the model band.
    hold_swing_fraction : float, optional
        Share f of the field swing made in each no-flow process [-], 0 ≤ f ≤ 1 (see the
        module docstring); default the design's ``cycle.hold_swing_fraction``. Raises
        ValueError outside that range.
    """
    c, rf, rg = design["cycle"], design["refrigerant"], design["regenerator"]
    if hold_swing_fraction is None:
        hold_swing_fraction = float(c["hold_swing_fraction"])
    if not 0.0 <= hold_swing_fraction <= 1.0:
        raise ValueError(f"hold_swing_fraction must lie within 0–1, got {hold_swing_fraction!r}")
    res = evaluate(design, sensitivities=False) if result is None else result
    spec = RegeneratorSpec(
        length_m=res.regenerator.length_m,
        diameter_m=rg["inner_diameter_m"],
        porosity=rg["porosity"],
        particle_diameter_m=rg["particle_diameter_m"],
        refrigerant=rf["material"],
        spin_model=spin_model,
        internal_field_T=float(rf["internal_field_T"]),
        solid_density_kg_m3=rf["density_kg_m3"],
        x3=c["x3"],
        cells=cells,
    )
    high, low = rg["high_field_T"], rg["low_field_T"]
    step = hold_swing_fraction * (high - low)
    point = OperatingPoint(
        hot_K=c["hot_temperature_K"],
        cold_K=c["load_temperature_K"],
        molar_flow_mol_s=res.pump.moles_per_blow_mol / c["blow_time_s"],
        field_T=(high - step, low, low + step, high),
    )
    schedule = CycleSchedule(c["blow_time_s"], c["hold_time_s"], steps_per_blow, steps_per_hold)
    return DesignCycle(
        design, res, spec, point, schedule, hold_swing_fraction, pump_flow_of(design)
    )


@dataclass(frozen=True)
class DesignCoolingPoint:
    """Net cooling of a design at one cold-end temperature, beside the design tool's.

    Attributes
    ----------
    cycle : MagneticCycleResult
        The cycle model at cyclic steady state (gross Q_C, work, COP, balances).
    parasitics : ParasiticLoads
        Heat leaks at T_C [W].
    net_cooling_W : float
        Q_C − parasitics [W].
    design_net_cooling_W : float
        The design tool's net cooling (at its load temperature) [W].
    design_gross_cooling_W : float
        The design tool's gross cooling, 2 n_blow [h(T_load) − h(T_c,design)]/τ [W].
    outlet_shortfall_W : float
        2 n_blow [h(T_out) − h(T_c,design)]/τ: the gross cooling lost because the mixture
        leaves the regenerator at the cycle's T_out instead of the design's outlet
        temperature [W] (at T_C = the design's load temperature, design gross − cycle
        gross = this).
    pump_moles_per_blow_mol : float
        Mixture the superfluid magnetic pump displaces per blow [mol] (its flow over the
        blow is the design's ``pump.flow_profile``).
    converged : bool
        Cyclic steady state reached.
    """

    cycle: MagneticCycleResult
    parasitics: ParasiticLoads
    net_cooling_W: float
    design_net_cooling_W: float
    design_gross_cooling_W: float
    outlet_shortfall_W: float
    pump_moles_per_blow_mol: float
    converged: bool

    @property
    def losses_W(self) -> dict[str, float]:
        """What separates this point's net cooling from the design tool's gross estimate [W].

        ``outlet_shortfall`` (the regenerator: the mixture leaves the bed at the cycle's
        T_out, not the design's outlet temperature), then the parasitic loads at T_C. At the
        design's load temperature, design gross − these = net.
        """
        return {
            "outlet_shortfall": self.outlet_shortfall_W,
            "suspension": self.parasitics.suspension_W,
            "radiation": self.parasitics.radiation_W,
            "other_parasitics": self.parasitics.other_W,
        }

    @property
    def dominant_loss(self) -> str:
        """The largest entry of :attr:`losses_W`."""
        losses = self.losses_W
        return max(losses, key=lambda k: losses[k])

    def record(self) -> dict[str, float | bool | list[float] | int | str]:
        """Flat numbers with the units in the keys (JSON-ready)."""
        out: dict[str, float | bool | list[float] | int | str] = {
            k: v for k, v in vars(self.cycle).items() if k != "solid_range_K"
        }
        out["solid_range_K"] = list(self.cycle.solid_range_K)
        out.update(
            {
                "gross_cooling_W": self.cycle.cooling_power_W,
                "suspension_heat_W": self.parasitics.suspension_W,
                "radiation_heat_W": self.parasitics.radiation_W,
                "other_parasitics_W": self.parasitics.other_W,
                "net_cooling_W": self.net_cooling_W,
                "design_tool_gross_cooling_W": self.design_gross_cooling_W,
                "design_tool_net_cooling_W": self.design_net_cooling_W,
                "outlet_shortfall_W": self.outlet_shortfall_W,
                "pump_moles_per_blow_mol": self.pump_moles_per_blow_mol,
                "dominant_loss": self.dominant_loss,
                "converged": self.converged,
            }
        )
        return out


def design_cooling(
    dc: DesignCycle,
    cold_K: float | None = None,
    *,
    table: MixtureTable | None = None,
    start_K: FloatArray | None = None,
    method: Method = "anderson",
    tol_K: float = 1e-7,
    max_cycles: int = 3000,
) -> tuple[DesignCoolingPoint, SteadyState]:
    """Run the cycle of a design at T_C = ``cold_K`` [K] (default: the load temperature).

    Returns the net cooling beside the design tool's estimate, and the steady state (for a
    warm start of the next point or a temperature–time map).
    """
    point = dc.point if cold_K is None else replace(dc.point, cold_K=cold_K)
    tab = table if table is not None else MixtureTable.build(dc.spec.x3)
    result, css = solve_cycle(
        dc.spec,
        point,
        dc.schedule,
        method=method,
        tol_K=tol_K,
        table=tab,
        start_K=start_K,
        max_cycles=max_cycles,
        flow_of_blow_time=dc.flow_of_blow_time,
    )
    loads = dc.parasitic_loads(point.cold_K)
    c = dc.design["cycle"]
    tau = dc.schedule.period_s
    n_blow = dc.result.pump.moles_per_blow_mol
    h = tab.enthalpy(np.array([c["cold_outlet_temperature_K"], result.cold_outlet_mean_K]))
    shortfall = 2.0 * n_blow * float(h[1] - h[0]) / tau
    return (
        DesignCoolingPoint(
            cycle=result,
            parasitics=loads,
            net_cooling_W=result.cooling_power_W - loads.total_W,
            design_net_cooling_W=dc.result.budget.net_cooling_W,
            design_gross_cooling_W=dc.result.budget.gross_cooling_W,
            outlet_shortfall_W=shortfall,
            pump_moles_per_blow_mol=n_blow,
            converged=css.converged,
        ),
        css,
    )


@dataclass(frozen=True)
class ModelBand:
    """Net cooling of one design under each GGG spin model (the property-model band).

    :func:`amrr.properties.paramagnet.model_spread` spans the ideal, mean-field and
    internal-field models elementwise; mixing their S, C_B and ∂S/∂B node by node would
    break the Maxwell relation the cycle's first law rests on, so the band is taken over
    whole cycles, one per model.

    Attributes
    ----------
    points : dict
        Spin model → its :class:`DesignCoolingPoint`.
    """

    points: dict[str, DesignCoolingPoint]

    @property
    def converged_models(self) -> list[str]:
        """Models whose cycle reached cyclic steady state."""
        return [m for m, p in self.points.items() if p.converged]

    @property
    def net_cooling_range_W(self) -> tuple[float, float]:
        """Lowest and highest net cooling over the converged models [W] (NaN if none)."""
        values = [self.points[m].net_cooling_W for m in self.converged_models]
        if not values:
            return (float("nan"), float("nan"))
        return (min(values), max(values))


def model_band(
    dc: DesignCycle,
    cold_K: float | None = None,
    *,
    table: MixtureTable | None = None,
    models: tuple[Model, ...] | None = None,
    tol_K: float = 1e-7,
    max_cycles: int = 3000,
) -> ModelBand:
    """Run the design's cycle once per spin model at T_C = ``cold_K`` [K].

    ``models`` defaults to every spin model the refrigerant has (:func:`~amrr.design.band_models`).
    A model that does not reach cyclic steady state within ``max_cycles`` is kept with
    ``converged = False`` and left out of the range.
    """
    tab = table if table is not None else MixtureTable.build(dc.spec.x3)
    points: dict[str, DesignCoolingPoint] = {}
    for model in band_models(dc.design) if models is None else models:
        variant = replace(dc, spec=replace(dc.spec, spin_model=model))
        points[model], _ = design_cooling(
            variant, cold_K, table=tab, tol_K=tol_K, max_cycles=max_cycles
        )
    return ModelBand(points)


__all__ = [
    "PAPER_COOLING_W",
    "DesignCoolingPoint",
    "DesignCycle",
    "ModelBand",
    "ParasiticLoads",
    "cycle_from_design",
    "design_cooling",
    "model_band",
]
