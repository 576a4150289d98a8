"""Speed of the AMRR design tool: one design evaluation and a 1,000-point sweep.

Run: ``python3 -m uv run --frozen python benchmarks/amrr_design.py [--points N] [--workers W]``

* one evaluation of the paper's design (pump, regenerator eqs. 1–3, magnet with
  inductance and peak field, suspension, budget), with and without the regenerator's
  sensitivities (2 × 9 extra solves): best of ``--repeat`` wall-clock times, after a
  cache-filling first call;
* a sweep of ``--points`` designs (a 40 × 25 grid of canister diameter × pump bed mass by
  default: diameters 15–30 mm, so that the canister fits the 16.5-mm mandrel) in a local
  process pool of ``--workers`` processes — the code path of ``amrr sweep --workers`` —
  wall-clock time including the pool's start-up.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

from amrr.design import default_design, evaluate
from amrr.sweep import Vary, grid, run_local


def best_time(fn: object, repeat: int) -> float:
    """Best of ``repeat`` wall-clock times of ``fn()`` [s]."""
    assert callable(fn)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000, help="sweep size")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--repeat", type=int, default=5, help="repeats of the single design")
    args = parser.parse_args()

    design = default_design()
    evaluate(design)  # fill the property caches
    single = best_time(lambda: evaluate(design, sensitivities=False), args.repeat)
    with_sens = best_time(lambda: evaluate(design), args.repeat)

    n_a = max(1, round(math.sqrt(args.points * 40 / 25)))
    n_b = max(1, round(args.points / n_a))
    diameters = tuple(0.015 + 0.015 * i / max(1, n_a - 1) for i in range(n_a))
    masses = tuple(0.05 + 0.15 * i / max(1, n_b - 1) for i in range(n_b))
    points = grid(
        [Vary("regenerator.inner_diameter_m", diameters), Vary("pump.ggg_mass_kg", masses)]
    )
    t0 = time.perf_counter()
    rows = run_local(design, points, args.workers)
    sweep_s = time.perf_counter() - t0
    refused = sum(1 for r in rows if r.get("error"))

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print()
    print("| case | designs | wall time | designs/s |")
    print("|---|---:|---:|---:|")
    print(f"| one design, no sensitivities | 1 | {single * 1e3:.0f} ms | {1 / single:.1f} |")
    print(f"| one design + 9 sensitivities | 1 | {with_sens * 1e3:.0f} ms | {1 / with_sens:.1f} |")
    print(
        f"| sweep, {args.workers} local processes | {len(rows)} ({refused} refused) | "
        f"{sweep_s:.1f} s | {len(rows) / sweep_s:.1f} |"
    )


if __name__ == "__main__":
    main()
