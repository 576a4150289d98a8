"""AMRmodel's own default case (room-temperature Gd in water-glycol) run by our cycle solver.

Run: ``python3 -m uv run --frozen python benchmarks/amrr_gd.py [--cells 200 --steps 100]
[--ladder 50,100,200,400]``

The case (``amrr.cycle.amrmodel_case``, from github:TheoChristiaanse/AMRmodel ``GD/``):
a 22.9 mm packed bed of 300 µm Gd spheres between glass-sphere buffers and void volumes
(220 mm in all), 5.15 cm³ of water-glycol displaced per blow at 2 Hz, T_H = 308 K,
T_C = 301.9 K, the rig's rotating magnet (0.13–1.49 T). Same grid and starting state
(linear profile) for both methods; same convergence test max|Φ(y) − y| ≤ tol, by default
AMRmodel's 10⁻⁶ on (T − T_C)/(T_H − T_C), i.e. 6.1 µK. Wall and CPU (user + sys of this
process) per method, with the load average beside them (the machine is shared).

AMRmodel's figures beside ours are the ones issue 15 quotes (about 145 cycles, ≈ 4 min of
CPU at 200 × 200 nodes for its default case); AMRmodel publishes no result for this case in
its repository, and we have not run it. ``--ladder`` adds a grid study (Anderson only).
The last two lines are ``speed-up: N.Nx`` (marching CPU / Anderson CPU) and
``seconds per operating point: S.S`` (Anderson, CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from amrr.cycle.amrmodel_case import AMRmodelCase
from amrr.cycle.steady import Method, cyclic_steady_state

AMRMODEL_CYCLES = 145  # issue 15, for AMRmodel's default case at 200 x 200 nodes
AMRMODEL_CPU_S = 240.0


def run(
    case: AMRmodelCase,
    cells: int,
    steps: int,
    method: Method,
    tol_K: float,
    tabulated: bool = True,
) -> dict[str, float]:
    """Solve one grid with one method; return the figures of one table row."""
    model = case.regenerator(cells, steps, tabulated=tabulated)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    css = cyclic_steady_state(model, model.initial_state(), method=method, tol_K=tol_K)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    r = model.performance(css)
    return {
        "cells": float(model.n),
        "cycles": float(css.cycles),
        "wall": wall,
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "qc": r.cooling_power_W,
        "w": r.magnetic_work_W,
        "cop": r.cop,
        "res": r.energy_residual_fraction,
        "conv": float(css.converged),
    }


def row(label: str, steps: int, f: dict[str, float]) -> str:
    """One printed table row."""
    return (
        f"{label:>14} {int(f['cells']):>5} {steps:>5} {int(f['cycles']):>6} "
        f"{f['wall']:>8.1f} {f['cpu']:>7.1f} {f['load']:>5.1f} {f['qc']:>8.3f} "
        f"{f['w']:>7.3f} {f['cop']:>6.2f} {f['res']:>+10.2e}"
        + ("" if f["conv"] else "  NOT CONVERGED")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200, help="cells over the 220 mm domain")
    parser.add_argument("--steps", type=int, default=100, help="time steps per blow")
    parser.add_argument("--tol-K", type=float, default=6.1e-6, help="cycle residual [K]")
    parser.add_argument(
        "--ladder",
        default="",
        help="comma-separated cell counts for a grid study (steps = cells/2)",
    )
    parser.add_argument(
        "--untabulated",
        action="store_true",
        help="evaluate the mean-field Gd itself at every call, not on its (T, B) tables",
    )
    args = parser.parse_args()
    tab = not args.untabulated
    case = AMRmodelCase()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(
        f"case: Gd {case.length_m * 1e3:.1f} mm in a 220 mm domain, {case.frequency_Hz:g} Hz, "
        f"T_H {case.hot_K:g} K, T_C {case.cold_K:g} K, utilisation {case.utilisation():.2f}, "
        f"demagnetisation ratio {case.demagnetisation_ratio():.3f}; tol {args.tol_K:g} K; "
        f"Gd {'on (T, B) tables' if tab else 'evaluated per call'}"
    )
    head = (
        f"{'method':>14} {'cells':>5} {'steps':>5} {'cycles':>6} {'wall [s]':>8} "
        f"{'CPU [s]':>7} {'load':>5} {'Q_C [W]':>8} {'W [W]':>7} {'COP':>6} {'1st law':>10}"
    )
    print(head)
    results: dict[str, dict[str, float]] = {}
    methods: tuple[Method, ...] = ("march", "anderson", "newton-krylov")
    for method in methods:
        results[method] = run(case, args.cells, args.steps, method, args.tol_K, tab)
        print(row(method, args.steps, results[method]))
    print(
        f"{'AMRmodel':>14} {200:>5} {100:>5} {AMRMODEL_CYCLES:>6} {'—':>8} "
        f"{AMRMODEL_CPU_S:>7.0f} {'—':>5} {'—':>8}   (issue 15's figures, unverified)"
    )
    if args.ladder:
        print("grid study (Anderson):")
        print(head)
        for cells in (int(c) for c in args.ladder.split(",")):
            f = run(case, cells, cells // 2, "anderson", args.tol_K, tab)
            print(row("anderson", cells // 2, f))
    fast = min(("anderson", "newton-krylov"), key=lambda m: results[m]["cpu"])
    print(
        f"fastest method: {fast}; vs AMRmodel's quoted CPU: "
        f"{AMRMODEL_CPU_S / results[fast]['cpu']:.1f}x"
    )
    print(f"speed-up: {results['march']['cpu'] / results[fast]['cpu']:.1f}x")
    print(f"seconds per operating point: {results[fast]['cpu']:.1f}")


if __name__ == "__main__":
    main()
