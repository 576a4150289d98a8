"""Cyclic steady state: the fixed point y* = Φ(y*) of the one-cycle map.

Three ways to the same fixed point, with one convergence test — the cycle residual
max |Φ(y) − y| ≤ ``tol_K`` — so their answers and costs are comparable:

- ``"march"``: brute-force cycle marching y ← Φ(y), the reference (what AMRmodel does);
- ``"anderson"``: Anderson-accelerated fixed point on Φ (Walker & Ni 2011, SIAM J. Numer.
  Anal. 49, 1715), here with a short history (type-II, least-squares mixing);
- ``"newton-krylov"``: Newton's method on Φ(y) − y with GMRES on finite-difference
  Jacobian–vector products (``scipy.optimize.newton_krylov``; shooting on the cycle map).

Each cycle evaluation is one full transient cycle; the count of evaluations is the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from scipy.optimize import NoConvergence, newton_krylov

from amrr.properties.validity import FloatArray

Method = Literal["march", "anderson", "newton-krylov"]
METHODS: tuple[Method, ...] = ("march", "anderson", "newton-krylov")


class CycleMap(Protocol):
    """Anything with a one-cycle map ``cycle(y) -> y`` [K]."""

    def cycle(self, y0: FloatArray) -> FloatArray: ...


@dataclass(frozen=True)
class SteadyState:
    """Result of a cyclic-steady-state search.

    Attributes
    ----------
    state_K : ndarray
        State at the start of the cycle [K].
    residual_K : float
        max |Φ(y) − y| of the last state y evaluated; ``state_K`` is Φ(y) [K].
    cycles : int
        Cycle evaluations used [-].
    method : str
        The method used.
    converged : bool
        Whether ``residual_K <= tol_K``.
    """

    state_K: FloatArray
    residual_K: float
    cycles: int
    method: str
    converged: bool


class _Counter:
    def __init__(self, model: CycleMap) -> None:
        self.model = model
        self.calls = 0

    def __call__(self, y: FloatArray) -> FloatArray:
        self.calls += 1
        return self.model.cycle(y)


def _march(phi: _Counter, y: FloatArray, tol: float, max_cycles: int) -> tuple[FloatArray, float]:
    res = np.inf
    while phi.calls < max_cycles:
        y_next = phi(y)
        res = float(np.max(np.abs(y_next - y)))
        y = y_next
        if res <= tol:
            break
    return y, res


def _anderson(
    phi: _Counter, y: FloatArray, tol: float, max_cycles: int, depth: int
) -> tuple[FloatArray, float]:
    """Anderson acceleration (type II) of y ← Φ(y), mixing parameter 1.

    Safeguard: when the residual grows past twice the best seen so far, the history is
    dropped and the iteration restarts from the best Φ(y) (plain fixed-point step)."""
    g_hist: list[FloatArray] = []
    f_hist: list[FloatArray] = []
    res = np.inf
    best = (np.inf, y)
    while phi.calls < max_cycles:
        g = phi(y)
        f = g - y
        res = float(np.max(np.abs(f)))
        if res <= tol:
            return g, res
        if res < best[0]:
            best = (res, g)
        elif res > 2.0 * best[0]:
            g_hist.clear()
            f_hist.clear()
            y = best[1]
            best = (np.inf, y)
            continue
        g_hist.append(g)
        f_hist.append(f)
        if len(f_hist) > depth + 1:
            g_hist.pop(0)
            f_hist.pop(0)
        if len(f_hist) == 1:
            y = g
            continue
        df = np.stack([f_hist[i + 1] - f_hist[i] for i in range(len(f_hist) - 1)], axis=1)
        dg = np.stack([g_hist[i + 1] - g_hist[i] for i in range(len(g_hist) - 1)], axis=1)
        gamma, *_ = np.linalg.lstsq(df, f, rcond=None)
        y = g - dg @ gamma
    return y, res


def cyclic_steady_state(
    model: CycleMap,
    y0: FloatArray,
    *,
    method: Method = "anderson",
    tol_K: float = 1e-8,
    max_cycles: int = 20000,
    anderson_depth: int = 20,
) -> SteadyState:
    """Find the cyclic steady state of ``model`` from ``y0``.

    Parameters
    ----------
    model : CycleMap
        Provides the one-cycle map.
    y0 : ndarray
        Starting state [K].
    method : {"march", "anderson", "newton-krylov"}
        See the module docstring.
    tol_K : float
        Tolerance on the cycle residual max |Φ(y) − y| [K].
    max_cycles : int
        Budget of cycle evaluations [-].
    anderson_depth : int
        History length of Anderson acceleration [-].

    Returns
    -------
    SteadyState
        ``state_K`` = Φ(y) of the last state y evaluated and ``residual_K`` = max|Φ(y) − y|
        of that y, for every method alike, so the methods compare fairly.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not tol_K > 0.0:
        raise ValueError(f"tol_K must be > 0, got {tol_K}")
    phi = _Counter(model)
    y = np.asarray(y0, dtype=np.float64).copy()
    if method == "march":
        y, res = _march(phi, y, tol_K, max_cycles)
    elif method == "anderson":
        y, res = _anderson(phi, y, tol_K, max_cycles, anderson_depth)
    else:
        try:
            y = np.asarray(
                newton_krylov(
                    lambda v: phi(v) - v,
                    y,
                    f_tol=tol_K,
                    method="lgmres",
                    maxiter=max(1, max_cycles // 10),
                ),
                dtype=np.float64,
            )
        except NoConvergence as exc:
            y = np.asarray(exc.args[0], dtype=np.float64)
        # one more cycle: report the residual of the returned state and finish on Φ(y)
        y_next = phi(y)
        res = float(np.max(np.abs(y_next - y)))
        y = y_next
    return SteadyState(y, res, phi.calls, method, res <= tol_K)
