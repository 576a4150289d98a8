"""Where the magnetic cycle's time goes: cProfile of a few cycles, grouped by job.

Run: ``python3 -m uv run --frozen python benchmarks/amrr_cycle_profile.py [--cycles 3]``

The headline case of ``benchmarks/amrr_cycle.py`` (default placeholders, T_C = 0.9 K, 60 cells,
80 steps per blow, 10 per hold). Prints the wall time per cycle and per step, then a table of
the time spent (tottime, summed over functions) in: the paramagnet property model, the
mixture splines, the sparse assembly, the LU factorisation, the triangular solves, and the
rest.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import time

from amrr.cycle.magnetic import MagneticRegenerator, MixtureTable, OperatingPoint, RegeneratorSpec
from amrr.cycle.march import CycleSchedule

GROUPS = (  # (label, substrings of "file:function" that belong to it), first match wins
    ("paramagnet properties", ("properties/paramagnet.py", "properties/validity.py")),
    ("mixture splines", ("scipy/interpolate",)),
    ("LU factorisation (splu)", ("splu", "_superlu")),
    ("triangular solves", ("solve",)),
    ("sparse assembly", ("scipy/sparse", "bed.py:assemble_system", "bed.py:node_lumped")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3, help="cycles to profile")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    table = MixtureTable.build(0.10)
    schedule = CycleSchedule(80.0, 10.0, 80, 10)
    model = MagneticRegenerator(RegeneratorSpec(cells=60), OperatingPoint(), schedule, table)
    y = model.initial_state()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(args.cycles):
        y = model.cycle(y)
    prof.disable()
    wall = time.perf_counter() - t0
    steps = 2 * (schedule.steps_per_blow + schedule.steps_per_hold)
    print(
        f"{args.cycles} cycles, {steps} steps each "
        f"({model.newton_iterations / max(model.newton_stages, 1):.1f} Newton iterations "
        "per stage): "
        f"{wall:.2f} s wall (profiled), {wall / args.cycles:.3f} s per cycle, "
        f"{1e3 * wall / (args.cycles * steps):.2f} ms per step"
    )
    stats = pstats.Stats(prof)
    totals = {label: 0.0 for label, _ in GROUPS}
    rest = 0.0
    entries = stats.stats  # type: ignore[attr-defined]
    for (filename, _, func), (_, _, tottime, _, _) in entries.items():
        key = f"{filename}:{func}"
        for label, needles in GROUPS:
            if any(n in key for n in needles):
                totals[label] += tottime
                break
        else:
            rest += tottime
    grand = sum(totals.values()) + rest
    print(f"{'where':<28} {'time [s]':>9} {'share':>7}")
    for label, value in [*totals.items(), ("rest (Python glue, numpy)", rest)]:
        print(f"{label:<28} {value:9.2f} {value / grand:7.1%}")
    print("top 12 functions by own time:")
    stats.sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
