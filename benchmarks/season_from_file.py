"""A season of fleet closures from files, end to end through the ``soilflux compute`` CLI.

The fleet: 50 chambers closing every 10 min for 180–300 s at 3-s samples, 7,200 closures a
day; a season of 1.5 M closures (~208 days, ~120 M samples) is written as weekly Parquet
files of the table the fleet exports (``fluxfleet.sim.compare.soilflux_records``: ``time``,
``chamber``, ``location``, ``phase``, ``closure_id``, ``elapsed_s``, ``co2_ppm``,
``h2o_mmol_mol``, ``temperature_c``, ``pressure_kpa``, ``lux``; rows in time order, the
chambers interleaved as they stream). The files are generated vectorised from
:func:`soilflux.synthetic.synthetic_closures` (not timed), then ``soilflux compute`` runs
on them as a user would (a subprocess: imports, reading, segmentation, fluxes, writing), and
its wall time and peak resident memory are printed beside the in-process core rate
(``compute_fluxes`` on one week already segmented) and a CSV week through the CLI.

Usage::

    python benchmarks/season_from_file.py                  # the season: 30 weekly files
    python benchmarks/season_from_file.py --weeks 1        # one week (1/30), to iterate
    python benchmarks/season_from_file.py --dir D --jobs 1  # keep the files; one process

``soilflux compute`` spreads the files over worker processes (``--jobs``, default 2): the
CPU time printed includes the workers', and the peak memory is that of the whole process
tree (the sum of the CLI's and its workers' resident memory, sampled every 0.1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.segment import segment
from soilflux.synthetic import synthetic_closures

CHAMBERS = 50
CYCLE_S = 600.0  # a chamber closes every 10 min
STAGGER_S = 12.0  # chambers' cycles are staggered
WEEK_CLOSURES = CHAMBERS * 6 * 24 * 7  # 50,400
SEASON_CLOSURES = 1_500_000
VOLUME_CM3 = 5000.0
AREA_CM2 = 300.0


class Fleet:
    """A pool of one week's closures (generated once); each week reuses its records with
    its own clock, cycle numbers and a fresh draw of the reading noise."""

    def __init__(self) -> None:
        syn = synthetic_closures(WEEK_CLOSURES, seed=0, chambers=CHAMBERS)
        s = syn.samples
        self.closure = s["closure"].to_numpy()
        self.values = {
            c: s[c].to_numpy()
            for c in (
                "elapsed_s",
                "co2_ppm",
                "h2o_mmol_mol",
                "temperature_c",
                "pressure_kpa",
                "lux",
            )
        }

    def week(self, week: int, n_closures: int = WEEK_CLOSURES) -> pd.DataFrame:
        """One week of the fleet's export, rows in time order."""
        rows = self.closure < n_closures
        closure = self.closure[rows]
        chamber = closure % CHAMBERS
        cycle = closure // CHAMBERS + week * (WEEK_CLOSURES // CHAMBERS)
        season_start = pd.Timestamp("2026-04-01T00:00:00Z").value
        start_ns = season_start + np.round((cycle * CYCLE_S + chamber * STAGGER_S) * 1e9)
        elapsed = self.values["elapsed_s"][rows]
        time_ns = (start_ns + np.round(elapsed * 1e9)).astype(np.int64)
        order = np.argsort(time_ns, kind="stable")
        names = np.array([f"ch{i:02d}" for i in range(CHAMBERS)], dtype=object)
        locations = np.array(
            [f"{1 + i % 9}.{1 + (i // 9) % 4}.{'ABCD'[i % 4]}" for i in range(CHAMBERS)],
            dtype=object,
        )
        noise = np.random.default_rng(week).normal(0.0, 1.0, order.size)
        table = {
            "time": pd.to_datetime(time_ns[order], utc=True),
            "chamber": names[chamber[order]],
            "location": locations[chamber[order]],
            "phase": "closed",
            "closure_id": cycle[order].astype(str),
        }
        for name, values in self.values.items():
            table[name] = values[rows][order]
        table["co2_ppm"] = table["co2_ppm"] + noise
        return pd.DataFrame(table)


def write_week(table: pd.DataFrame, path: Path) -> None:
    """Parquet with row groups of 1 Mi rows (pyarrow's default cap)."""
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)


# The CLI as its console script runs it, printing its peak resident memory on exit (VmHWM
# of its own address space: ru_maxrss would count the benchmark's, inherited at fork).
_CLI = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]))\n"
    "from soilflux.cli import main\n"
    "main()\n"
)


