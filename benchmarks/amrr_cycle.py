"""Wall time to cyclic steady state (fast methods against brute-force cycle marching), and a
10-point cooling curve of the paper's design in parallel.

Run: ``python3 -m uv run --frozen python benchmarks/amrr_cycle.py [--tol-K 1e-8]
[--workers N] [--serial-curve] [--skip-passive]``

Same model, same grid, same starting state (linear profile), same convergence test
(cycle residual max|Φ(y) − y| ≤ tol): brute-force marching (the reference, what AMRmodel
does), Anderson acceleration and Newton–Krylov shooting. The table lists cycles and wall
time per case, how far each answer is from the marched one and from the fixed point
converged to 1e-10 K or tighter (untimed; marching stops at the same residual farther from
it, since its contraction is slow).

Cases: balanced passive regenerators (constant properties) at high NTU and small to moderate
utilisation, where marching needs hundreds to thousands of cycles; then the headline, the
paper's design (``amrr cycle --design``, shipped file, hold swing fraction 1/9) at
T_C = 0.9 K on a grid where its cooling power is converged to 1 % (40 cells × 80 steps per
blow, 10 per hold: within 0.4 % at 0.7, 0.9 and 1.2 K by the grid study of
``benchmarks/amrr_grid.py``, docs/amrr/cycle.md §5). Then the 10-point cooling
curve 0.7–1.2 K of that design on the same grid, one process per core (``amrr.cycle.curve``),
with its wall and CPU time (this process and its workers) and the load average.

The last two lines are the headline: the speed-up of the fastest method over marching on
the headline case, and its seconds per operating point.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
from amrr.cycle import cyclic_steady_state
from amrr.cycle.curve import CurveJob, cooling_curve, default_workers
from amrr.cycle.from_design import cycle_from_design
from amrr.cycle.magnetic import MagneticRegenerator, MixtureTable
from amrr.cycle.passive import passive_model
from amrr.design import default_design, evaluate

CASES = [  # (ntu, utilisation, cells, steps per blow)
    (20.0, 0.5, 60, 60),
    (100.0, 0.1, 100, 100),
    (300.0, 0.05, 150, 100),
]
# cells, steps per blow, steps per hold: Q_C within 0.4 % of the extrapolated value at
# T_C = 0.7, 0.9 and 1.2 K (benchmarks/amrr_grid.py; docs/amrr/cycle.md §5)
HEADLINE_GRID = (40, 80, 10)
CURVE_K = np.linspace(0.7, 1.2, 10)


def _cpu_s() -> float:
    """User + system CPU time of this process and its reaped children [s]."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol-K", type=float, default=1e-8, help="cycle residual [K]")
    parser.add_argument(
        "--magnetic-tol-K", type=float, default=1e-7, help="cycle residual, magnetic case [K]"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes for the cooling curve")
    parser.add_argument(
        "--serial-curve", action="store_true", help="also run the curve in one process"
    )
    parser.add_argument("--skip-passive", action="store_true", help="only the AMRR cases")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"load average (1/5/15 min) at start: {_load()}")
    print(f"tolerance: max|Φ(y) − y| <= {args.tol_K:g} K on a 0.7 K span")
    print(
        f"{'NTU':>6} {'U':>6} {'cells':>5} {'steps':>5} {'method':>14} {'cycles':>7} "
        f"{'wall [s]':>9} {'CPU [s]':>8} {'vs march [K]':>12} {'vs exact [K]':>12} "
        f"{'speed-up':>9}"
    )
    cells, steps, hold_steps = HEADLINE_GRID
    design = default_design()
    dc = cycle_from_design(
        design,
        result=evaluate(design, sensitivities=False),
        cells=cells,
        steps_per_blow=steps,
        steps_per_hold=hold_steps,
    )
    table = MixtureTable.build(dc.spec.x3)
    magnetic = MagneticRegenerator(dc.spec, dc.point, dc.schedule, table)
    rows: list[tuple[str, float, float, int, int, object]] = []
    if not args.skip_passive:
        rows += [("passive", ntu, u, c, s, passive_model(ntu, u, c, s)) for ntu, u, c, s in CASES]
    rows.append(("magnetic", float("nan"), float("nan"), cells, steps, magnetic))
    headline: tuple[float, float, float] | None = None
    for k, (kind, ntu, u, c, s, model) in enumerate(rows):
        y0 = model.initial_state()  # type: ignore[attr-defined]
        tight = 1e-13 if kind == "passive" else 1e-10
        exact = cyclic_steady_state(model, y0, method="anderson", tol_K=tight).state_K  # type: ignore[arg-type]
        results = {}
        for method in ("march", "anderson", "newton-krylov"):
            t0, c0 = time.perf_counter(), time.process_time()
            tol = args.tol_K if kind == "passive" else args.magnetic_tol_K
            css = cyclic_steady_state(model, y0, method=method, tol_K=tol)  # type: ignore[arg-type]
            results[method] = (css, time.perf_counter() - t0, time.process_time() - c0)
        ref, t_ref, _ = results["march"]
        best = min(("anderson", "newton-krylov"), key=lambda m: results[m][1])
        for method, (css, wall, cpu) in results.items():
            dev = float(np.max(np.abs(css.state_K - ref.state_K)))
            err = float(np.max(np.abs(css.state_K - exact)))
            speed = t_ref / wall
            print(
                f"{ntu:6g} {u:6g} {c:5d} {s:5d} {method:>14} {css.cycles:7d} "
                f"{wall:9.2f} {cpu:8.2f} {dev:12.2e} {err:12.2e} {speed:8.1f}x"
                + ("" if css.converged else "  (not converged)")
            )
        if k == len(rows) - 1:
            headline = (t_ref / results[best][1], results[best][1], results[best][2])
    assert headline is not None
    print(f"load average after the methods: {_load()}")

    job = CurveJob(dc)
    workers = args.workers or default_workers(len(CURVE_K))
    runs = [workers] + ([1] if args.serial_curve and workers > 1 else [])
    print(
        f"cooling curve: paper design, T_C {CURVE_K[0]:g}–{CURVE_K[-1]:g} K, "
        f"{len(CURVE_K)} points, {cells} cells x {steps} steps per blow"
    )
    print(f"{'workers':>7} {'wall [s]':>9} {'CPU [s]':>8} {'load (1/5/15)':>15}")
    points = None
    for n in runs:
        t0, c0 = time.perf_counter(), _cpu_s()
        points = cooling_curve(job, CURVE_K, workers=n)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
        print(f"{n:7d} {wall:9.1f} {cpu:8.1f} {_load():>15}")
    assert points is not None
    print(f"{'T_C [K]':>8} {'net [µW]':>9} {'gross [µW]':>10} {'T_out [K]':>9} {'cycles':>6}")
    for p in points:
        r = p.record
        print(
            f"{p.cold_K:8.3f} {r['net_cooling_W'] * 1e6:9.1f} {r['gross_cooling_W'] * 1e6:10.1f} "
            f"{r['cold_outlet_mean_K']:9.4f} {r['cycles']:6d}"
        )
    print(
        "headline case: the paper's design (shipped file, hold swing fraction 1/9), "
        f"T_C = 0.9 K, {cells} cells x {steps} steps per blow, tolerance "
        f"{args.magnetic_tol_K:g} K"
    )
    print(f"CPU seconds per operating point: {headline[2]:.1f} (load {_load()})")
    print(f"speed-up: {headline[0]:.1f}x")
    print(f"seconds per operating point: {headline[1]:.1f}")


if __name__ == "__main__":
    main()
