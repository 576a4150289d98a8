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

Cases: balanced passive regenerators (constant properties) at NTU/U typical of the AMRR
(high NTU, small to moderate utilisation, where marching needs hundreds of cycles).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from amrr.cycle import cyclic_steady_state
from amrr.cycle.passive import passive_model

CASES = [  # (ntu, utilisation, cells, steps per blow)
    (20.0, 0.5, 60, 60),
    (100.0, 0.1, 100, 100),
    (300.0, 0.05, 150, 100),
]
HEADLINE = 2  # index into CASES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol-K", type=float, default=1e-8, help="cycle residual [K]")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"tolerance: max|Φ(y) − y| <= {args.tol_K:g} K on a 0.7 K span")
    print(
        f"{'NTU':>6} {'U':>6} {'cells':>5} {'steps':>5} {'method':>14} {'cycles':>7} "
        f"{'wall [s]':>9} {'vs march [K]':>12} {'vs exact [K]':>12} {'speed-up':>9}"
    )
    headline: tuple[float, float] | None = None
    for k, (ntu, u, cells, steps) in enumerate(CASES):
        model = passive_model(ntu, u, cells, steps)
        y0 = model.initial_state()
        exact = cyclic_steady_state(model, y0, method="anderson", tol_K=1e-13).state_K
        results = {}
        for method in ("march", "anderson", "newton-krylov"):
            t0 = time.perf_counter()
            css = cyclic_steady_state(model, y0, method=method, tol_K=args.tol_K)  # type: ignore[arg-type]
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
        if k == HEADLINE:
            headline = (t_ref / results[best][1], results[best][1])
    assert headline is not None
    print(f"headline case: NTU={CASES[HEADLINE][0]:g}, U={CASES[HEADLINE][1]:g}")
    print(f"speed-up: {headline[0]:.1f}x")
    print(f"seconds per operating point: {headline[1]:.1f}")


if __name__ == "__main__":
    main()
