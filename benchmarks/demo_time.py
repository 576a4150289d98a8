"""Wall-clock time of ``make demo-batch``: each package's ``demo`` command as a user runs it.

Run: ``python3 -m uv run --frozen python benchmarks/demo_time.py [--repeat R]``

Each ``<package> demo`` runs as a subprocess (the installed console script, plots to a
temporary directory); the table gives the best and the worst of ``repeat`` runs and the
machine's load average. The README points here instead of quoting a time that drifts.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMOS = {
    "soilflux": ["demo", "--plot", "{tmp}/soilflux-demo.png"],
    "fluxfleet": ["demo", "--out", "{tmp}/fluxfleet-demo.png"],
    "amrr": ["demo", "--out", "{tmp}/amrr-demo"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in DEMOS.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                subprocess.run(
                    [str(bin_dir / name), *(a.replace("{tmp}", tmp) for a in argv)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                times.append(time.perf_counter() - started)
            rows.append((name, min(times), max(times)))
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {load:.1f} at the end; {args.repeat} runs"
    )
    print()
    print("| demo | best [s] | worst [s] |")
    print("|---|---:|---:|")
    for name, best, worst in rows:
        print(f"| `{name} demo` | {best:.1f} | {worst:.1f} |")
    print(f"| `make demo` (sum) | {sum(r[1] for r in rows):.1f} | {sum(r[2] for r in rows):.1f} |")


if __name__ == "__main__":
    main()
