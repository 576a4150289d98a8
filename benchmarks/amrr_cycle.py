"""Wall time to cyclic steady state: fast methods against brute-force cycle marching.

Run: ``python3 -m uv run --frozen python benchmarks/amrr_cycle.py [--tol-K 1e-8]``

Same model, same grid, same starting state (linear profile), same convergence test
(cycle residual max|Φ(y) − y| ≤ tol): brute-force marching (the reference, what AMRmodel
does), Anderson acceleration and Newton–Krylov shooting. The table lists cycles and wall
time per case, how far each answer is from the marched one and from the fixed point
converged to 1e-13 K (untimed; marching stops at the same residual farther from it, since
its contraction is slow); the last two lines are
the headline: the speed-up of the fastest method over marching on the headline case, and
its seconds per operating point.

Cases: balanced passive regenerators (constant properties) at high NTU and small to moderate
utilisation, where marching needs hundreds to thousands of cycles; then the headline, the
magnetic GGG / 3He-4He regenerator of ``amrr.cycle.magnetic`` with its default placeholders
at T_C = 0.9 K on the grid where its cooling power is converged to about 1 % (60 cells, 80
steps per blow).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from amrr.cycle import cyclic_steady_state
from amrr.cycle.magnetic import MagneticRegenerator, MixtureTable, OperatingPoint, RegeneratorSpec
from amrr.cycle.march import CycleSchedule
from amrr.cycle.passive import passive_model

CASES = [  # (ntu, utilisation, cells, steps per blow)
    (20.0, 0.5, 60, 60),
    (100.0, 0.1, 100, 100),
    (300.0, 0.05, 150, 100),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol-K", type=float, default=1e-8, help="cycle residual [K]")
    parser.add_argument(
        "--magnetic-tol-K", type=float, default=1e-7, help="cycle residual, magnetic case [K]"
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"tolerance: max|Φ(y) − y| <= {args.tol_K:g} K on a 0.7 K span")
    print(
        f"{'NTU':>6} {'U':>6} {'cells':>5} {'steps':>5} {'method':>14} {'cycles':>7} "
        f"{'wall [s]':>9} {'vs march [K]':>12} {'vs exact [K]':>12} {'speed-up':>9}"
    )
    headline: tuple[float, float] | None = None
    table = MixtureTable.build(0.10)
    magnetic = MagneticRegenerator(
        RegeneratorSpec(cells=60), OperatingPoint(), CycleSchedule(80.0, 10.0, 80, 10), table
    )
    rows: list[tuple[str, float, float, int, int, object]] = [
        ("passive", ntu, u, cells, steps, passive_model(ntu, u, cells, steps))
        for ntu, u, cells, steps in CASES
    ]
    rows.append(("magnetic", float("nan"), float("nan"), 60, 80, magnetic))
    for k, (kind, ntu, u, cells, steps, model) in enumerate(rows):
        y0 = model.initial_state()  # type: ignore[attr-defined]
        tight = 1e-13 if kind == "passive" else 1e-10
        exact = cyclic_steady_state(model, y0, method="anderson", tol_K=tight).state_K  # type: ignore[arg-type]
        results = {}
        for method in ("march", "anderson", "newton-krylov"):
            t0 = time.perf_counter()
            tol = args.tol_K if kind == "passive" else args.magnetic_tol_K
            css = cyclic_steady_state(model, y0, method=method, tol_K=tol)  # type: ignore[arg-type]
            results[method] = (css, time.perf_counter() - t0)
        ref, t_ref = results["march"]
        best = min(("anderson", "newton-krylov"), key=lambda m: results[m][1])
        for method, (css, wall) in results.items():
            dev = float(np.max(np.abs(css.state_K - ref.state_K)))
            err = float(np.max(np.abs(css.state_K - exact)))
            speed = t_ref / wall
            print(
                f"{ntu:6g} {u:6g} {cells:5d} {steps:5d} {method:>14} {css.cycles:7d} "
                f"{wall:9.2f} {dev:12.2e} {err:12.2e} {speed:8.1f}x"
                + ("" if css.converged else "  (not converged)")
            )
        if k == len(rows) - 1:
            headline = (t_ref / results[best][1], results[best][1])
    assert headline is not None
    print(
        "headline case: magnetic regenerator (NTU/U columns nan), default placeholders, "
        f"T_C = 0.9 K, 60 cells x 80 steps per blow, tolerance {args.magnetic_tol_K:g} K"
    )
    print(f"speed-up: {headline[0]:.1f}x")
    print(f"seconds per operating point: {headline[1]:.1f}")


if __name__ == "__main__":
    main()
