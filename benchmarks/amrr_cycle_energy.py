"""First-law closure and CPU time per operating point of the paper's design (issue 15).

Run: ``python3 -m uv run --frozen python benchmarks/amrr_cycle_energy.py [--grids 20x40x5,...]
[--cold-K 0.9,0.75]``

For each grid (cells × steps per blow × steps per hold) and cold-end temperature: the
paper's design (``amrr cycle --design``, shipped file) solved to cyclic steady state by
Anderson from the linear start (tolerance 1e-7 K, as ``amrr cycle``), then its gross and net
cooling power, the magnetic work, the first-law residual (Q_H − Q_C − W_mag − W_visc)/W_mag,
the cycles, and the wall and CPU time of the solve (CPU = time.process_time of this
process; the machine is shared, so the load average is printed with every row).
"""

from __future__ import annotations

import argparse
import os
import time

from amrr.cycle.from_design import cycle_from_design, design_cooling
from amrr.cycle.magnetic import MixtureTable
from amrr.design import default_design, evaluate


def _grid(text: str) -> tuple[int, int, int]:
    cells, steps, hold = (int(v) for v in text.split("x"))
    return cells, steps, hold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", default="20x40x5,60x120x15", help="CxSxH,... [-]")
    parser.add_argument("--cold-K", default="0.9,0.75", help="T_C values [K]")
    args = parser.parse_args()
    grids = [_grid(g) for g in args.grids.split(",")]
    colds = [float(v) for v in args.cold_K.split(",")]
    design = default_design()
    result = evaluate(design, sensitivities=False)
    print(
        f"{'grid':>10} {'T_C [K]':>7} {'Q_C [µW]':>9} {'net [µW]':>9} {'W [µW]':>9} "
        f"{'residual':>10} {'cycles':>6} {'wall [s]':>8} {'CPU [s]':>8} {'load':>14}"
    )
    for cells, steps, hold in grids:
        dc = cycle_from_design(
            design, result=result, cells=cells, steps_per_blow=steps, steps_per_hold=hold
        )
        table = MixtureTable.build(dc.spec.x3)
        for cold in colds:
            t0, c0 = time.perf_counter(), time.process_time()
            cooled, css = design_cooling(dc, cold, table=table)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            r = cooled.cycle
            load = "/".join(f"{v:.1f}" for v in os.getloadavg())
            print(
                f"{cells:>4}x{steps}x{hold:<3} {cold:7.3f} {r.cooling_power_W * 1e6:9.2f} "
                f"{cooled.net_cooling_W * 1e6:9.2f} {r.magnetic_work_W * 1e6:9.2f} "
                f"{r.energy_residual_fraction:10.2e} {css.cycles:6d} {wall:8.1f} {cpu:8.1f} "
                f"{load:>14}" + ("" if css.converged else " (not converged)"),
                flush=True,
            )


if __name__ == "__main__":
    main()
