"""Grid and time-step convergence of the AMRR cycle model on a design (issue 15).

Run: ``python3 -m uv run --frozen python benchmarks/amrr_grid.py
[--design FILE.toml] [--t-cold-K 0.9] [--study joint|space|time|all]
[--reversal displace|heat_exchanger] [--workers 2]``

Three studies of the gross cooling power Q_C at one cold-end temperature, each point
solved to cyclic steady state by Anderson to 10⁻⁸ K from the linear profile:

- ``joint``: cells and steps per blow refined together (10 × 20 … 320 × 640);
- ``space``: cells refined at a fixed fine time step (320 steps per blow);
- ``time``: steps per blow refined at a fixed grid (40 cells).

Hold steps are steps/8 throughout. Each table prints Q_C, its change from the previous
row, the ratio of successive changes (4 for second order, 2 for first) and the observed
order log₂(ratio), with the first-law residual and the CPU of each point (the points run
in ``--workers`` processes; the load average is printed, the machine may be shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from amrr.cycle.from_design import cycle_from_design
from amrr.cycle.magnetic import MagneticRegenerator
from amrr.cycle.steady import cyclic_steady_state
from amrr.design import load_design

PAPER = Path(__file__).resolve().parent.parent / "packages/amrr/src/amrr/data/paper_design.toml"
STUDIES = {
    "joint": [(10, 20), (20, 40), (40, 80), (80, 160), (160, 320), (320, 640)],
    "space": [(20, 320), (40, 320), (80, 320), (160, 320), (320, 320)],
    "time": [(40, 40), (40, 80), (40, 160), (40, 320), (40, 640)],
}


def solve(args: tuple[str, float, str, int, int]) -> dict[str, float]:
    """One grid point: Q_C [W], W_mag [W], first-law residual [-], cycles, CPU [s]."""
    design_path, cold_K, reversal, cells, steps = args
    dc = cycle_from_design(
        load_design(design_path),
        cells=cells,
        steps_per_blow=steps,
        steps_per_hold=max(steps // 8, 1),
    )
    model = MagneticRegenerator(
        dc.spec,
        dataclasses.replace(dc.point, cold_K=cold_K),
        dc.schedule,
        flow_of_blow_time=dc.flow_of_blow_time,
        reversal=reversal,  # type: ignore[arg-type]
    )
    cpu0 = time.process_time()
    css = cyclic_steady_state(
        model, model.initial_state(), method="anderson", tol_K=1e-8, max_cycles=3000
    )
    r = model.performance(css)
    return {
        "cells": cells,
        "steps": steps,
        "qc": r.cooling_power_W,
        "w": r.magnetic_work_W,
        "res": r.energy_residual_fraction,
        "cycles": css.cycles,
        "converged": float(css.converged),
        "fallbacks": model.linear_fallbacks,
        "cpu": time.process_time() - cpu0,
    }


def table(name: str, rows: list[dict[str, float]]) -> None:
    """Print one study with its successive differences, ratios and observed orders."""
    print(f"\n{name}: Q_C against the grid")
    print(
        f"{'cells':>5} {'steps':>5} {'Q_C [uW]':>11} {'change':>9} {'ratio':>6} {'order':>6}"
        f" {'W_mag [uW]':>10} {'1st law':>9} {'cycles':>6} {'CPU [s]':>7}"
    )
    prev_q: float | None = None
    prev_d: float | None = None
    for r in rows:
        q = r["qc"] * 1e6
        d = None if prev_q is None else q - prev_q
        ratio = None if d is None or prev_d is None or d == 0 else prev_d / d
        order = math.log2(ratio) if ratio is not None and ratio > 0 else None
        print(
            f"{r['cells']:5.0f} {r['steps']:5.0f} {q:11.4f} "
            f"{'' if d is None else f'{d:+9.4f}':>9} "
            f"{'' if ratio is None else f'{ratio:6.2f}':>6} "
            f"{'' if order is None else f'{order:6.2f}':>6} "
            f"{r['w'] * 1e6:10.3f} {r['res']:+9.1e} {r['cycles']:6.0f} {r['cpu']:7.1f}"
            + ("" if r["converged"] else "  NOT CONVERGED")
            + (f"  ({r['fallbacks']:.0f} linear fallbacks)" if r["fallbacks"] else "")
        )
        prev_d = d
        prev_q = q


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default=str(PAPER))
    ap.add_argument("--t-cold-K", type=float, default=0.9)
    ap.add_argument("--study", choices=[*STUDIES, "all"], default="all")
    ap.add_argument("--reversal", choices=["displace", "heat_exchanger"], default="displace")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--max-cells", type=int, default=320, help="leave out grids finer than this [-]"
    )
    a = ap.parse_args()
    studies = list(STUDIES) if a.study == "all" else [a.study]
    print(
        f"AMRR grid study: {Path(a.design).name}, T_C = {a.t_cold_K} K, reversal {a.reversal};"
        f" {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    jobs = sorted(
        {g for s in studies for g in STUDIES[s] if g[0] <= a.max_cells and g[1] <= 2 * a.max_cells},
        key=lambda g: -g[0] * g[1],  # the longest first, so the workers finish together
    )
    wall0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        results = dict(
            zip(
                jobs,
                pool.map(solve, [(a.design, a.t_cold_K, a.reversal, c, s) for c, s in jobs]),
                strict=True,
            )
        )
    for s in studies:
        table(s, [results[g] for g in STUDIES[s] if g in results])
    print(
        f"\nwall {time.perf_counter() - wall0:.0f} s on {a.workers} workers,"
        f" load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
