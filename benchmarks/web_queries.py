"""Benchmark: the console's store reads in-process, wall and CPU time per call.

The HTTP figures of ``benchmarks/web.py`` move with the machine's load (a shared 2-core
machine at load 15-25); the CPU time a read costs (user + sys of this process, DuckDB's
threads included) moves much less. Each read runs ``--runs`` times on a store made by
``benchmarks/web.py --keep``, beside the way it was read before this change where there is
one (the device's whole season for a closure's rows; one 2-day read for the newest samples).

    python benchmarks/web_queries.py --store-file /work/data/web/season.duckdb

With the analysis file ``benchmarks/web.py`` writes beside the store, the analysis pages'
season reads are timed too: uncached ("cold", the cache emptied before each call), kept
(``web.rollups``, an unchanged store), and the way they were read before where it differs.

Prints a table (median wall and CPU time per call) and the load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median wall and CPU time of ``fn()`` [s] over ``runs`` calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu)


def season_reads(st: Any, store_file: Path) -> list[tuple[str, Callable[[], Any]]]:
    """The analysis pages' reads over the whole store: each uncached (the function a
    request ran before web.rollups; "cold") and through the cache (an unchanged store)."""
    from fluxfleet.web import calibration, pco2, quality, queries, rollups, treatment
    from fluxfleet.web.analysis_config import load_analysis

    analysis = Path(f"{store_file}.console/analysis.toml")
    if not analysis.is_file():
        print(f"no {analysis} (made by benchmarks/web.py): analysis reads left out")
        return []
    cfg = load_analysis(analysis)

    def cold(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            rollups.clear()
            return fn()

        return run

    frc = calibration.session(st, cfg, None, None, None)
    assert frc is not None, "the store has no frc command (benchmarks/web_content.py adds one)"

    def effects_before() -> None:  # the whole fluxes table read, then soilflux's filter
        from soilflux.aggregate import hourly_means, treatment_minus_control
        from soilflux.qc import DEFAULT_DROP, filtered

        kept, _ = filtered(treatment.flux_table(st, None, None), DEFAULT_DROP)
        treatment_minus_control(hourly_means(kept, by="variant", gas="co2"), cfg.controls)

    def reference_before() -> None:  # every file parsed and the fleet's season read
        calibration._parsed.cache_clear()
        calibration.reference_pairs(st, cfg)

    return [
        ("fluxes per day, season: cold", cold(lambda: queries.fluxes(st, bin="day"))),
        ("fluxes per day, season: kept", lambda: queries.fluxes(st, bin="day")),
        ("quality per week: cold", cold(lambda: quality.filtered_share(st))),
        ("quality per week: kept", lambda: quality.filtered_share(st)),
        ("treatment effects, season (before)", effects_before),
        ("treatment effects, season: cold (after)", cold(lambda: treatment.cached_effects(
            st, cfg.controls))),
        ("treatment effects, season: kept", lambda: treatment.cached_effects(st, cfg.controls)),
        ("pCO2 daily pairs, season: cold", cold(lambda: pco2.cached_pairs(st, cfg))),
        ("pCO2 daily pairs, season: kept", lambda: pco2.cached_pairs(st, cfg)),
        ("reference pairs: every file parsed (before)", reference_before),
        ("reference pairs: files kept (after)", lambda: calibration.reference_pairs(st, cfg)),
        ("calibration spread, frc ± 2 h: cold", cold(lambda: calibration.spread(
            st, frc, 60.0))),
        ("calibration spread, frc ± 2 h: kept", lambda: calibration.spread(st, frc, 60.0)),
        ("fluxes kept-check (count, max computed)", lambda: rollups.fluxes_version(st)),
        ("samples kept-check (the session's window)", lambda: rollups.samples_version(
            st, frc.start, frc.end)),
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store-file", type=Path, required=True, help="from web.py --keep")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--only", default="", help="only the reads whose name has this text")
    args = ap.parse_args()

    from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
    from fluxfleet.store import open_store
    from fluxfleet.web import queries
    from fluxfleet.web.closure_models import closure_models

    with open_store(f"duckdb:///{args.store_file}", read_only=True) as st:
        last = st.last_samples()
        dev = sorted(last)[0]
        cyc = last[dev][2] - 3
        newest = max(t for t, _, _ in last.values())
        seen = max(t for t in st.read("devices")["last_seen"].to_pylist() if t is not None)

        def closure_rows_season() -> None:  # before: the device's season, then filtered
            for table in ("closures", "fluxes"):
                t = st.read(table, devices=[dev]).to_pandas()
                t[t["cyc"] == cyc]

        def closure_rows_keyed() -> None:
            for table in ("closures", "fluxes"):
                queries.closure_rows(st, table, dev, cyc)

        reads: list[tuple[str, Callable[[], Any]]] = [
            ("open + close the store (read-only)",
             lambda: open_store(f"duckdb:///{args.store_file}", read_only=True).close()),
            ("newest samples: one 2-day read (before)",
             lambda: queries._newest(st, seen - queries.NEWEST_LOOKBACK, None)),
            ("newest samples: 15 min, then the missing (after)",
             lambda: queries.newest_samples(st)),
            ("devices table (/api/devices)", lambda: queries.devices(st, newest)),
            ("closure rows: device's season (before)", closure_rows_season),
            ("closure rows: by key (after)", closure_rows_keyed),
            ("closure + samples (/api/closures/…)", lambda: queries.closure(st, dev, cyc)),
            ("every model (/api/closures/…/models)",
             lambda: closure_models(st, dev, cyc, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)),
            ("fluxes hour × variant, whole store (/api/fluxes)", lambda: queries.fluxes(st)),
        ]  # fmt: skip
        reads += season_reads(st, args.store_file)
        print(f"store {args.store_file}: {st.counts()['samples']:,} samples")
        print(f"load average before: {os.getloadavg()}")
        print(f"{'read':50} {'wall p50 [ms]':>14} {'CPU p50 [ms]':>13}")
        for name, fn in reads:
            if args.only and args.only not in name:
                continue
            w, c = timed(fn, args.runs)
            print(f"{name:50} {w * 1e3:14.0f} {c * 1e3:13.0f}")
    print(f"load average after: {os.getloadavg()}")
    print(f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")


if __name__ == "__main__":
    main()
