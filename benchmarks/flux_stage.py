"""CPU of `soilflux compute`'s flux stage on one file, by function; old against new.

The file is read and segmented once as the CLI's workers do (`soilflux.cli_parts`), then
`FluxJob(FluxOptions(workers=1)).fluxes` — what each CLI worker runs per file — is timed
`--rounds` times (`time.process_time`, one thread), and the main functions it calls are
timed inside it.  With `--old SRC` (the ``packages/soilflux/src`` of another checkout, e.g.
``git worktree add --detach /tmp/old main``) both versions run in this one process,
alternating, on the same input, and their tables must be equal (`check_exact=True`):
CPU time under a loaded machine varies by ±20 % from run to run, alternating in one
process is the fairest comparison we have.

    python3 -m uv run --frozen python benchmarks/flux_stage.py --file WEEK.parquet
    python3 -m uv run --frozen python benchmarks/flux_stage.py --file WEEK.parquet \\
        --old /tmp/old/packages/soilflux/src --rounds 4

A week's file: `benchmarks/season_from_file.py --weeks 1 --dir D --no-csv --no-core`.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

#: Functions of `soilflux.pipeline` timed inside the flux stage (nested ones are inside
#: their callers' figures: `_process_gas` holds every fit).
TIMED = (
    "_iter_chunks",
    "_process_chunk",
    "_process_gas",
    "averaged_hm_window",
    "fit_exp_curve_batch",
    "fit_robust_linear_batch",
    "auto_deadband",
    "flux_stopped",
    "fit_quadratic_lag_batch",
    "fit_linear_lag_batch",
    "bounded_hm_curve",
    "fit_linear_batch",
    "_change_across",
    "initial_values",
    "compact_windows",
    "_assemble",
    "flag_not_flushed",
)


def _timed(func: Callable[..., Any], name: str, acc: dict[str, float]) -> Callable[..., Any]:
    if name == "_iter_chunks":  # a generator: time each step

        def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = func(*args, **kwargs)
            while True:
                started = time.process_time()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    acc[name] = acc.get(name, 0.0) + time.process_time() - started
                yield item

        return steps

    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            acc[name] = acc.get(name, 0.0) + time.process_time() - started

    return timed


class Version:
    """One soilflux (its own module objects), with timers on `TIMED`."""

    def __init__(self, src: str | None) -> None:
        for name in [m for m in sys.modules if m == "soilflux" or m.startswith("soilflux.")]:
            del sys.modules[name]
        if src is not None:
            sys.path.insert(0, src)
        try:
            self.cli_parallel = importlib.import_module("soilflux.cli_parallel")
            self.options = importlib.import_module("soilflux.options")
            self.pipeline: ModuleType = importlib.import_module("soilflux.pipeline")
            self.modules = {
                n: m for n, m in sys.modules.items() if n == "soilflux" or n.startswith("soilflux.")
            }
        finally:
            if src is not None:
                sys.path.remove(src)
        self.where = os.path.dirname(self.pipeline.__file__ or "")
        self.acc: dict[str, float] = {}
        for name in TIMED:
            setattr(self.pipeline, name, _timed(getattr(self.pipeline, name), name, self.acc))

    def fluxes(self, samples: pd.DataFrame, closures: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        # `FluxJob.fluxes` imports the pipeline when called: this version's modules first
        sys.modules.update(self.modules)
        job = self.cli_parallel.FluxJob(self.options.FluxOptions(workers=1))
        started = time.process_time()
        out = job.fluxes(samples, closures.copy(), "generic", 0)
        return out, time.process_time() - started


def segment(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The file's samples and closures, as a CLI worker has them before the flux stage."""
    from soilflux.cli_parts import (
        carry_over,
        join_segmented,
        make_reading,
        read_file_pieces,
        segment_file,
    )

    reading = make_reading(volume_cm3=5000.0, area_cm2=300.0)
    parts, carry = [], None
    for data, meta in read_file_pieces(path, reading):
        data, tail, carry = carry_over(data, meta, carry)
        parts.append(segment_file(data, tail, "generic", reading))
    samples, closures, _ = join_segmented(parts)
    return samples, closures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True, help="a Parquet or CSV file")
    parser.add_argument("--old", default=None, help="another checkout's packages/soilflux/src")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    if args.old is not None and not Path(args.old, "soilflux", "pipeline.py").is_file():
        parser.error(f"--old {args.old}: no soilflux/pipeline.py there")
    samples, closures = segment(args.file)
    versions = {"new": Version(None)}
    if args.old is not None:
        versions = {"old": Version(args.old), "new": versions["new"]}
    totals: dict[str, list[float]] = {name: [] for name in versions}
    for r in range(args.rounds):
        order = list(versions) if r % 2 == 0 else list(versions)[::-1]
        tables = {}
        for name in order:
            tables[name], cpu = versions[name].fluxes(samples, closures)
            totals[name].append(cpu)
        if len(tables) == 2:
            pd.testing.assert_frame_equal(tables["old"], tables["new"], check_exact=True)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(
        f"{len(closures):,} closures, {len(samples):,} samples; {args.rounds} rounds; load {load}"
    )
    for name, v in versions.items():
        print(f"{name}: {v.where}")
    names = list(versions)
    print("| function (CPU s per run, mean) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for func in sorted(TIMED, key=lambda f: -versions[names[0]].acc.get(f, 0.0)):
        cells = [f"{versions[n].acc.get(func, 0.0) / args.rounds:.3f}" for n in names]
        print(f"| `{func}` | " + " | ".join(cells) + " |")
    cells = [" ".join(f"{x:.2f}" for x in totals[n]) for n in names]
    print("| **flux stage, each run** | " + " | ".join(cells) + " |")
    if len(names) == 2:
        print("tables equal (assert_frame_equal, check_exact=True) in every round")


if __name__ == "__main__":
    main()