def _tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (workers included)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # exited meanwhile
            total += p.memory_info().rss
    return total


def run_cli(files: list[Path], out: Path, jobs: int | None = None) -> tuple[float, float, float]:
    """Wall time [s], CPU time [s] and peak resident memory [MB] of ``soilflux compute``
    on ``files``. The CPU time (user + system, all threads and worker processes) is what the
    run costs whatever else the machine is doing; the wall time follows the machine's load.
    The peak memory is the larger of the CLI's own VmHWM and the sum of its and its worker
    processes' resident memory, sampled every 0.1 s."""
    cmd = [
        sys.executable,
        "-c",
        _CLI,
        "compute",
        *map(str, files),
        "-o",
        str(out),
        "--volume-cm3",
        str(VOLUME_CM3),
        "--area-cm2",
        str(AREA_CM2),
        "--quiet",
    ]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stderr=err, text=True)
        watched = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, _tree_rss(watched))
            time.sleep(0.1)
        wall = time.perf_counter() - started
        err.seek(0)
        stderr = err.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"soilflux compute failed: {' '.join(cmd)}\n{stderr}")
    hwm = [line for line in stderr.splitlines() if line.startswith("VmHWM:")]
    return wall, cpu, max(float(hwm[-1].split()[1]) * 1024.0, peak) / 2**20


def core_rate(table: pd.DataFrame) -> tuple[float, int]:
    """In-process closures/s of ``compute_fluxes`` on a segmented week (best of 2)."""
    samples, closures, _ = segment(table, volume_cm3=VOLUME_CM3, area_cm2=AREA_CM2)
    best = np.inf
    for _ in range(2):
        started = time.perf_counter()
        compute_fluxes(samples, closures, FluxOptions())
        best = min(best, time.perf_counter() - started)
    return len(closures) / best, len(closures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=-(-SEASON_CLOSURES // WEEK_CLOSURES))
    parser.add_argument("--dir", type=Path, default=None, help="keep the files here")
    parser.add_argument(
        "--jobs", type=int, default=None, help="soilflux compute --jobs (default: its own)"
    )
    parser.add_argument("--no-csv", action="store_true", help="skip the CSV week")
    parser.add_argument("--no-core", action="store_true", help="skip the in-process core rate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        remaining = args.weeks * WEEK_CLOSURES
        if args.weeks >= 30:
            remaining = SEASON_CLOSURES
        started = time.perf_counter()
        fleet = Fleet()
        n_samples = 0
        first: pd.DataFrame | None = None
        for week in range(args.weeks):
            n = min(WEEK_CLOSURES, remaining)
            remaining -= n
            path = folder / f"fleet-week{week:02d}.parquet"
            table = fleet.week(week, n)
            n_samples += len(table)
            if first is None:
                first = table
            if not path.exists():
                write_week(table, path)
            files.append(path)
        print(f"generated {len(files)} files in {time.perf_counter() - started:.1f} s")
        assert first is not None
        csv = folder / "fleet-week00.csv"
        if not csv.exists():
            first.to_csv(csv, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        rate, n_core = (np.nan, 0) if args.no_core else core_rate(first)
        del first
        n_closures = min(args.weeks * WEEK_CLOSURES, SEASON_CLOSURES)
        wall, cpu, rss = run_cli(files, folder / "fluxes.parquet", args.jobs)
        wall_csv = cpu_csv = rss_csv = np.nan
        if not args.no_csv:
            wall_csv, cpu_csv, rss_csv = run_cli([csv], folder / "fluxes-csv.parquet", args.jobs)
        load = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    print("| what | closures | samples | wall s | CPU s | closures/s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| core `compute_fluxes`, in process, 1 week | {n_core:,} | | | | {rate:,.0f} | |")
    print(
        f"| `soilflux compute`, {len(files)} Parquet file(s) | {n_closures:,} | {n_samples:,} "
        f"| {wall:.1f} | {cpu:.1f} | {n_closures / wall:,.0f} | {rss:,.0f} |"
    )
    print(
        f"| `soilflux compute`, 1 CSV week | {WEEK_CLOSURES:,} | | {wall_csv:.1f} | {cpu_csv:.1f} "
        f"| {WEEK_CLOSURES / wall_csv:,.0f} | {rss_csv:,.0f} |"
    )
    print(f"\nself peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
