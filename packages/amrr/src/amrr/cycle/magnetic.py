"""The active magnetic regenerator: GGG in a 3He-4He mixture, field and flow scheduled.

One regenerator of the symmetric pair is modelled (the other runs 180° out of phase and
sees the same history). Per node: mixture temperature T_f and refrigerant temperature T_s.

Conservative form: the stored quantities are state functions, so the discrete cycle
conserves energy to the Newton tolerance (the first law closes per cycle at steady state).
Solid, per node of refrigerant mass m, with the magnetic enthalpy h_s = u − B σ
(dh_s = T ds − σ dB):

    m dh_s(T_s, B)/dt = G (T_f − T_s) − m σ(T_s, B) dB/dt,

which is m [C_B dT_s/dt + T_s (∂s/∂B)_T dB/dt] = G (T_f − T_s); h_s, σ, C_B and ∂s/∂B from
:mod:`amrr.properties.paramagnet` (or another :class:`~amrr.cycle.media.MagnetocaloricSolid`),
evaluated vectorised over all nodes. Fluid, molar enthalpy h(T_f):

    n_f ∂h(T_f)/∂t + ṅ ∂h/∂x = G' (T_s − T_f),

with h(T), s(T), c(T) of the mixture at fixed x3 from :mod:`amrr.properties.mixture`,
through cubic-spline tables (:class:`MixtureTable`, interpolation error stated there).
Axial conduction (optional, ``RegeneratorSpec.axial_conduction``): the bed's stagnant
conductivity (Zehner–Schlünder, both phases) and the flow's thermal dispersion
(Wakao–Kaguei) as one conductance between neighbouring solid nodes (:mod:`amrr.cycle.axial`);
the bed's ends are adiabatic to it.

Numerics: the box scheme and TR-BDF2 of :mod:`amrr.cycle.bed` applied to the stored
quantities E(y) = (cell enthalpies of the fluid, m h_s of the solid): each implicit stage
solves E(z) − E(y_n) − h Σ a_ij F_j = 0 (F the fluxes: advected enthalpy ṅ Δh, exchange,
conduction, −m σ dB/dt, viscous heat) by simplified Newton in temperature, with the
Jacobian M − γ/2 h A of the linearised system (C_f, C_B, ∂s/∂B, the secant ṅ Δh/ΔT, the
conductances frozen at the state extrapolated to the step's middle), factorised once per
step in LAPACK band storage (the interleaved unknowns give bandwidth 3). The conductances
stay frozen over the step (they carry no stored energy, so they do not affect
conservation). The magnetic work is the same stage quadrature of m σ dB/dt; the
energy stored telescopes over a cycle, so Q_H − Q_C − W_mag − W_visc = 0 at a cyclic steady
state up to the Newton and cycle tolerances (docs/amrr/cycle.md §7).

Heat transfer: Wakao & Kaguei (1982), *Heat and Mass Transfer in Packed Beds*, Gordon and
Breach: Nu = 2 + 1.1 Re^0.6 Pr^(1/3), Re = ρ u_D d_p/μ, a = 6(1 − ε)/d_p; optionally in
series with a Kapitza boundary conductance h_K = a_K T³ (Pobell, *Matter and Methods at
Low Temperatures*, 3rd ed., 2007, §4.3). The mixture's conductivity and viscosity are not
in :mod:`amrr.properties` (no data found), so they are inputs with placeholder defaults.

Boundaries: the fluid enters the hot end from the hot heat exchanger at T_H (1.6 K) and
the cold end from the cold heat exchanger at T_C, which a heater holds there (at a
reversal the fluid of the inlet node's half cell is pushed into the bed, not booked to the
exchanger: ``reversal``, docs/amrr/cycle.md §4); the heater
power at cyclic steady state is the cooling power Q_C = 2/τ ∫_hot blow ṅ [h(T_C) − h(T_out)]
dt (two regenerators).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.linalg import solve_banded
from scipy.linalg.lapack import dgbtrf, dgbtrs

from amrr.cycle.axial import dispersion_conductivity_W_mK, zehner_schlunder_conductivity_W_mK
from amrr.cycle.bed import (
    A31,
    BANDWIDTH,
    GAMMA,
    D,
    assemble_triplets,
    banded,
    matvec,
    node_lumped,
)
from amrr.cycle.march import CycleSchedule
from amrr.cycle.media import FluidTable, MagnetocaloricSolid, ParamagnetSolid
from amrr.cycle.packed_bed import ergun_pressure_gradient_Pa_m
from amrr.cycle.steady import Method, SteadyState, cyclic_steady_state
from amrr.properties.mixture import mixture_properties
from amrr.properties.paramagnet import Model, exchange_internal_field_T
from amrr.properties.phase_diagram import superfluid_boundary_x3
from amrr.properties.validity import FloatArray

M3_KG_MOL = 3.016029e-3  # 3He molar mass [kg/mol]
M4_KG_MOL = 4.002602e-3  # 4He molar mass [kg/mol]
GGG_DENSITY_KG_M3 = 7080.0  # Gd3Ga5O12 X-ray density (a = 12.383 Å, Z = 8)
NEWTON_TOL_K = 1e-8  # a stage's Newton stops when its update is below this [K]
NEWTON_MAX_ITERATIONS = 20


@dataclass(frozen=True)
class RegeneratorSpec:
    """Geometry, materials and resolution of one magnetic regenerator.

    Defaults are placeholders of the paper's scale (GGG, ~1 mm particles, porosity 0.38;
    the canister size is not in the text) until the design file supplies them.

    Attributes
    ----------
    length_m, diameter_m : float
        Bed length and inner diameter [m].
    porosity : float
        Void fraction ε [-] (paper: 0.38).
    particle_diameter_m : float
        Particle diameter d_p [m] (paper: ~1 mm).
    refrigerant : str
        ``"GGG"`` or ``"GLF"``.
    spin_model : str
        Spin model of :func:`amrr.properties.paramagnet_properties`; the default
        ``"internal_field"`` is the one with a zero-field heat capacity.
    internal_field_T : float or None
        Internal field b [T] of the ``internal_field`` model; None: derived from the
        material's Curie–Weiss θ (:func:`~amrr.properties.paramagnet.exchange_internal_field_T`,
        0.458 T for GGG; GLF has no verified θ and needs it given).
    solid_density_kg_m3 : float
        Refrigerant density [kg/m³].
    x3 : float
        3He mole fraction of the mixture [-].
    fluid_conductivity_W_mK : float
        Mixture thermal conductivity [W/(m K)] (placeholder).
    fluid_viscosity_Pa_s : float
        Mixture (normal-component) viscosity [Pa s] (placeholder).
    kapitza_W_m2K4 : float or None
        a_K of the Kapitza conductance h_K = a_K T³ [W/(m² K⁴)]; None for none.
    solid_conductivity_W_mK : float
        Thermal conductivity of the refrigerant's particles [W/(m K)] (placeholder: no
        sub-kelvin data for GGG in :mod:`amrr.properties`).
    axial_conduction : bool
        Axial conduction along the bed: stagnant (Zehner–Schlünder, both phases) plus
        thermal dispersion during the blows (Wakao–Kaguei), :mod:`amrr.cycle.axial`.
    cells : int
        Cells along the bed [-].
    viscous_heating : bool
        Dissipate the Ergun pressure-drop work Δp V̇ in the bed (True) or leave it out.
    """

    length_m: float = 0.10
    diameter_m: float = 0.022
    porosity: float = 0.38
    particle_diameter_m: float = 1.0e-3
    refrigerant: str = "GGG"
    spin_model: Model = "internal_field"
    internal_field_T: float | None = None
    solid_density_kg_m3: float = GGG_DENSITY_KG_M3
    x3: float = 0.10
    fluid_conductivity_W_mK: float = 0.02
    fluid_viscosity_Pa_s: float = 2.0e-6
    kapitza_W_m2K4: float | None = 500.0
    solid_conductivity_W_mK: float = 1.0
    axial_conduction: bool = False
    cells: int = 60
    viscous_heating: bool = True

    def __post_init__(self) -> None:
        for name in (
            "length_m",
            "diameter_m",
            "particle_diameter_m",
            "solid_density_kg_m3",
            "fluid_conductivity_W_mK",
            "solid_conductivity_W_mK",
        ):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.porosity < 1.0:
            raise ValueError(f"porosity must lie in (0, 1), got {self.porosity}")
        if not 0.0 < self.x3 < 0.6:
            raise ValueError(f"x3 must lie in (0, 0.6), got {self.x3}")
        if self.cells < 4:
            raise ValueError(f"cells must be >= 4, got {self.cells}")
        if self.internal_field_T is not None and not 0.0 <= self.internal_field_T <= 10.0:
            raise ValueError(f"internal_field_T must lie in [0, 10] T, got {self.internal_field_T}")

    @property
    def area_m2(self) -> float:
        """Cross-section A [m²]."""
        return float(np.pi * self.diameter_m**2 / 4.0)

    @property
    def solid_mass_kg(self) -> float:
        """Refrigerant mass (1 − ε) A L ρ [kg]."""
        return (1.0 - self.porosity) * self.area_m2 * self.length_m * self.solid_density_kg_m3


@dataclass(frozen=True)
class OperatingPoint:
    """Temperatures, flow and field schedule of the regenerator pair.

    Attributes
    ----------
    hot_K : float
        Hot heat-exchanger temperature T_H [K] (paper: ~1.6 K).
    cold_K : float
        Cold heat-exchanger temperature T_C [K].
    molar_flow_mol_s : float
        Mixture flow ṅ during a blow [mol/s] (placeholder until the pump model gives it).
    field_T : tuple of 4 floats
        Field [T] at the start of the hot blow (flow hot → cold), its end, the end of the
        following hold, and the end of the cold blow; linear ramps in between and back to
        the first value over the second hold. Default: demagnetise during the hot blow,
        magnetise a little in the hold, magnetise during the cold blow, demagnetise a
        little in the last hold.
    """

    hot_K: float = 1.6
    cold_K: float = 0.9
    molar_flow_mol_s: float = 4.0e-3
    field_T: tuple[float, float, float, float] = (1.2, 0.0, 0.3, 1.5)

    def __post_init__(self) -> None:
        if not 0.0 < self.cold_K < self.hot_K:
            raise ValueError(f"need 0 < cold_K < hot_K, got {self.cold_K}, {self.hot_K}")
        if not self.molar_flow_mol_s > 0.0:
            raise ValueError(f"molar_flow_mol_s must be > 0, got {self.molar_flow_mol_s}")
        if len(self.field_T) != 4 or min(self.field_T) < 0.0:
            raise ValueError("field_T needs 4 values >= 0 [T]")


TABLE_SPACING_K = 0.005
"""Knot spacing of :class:`MixtureTable` [K]."""


def single_phase_floor_K(x3: float) -> float:
    """Lowest temperature of the mixture table for 3He fraction ``x3`` [K].

    The 5-mK knot at or just above the temperature where ``x3`` meets the dilute
    phase-separation line x_dil(T) (:func:`~amrr.properties.phase_diagram.superfluid_boundary_x3`),
    never below 0.15 K (the mixture model's range): x3 = 0.10 phase-separates at 0.231 K, so
    its table starts at 0.235 K.
    """
    grid = np.arange(0.15, 1.0, TABLE_SPACING_K)
    single = grid[superfluid_boundary_x3(grid) >= x3]
    return float(single[0]) if single.size else float(grid[-1])


@dataclass(frozen=True)
class MixtureTable:
    """h(T), s(T), c(T) of the mixture at fixed x3 on cubic splines.

    Attributes
    ----------
    x3 : float
        3He mole fraction [-].
    low_K, high_K : float
        Table range [K].
    max_relative_error : float
        Largest relative difference of h − h(low), s and c between the splines and the
        property model at the midpoints of the table's knots [-].
    """

    x3: float
    low_K: float
    high_K: float
    max_relative_error: float
    enthalpy: CubicSpline = field(repr=False)
    entropy: CubicSpline = field(repr=False)
    heat_capacity: CubicSpline = field(repr=False)
    molar_volume_m3_mol: float = 0.0

    @classmethod
    def build(
        cls,
        x3: float,
        low_K: float | None = None,
        high_K: float = 1.8,
        knots: int | None = None,
    ) -> MixtureTable:
        """Tabulate :func:`mixture_properties` at ``knots`` temperatures [K].

        ``low_K`` defaults to :func:`single_phase_floor_K` (x3): the table reaches down to
        where the mixture phase-separates, so a cold end below 0.4 K (GLF) is tabulated, not
        extrapolated. ``knots`` defaults to one every 5 mK.
        """
        low = single_phase_floor_K(x3) if low_K is None else low_K
        n = knots if knots is not None else round((high_K - low) / TABLE_SPACING_K) + 1
        grid = np.linspace(low, high_K, n)
        p = mixture_properties(grid, x3)
        h = CubicSpline(grid, p.enthalpy_J_mol)
        s = CubicSpline(grid, p.entropy_J_molK)
        c = CubicSpline(grid, p.heat_capacity_J_molK)
        mid = 0.5 * (grid[1:] + grid[:-1])
        q = mixture_properties(mid, x3)
        span_h = float(np.ptp(p.enthalpy_J_mol))
        err = max(
            float(np.max(np.abs(h(mid) - q.enthalpy_J_mol)) / span_h),
            float(np.max(np.abs(s(mid) / q.entropy_J_molK - 1.0))),
            float(np.max(np.abs(c(mid) / q.heat_capacity_J_molK - 1.0))),
        )
        v = float(np.mean(p.molar_volume_m3_mol))
        return cls(x3, low, high_K, err, h, s, c, v)

    @property
    def molar_mass_kg_mol(self) -> float:
        """Mean molar mass x3 M3 + (1 − x3) M4 [kg/mol]."""
        return self.x3 * M3_KG_MOL + (1.0 - self.x3) * M4_KG_MOL


@dataclass(frozen=True)
class MagneticCycleResult:
    """Cyclic-steady-state performance of the regenerator pair.

    Attributes
    ----------
    cold_K, hot_K : float
        T_C and T_H [K].
    cooling_power_W : float
        Q_C, heat lifted at the cold heat exchanger (heater load it holds) [W].
    heat_rejected_W : float
        Q_H, heat rejected at the hot heat exchangers [W].
    magnetic_work_W : float
        −2/τ ∮ m M dB over both regenerators [W].
    cop : float
        Q_C / (Q_H − Q_C) [-]; NaN unless Q_C > 0 and Q_H − Q_C > 0 (a refrigerator).
    carnot_cop : float
        T_C / (T_H − T_C) [-].
    second_law_efficiency : float
        COP / COP_Carnot [-].
    energy_residual_fraction : float
        (Q_H − Q_C − W_mag − W_visc) / W_mag: first-law closure of the cycle [-].
    entropy_generation_W_K : float
        Net entropy the fluid carries out of the regenerators per unit time [W/K] (≥ 0).
    solid_range_K : tuple of float
        Lowest and highest refrigerant temperature over the cycle [K].
    cold_outlet_mean_K : float
        Enthalpy-mean temperature of the mixture leaving the cold end during the hot blow
        (entering the cold heat exchanger) [K].
    pressure_drop_Pa : float
        Ergun pressure drop across one regenerator during a blow [Pa].
    viscous_heat_W : float
        Cycle-average heat the flow dissipates in both regenerators, 2 · Δp V̇ · 2P/τ [W]
        (included in the bed as a heat source, and in the first-law balance).
    utilisation_cold, utilisation_hot : float
        ṅ c_f P/(m C_B) at the cold/hot end temperatures and mean field [-].
    cycles : int
        Cycle evaluations to cyclic steady state [-].
    residual_K : float
        Cycle residual [K].
    """

    cold_K: float
    hot_K: float
    cooling_power_W: float
    heat_rejected_W: float
    magnetic_work_W: float
    cop: float
    carnot_cop: float
    second_law_efficiency: float
    energy_residual_fraction: float
    entropy_generation_W_K: float
    solid_range_K: tuple[float, float]
    cold_outlet_mean_K: float
    pressure_drop_Pa: float
    viscous_heat_W: float
    utilisation_cold: float
    utilisation_hot: float
    cycles: int
    residual_K: float


class _Cubic:
    """A piecewise cubic (a :class:`~scipy.interpolate.CubicSpline`'s knots and
    coefficients) evaluated by Horner's rule, the end pieces extrapolated as the spline
    does: the same values, without the call overhead (the Newton evaluates it often)."""

    def __init__(self, spline: CubicSpline) -> None:
        self.x = np.asarray(spline.x, dtype=np.float64)
        self.c = np.asarray(spline.c, dtype=np.float64)

    def __call__(self, t: FloatArray) -> FloatArray:
        i = np.clip(np.searchsorted(self.x, t) - 1, 0, self.x.size - 2)
        d = t - self.x[i]
        c = self.c[:, i]
        return np.asarray(((c[0] * d + c[1]) * d + c[2]) * d + c[3])


class _NewtonFailed(Exception):
    """A stage's Newton iteration did not converge (the step is then split)."""


def _flow_scales(
    schedule: CycleSchedule, flow_of_blow_time: Callable[[float], float] | None
) -> FloatArray:
    """φ_k [-] of each step of a blow: φ at the step's midpoint over the mean of all steps
    (so Σ_k ṅ φ_k h = ṅ P: the blow's moles are kept); ones for a constant flow."""
    steps = schedule.steps_per_blow
    if flow_of_blow_time is None:
        return np.ones(steps)
    h = schedule.blow_s / steps
    phi = np.array([float(flow_of_blow_time((k + 0.5) * h)) for k in range(steps)])
    if not (np.all(np.isfinite(phi)) and np.all(phi >= 0.0) and phi.sum() > 0.0):
        raise ValueError("flow_of_blow_time must be finite, >= 0 and not all zero over a blow")
    return np.asarray(phi / phi.mean(), dtype=np.float64)


@dataclass(frozen=True)
class _Frozen:
    """What a step keeps fixed: phase, inlet [K], fluid–solid conductance per cell and per
    node [W/K], axial conductance per cell [W/K] (None for none), heat per solid node [W]
    (None for none), field rate [T/s]."""

    direction: int
    inlet_K: float
    exchange_cell_W_K: FloatArray
    exchange_node_W_K: FloatArray
    axial_W_K: FloatArray | None
    solid_heat_W: FloatArray | None
    field_rate_T_s: float


@dataclass
class _Totals:
    out_enthalpy_J: float = 0.0
    out_entropy_J_K: float = 0.0
    projection_J: float = 0.0
    magnetic_J: float = 0.0
    viscous_J: float = 0.0
    t_min: float = np.inf
    t_max: float = -np.inf


Reversal = Literal["displace", "heat_exchanger"]
REVERSALS: tuple[str, ...] = ("displace", "heat_exchanger")


class MagneticRegenerator:
    """The cycle map of one magnetic regenerator (see the module docstring).

    Parameters
    ----------
    spec : RegeneratorSpec
    point : OperatingPoint
    schedule : CycleSchedule
        Flow schedule (default the paper's 80/10/80/10 s).
    table : MixtureTable, optional
        Mixture table to reuse (same x3).
    solid : MagnetocaloricSolid, optional
        Refrigerant model (:mod:`amrr.cycle.media`); default the spec's GGG/GLF spin model.
    fluid : FluidTable, optional
        Heat-transfer fluid (:mod:`amrr.cycle.media`); default the mixture at the spec's x3
        (``table``). Its conductivity and viscosity are the spec's.
    field_of_time : callable, optional
        B(t) [T] over one cycle, t [s] from the start of the hot blow, in place of the
        piecewise-linear ``point.field_T`` schedule.
    flow_of_blow_time : callable, optional
        Relative molar flow φ(τ) [-] over each blow, τ [s] from the blow's start (the pump's
        flow profile, e.g. :meth:`amrr.pump.PumpFlow.flow_at`); the flow in step k of a blow
        is ``point.molar_flow_mol_s`` · φ(τ_k) / mean_j φ(τ_j) at the step's midpoint τ_k,
        so every blow moves the same moles as a constant flow. Default: constant flow.
    reversal : {"displace", "heat_exchanger"}
        Where the fluid of the inlet node's half cell goes at a flow reversal
        (:meth:`_reset_inlet`): ``"displace"`` (default) into the bed, as the entering fluid
        pushes it; ``"heat_exchanger"`` out through the inlet's heat exchanger, the former
        treatment (an O(Δx) error, kept for comparison).
    """

    def __init__(
        self,
        spec: RegeneratorSpec,
        point: OperatingPoint,
        schedule: CycleSchedule | None = None,
        table: MixtureTable | None = None,
        solid: MagnetocaloricSolid | None = None,
        fluid: FluidTable | None = None,
        field_of_time: Callable[[float], float] | None = None,
        flow_of_blow_time: Callable[[float], float] | None = None,
        *,
        reversal: Reversal = "displace",
    ) -> None:
        if reversal not in REVERSALS:
            raise ValueError(f"reversal must be one of {REVERSALS}, got {reversal!r}")
        self.reversal = reversal
        self.spec = spec
        self.point = point
        self.schedule = schedule or CycleSchedule(80.0, 10.0, 80, 10)
        self.field_of_time = field_of_time
        self.flow_scale = _flow_scales(self.schedule, flow_of_blow_time)
        self._scale = 1.0  # φ of the blow step being taken (holds do not use it)
        self.table: FluidTable | None
        if fluid is not None:
            self.table = fluid
            # coefficients are evaluated on the fluid's table range
            self.clip_K = (fluid.low_K, fluid.high_K)
        else:
            self.table = table if table is not None and table.x3 == spec.x3 else None
            if self.table is None:
                self.table = MixtureTable.build(spec.x3)
            self.clip_K = (0.05, 5.0)
        n = spec.cells
        self.n = n
        self.size = 2 * (n + 1)
        dx = spec.length_m / n
        a = spec.area_m2
        self.solid_mass_node = node_lumped(
            np.full(n, (1.0 - spec.porosity) * a * dx * spec.solid_density_kg_m3)
        )
        self.fluid_mol_cell = np.full(n, spec.porosity * a * dx / self.table.molar_volume_m3_mol)
        self.surface_cell_m2 = np.full(
            n, 6.0 * (1.0 - spec.porosity) / spec.particle_diameter_m * a * dx
        )
        self.molar_mass = self.table.molar_mass_kg_mol
        self.internal_field = (
            (
                spec.internal_field_T
                if spec.internal_field_T is not None
                else exchange_internal_field_T(spec.refrigerant)
            )
            if spec.spin_model == "internal_field" and solid is None
            else None
        )
        self.solid: MagnetocaloricSolid = solid or ParamagnetSolid(
            spec.refrigerant, spec.spin_model, self.internal_field
        )
        self.cycles_run = 0
        # simplified-Newton statistics: iterations summed over stages, stages, and stages
        # that hit NEWTON_MAX_ITERATIONS (their balance closes only to the last update)
        self.newton_iterations = 0
        self.newton_stages = 0
        self.newton_unconverged = 0
        self.linear_fallbacks = 0
        self._solid_cache: tuple[FloatArray, float, tuple[FloatArray, ...]] | None = None
        # heat [W] per row added over the first step of a blow (the reversal's old fluid)
        self._deposit_W: FloatArray | None = None
        self._last_e = self._last_f = np.zeros(0)  # E, F where the last stage converged
        self._enthalpy = _Cubic(self.table.enthalpy)
        self._heat_capacity = _Cubic(self.table.heat_capacity)
        # Ergun: one pressure drop per flow (constant molar volume), its work Δp V̇
        # dissipated as heat spread evenly along the bed; per blow step when φ varies
        self.pressure_drop_Pa, self.viscous_heat_blow_W = self._ergun(point.molar_flow_mol_s)
        steps_heat = [self._ergun(point.molar_flow_mol_s * f)[1] for f in self.flow_scale]
        self.viscous_heat_step_W = np.asarray(steps_heat, dtype=np.float64)
        # per blow step and node, made once (not at every step of every cycle)
        self._viscous_node_step_W = [
            node_lumped(np.full(n, w / n)) for w in self.viscous_heat_step_W
        ]
        self.viscous_heat_node_W = node_lumped(np.full(n, self.viscous_heat_blow_W / n))
        # axial conduction: stagnant k_e0 A/Δx per cell, dispersion added per blow step
        self.stagnant_conductance_W_K = np.zeros(n)
        if spec.axial_conduction:
            k_e0 = float(
                zehner_schlunder_conductivity_W_mK(
                    spec.porosity, spec.fluid_conductivity_W_mK, spec.solid_conductivity_W_mK
                )
            )
            self.stagnant_conductance_W_K = np.full(n, k_e0 * a / dx)
        # k_disp A/Δx = (k_disp per unit c) · c(T) · A/Δx, k_disp from cycle.axial
        self.dispersion_W_K_per_J_molK = (
            float(
                dispersion_conductivity_W_mK(
                    point.molar_flow_mol_s, 1.0, spec.particle_diameter_m, a
                )
            )
            * a
            / dx
            if spec.axial_conduction
            else 0.0
        )

    def _ergun(self, molar_flow_mol_s: float) -> tuple[float, float]:
        """Ergun pressure drop over the bed [Pa] and the heat Δp V̇ it dissipates [W] (0 with
        ``viscous_heating`` off) at a molar flow [mol/s]."""
        spec = self.spec
        assert self.table is not None
        volume_flow = molar_flow_mol_s * self.table.molar_volume_m3_mol
        dp = spec.length_m * float(
            ergun_pressure_gradient_Pa_m(
                volume_flow / spec.area_m2,
                self.molar_mass / self.table.molar_volume_m3_mol,
                spec.fluid_viscosity_Pa_s,
                spec.porosity,
                spec.particle_diameter_m,
            )
        )
        return dp, (dp * volume_flow if spec.viscous_heating else 0.0)

    @property
    def molar_flow_now_mol_s(self) -> float:
        """ṅ of the step being taken [mol/s]: the mean flow times the step's φ."""
        return self.point.molar_flow_mol_s * self._scale

    # ------------------------------------------------------------------ properties
    def _solid(self, temperature_K: FloatArray, field_T: float) -> tuple[FloatArray, ...]:
        """C_B [J/(kg K)], ∂s/∂B [J/(kg K T)], σ [A m²/kg], h_s [J/kg] per node."""
        p = self.solid(temperature_K, field_T)
        return p.heat_capacity_J_kgK, p.dS_dB_J_kgKT, p.magnetisation_Am2_kg, p.enthalpy_J_kg

    def _conductance_cell(self, temperature_K: FloatArray, flowing: bool) -> FloatArray:
        """h a A Δx per cell [W/K]: Wakao–Kaguei, in series with Kapitza if set."""
        spec = self.spec
        assert self.table is not None
        k, mu, dp = (
            spec.fluid_conductivity_W_mK,
            spec.fluid_viscosity_Pa_s,
            spec.particle_diameter_m,
        )
        rho = self.molar_mass / self.table.molar_volume_m3_mol
        cp = self.table.heat_capacity(temperature_K) / self.molar_mass
        if flowing:
            u = self.molar_flow_now_mol_s * self.table.molar_volume_m3_mol / spec.area_m2
            re = rho * u * dp / mu
        else:
            re = 0.0
        pr = cp * mu / k
        nu = 2.0 + 1.1 * re**0.6 * pr ** (1.0 / 3.0)
        h = nu * k / dp
        if spec.kapitza_W_m2K4 is not None:
            hk = spec.kapitza_W_m2K4 * temperature_K**3
            h = h * hk / (h + hk)
        return np.asarray(h * self.surface_cell_m2)

    def field_at(self, time_s: float | FloatArray) -> FloatArray:
        """B(t) over one cycle [T] (t from the start of the hot blow)."""
        if self.field_of_time is not None:
            times = np.asarray(time_s, dtype=np.float64)
            values = [self.field_of_time(float(t)) for t in times.ravel()]
            return np.asarray(values, dtype=np.float64).reshape(times.shape)
        s = self.schedule
        b = self.point.field_T
        knots = np.cumsum([0.0, s.blow_s, s.hold_s, s.blow_s, s.hold_s])
        return np.asarray(np.interp(time_s, knots, [b[0], b[1], b[2], b[3], b[0]]))

    # ------------------------------------------------------------------ stepping
    def _phases(self) -> list[tuple[int, float, int, float, float, float]]:
        """(direction, duration, steps, inlet T, field at start, field at end)."""
        s, p, b = self.schedule, self.point, self.point.field_T
        out = [(+1, s.blow_s, s.steps_per_blow, p.hot_K, b[0], b[1])]
        if s.hold_s > 0:
            out.append((0, s.hold_s, s.steps_per_hold, 0.0, b[1], b[2]))
        out.append((-1, s.blow_s, s.steps_per_blow, p.cold_K, b[2], b[3]))
        if s.hold_s > 0:
            out.append((0, s.hold_s, s.steps_per_hold, 0.0, b[3], b[0]))
        return out

    def _solid_at(self, temperature_K: FloatArray, field_T: float) -> tuple[FloatArray, ...]:
        """:meth:`_solid` with the last call remembered (a stage's end state is the next
        stage's start: the same property call, made once)."""
        cache = self._solid_cache
        if cache is not None and cache[1] == field_T and np.array_equal(cache[0], temperature_K):
            return cache[2]
        out = self._solid(temperature_K, field_T)
        self._solid_cache = (temperature_K.copy(), field_T, out)
        return out

    def _stage_terms(
        self, z: FloatArray, field_T: float, fz: _Frozen
    ) -> tuple[FloatArray, FloatArray, float]:
        """At state ``z`` [K] and field ``field_T`` [T]: the stored energy of each row E(z)
        [J] (fluid cell or node enthalpy, m h_s of the solid), the right-hand side F(z) [W]
        (E' = F on the differential rows, F = 0 on the algebraic inlet row) and Σ m σ
        [A m²]."""
        assert self.table is not None
        tf, ts = z[0::2], z[1::2]
        _, _, sigma, h_s = self._solid_at(ts, field_T)
        hf = self._enthalpy(tf)
        m = self.solid_mass_node
        e = np.zeros(self.size)
        f = np.zeros(self.size)
        e[1::2] = m * h_s
        m_sigma = m * sigma
        fs = fz.exchange_node_W_K * (tf - ts) - m_sigma * fz.field_rate_T_s
        if fz.solid_heat_W is not None:
            fs = fs + fz.solid_heat_W
        if fz.axial_W_K is not None:
            q = fz.axial_W_K * (ts[1:] - ts[:-1])
            fs[:-1] += q
            fs[1:] -= q
        f[1::2] = fs
        if fz.direction == 0:
            e[0::2] = node_lumped(self.fluid_mol_cell) * hf
            f[0::2] = fz.exchange_node_W_K * (ts - tf)
        else:
            exchange = 0.5 * fz.exchange_cell_W_K * ((ts[:-1] - tf[:-1]) + (ts[1:] - tf[1:]))
            stored = 0.5 * self.fluid_mol_cell * (hf[:-1] + hf[1:])
            ndot = self.molar_flow_now_mol_s
            if fz.direction > 0:  # cell rows at the downstream node
                e[2::2] = stored
                f[2::2] = ndot * (hf[:-1] - hf[1:]) + exchange
                f[0] = fz.inlet_K - tf[0]
            else:
                e[0:-2:2] = stored
                f[0:-2:2] = ndot * (hf[1:] - hf[:-1]) + exchange
                f[-2] = fz.inlet_K - tf[-1]
        if self._deposit_W is not None:
            f += self._deposit_W
        return e, f, float(m_sigma.sum())

    def _factor(
        self, zstar: FloatArray, field_T: float, h: float, fz: _Frozen
    ) -> tuple[FloatArray, FloatArray]:
        """LU factors (LAPACK band storage) of the Jacobian ∂E/∂z − γ/2 h ∂F/∂z of a stage
        at ``zstar`` [K] and ``field_T`` [T] (the step's conductances frozen)."""
        assert self.table is not None
        n = self.n
        ts, tf = zstar[1::2], zstar[0::2]
        c_b, ds_db, _, _ = self._solid(ts, field_T)
        c_f = self._heat_capacity(tf)
        w = D * h
        nodes = np.arange(n + 1)
        cells = np.arange(n)
        fr, sr = 2 * nodes, 2 * nodes + 1
        gn = fz.exchange_node_W_K
        m = self.solid_mass_node
        rows = [sr, sr]
        cols = [sr, fr]
        vals = [m * np.maximum(c_b, 1e-9) + w * (gn + m * ds_db * fz.field_rate_T_s), -w * gn]
        if fz.axial_W_K is not None:
            k = w * fz.axial_W_K
            left, right = 2 * cells + 1, 2 * cells + 3
            rows += [left, left, right, right]
            cols += [left, right, right, left]
            vals += [k, -k, k, -k]
        if fz.direction == 0:
            rows += [fr, fr]
            cols += [fr, sr]
            vals += [node_lumped(self.fluid_mol_cell) * c_f + w * gn, -w * gn]
        else:
            inlet = 0 if fz.direction > 0 else n
            up = cells if fz.direction > 0 else cells + 1
            down = cells + 1 if fz.direction > 0 else cells
            row = 2 * down
            g = 0.5 * w * fz.exchange_cell_W_K
            ndot = self.molar_flow_now_mol_s
            rows += [np.array([2 * inlet])]
            cols += [np.array([2 * inlet])]
            vals += [np.array([w])]
            for node in (cells, cells + 1):
                rows += [row, row, row]
                cols += [2 * node, 2 * node, 2 * node + 1]
                vals += [0.5 * self.fluid_mol_cell * c_f[node], g, -g]
            rows += [row, row]
            cols += [2 * down, 2 * up]
            vals += [w * ndot * c_f[down], -w * ndot * c_f[up]]
        triplets = (np.concatenate(rows), np.concatenate(cols), np.concatenate(vals))
        # BANDWIDTH extra rows on top for LAPACK's pivoting
        jac = np.zeros((3 * BANDWIDTH + 1, self.size))
        jac[BANDWIDTH:] = banded(triplets, self.size)
        lu, piv, info = dgbtrf(jac, BANDWIDTH, BANDWIDTH)
        if info != 0:
            raise FloatingPointError(f"singular step matrix (LAPACK dgbtrf info={info})")
        return lu, piv

    def _predict(
        self,
        z: FloatArray,
        e: FloatArray,
        f: FloatArray,
        rhs: FloatArray,
        h: float,
        field_from_T: float,
        field_to_T: float,
        factor: list[tuple[FloatArray, FloatArray]],
    ) -> FloatArray:
        """One Newton step towards E(z) − rhs − (γ/2) h F(z) = 0 at field ``field_to_T`` [T]
        from ``z`` [K], whose E [J] and F [W] are known at ``field_from_T`` [T]: E's field
        change is taken to first order (∂h_s/∂B = T ∂s/∂B − σ), F's is left out."""
        _, ds_db, sigma, _ = self._solid_at(z[1::2], field_from_T)
        r = e - rhs - (D * h) * f
        r[1::2] += self.solid_mass_node * (z[1::2] * ds_db - sigma) * (field_to_T - field_from_T)
        lu, piv = factor[0]
        dz, _ = dgbtrs(lu, BANDWIDTH, BANDWIDTH, r, piv)
        return np.asarray(z - dz)

    def _newton(
        self,
        z: FloatArray,
        rhs: FloatArray,
        h: float,
        field_T: float,
        fz: _Frozen,
        factor: list[tuple[FloatArray, FloatArray]],
    ) -> tuple[FloatArray, FloatArray, float]:
        """Solve E(z) − rhs − (γ/2) h F(z) = 0 (rhs and E zero on the algebraic rows) by
        simplified Newton from ``z`` [K], the Jacobian ``factor[0]`` refactorised at the
        iterate when an update shrinks by less than half (a steep reversal transient);
        return the state, F [W] and Σ m σ there."""
        previous = np.inf
        for _ in range(NEWTON_MAX_ITERATIONS):
            self.newton_iterations += 1
            e, f, m_sigma = self._stage_terms(z, field_T, fz)
            lu, piv = factor[0]
            dz, _ = dgbtrs(lu, BANDWIDTH, BANDWIDTH, e - rhs - (D * h) * f, piv)
            size = float(np.max(np.abs(dz)))
            if size <= NEWTON_TOL_K:
                break
            if size > 0.5 * previous:
                factor[0] = self._factor(z, field_T, h, fz)
                lu, piv = factor[0]
                dz, _ = dgbtrs(lu, BANDWIDTH, BANDWIDTH, e - rhs - (D * h) * f, piv)
                size = float(np.max(np.abs(dz)))
            previous = size
            z = z - dz
        else:
            self.newton_unconverged += 1
            raise _NewtonFailed
        self.newton_stages += 1
        self._last_e, self._last_f = e, f
        # the state where E and F were evaluated (the last update is below the tolerance)
        return z, f, m_sigma

    def _step(
        self,
        ystar: FloatArray,
        y: FloatArray,
        y_prev: FloatArray | None,
        h: float,
        b_start: float,
        b_rate: float,
        phase: int,
    ) -> tuple[FloatArray, float, float, float]:
        """One TR-BDF2 step of length ``h`` [s] from ``y`` [K] (field ``b_start`` [T] at its
        start, rate ``b_rate`` [T/s]), the Jacobian and the conductances frozen at ``ystar``
        [K]. Returns the end state [K] and, with the scheme's own quadrature, the step's
        ∫ Σ m σ dB [J], outflow enthalpy ∫ ṅ h_out dt [J] and entropy ∫ ṅ s_out dt [J/K].
        A step whose Newton fails (a steep reversal transient far from the steady state)
        falls back to :meth:`_linear_step` (counted in ``linear_fallbacks``)."""
        try:
            return self._step_once(ystar, y, y_prev, h, b_start, b_rate, phase)
        except (_NewtonFailed, ValueError, FloatingPointError):
            self.linear_fallbacks += 1
        return self._linear_step(ystar, y, h, b_start, b_rate, phase)

    def _linear_step(
        self, ystar: FloatArray, y: FloatArray, h: float, b_start: float, b_rate: float, phase: int
    ) -> tuple[FloatArray, float, float, float]:
        """The linearly implicit step (coefficients frozen at ``ystar``, one banded solve per
        stage, storage c dT): not conservative, but solvable for any inlet jump; used
        only where the Newton of :meth:`_step_once` fails (a reversal far from the steady
        state, where the box scheme's checkerboard drives the iterates below 0 K)."""
        assert self.table is not None
        tab = self.table
        direction, _, _, t_in, _, _ = self._phases()[phase]
        flowing = direction != 0
        ts, tf = ystar[1::2], ystar[0::2]
        c_b, ds_db, _, _ = self._solid(ts, max(0.0, b_start + 0.5 * h * b_rate))
        tf_cell = 0.5 * (tf[1:] + tf[:-1])
        dtf = tf[1:] - tf[:-1]
        c_cell = tab.heat_capacity(tf_cell)
        secant = np.where(
            np.abs(dtf) > 1e-7,
            (tab.enthalpy(tf[1:]) - tab.enthalpy(tf[:-1])) / np.where(dtf == 0, 1, dtf),
            c_cell,
        )
        axial = self.stagnant_conductance_W_K
        if flowing and self.dispersion_W_K_per_J_molK:
            axial = axial + self.dispersion_W_K_per_J_molK * self._scale * c_cell
        mass, op, b, alg = assemble_triplets(
            self.fluid_mol_cell * c_cell,
            self.solid_mass_node * np.maximum(c_b, 1e-9),
            self._conductance_cell(tf_cell, flowing),
            axial,
            self.molar_flow_now_mol_s * secant,
            direction,
            t_in,
            solid_diagonal_W_K=-self.solid_mass_node * ds_db * b_rate,
            solid_heat_W=self.viscous_heat_node_W if flowing else None,
        )
        if self._deposit_W is not None:
            b = b + self._deposit_W
        diff = 1.0 - alg
        lhs = banded(mass, self.size) + banded(op, self.size, -D * h)
        bands = (BANDWIDTH, BANDWIDTH)
        f1 = (matvec(op, y) + b) * diff
        my = matvec(mass, y)
        y2: FloatArray = solve_banded(bands, lhs, my + (h * D) * f1 + (D * h) * b)
        f2 = (matvec(op, y2) + b) * diff
        y3: FloatArray = solve_banded(bands, lhs, my + (h * A31) * (f1 + f2) + (D * h) * b)
        # work and outflow by the same quadrature, properties at the clipped states
        sigma = [
            float(self.solid_mass_node @ self._solid(np.clip(z[1::2], *self.clip_K), bz)[2])
            for z, bz in (
                (y, b_start),
                (y2, b_start + GAMMA * h * b_rate),
                (y3, b_start + h * b_rate),
            )
        ]
        work = h * b_rate * (A31 * (sigma[0] + sigma[1]) + D * sigma[2])
        out_h = out_s = 0.0
        if flowing:
            out = 2 * (self.n if direction > 0 else 0)
            t_out = np.clip(np.array([y[out], y2[out], y3[out]]), *self.clip_K)
            weights = h * self.molar_flow_now_mol_s * np.array([A31, A31, D])
            out_h = float(weights @ tab.enthalpy(t_out))
            out_s = float(weights @ tab.entropy(t_out))
        return y3, work, out_h, out_s

    def _step_once(
        self,
        ystar: FloatArray,
        y: FloatArray,
        y_prev: FloatArray | None,
        h: float,
        b_start: float,
        b_rate: float,
        phase: int,
    ) -> tuple[FloatArray, float, float, float]:
        """:meth:`_step` without the splitting."""
        assert self.table is not None
        tab = self.table
        direction, _, _, t_in, _, _ = self._phases()[phase]
        flowing = direction != 0
        tf = ystar[0::2]
        tf_cell = 0.5 * (tf[1:] + tf[:-1])
        axial = self.stagnant_conductance_W_K
        if flowing and self.dispersion_W_K_per_J_molK:
            axial = axial + self.dispersion_W_K_per_J_molK * self._scale * tab.heat_capacity(
                tf_cell
            )
        conductance = self._conductance_cell(tf_cell, flowing)
        fz = _Frozen(
            direction=direction,
            inlet_K=t_in,
            exchange_cell_W_K=conductance,
            exchange_node_W_K=node_lumped(conductance),
            axial_W_K=axial if np.any(axial > 0.0) else None,
            solid_heat_W=self.viscous_heat_node_W if flowing else None,
            field_rate_T_s=b_rate,
        )
        factor = [self._factor(ystar, max(0.0, b_start + 0.5 * h * b_rate), h, fz)]
        diff = 1.0 - (self._algebraic_rows(direction))
        b2 = max(0.0, b_start + GAMMA * h * b_rate)
        b3 = max(0.0, b_start + h * b_rate)
        e1, f1_all, w1 = self._stage_terms(y, b_start, fz)
        f1 = f1_all * diff
        # predictor: one Newton step from y on the terms already known there (the field's
        # change to the stage's value taken to first order in E)
        rhs2 = e1 + (D * h) * f1
        guess = self._predict(y, e1, f1_all, rhs2, h, b_start, b2, factor)
        y2, f2, w2 = self._newton(guess, rhs2, h, b2, fz, factor)
        f2 = f2 * diff
        rhs3 = e1 + (A31 * h) * (f1 + f2)
        guess = self._predict(y2, self._last_e, self._last_f, rhs3, h, b2, b3, factor)
        y3, _, w3 = self._newton(guess, rhs3, h, b3, fz, factor)
        if not (np.all(np.isfinite(y3)) and np.all(y3 > 0.0)):
            raise _NewtonFailed
        work = h * b_rate * (A31 * (w1 + w2) + D * w3)
        out_h = out_s = 0.0
        if flowing:
            out = 2 * (self.n if direction > 0 else 0)
            ndot = self.molar_flow_now_mol_s
            t_out = np.array([y[out], y2[out], y3[out]])
            weights = h * ndot * np.array([A31, A31, D])
            out_h = float(weights @ tab.enthalpy(t_out))
            out_s = float(weights @ tab.entropy(t_out))
        return y3, work, out_h, out_s

    def _algebraic_rows(self, direction: int) -> FloatArray:
        """1 on the algebraic row (the inlet's fluid node of a blow), else 0 [-]."""
        out = np.zeros(self.size)
        if direction != 0:
            out[0 if direction > 0 else 2 * self.n] = 1.0
        return out

    def _run(
        self,
        y0: FloatArray,
        totals: list[_Totals] | None,
        history: list[FloatArray] | None = None,
    ) -> FloatArray:
        """March one cycle from ``y0`` [K]; fill ``totals`` (one per phase) and append the
        state after every step to ``history`` when given."""
        y = np.asarray(y0, dtype=np.float64).copy()
        y_prev: FloatArray | None = None
        field_fn = self.field_of_time
        phase_start_s = 0.0
        for k, (direction, duration, steps, t_in, b_start, b_end) in enumerate(self._phases()):
            h = duration / steps
            b_rate = (b_end - b_start) / duration
            acc = totals[k] if totals is not None else None
            flowing = direction != 0
            for step in range(steps):
                if flowing:  # the step's ṅ and the heat its Ergun work dissipates
                    self._scale = float(self.flow_scale[step])
                    self.viscous_heat_node_W = self._viscous_node_step_W[step]
                b_now = max(0.0, b_start + b_rate * h * step)
                if field_fn is not None:
                    # B(t) given: linear within each step (its secant rate)
                    t0 = phase_start_s + h * step
                    b_now = field_fn(t0)
                    b_rate = (field_fn(t0 + h) - b_now) / h
                ystar = y if y_prev is None else y + 0.5 * (y - y_prev)
                self._deposit_W = None
                if step == 0 and flowing:
                    ystar = ystar.copy()  # coefficients from the state before the reset
                    self._reset_inlet(y, direction, t_in, h, acc)
                y3, work, out_h, out_s = self._step(
                    np.clip(ystar, *self.clip_K),
                    y,
                    None if step == 0 else y_prev,
                    h,
                    b_now,
                    b_rate,
                    k,
                )
                if acc is not None:
                    if flowing:
                        acc.out_enthalpy_J += out_h
                        acc.out_entropy_J_K += out_s
                        acc.viscous_J += float(self.viscous_heat_step_W[step]) * h
                    acc.magnetic_J += work
                    acc.t_min = min(acc.t_min, float(y3[1::2].min()))
                    acc.t_max = max(acc.t_max, float(y3[1::2].max()))
                y_prev, y = y, y3
                if history is not None:
                    history.append(y)
            phase_start_s += duration
        self.cycles_run += 1
        return y

    def _reset_inlet(
        self, y: FloatArray, direction: int, inlet_K: float, h: float, acc: _Totals | None
    ) -> None:
        """Make the inlet node of a blow consistent, in place: its fluid [K] becomes the
        inlet fluid at the reversal (the box scheme's algebraic inlet row).

        The fluid of the inlet node's half cell, ½ n_c h(T_old), does not leave through the
        heat exchanger: the entering fluid pushes it into the bed. ``reversal`` says where
        its excess over inlet fluid, ΔE = ½ n_c [h(T_old) − h(T_in)] [J], goes:
        ``"displace"`` (default) adds it over the blow's first step of length ``h`` [s] to
        the first cell's fluid (the cell the displaced fluid moves into; a fluid row, so it
        works in a void layer too), and the heat exchangers see only the flow's enthalpy;
        ``"heat_exchanger"`` books it to the exchanger at the inlet, the former treatment:
        an O(Δx) error in Q_C and Q_H at each reversal (docs/amrr/cycle.md §5).
        """
        assert self.table is not None
        node = 0 if direction > 0 else self.n
        cell = 0 if direction > 0 else -1
        excess_J = (
            0.5
            * float(self.fluid_mol_cell[cell])
            * float(self.table.enthalpy(y[2 * node]) - self.table.enthalpy(inlet_K))
        )
        y[2 * node] = inlet_K
        if self.reversal == "heat_exchanger":
            if acc is not None:
                acc.projection_J -= excess_J
            return
        deposit = np.zeros(self.size)
        # the first cell's fluid row is its downstream node's (the box scheme's cell rows)
        deposit[2 * (1 if direction > 0 else self.n - 1)] = excess_J / h
        self._deposit_W = deposit

    def cycle(self, y0: FloatArray) -> FloatArray:
        """The one-cycle map Φ(y0) [K]."""
        return self._run(y0, None)

    def step_times_s(self) -> FloatArray:
        """Time at the end of every step of one cycle, from the start of the hot blow [s]."""
        out: list[FloatArray] = []
        start = 0.0
        for _, duration, steps, _, _, _ in self._phases():
            out.append(start + duration * np.arange(1, steps + 1) / steps)
            start += duration
        return np.concatenate(out)

    def temperature_map(self, state_K: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """One cycle from ``state_K`` recorded: times [s], shape (steps + 1,), and the fluid
        and solid temperatures [K], shape (steps + 1, N + 1), node 0 at the hot end."""
        history: list[FloatArray] = [np.asarray(state_K, dtype=np.float64)]
        self._run(state_K, None, history)
        states = np.stack(history)
        times = np.concatenate([[0.0], self.step_times_s()])
        return times, states[:, 0::2], states[:, 1::2]

    def initial_state(self) -> FloatArray:
        """Linear profile from T_H to T_C in both phases [K]."""
        return np.repeat(np.linspace(self.point.hot_K, self.point.cold_K, self.n + 1), 2)

    def performance(self, state: SteadyState) -> MagneticCycleResult:
        """Run one more cycle from ``state`` and evaluate the pair's performance."""
        assert self.table is not None
        tab = self.table
        totals = [_Totals() for _ in self._phases()]
        self._run(state.state_K, totals)
        s, p = self.schedule, self.point
        tau = s.period_s
        ndot = p.molar_flow_mol_s
        hot_blow, cold_blow = totals[0], totals[2 if s.hold_s > 0 else 1]
        h_c, h_h = float(tab.enthalpy(p.cold_K)), float(tab.enthalpy(p.hot_K))
        s_c, s_h = float(tab.entropy(p.cold_K)), float(tab.entropy(p.hot_K))
        q_c = 2.0 / tau * (ndot * s.blow_s * h_c + cold_blow.projection_J - hot_blow.out_enthalpy_J)
        q_h = 2.0 / tau * (cold_blow.out_enthalpy_J - ndot * s.blow_s * h_h - hot_blow.projection_J)
        w_mag = -2.0 / tau * sum(t.magnetic_J for t in totals)
        w_visc = 2.0 / tau * sum(t.viscous_J for t in totals)
        h_out = hot_blow.out_enthalpy_J / (ndot * s.blow_s)
        grid = np.linspace(tab.low_K, tab.high_K, 3001)
        t_out = float(np.interp(h_out, tab.enthalpy(grid), grid))
        s_gen = (
            2.0
            / tau
            * (hot_blow.out_entropy_J_K + cold_blow.out_entropy_J_K - ndot * s.blow_s * (s_c + s_h))
        )
        carnot = p.cold_K / (p.hot_K - p.cold_K)
        work = q_h - q_c
        # a COP only for a refrigerator (heat lifted, work spent): a cycle run backwards
        # (Q_C < 0 and W < 0, a heat engine) has none, not Q_C/W > 0
        cop = q_c / work if q_c > 0.0 and work > 0.0 else float("nan")
        mean_b = float(np.mean(p.field_T))
        c_f = tab.heat_capacity(np.array([p.cold_K, p.hot_K]))
        c_b, _, _, _ = self._solid(np.array([p.cold_K, p.hot_K]), mean_b)
        util = ndot * c_f * s.blow_s / (self.spec.solid_mass_kg * np.maximum(c_b, 1e-12))
        return MagneticCycleResult(
            cold_K=p.cold_K,
            hot_K=p.hot_K,
            cooling_power_W=float(q_c),
            heat_rejected_W=float(q_h),
            magnetic_work_W=float(w_mag),
            cop=float(cop),
            carnot_cop=float(carnot),
            second_law_efficiency=float(cop / carnot),
            energy_residual_fraction=(
                float((work - w_mag - w_visc) / w_mag) if w_mag else float("nan")
            ),
            entropy_generation_W_K=float(s_gen),
            solid_range_K=(
                min(t.t_min for t in totals),
                max(t.t_max for t in totals),
            ),
            cold_outlet_mean_K=t_out,
            pressure_drop_Pa=self.pressure_drop_Pa,
            viscous_heat_W=float(w_visc),
            utilisation_cold=float(util[0]),
            utilisation_hot=float(util[1]),
            cycles=state.cycles,
            residual_K=state.residual_K,
        )


def solve_cycle(
    spec: RegeneratorSpec | None = None,
    point: OperatingPoint | None = None,
    schedule: CycleSchedule | None = None,
    *,
    method: Method = "anderson",
    tol_K: float = 1e-7,
    table: MixtureTable | None = None,
    start_K: FloatArray | None = None,
    max_cycles: int = 3000,
    flow_of_blow_time: Callable[[float], float] | None = None,
) -> tuple[MagneticCycleResult, SteadyState]:
    """Cyclic steady state and performance of the magnetic regenerator pair.

    Parameters
    ----------
    spec, point, schedule :
        Regenerator, operating point and flow schedule (defaults: see the classes).
    method : str
        Steady-state method (:mod:`amrr.cycle.steady`).
    tol_K : float
        Cycle-residual tolerance [K].
    table : MixtureTable, optional
        Reuse a mixture table (same x3).
    start_K : ndarray, optional
        Starting state [K] (e.g. the steady state of a neighbouring operating point).
    max_cycles : int
        Budget of cycle evaluations [-]; the result says whether it converged.
    flow_of_blow_time : callable, optional
        The pump's relative flow over a blow (:class:`MagneticRegenerator`); default constant.
    """
    model = MagneticRegenerator(
        spec or RegeneratorSpec(),
        point or OperatingPoint(),
        schedule,
        table,
        flow_of_blow_time=flow_of_blow_time,
    )
    y0 = model.initial_state() if start_K is None else start_K
    css = cyclic_steady_state(model, y0, method=method, tol_K=tol_K, max_cycles=max_cycles)
    return model.performance(css), css


__all__ = [
    "GAMMA",
    "MagneticCycleResult",
    "MagneticRegenerator",
    "MixtureTable",
    "OperatingPoint",
    "RegeneratorSpec",
    "solve_cycle",
]
