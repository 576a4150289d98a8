"""Benchmark: the web console over a big store — first useful paint of every page and
p50/p95 of every API route.

The store is a DuckDB file of ``--chambers`` chambers × ``--days`` days made by the
season-store generator (``benchmarks/season_store.py``: 3-s samples, one closures row per
10-min cycle, written with ``Store.write``), plus one ``fluxes`` row per closure (flux from
the closure's slope; QC flags as a season has them: ``daylight`` by day, a few
``below_threshold`` and ``stuck_chamber``) written with ``Store.write_fluxes``, and a
``devices`` row per chamber. Then the real ``fluxfleet serve`` runs on it (a subprocess on
a free port) and

* every API route is requested ``--runs`` times (after one warm-up) with ``urllib``: p50
  and p95 of the wall time to the last byte, and the answer's size;
* every page is opened ``--runs`` times in headless Debian Chromium (Playwright over CDP, the
  tests' launcher): *first useful paint* is the time from ``page.goto`` to the moment the
  page shows its data (the server-rendered Fleet page: its table; the others: the
  ``data-loaded`` mark their script sets after drawing), with the browser's own
  first-contentful-paint beside it.

Targets (issue 11): paint < 1 s, API p95 < 300 ms.

    python benchmarks/web.py --days 7       # a few minutes (the reduced size)
    python benchmarks/web.py --days 30      # a month: ~43 M samples

Prints a table; the store is deleted at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

TARGET_PAINT_S = 1.0
TARGET_P95_S = 0.300


def fluxes_of(closures: pa.Table, rng: np.random.Generator) -> pa.Table:
    """One ``fluxes`` row per closure: flux from the device's slope, QC flags as in a
    season (daylight by day, some below threshold, a stuck chamber now and then)."""
    from fluxfleet.store import schema

    n = closures.num_rows
    slope = closures["slope_ppm_s"].to_numpy()
    # F = dC/dt · P V / (R T A): 101325 Pa, 7465 cm³, 293 K, 452.4 cm² → ≈ 6.8 per ppm/s
    flux = slope * 101325 * 7.465e-3 / (8.314 * 293.15 * 452.4e-4)
    start_ms = closures["time_close"].cast(pa.int64()).to_numpy() + 3000
    hour = (start_ms // 3_600_000) % 24
    flags = np.full(n, "", dtype=object)
    flags[(hour >= 7) & (hour < 19)] = "daylight"
    low = rng.random(n) < 0.03
    flags[low] = [",".join(x for x in (f, "below_threshold") if x) for f in flags[low]]
    stuck = rng.random(n) < 0.01
    flags[stuck] = [",".join(x for x in (f, "stuck_chamber") if x) for f in flags[stuck]]
    t = pa.array(start_ms, pa.int64()).cast(schema.TIME)
    return pa.table(
        {
            "device": closures["device"],
            "cyc": closures["cyc"],
            "location": closures["location"],
            "start": t,
            "end": pa.array(start_ms + 177_000, pa.int64()).cast(schema.TIME),
            "flux_umol_m2_s": flux,
            "flux_se_umol_m2_s": np.abs(flux) * 0.02,
            "model": pa.array(np.where(rng.random(n) < 0.5, "hm", "robust"), pa.string()),
            "flags": pa.array(flags, pa.string()),
            "n_fit": pa.array(np.full(n, 53), pa.int64()),
            "r2": np.full(n, 0.99),
            "deadband_s": np.full(n, 20.0),
            "computed": closures["received"],
        }
    ).cast(schema.FLUXES)


def make_store(path: Path, days: int, chambers: int) -> dict[str, int]:
    """Fill a DuckDB store at ``path``; rows per table."""
    import season_store
    from fluxfleet.sim.truth import device_id, location_code
    from fluxfleet.store import Batch, open_store, schema

    rng = np.random.default_rng(11)
    with open_store(f"duckdb:///{path}") as st:
        for day in range(days):
            samples, closures = season_store.day_batch(day, chambers, rng)
            st.write(Batch(samples=samples, closures=closures))
            st.write_fluxes(fluxes_of(closures, rng))
        last = st.last_samples()
        ids = [device_id(i) for i in range(chambers)]
        devices = pa.table(
            {
                "device": ids,
                "last_seen": [last[d][0] for d in ids],
                "location": [location_code(i) for i in range(chambers)],
                "firmware": ["1.4.2"] * chambers,
                "slot": ["a"] * chambers,
                "boot": [1] * chambers,
                "reset_cause": ["power"] * chambers,
                "uptime_ms": [0] * chambers,
                "skew_ms": [0] * chambers,
                "ntp": [True] * chambers,
                "lost": [0] * chambers,
                "state": ["online"] * chambers,
                "state_time": [last[d][0] for d in ids],
            }
        ).cast(schema.DEVICES)
        st.write(Batch(devices=devices))
        return st.counts()


def timed_get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"{url}: HTTP {r.status}")
    return time.perf_counter() - t0, len(body)


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=7, help="days of data (default 7)")
    ap.add_argument("--chambers", type=int, default=50, help="chambers (default 50)")
    ap.add_argument("--runs", type=int, default=20, help="requests per route (default 20)")
    ap.add_argument("--page-runs", type=int, default=5, help="loads per page (default 5)")
    ap.add_argument("--keep", action="store_true", help="keep the store file")
    ap.add_argument(
        "--store-file", type=Path, help="use this store made by an earlier --keep run as it is"
    )
    args = ap.parse_args()
    if args.days < 1 or args.chambers < 4 or args.runs < 2 or args.page_runs < 1:
        ap.error("--days >= 1, --chambers >= 4, --runs >= 2, --page-runs >= 1")

    from testsupport.services import free_port, run_chromium, wait_until

    work = Path(tempfile.mkdtemp(prefix="web-bench-"))
    path = work / "season.duckdb"
    t0 = time.perf_counter()
    if args.store_file:
        from fluxfleet.store import open_store

        path, args.keep = args.store_file, True
        with open_store(f"duckdb:///{path}", read_only=True) as st:
            counts = st.counts()
    else:
        counts = make_store(path, args.days, args.chambers)
    print(
        f"store: {counts['devices']} chambers: {counts['samples']:,} samples, "
        f"{counts['fluxes']:,} fluxes, {path.stat().st_size / 2**20:.0f} MB, "
        f"made in {time.perf_counter() - t0:.0f} s"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "fluxfleet"), "serve", "--store", f"duckdb:///{path}",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(
            lambda: timed_get(base + "/api/devices")[0] >= 0,
            timeout_s=60,
            what="fluxfleet serve",
            proc=serve,
        )
        run(base, f"duckdb:///{path}", args, work, run_chromium)
    finally:
        serve.terminate()
        serve.wait(30)
        if args.keep:
            print(f"kept {path}")
        else:
            path.unlink(missing_ok=True)


def run(
    base: str, base_store: str, args: argparse.Namespace, work: Path, run_chromium: Any
) -> None:
    from fluxfleet.store import open_store

    with open_store(base_store, read_only=True) as st:
        last = st.last_samples()
    t_end = max(t for t, _, _ in last.values())
    day = (t_end - dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    week = (day - dt.timedelta(days=day.weekday())).strftime("%Y-%m-%d")
    d0 = day.strftime("%Y-%m-%dT%H:%M:%S")
    d1 = (day + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    h1 = (day + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    dev = sorted(last)[0]
    cyc = last[dev][2] - 3
    live = "&".join(f"device={d}" for d in sorted(last)[:4])
    routes = [
        ("/api/devices", "/api/devices"),
        ("/api/fluxes (season, hour × variant)", "/api/fluxes"),
        ("/api/fluxes?bin=day (season)", "/api/fluxes?bin=day"),
        ("/api/fluxes?level=location&bin=day", "/api/fluxes?level=location&bin=day"),
        ("/api/fluxes?filtered&night (season)", "/api/fluxes?filtered=true&night=true"),
        ("/api/fluxes?level=closure (1 h)", f"/api/fluxes?level=closure&from={d0}&to={h1}"),
        ("/api/fluxes?level=closure (1 day)", f"/api/fluxes?level=closure&from={d0}&to={d1}"),
        ("/api/closures/{device}/{cyc}", f"/api/closures/{dev}/{cyc}"),
        ("/api/closures/{device}/{cyc}/models", f"/api/closures/{dev}/{cyc}/models"),
        ("/api/live/samples (4 chambers)", f"/api/live/samples?{live}"),
        ("/api/live/fits (4 chambers)", f"/api/live/fits?{live}"),
        ("/api/quality (week)", "/api/quality"),
        ("/api/quality?level=table", "/api/quality?level=table"),
        ("/api/quality?level=flag", "/api/quality?level=flag"),
        ("/api/quality/closures (week, flag)",
         f"/api/quality/closures?week={week}&flag=stuck_chamber"),
        ("/api/devices?format=parquet", "/api/devices?format=parquet"),
        ("/api/fluxes?bin=day&format=csv", "/api/fluxes?bin=day&format=csv"),
    ]  # fmt: skip
    print(f"\nAPI routes ({args.runs} requests each after one warm-up; wall time to last byte)")
    print(f"{'route':44} {'p50 [ms]':>9} {'p95 [ms]':>9} {'size [kB]':>10}  p95 < 300 ms")
    for name, path in routes:
        timed_get(base + path)
        times, size = [], 0
        for _ in range(args.runs):
            t, size = timed_get(base + path)
            times.append(t)
        p95 = pct(times, 95)
        ok = "yes" if p95 < TARGET_P95_S else "NO"
        print(f"{name:44} {pct(times, 50) * 1e3:9.0f} {p95 * 1e3:9.0f} {size / 1e3:10.1f}  {ok}")

    pages = [
        ("Fleet /", "/", "#devices tbody tr"),
        ("Fluxes /fluxes (season, hourly)", "/fluxes", "body[data-loaded='true']"),
        ("Fluxes /fluxes?bin=day", "/fluxes?bin=day", "body[data-loaded='true']"),
        ("closure /closure/{device}/{cyc}", f"/closure/{dev}/{cyc}", "body[data-loaded='true']"),
        ("closure, every model", f"/closure/{dev}/{cyc}", "body[data-models-loaded='true']"),
        ("Live /live (4 chambers)", f"/live?{live}", "body[data-loaded='true']"),
        ("Quality /quality", "/quality", "body[data-loaded='true']"),
    ]
    from playwright.sync_api import sync_playwright

    print(f"\nPages ({args.page_runs} loads each after one warm-up, headless Chromium)")
    print(f"{'page':36} {'useful paint p50 [ms]':>22} {'max [ms]':>9} {'FCP p50 [ms]':>13}  < 1 s")
    with run_chromium(work) as chromium, sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium.cdp_url)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for name, path, ready in pages:
            useful, fcp = [], []
            for i in range(args.page_runs + 1):
                page = context.new_page()
                t0 = time.perf_counter()
                page.goto(base + path, wait_until="commit")
                page.wait_for_selector(ready, timeout=120_000)
                t = time.perf_counter() - t0
                paint = page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
                )
                page.close()
                if i:  # the first load warms the caches
                    useful.append(t)
                    fcp.append(float(paint) / 1e3 if paint is not None else float("nan"))
            p50 = statistics.median(useful)
            ok = "yes" if max(useful) < TARGET_PAINT_S else "NO"
            print(
                f"{name:36} {p50 * 1e3:22.0f} {max(useful) * 1e3:9.0f} "
                f"{statistics.median(fcp) * 1e3:13.0f}  {ok}"
            )
        context.close()
        browser.close()
    print(
        f"\n{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {json.dumps(vars(args), default=str)}"
    )


if __name__ == "__main__":
    main()
