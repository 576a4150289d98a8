"""An independent reference for the balanced symmetric passive regenerator.

Deliberately different from :mod:`amrr.cycle.bed` in every numerical choice, so agreement
means something:

- space: cell-centred, piecewise-constant solid; across a cell the fluid follows the exact
  solution of dθ_f/dx = NTU (θ_s − θ_f) for that constant θ_s (the "open" method of
  Willmott, *Modelling and Dynamics of Regenerative Heat Transfer*, 1993, ch. 4), first
  order in Δx;
- time: explicit forward Euler for the solid (first order), step chosen for monotonicity;
- periodicity: not by marching but exactly, from the symmetry of the balanced symmetric
  case — the cold blow is the hot blow mirrored (x → 1 − x, θ → 1 − θ), so the periodic
  state solves θ₀ = R(H θ₀) with H the affine hot-blow map, built exactly from two marches
  (its linear part is Toeplitz) and solved directly;
- accuracy: Richardson extrapolation of the first-order results at N and 2N cells (time
  steps refined in proportion).

Dimensionless temperatures: hot inlet 1, cold inlet 0; ε = mean of (1 − θ_out) over the
hot blow.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import toeplitz
from scipy.signal import lfilter

from amrr.properties.validity import FloatArray


def _hot_blow(
    state: FloatArray, inlet: FloatArray, ntu: float, utilisation: float, steps: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """March the columns of ``state`` (cells × cases) through one hot blow.

    Returns the end states, each case's ∫(inlet − outlet) dτ and ∫ θ_f dτ leaving every
    cell (per unit W·P)."""
    cells = state.shape[0]
    decay = float(np.exp(-ntu / cells))
    dtau = 1.0 / steps
    gain = dtau * utilisation * cells  # solid temperature change per unit heat [per W·P]
    s = state.copy()
    regenerated = np.zeros(state.shape[1])
    leaving = np.zeros_like(s)
    b = np.array([1.0 - decay])
    a = np.array([1.0, -decay])
    for _ in range(steps):
        out, _ = lfilter(b, a, s, axis=0, zi=(decay * inlet)[None, :])
        into = np.vstack([inlet[None, :], out[:-1]])
        s += gain * (into - out)
        regenerated += dtau * (inlet - out[-1])
        leaving += dtau * out
    return s, regenerated, leaving


def steps_per_blow(ntu: float, utilisation: float, cells: int) -> int:
    """Time steps of the reference: monotone explicit update, solid time constant resolved,
    and proportional to ``cells`` so that Richardson extrapolation applies [-]."""
    ratio = max(1.0, 2.0 * utilisation, 16.0 * ntu * utilisation / cells)
    return int(np.ceil(ratio * cells))


def reference_first_order(
    ntu: float, utilisation: float, cells: int, steps: int | None = None
) -> float:
    """ε of the first-order reference at ``cells`` cells [-].

    The hot-blow map is affine, θ_end = A θ₀ + c, and A is lower-triangular Toeplitz: the
    blow is invariant under shifts along the flow and nothing travels upstream, so the
    response to a unit solid temperature in cell j is that of cell 0 shifted by j. Two
    marches (cell-0 unit with inlet 0; zero state with inlet 1) give A and c exactly.
    """
    steps = steps or steps_per_blow(ntu, utilisation, cells)
    state = np.zeros((cells, 2))
    state[0, 0] = 1.0
    inlet = np.array([0.0, 1.0])
    end, regen, leaving = _hot_blow(state, inlet, ntu, utilisation, steps)
    a_mat = toeplitz(end[:, 0], np.zeros(cells))
    c_vec = end[:, 1]
    # regenerated heat of a unit in cell j (inlet 0) = −∫θ_f leaving cell N−1−j of the
    # cell-0 run
    regen_unit = -leaving[::-1, 0]
    # θ0 = R(A θ0 + c), R(v) = 1 − reverse(v)  =>  (I + P A) θ0 = 1 − P c
    pa = a_mat[::-1]
    theta0 = np.linalg.solve(np.eye(cells) + pa, 1.0 - c_vec[::-1])
    # ε = regenerated heat / (W P (T_H − T_C)): the affine map of the regenerated heat
    return float(regen_unit @ theta0 + regen[1])


def default_cells(ntu: float) -> int:
    """Coarse resolution of the reference: about two cells per 1/NTU, at least 100 [-]."""
    return int(max(100, np.ceil(2.0 * ntu)))


def reference_effectiveness(ntu: float, utilisation: float, cells: int | None = None) -> float:
    """Richardson-extrapolated reference ε from ``cells`` and 2 × ``cells`` [-].

    Parameters
    ----------
    ntu : float
        NTU = hA/(ṁ c_f) per blow [-].
    utilisation : float
        U = ṁ c_f P/(M c_m) [-].
    cells : int, optional
        Coarse resolution (default :func:`default_cells`); the fine one doubles it, time
        steps in proportion [-].
    """
    cells = cells or default_cells(ntu)
    steps = steps_per_blow(ntu, utilisation, cells)
    coarse = reference_first_order(ntu, utilisation, cells, steps)
    fine = reference_first_order(ntu, utilisation, 2 * cells, 2 * steps)
    return 2.0 * fine - coarse
