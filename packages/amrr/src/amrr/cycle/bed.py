"""Two-temperature packed bed: discretisation and one-phase time stepping.

The bed is cut into N cells between N + 1 nodes. Each node carries a fluid temperature
T_f,i and a solid temperature T_s,i (interleaved unknowns ``y = [T_f,0, T_s,0, T_f,1, ...]``).

Space — a compact (box, Preissmann/Keller) scheme, second order. The fluid energy balance of
cell c between nodes i and i + 1, for flow towards i + 1 with capacity rate W = ṁ c_f [W/K],

    C_f,c d/dt[(T_f,i + T_f,i+1)/2] + W (T_f,i+1 − T_f,i)
        = ½ G_c [(T_s,i − T_f,i) + (T_s,i+1 − T_f,i+1)],

is the trapezoidal rule in x of ε ρ c_f A ∂T_f/∂t + ṁ c_f ∂T_f/∂x = h a A (T_s − T_f)
(Schumann 1929; the model of Nellis & Klein, *Heat Transfer*, 2009, §8.10). The solid node
i holds half of each adjacent cell (trapezoid lumping) and exchanges G_i (T_f,i − T_s,i)
with its own fluid node, G_i = Σ ½ G_c over adjacent cells, so the fluid gains exactly what
the solid loses: the discrete energy balance closes to round-off. Optional axial conduction
in the solid couples neighbouring solid nodes by K_c (T_s,i+1 − T_s,i), second order.
Without fluid storage (C_f = 0) the cell rows are algebraic (a DAE of index 1). During a
hold (no flow) each fluid node relaxes towards its own solid node.

Time — the L-stable, stiffly accurate ESDIRK form of TR-BDF2 (Bank et al. 1985; Hosea &
Shampine 1996, Appl. Numer. Math. 20, 21), second order: both implicit stages share the
matrix M − γ/2 h A, factorised once per phase. Algebraic rows are enforced at every stage
and the state is made consistent (fluid solved from the solid) at each phase start, so the
reversal of the flow introduces no spurious transient.

All quantities are in SI: temperatures [K] (or any affine scale for a linear case),
capacities [J/K], conductances [W/K], time [s].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from amrr.properties.validity import FloatArray

Triplets = tuple[np.ndarray, np.ndarray, np.ndarray]  # (rows, cols, values) of a matrix

# TR-BDF2 as an ESDIRK tableau: c = (0, γ, 1), a21 = a22 = d, a31 = a32 = √2/4, a33 = d.
GAMMA = 2.0 - np.sqrt(2.0)
D = GAMMA / 2.0
A31 = np.sqrt(2.0) / 4.0


@dataclass(frozen=True)
class BedCoefficients:
    """Linear coefficients of a discretised bed of N cells (N + 1 nodes).

    Attributes
    ----------
    solid_capacity_J_K : ndarray, shape (N,)
        Heat capacity of the solid in each cell [J/K] (lumped half to each node).
    fluid_capacity_J_K : ndarray, shape (N,)
        Heat capacity of the fluid held in each cell [J/K]; zeros for no fluid storage.
    conductance_W_K : ndarray, shape (N,)
        Fluid–solid conductance h a A Δx of each cell [W/K].
    solid_conduction_W_K : ndarray, shape (N,)
        Axial conductance k_eff A / Δx between the two nodes of each cell [W/K]; zeros for
        none.
    """

    solid_capacity_J_K: FloatArray
    fluid_capacity_J_K: FloatArray
    conductance_W_K: FloatArray
    solid_conduction_W_K: FloatArray

    def __post_init__(self) -> None:
        n = self.solid_capacity_J_K.shape
        for name in ("fluid_capacity_J_K", "conductance_W_K", "solid_conduction_W_K"):
            value = getattr(self, name)
            if value.shape != n:
                raise ValueError(f"{name} has shape {value.shape}, expected {n}")
            if not np.all(np.isfinite(value)) or np.any(value < 0.0):
                raise ValueError(f"{name} must be finite and >= 0")
        if n[0] < 2:
            raise ValueError("a bed needs at least 2 cells")
        if np.any(self.solid_capacity_J_K <= 0.0) or np.any(self.conductance_W_K <= 0.0):
            raise ValueError("solid_capacity_J_K and conductance_W_K must be > 0")

    @property
    def cells(self) -> int:
        """Number of cells N [-]."""
        return int(self.solid_capacity_J_K.shape[0])

    def node_lumped(self, per_cell: FloatArray) -> FloatArray:
        """Trapezoid lumping of a per-cell quantity onto the N + 1 nodes [same unit]."""
        return node_lumped(per_cell)

    def energy_J(self, y: FloatArray) -> float:
        """Stored energy Σ C_f,i T_f,i + Σ C_s,i T_s,i of state ``y`` [J] (relative to 0)."""
        cf = self.node_lumped(self.fluid_capacity_J_K)
        cs = self.node_lumped(self.solid_capacity_J_K)
        return float(cf @ y[0::2] + cs @ y[1::2])


@dataclass
class Phase:
    """One phase of a cycle (a blow in one direction, or a hold) ready to step.

    Attributes
    ----------
    duration_s : float
        Length of the phase [s].
    steps : int
        Number of equal time steps [-].
    capacity_rate_W_K : float
        W = ṁ c_f during the phase [W/K] (0 for a hold).
    direction : int
        +1 flow from node 0 to node N, −1 the reverse, 0 a hold.
    inlet_temperature_K : float
        Temperature of the fluid entering the inlet [K] (ignored in a hold).
    solid_heat_W : ndarray or None
        Heat [W] added to each solid node (N + 1), e.g. a source; None for none.
    """

    duration_s: float
    steps: int
    capacity_rate_W_K: float
    direction: int
    inlet_temperature_K: float = 0.0
    solid_heat_W: FloatArray | None = None
    # filled by `prepare`
    mass: sp.csr_matrix = field(init=False, repr=False)
    operator: sp.csr_matrix = field(init=False, repr=False)
    forcing: FloatArray = field(init=False, repr=False)
    algebraic: FloatArray = field(init=False, repr=False)
    inlet_node: int = field(init=False, default=-1)
    outlet_node: int = field(init=False, default=-1)


@dataclass(frozen=True)
class PhaseTotals:
    """Integrals over one phase, with the scheme's own quadrature (so balances close).

    Attributes
    ----------
    inflow_energy_J : float
        ∫ W T_in dt plus the energy of the fluid replaced at the inlet node when the phase
        starts (the consistency projection) [J·(K/K)] — temperatures in K give joules
        relative to T = 0 for constant capacities.
    outflow_energy_J : float
        ∫ W T_out dt [J].
    outlet_mean_temperature_K : float
        Flow-weighted mean outlet temperature [K] (NaN in a hold).
    inflow_entropy_J_K, outflow_entropy_J_K : float
        ∫ W ln T_in dt, ∫ W ln T_out dt [J/K] (constant c_f; NaN if any T ≤ 0).
    source_energy_J : float
        ∫ Σ solid_heat_W dt [J].
    """

    inflow_energy_J: float
    outflow_energy_J: float
    outlet_mean_temperature_K: float
    inflow_entropy_J_K: float
    outflow_entropy_J_K: float
    source_energy_J: float


def node_lumped(per_cell: FloatArray) -> FloatArray:
    """Trapezoid lumping of a per-cell quantity onto the N + 1 nodes [same unit]."""
    out = np.zeros(per_cell.shape[0] + 1)
    out[:-1] += 0.5 * per_cell
    out[1:] += 0.5 * per_cell
    return out


def assemble_triplets(
    fluid_capacity_J_K: FloatArray,
    solid_capacity_node_J_K: FloatArray,
    conductance_W_K: FloatArray,
    solid_conduction_W_K: FloatArray,
    capacity_rate_W_K: FloatArray,
    direction: int,
    inlet_temperature_K: float,
    solid_diagonal_W_K: FloatArray | None = None,
    solid_heat_W: FloatArray | None = None,
) -> tuple[Triplets, Triplets, FloatArray, FloatArray]:
    """M, A (as (rows, cols, values) triplets), b and the algebraic-row mask of the bed,
    M y' = A y + b (vectorised; no sparse-matrix objects, which cost more than the
    arithmetic at these sizes).

    Parameters
    ----------
    fluid_capacity_J_K : ndarray, shape (N,)
        Fluid heat capacity per cell [J/K].
    solid_capacity_node_J_K : ndarray, shape (N + 1,)
        Solid heat capacity per node [J/K].
    conductance_W_K, solid_conduction_W_K : ndarray, shape (N,)
        Fluid–solid and axial solid conductance per cell [W/K].
    capacity_rate_W_K : ndarray, shape (N,)
        ṁ c_f per cell [W/K] (ignored in a hold).
    direction : int
        +1, −1 (blow) or 0 (hold).
    inlet_temperature_K : float
        Inlet temperature of a blow [K].
    solid_diagonal_W_K : ndarray, shape (N + 1,), optional
        Extra coefficient of T_s,i in its own row [W/K] (the linearised magnetocaloric
        term −m ∂S/∂B dB/dt).
    solid_heat_W : ndarray, shape (N + 1,), optional
        Heat added to each solid node [W].
    """
    n = fluid_capacity_J_K.shape[0]
    size = 2 * (n + 1)
    cf, g, k = fluid_capacity_J_K, conductance_W_K, solid_conduction_W_K
    gn = node_lumped(g)
    nodes = np.arange(n + 1)
    cells = np.arange(n)
    fr, sr = 2 * nodes, 2 * nodes + 1  # fluid / solid unknown (and row) of each node
    m_r = [sr]
    m_c = [sr]
    m_v = [solid_capacity_node_J_K]
    diag = -gn if solid_diagonal_W_K is None else solid_diagonal_W_K - gn
    a_r = [sr, sr]
    a_c = [fr, sr]
    a_v = [gn, diag]
    kk = k > 0.0
    if kk.any():
        left, right = 2 * cells[kk] + 1, 2 * cells[kk] + 3
        kv = k[kk]
        a_r += [left, left, right, right]
        a_c += [right, left, left, right]
        a_v += [kv, -kv, kv, -kv]
    b = np.zeros(size)
    if solid_heat_W is not None:
        b[1::2] += solid_heat_W
    if direction == 0:
        cfn = node_lumped(cf)
        m_r.append(fr)
        m_c.append(fr)
        m_v.append(cfn)
        a_r += [fr, fr]
        a_c += [fr, sr]
        a_v += [-gn, gn]
    else:
        inlet = 0 if direction > 0 else n
        a_r.append(np.array([2 * inlet]))
        a_c.append(np.array([2 * inlet]))
        a_v.append(np.array([-1.0]))
        b[2 * inlet] = inlet_temperature_K
        up = cells if direction > 0 else cells + 1
        down = cells + 1 if direction > 0 else cells
        row = 2 * down
        w = capacity_rate_W_K
        for node in (cells, cells + 1):
            m_r.append(row)
            m_c.append(2 * node)
            m_v.append(0.5 * cf)
            a_r += [row, row]
            a_c += [2 * node, 2 * node + 1]
            a_v += [-0.5 * g, 0.5 * g]
        a_r += [row, row]
        a_c += [2 * down, 2 * up]
        a_v += [-w, w]
    mass_t = (np.concatenate(m_r), np.concatenate(m_c), np.concatenate(m_v))
    op_t = (np.concatenate(a_r), np.concatenate(a_c), np.concatenate(a_v))
    row_mass = np.bincount(mass_t[0], weights=np.abs(mass_t[2]), minlength=size)
    return mass_t, op_t, b, (row_mass == 0.0).astype(np.float64)


def assemble_system(
    fluid_capacity_J_K: FloatArray,
    solid_capacity_node_J_K: FloatArray,
    conductance_W_K: FloatArray,
    solid_conduction_W_K: FloatArray,
    capacity_rate_W_K: FloatArray,
    direction: int,
    inlet_temperature_K: float,
    solid_diagonal_W_K: FloatArray | None = None,
    solid_heat_W: FloatArray | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix, FloatArray, FloatArray]:
    """M, A, b and the algebraic-row mask of the bed, M y' = A y + b, as sparse matrices
    (arguments and units as :func:`assemble_triplets`)."""
    mass_t, op_t, b, alg = assemble_triplets(
        fluid_capacity_J_K,
        solid_capacity_node_J_K,
        conductance_W_K,
        solid_conduction_W_K,
        capacity_rate_W_K,
        direction,
        inlet_temperature_K,
        solid_diagonal_W_K,
        solid_heat_W,
    )
    size = b.shape[0]
    mass = sp.csr_matrix((mass_t[2], (mass_t[0], mass_t[1])), shape=(size, size))
    op = sp.csr_matrix((op_t[2], (op_t[0], op_t[1])), shape=(size, size))
    mass.eliminate_zeros()
    return mass, op, b, alg


BANDWIDTH = 3  # lower = upper bandwidth of M and A with interleaved (T_f, T_s) unknowns


def banded(triplets: Triplets, size: int, scale: float = 1.0) -> FloatArray:
    """``scale`` × the matrix of ``triplets`` in LAPACK band storage, shape (7, size), for
    :func:`scipy.linalg.solve_banded` with (l, u) = (3, 3); duplicates are summed."""
    rows, cols, vals = triplets
    band = BANDWIDTH + rows - cols
    if band.size and (band.min() < 0 or band.max() > 2 * BANDWIDTH):
        raise ValueError("matrix entry outside the band")
    flat = np.bincount(
        band * size + cols, weights=scale * vals, minlength=(2 * BANDWIDTH + 1) * size
    )
    return np.asarray(flat.reshape(2 * BANDWIDTH + 1, size), dtype=np.float64)


def matvec(triplets: Triplets, y: FloatArray) -> FloatArray:
    """The product of the matrix of ``triplets`` with ``y`` (duplicates summed)."""
    rows, cols, vals = triplets
    return np.asarray(
        np.bincount(rows, weights=vals * y[cols], minlength=y.shape[0]), dtype=np.float64
    )


def _assemble(bed: BedCoefficients, phase: Phase) -> None:
    """Build M, A, b and the algebraic-row mask of ``phase`` (M y' = A y + b)."""
    n = bed.cells
    phase.mass, phase.operator, phase.forcing, phase.algebraic = assemble_system(
        bed.fluid_capacity_J_K,
        node_lumped(bed.solid_capacity_J_K),
        bed.conductance_W_K,
        bed.solid_conduction_W_K,
        np.full(n, phase.capacity_rate_W_K),
        phase.direction,
        phase.inlet_temperature_K,
        solid_heat_W=phase.solid_heat_W,
    )
    if phase.direction == 0:
        phase.inlet_node = phase.outlet_node = -1
    else:
        inlet = 0 if phase.direction > 0 else n
        phase.inlet_node, phase.outlet_node = inlet, n - inlet


class PhaseStepper:
    """Steps a bed through one phase with TR-BDF2 (matrices factorised once)."""

    def __init__(self, bed: BedCoefficients, phase: Phase) -> None:
        if phase.steps < 1 or not phase.duration_s > 0.0:
            raise ValueError("a phase needs steps >= 1 and duration_s > 0")
        if phase.direction not in (-1, 0, 1):
            raise ValueError("direction must be -1, 0 or +1")
        if phase.direction != 0 and not phase.capacity_rate_W_K > 0.0:
            raise ValueError("a blow needs capacity_rate_W_K > 0")
        _assemble(bed, phase)
        self.bed = bed
        self.phase = phase
        self.h = phase.duration_s / phase.steps
        size = phase.mass.shape[0]
        self._lu = splu((phase.mass - (D * self.h) * phase.operator).tocsc())
        # consistency projection: algebraic rows from A y + b = 0, the others keep y
        alg = phase.algebraic.astype(bool)
        keep = sp.diags((~alg).astype(np.float64))
        rows_alg = sp.diags(alg.astype(np.float64)) @ phase.operator
        self._project = splu((keep + rows_alg).tocsc()) if alg.any() else None
        self._alg = alg
        self._diff = (~alg).astype(np.float64)
        self._size = size

    def consistent(self, y: FloatArray) -> FloatArray:
        """Solve the algebraic rows for their unknowns, keeping the differential ones [K]."""
        if self._project is None:
            return y
        rhs = np.where(self._alg, -self.phase.forcing, y)
        out: FloatArray = self._project.solve(rhs)
        return out

    def run(
        self, y0: FloatArray, record: bool = False
    ) -> tuple[FloatArray, PhaseTotals, FloatArray | None]:
        """March ``y0`` through the phase; return the end state, totals and (optionally)
        the states at every step end, shape (steps + 1, 2(N + 1))."""
        ph, h = self.phase, self.h
        bed = self.bed
        y = self.consistent(np.asarray(y0, dtype=np.float64))
        w = ph.capacity_rate_W_K
        flowing = ph.direction != 0
        projection_J = bed.energy_J(y) - bed.energy_J(np.asarray(y0, dtype=np.float64))
        mass, op, b = ph.mass, ph.operator, ph.forcing
        dh = D * h
        out_idx = 2 * ph.outlet_node
        t_in = ph.inlet_temperature_K
        e_out = 0.0
        s_out = 0.0
        history = np.empty((ph.steps + 1, self._size)) if record else None
        if history is not None:
            history[0] = y
        for step in range(ph.steps):
            f1 = (op @ y + b) * self._diff
            my = mass @ y
            y2 = self._lu.solve(my + (h * D) * f1 + dh * b)
            f2 = (op @ y2 + b) * self._diff
            y3 = self._lu.solve(my + (h * A31) * (f1 + f2) + dh * b)
            if flowing:
                t1, t2, t3 = y[out_idx], y2[out_idx], y3[out_idx]
                e_out += h * w * (A31 * (t1 + t2) + D * t3)
                with np.errstate(divide="ignore", invalid="ignore"):
                    s_out += h * w * (A31 * (np.log(t1) + np.log(t2)) + D * np.log(t3))
            y = y3
            if history is not None:
                history[step + 1] = y
        dur = ph.duration_s
        source = 0.0 if ph.solid_heat_W is None else float(np.sum(ph.solid_heat_W)) * dur
        if flowing:
            with np.errstate(divide="ignore", invalid="ignore"):
                s_in = w * dur * float(np.log(t_in)) if t_in > 0 else float("nan")
            totals = PhaseTotals(
                inflow_energy_J=w * dur * t_in + projection_J,
                outflow_energy_J=float(e_out),
                outlet_mean_temperature_K=float(e_out / (w * dur)),
                inflow_entropy_J_K=s_in,
                outflow_entropy_J_K=float(s_out),
                source_energy_J=source,
            )
        else:
            totals = PhaseTotals(projection_J, 0.0, float("nan"), 0.0, 0.0, source)
        return y, totals, history
