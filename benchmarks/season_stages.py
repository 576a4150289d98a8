"""Where one weekly file's CPU goes in ``soilflux compute``: the worker's steps, one by one.

One process, one thread, the steps a worker of ``soilflux compute --jobs N`` runs on a file
(:mod:`soilflux.cli_parallel`): read the Parquet pieces, carry each piece's open closures
over (``open tail``), segment the pieces, join them, compute the fluxes. CPU seconds
(``time.process_time``) per step, the process's user and system time and peak RSS, one line
per run (each run in a fresh process: the imports and the first reading are part of it).

Usage (a weekly file of ``benchmarks/season_from_file.py --dir D``)::

    python benchmarks/season_stages.py D/fleet-week00.parquet --runs 3

To compare with other code, run it with that code's ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

_STAGES = ("imports", "read", "open tail", "segment", "join", "fluxes")

_RUN = r"""
import resource, sys, time
t = time.process_time()
from pathlib import Path
from soilflux.cli_parallel import FluxJob
from soilflux.cli_parts import carry_over, join_segmented, make_reading, read_file_pieces
from soilflux.cli_parts import segment_file
from soilflux.options import FluxOptions
out = {"imports": time.process_time() - t}
def tick(name, t):
    out[name] = out.get(name, 0.0) + time.process_time() - t
    return time.process_time()
reading = make_reading(volume_cm3=5000.0, area_cm2=300.0)
job = FluxJob(FluxOptions(workers=1))
t = time.process_time()
carry, segmented, pieces = None, [], iter(read_file_pieces(Path(sys.argv[1]), reading))
while True:
    piece = next(pieces, None)
    t = tick("read", t)
    if piece is None:
        break
    data, tail, carry = carry_over(*piece, carry)
    del piece
    t = tick("open tail", t)
    part = segment_file(data, tail, "generic", reading)
    del data
    if part is not None:
        segmented.append(part)
    t = tick("segment", t)
samples, closures, _ = join_segmented(segmented)
del segmented
t = tick("join", t)
job.fluxes(samples, closures, "generic", 0)
t = tick("fluxes", t)
r = resource.getrusage(resource.RUSAGE_SELF)
print(*(f"{v:.2f}" for v in out.values()), f"{r.ru_utime:.2f}", f"{r.ru_stime:.2f}",
      f"{r.ru_maxrss / 1024:.0f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a weekly Parquet file")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    head = [*_STAGES, "total", "user", "sys", "peak RSS MB", "load (1 min)"]
    print(" | ".join(head))
    for _ in range(args.runs):
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, "-c", _RUN, args.file], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        values = done.stdout.split()
        total = sum(float(v) for v in values[: len(_STAGES)])
        print(" | ".join([*values[: len(_STAGES)], f"{total:.2f}", *values[len(_STAGES) :],
                          f"{load:.1f}"]))  # fmt: skip


if __name__ == "__main__":
    main()
