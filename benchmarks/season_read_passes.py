"""CPU of reading, open tail, segmentation and join of one weekly file, pass after pass.

``benchmarks/season_stages.py`` times a worker's first file (a fresh process: its memory
is faulted in for the first time). A worker of ``soilflux compute --jobs 2`` reads 15 files
of a season one after another: this script runs the same steps ``--passes`` times in one
process and prints each pass's CPU seconds (``time.process_time``) per step, so the first
pass and the later ones (the worker's usual file) can be told apart. No fluxes.

Usage::

    python benchmarks/season_read_passes.py D/fleet-week05.parquet --passes 4

To compare with other code, run it with that code's ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from soilflux.cli_parts import (
    carry_over,
    join_segmented,
    make_reading,
    read_file_pieces,
    segment_file,
)

_STEPS = ("read", "open tail", "segment", "join")


def one_pass(path: Path) -> dict[str, float]:
    """CPU seconds of each step over one pass of the file (as the worker runs them)."""
    reading = make_reading(volume_cm3=5000.0, area_cm2=300.0)
    spent = dict.fromkeys(_STEPS, 0.0)
    carry, segmented = None, []
    pieces = iter(read_file_pieces(path, reading))
    t = time.process_time()
    while True:
        piece = next(pieces, None)
        spent["read"] += time.process_time() - t
        t = time.process_time()
        if piece is None:
            break
        data, tail, carry = carry_over(*piece, carry)
        del piece
        spent["open tail"] += time.process_time() - t
        t = time.process_time()
        part = segment_file(data, tail, "generic", reading)
        del data
        if part is not None:
            segmented.append(part)
        spent["segment"] += time.process_time() - t
        t = time.process_time()
    joined = join_segmented(segmented)
    del segmented, joined
    spent["join"] += time.process_time() - t
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="a weekly Parquet file")
    parser.add_argument("--passes", type=int, default=4)
    args = parser.parse_args()
    print(" | ".join(["pass", *_STEPS, "total"]))
    for i in range(args.passes):
        spent = one_pass(args.file)
        values = [f"{spent[s]:.2f}" for s in _STEPS]
        print(" | ".join([str(i + 1), *values, f"{sum(spent.values()):.2f}"]))


if __name__ == "__main__":
    main()
