"""Benchmark: the web console over a season store — first useful paint of every page,
p50/p95 of every API route, and ``fluxfleet report`` on a week and on the whole store.

The store is a DuckDB file of ``--chambers`` chambers × ``--days`` days (``--season``: 50 ×
180, 259 M samples) filled by the season-store bulk loader
(``season_store.bulk_load_duckdb``: a generated day's samples, closures and their fluxes
appended by ``INSERT … SELECT`` from Arrow into the store ``open_store`` migrated; fluxes
from the closure's slope, QC flags as a season has them: ``daylight`` by day, ~3 %
``below_threshold``, ~1 % ``stuck_chamber``), a ``devices`` row per chamber, and what the
other pages show (``benchmarks/web_content.py``: commands with their acks and an frc,
alarms, a rollout, an API token, and an analysis file beside the store with the control
mapping, a LI-8100 reference file and a soil pCO₂ table). Then the real ``fluxfleet serve``
runs on it (a subprocess on a free port, ``--bundles`` and the analysis file set) and

* every API route the app registers is requested ``--runs`` times (after one warm-up,
  whose time is shown too) with ``urllib``: p50 and p95 of the wall time to the last byte
  (server-sent streams: to the end of the first event), the server process's CPU time per
  request and the answer's size. The routes are enumerated from the app
  (``app.routes``): one the table below does not cover and :data:`NOT_MEASURED` does not
  name stops the run;
* every page is opened ``--page-runs`` times in headless Debian Chromium (Playwright over
  CDP, the tests' launcher): *first useful paint* is the time from ``page.goto`` to the
  moment the page shows its data (server-rendered pages: their table; the others: the
  ``data-loaded`` mark their script sets after drawing), with the browser's own
  first-contentful-paint beside it;
* ``fluxfleet report`` runs on the newest week and on the whole store (wall, CPU, RSS);
* ``--live`` (the live console: an ingestor stores a flux every ~12 s): the console runs in
  one process with the store writable (``benchmarks/web_live_server.py``), and before each
  measured request of the routes and pages that show fluxes it stores one new flux
  (``Store.write_fluxes``): "first request after a new flux" p50/p95 as rows of their own.
  The fluxes written are deleted at the end; the store file must be writable (a copy).

Targets (issue 11): paint < 1 s, API p95 < 300 ms.

    python benchmarks/web.py --days 7                 # a few minutes (the reduced size)
    python benchmarks/web.py --season --out /work/data/web/season.duckdb --build-only
    python benchmarks/web.py --store-file /work/data/web/season.duckdb   # measure on it
    python benchmarks/web.py --store-file COPY.duckdb --live-only --runs 10   # live rows

Prints tables; a store made in a temporary directory is deleted at the end (``--keep``
keeps it; ``--out`` and ``--store-file`` stores are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
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


def make_store(path: Path, days: int, chambers: int, memory_limit: str = "3GB") -> dict[str, int]:
    """Fill a DuckDB store at ``path`` with the season-store bulk loader (samples, closures
    and their fluxes appended a day at a time), then a ``devices`` row per chambers and the
    other pages' content (:func:`console_content`); rows per table."""
    import season_store
    from fluxfleet.store import open_store

    rng = np.random.default_rng(11)

    def fluxes_of_day(day: int, samples: pa.Table, closures: pa.Table) -> dict[str, pa.Table]:
        return {"fluxes": fluxes_of(closures, rng)}

    print(f"building {days} days × {chambers} chambers at {path} (bulk)", flush=True)
    season_store.bulk_load_duckdb(
        f"duckdb:///{path}?memory_limit={memory_limit}",
        days,
        chambers,
        rng,
        extra=fluxes_of_day,
        label="web store",
    )
    with open_store(f"duckdb:///{path}") as st:
        write_devices(st, chambers)
        return st.counts()


def write_devices(st: Any, chambers: int) -> None:
    """One ``devices`` row per chamber, last seen at its newest sample (``Store.write``)."""
    from fluxfleet.sim.truth import device_id, location_code
    from fluxfleet.store import Batch, schema

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


def timed_get(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, first_event: bool = False
) -> tuple[float, int]:
    """Wall time [s] to the last byte (``first_event``: to the end of a server-sent
    stream's first event) and the answer's size [B]; any status but 2xx stops the run."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        if first_event:
            body = b""
            while b"\n\n" not in body:
                line = r.readline()
                if not line:
                    break
                body += line
        else:
            body = r.read()
    return time.perf_counter() - t0, len(body)


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


# Routes the benchmark does not request, and why (every other route of the app must be in
# the route table of :func:`run`, or the run stops naming it).
NOT_MEASURED = {
    ("POST", "/api/commands"): "publishes to the MQTT broker and follows the acks (no broker "
    "here); its page and the ack stream are measured",
    ("POST", "/api/rollouts"): "starts a rollout driver thread that publishes to the fleet",
    ("POST", "/api/devices"): "registers a device for good in the kept store",
}


Route = tuple[str, str, "re.Pattern[str]"]


def app_routes(url: str, analysis: Path, bundles: Path) -> list[Route]:
    """(method, path, path regex) of every route the console app registers (the
    ``/static`` mount as a GET route)."""
    from fluxfleet.settings import Settings
    from fluxfleet.web import create_app

    app = create_app(Settings(store=url, analysis=analysis, bundles=bundles))
    out = []
    for r in app.routes:
        for m in sorted(getattr(r, "methods", None) or {"GET"}):
            if m != "HEAD":
                out.append((m, r.path, r.path_regex))  # type: ignore[attr-defined]
    return out


def route_of(routes: list[Route], method: str, path: str) -> tuple[str, str]:
    """The app route (method, path) that answers ``method path`` (first match wins, as in
    the app)."""
    bare = path.split("?")[0]
    for m, p, rx in routes:
        if m == method and rx.match(bare):
            return m, p
    raise SystemExit(f"web.py: no route of the app answers {method} {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=7, help="days of data (default 7)")
    ap.add_argument("--chambers", type=int, default=50, help="chambers (default 50)")
    ap.add_argument("--runs", type=int, default=20, help="requests per route (default 20)")
    ap.add_argument("--page-runs", type=int, default=5, help="loads per page (default 5)")
    ap.add_argument("--report-runs", type=int, default=1, help="runs of each report (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the store file")
    ap.add_argument("--season", action="store_true", help="a season: --days 180 --chambers 50")
    ap.add_argument("--out", type=Path, help="build the store at this path (and keep it)")
    ap.add_argument("--build-only", action="store_true", help="build the store, then stop")
    ap.add_argument(
        "--store-file",
        type=Path,
        help="use this store made by an earlier run (its console content is added if missing)",
    )
    ap.add_argument("--only", default="", help="run only routes/pages whose name has this text")
    ap.add_argument(
        "--live",
        action="store_true",
        help="also measure the first request after a new flux (writes to the store file)",
    )
    ap.add_argument("--live-only", action="store_true", help="only the --live measurements")
    args = ap.parse_args()
    if args.season:
        args.days, args.chambers = 180, 50
    args.live = args.live or args.live_only
    if args.days < 1 or args.chambers < 4 or args.runs < 2 or args.page_runs < 1:
        ap.error("--days >= 1, --chambers >= 4, --runs >= 2, --page-runs >= 1")
    if args.live and not (args.store_file or args.out):
        ap.error("--live writes fluxes into the store: give --store-file (a copy) or --out")
    if args.store_file and not args.store_file.is_file():
        ap.error(f"--store-file {args.store_file}: no such file")

    import season_store
    import web_content
    from fluxfleet.store import open_store

    from testsupport.services import free_port, run_chromium, wait_until

    print(f"load average {os.getloadavg()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="web-bench-"))
    path = work / "season.duckdb"
    if args.out:
        if args.out.exists():
            ap.error(f"--out {args.out}: exists (reuse it with --store-file)")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        path, args.keep = args.out, True
    t0, c0 = time.perf_counter(), time.process_time()
    if args.store_file:
        path, args.keep = args.store_file, True
    else:
        make_store(path, args.days, args.chambers)
    with open_store(f"duckdb:///{path}", read_only=True) as st:
        chambers = st.counts()["devices"]
        first = st.select("SELECT min(time_close) FROM closures").column(0)[0].as_py()
        days = (
            1
            + (st.select("SELECT max(time_close) FROM closures").column(0)[0].as_py() - first).days
        )
    content = web_content.add_content(path, chambers, days, season_store.START)
    args.days, args.chambers = days, chambers  # what the store holds (--store-file)
    with open_store(f"duckdb:///{path}", read_only=True) as st:
        counts = st.counts()
    print(
        f"store: {counts['devices']} chambers × {days} days: {counts['samples']:,} samples, "
        f"{counts['fluxes']:,} fluxes, {counts['alarms']} alarms, {counts['commands']} commands, "
        f"{path.stat().st_size / 2**20:,.0f} MB; made/checked in {time.perf_counter() - t0:.0f} s "
        f"(CPU {time.process_time() - c0:.0f} s), load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.build_only:
        print(f"kept {path}")
        if path.parent != work:
            shutil.rmtree(work, ignore_errors=True)
        return
    url = f"duckdb:///{path}"
    if args.live_only:
        run_live(url, args, work, run_chromium, content, free_port(), wait_until)
        print(f"load average {os.getloadavg()}")
        if path.parent != work or not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FLUXFLEET_ANALYSIS": str(content.analysis)}
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "fluxfleet"), "serve", "--store", url,
         "--port", str(port), "--bundles", str(content.bundles)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        wait_until(
            lambda: timed_get(base + "/openapi.json")[0] >= 0,
            timeout_s=60,
            what="fluxfleet serve",
            proc=serve,
        )
        run(base, url, args, work, run_chromium, content, serve.pid)
    finally:
        serve.terminate()
        serve.wait(30)
        if args.keep:
            print(f"kept {path}")
        else:
            path.unlink(missing_ok=True)
    report_runs(url, content, args, work)
    if args.live:
        run_live(url, args, work, run_chromium, content, free_port(), wait_until)
    print(f"load average {os.getloadavg()}")
    if path.parent != work or not args.keep:  # the browser's profile, the report
        shutil.rmtree(work, ignore_errors=True)


def cpu_of(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads [s]."""
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def run(
    base: str,
    url: str,
    args: argparse.Namespace,
    work: Path,
    run_chromium: Any,
    content: Any,
    server_pid: int,
) -> None:
    from fluxfleet.store import open_store

    with open_store(url, read_only=True) as st:
        last = st.last_samples()
    t_end = max(t for t, _, _ in last.values())
    day = (t_end - dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    week = (day - dt.timedelta(days=day.weekday())).strftime("%Y-%m-%d")
    d0 = day.strftime("%Y-%m-%dT%H:%M:%S")
    d1 = (day + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    h1 = (day + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    w0 = (day - dt.timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%S")
    # the longest span a page may get per hour (queries.MAX_HOURLY_JSON_SPAN: 31 days)
    m0 = (day + dt.timedelta(days=1) - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S")
    dev = sorted(last)[0]
    cyc = last[dev][2] - 3
    live = "&".join(f"device={d}" for d in sorted(last)[:4])
    auth = {"Authorization": f"Bearer {content.token}"}
    cmd, rid, aid = content.cmd_id, content.rollout_id, content.alarm_id
    # (name, method, request path, how: "" a plain answer, "sse" to the first event,
    # "auth" with the bearer token)
    G = "GET"
    routes: list[tuple[str, str, str, str]] = [
        ("devices", G, "/api/devices", ""),
        ("devices, Parquet", G, "/api/devices?format=parquet", ""),
        ("fluxes default (season: per day)", G, "/api/fluxes", ""),
        ("fluxes hour × variant (31 days)", G, f"/api/fluxes?bin=hour&from={m0}&to={d1}", ""),
        ("fluxes hour × variant (season), CSV", G, "/api/fluxes?bin=hour&format=csv", ""),
        ("fluxes bin=day (season)", G, "/api/fluxes?bin=day", ""),
        ("fluxes bin=auto (season)", G, "/api/fluxes?bin=auto", ""),
        ("fluxes location × day", G, "/api/fluxes?level=location&bin=day", ""),
        ("fluxes filtered, night", G, "/api/fluxes?filtered=true&night=true", ""),
        ("fluxes bin=day, CSV", G, "/api/fluxes?bin=day&format=csv", ""),
        ("fluxes bin=day, Parquet", G, "/api/fluxes?bin=day&format=parquet", ""),
        ("fluxes, closures of 1 h", G, f"/api/fluxes?level=closure&from={d0}&to={h1}", ""),
        ("fluxes, closures of 1 day", G, f"/api/fluxes?level=closure&from={d0}&to={d1}", ""),
        ("closure + samples", G, f"/api/closures/{dev}/{cyc}", ""),
        ("closure samples, CSV", G, f"/api/closures/{dev}/{cyc}?format=csv", ""),
        ("closure, every model", G, f"/api/closures/{dev}/{cyc}/models", ""),
        ("live samples (4 chambers)", G, f"/api/live/samples?{live}", ""),
        ("live fits (4 chambers)", G, f"/api/live/fits?{live}", ""),
        ("live stream, first event", G, f"/api/live/stream?{live}", "sse"),
        ("quality per week", G, "/api/quality", ""),
        ("quality per table", G, "/api/quality?level=table", ""),
        ("quality per flag", G, "/api/quality?level=flag", ""),
        ("quality per week, CSV", G, "/api/quality?format=csv", ""),
        ("quality flagged", G, f"/api/quality/closures?week={week}&flag=stuck_chamber", ""),
        ("treatment (season)", G, "/api/treatment", ""),
        ("treatment (1 week)", G, f"/api/treatment?from={w0}&to={d1}", ""),
        ("treatment, CSV", G, "/api/treatment?format=csv", ""),
        ("treatment hourly (31 days)", G, f"/api/treatment/hourly?from={m0}&to={d1}", ""),
        ("treatment hourly (season), CSV", G, "/api/treatment/hourly?format=csv", ""),
        ("treatment hourly, Parquet", G, "/api/treatment/hourly?format=parquet", ""),
        ("calibration spread (frc ± 2 h)", G, "/api/calibration/spread", ""),
        ("calibration spread, CSV", G, "/api/calibration/spread?format=csv", ""),
        ("calibration by concentration", G, "/api/calibration/by-concentration", ""),
        ("calibration reference pairs", G, "/api/calibration/reference", ""),
        ("calibration reference, Parquet", G, "/api/calibration/reference?format=parquet", ""),
        ("pCO2 daily pairs (season)", G, "/api/pco2", ""),
        ("pCO2 by variant, CSV", G, "/api/pco2?by=variant&format=csv", ""),
        ("pCO2 Fick fits", G, "/api/pco2/fits", ""),
        ("alarms (open)", G, "/api/alarms", ""),
        ("alarms (all), CSV", G, "/api/alarms?state=all&format=csv", ""),
        ("alarm ack (token)", "POST", f"/api/alarms/{aid}/ack", "auth"),
        ("command status (frc, 50 acks)", G, f"/api/commands/{cmd}", ""),
        ("command stream, first event", G, f"/api/commands/{cmd}/stream", "sse"),
        ("rollouts", G, "/api/rollouts", ""),
        ("rollout status", G, f"/api/rollouts/{rid}", ""),
        ("firmware manifest", G, "/firmware/manifest.json", ""),
        ("device's manifest", G, f"/firmware/d/{dev}/manifest.json", ""),
        ("bundle file", G, "/firmware/bundles/1.5.0/main.py", ""),
        ("device's bundle", G, f"/firmware/d/{dev}/bundles/1.5.0/main.py", ""),
        ("static asset", G, "/static/console.css", ""),
        ("OpenAPI schema", G, "/openapi.json", ""),
    ]  # fmt: skip
    # (name, route, request path, the selector that marks the page's data shown)
    loaded = "body[data-loaded='true']"
    pages = [
        ("Fleet /", "/", "#devices tbody tr"),
        ("Fluxes (season, bin=auto)", "/fluxes", loaded),
        ("Fluxes (31 days, hourly)", f"/fluxes?bin=hour&from={m0}&to={d1}", loaded),
        ("Fluxes (season, per day)", "/fluxes?bin=day", loaded),
        ("closure", f"/closure/{dev}/{cyc}", loaded),
        ("closure, every model", f"/closure/{dev}/{cyc}",
         "body[data-models-loaded='true']"),
        ("Live (4 chambers)", f"/live?{live}", loaded),
        ("Quality", "/quality", loaded),
        ("Treatment (season)", "/treatment", "table.effects td"),
        ("Calibration", "/calibration", loaded),
        ("Soil pCO2", "/pco2", loaded),
        ("Alarms", "/alarms", loaded),
        ("Commands (frc's acks)", f"/commands?cmd_id={cmd}", "#follow[data-loaded='true']"),
    ]  # fmt: skip
    registered = app_routes(url, content.analysis, content.bundles)
    covered = {route_of(registered, m, p) for _, m, p, _ in routes}
    covered |= {route_of(registered, "GET", p) for _, p, _ in pages}
    missing = {(m, p) for m, p, _ in registered} - covered - set(NOT_MEASURED)
    if missing:
        raise SystemExit(
            "web.py: routes the app registers that the benchmark does not cover (add them to "
            "the route or page table, or to NOT_MEASURED with the reason): "
            + ", ".join(f"{m} {p}" for m, p in sorted(missing))
        )
    print("\nroutes not measured:")
    for (m, p), why in sorted(NOT_MEASURED.items()):
        print(f"  {m} {p}: {why}")

    print(
        f"\nAPI routes ({args.runs} requests each after one warm-up; wall time to the last "
        "byte; 1st = the warm-up request; server CPU = the serve process's user+sys per "
        "request)"
    )
    print(
        f"{'route':34} {'request':58} {'1st [ms]':>8} {'p50 [ms]':>8} {'p95 [ms]':>8} "
        f"{'CPU [ms]':>8} "
        f"{'size [kB]':>10}  p95<300ms  load"
    )
    for name, method, path, how in routes:
        if args.only and args.only not in name:
            continue
        headers = auth if how == "auth" else None

        def get(path: str = path, method: str = method, h: Any = headers, how: str = how) -> Any:
            return timed_get(base + path, method, h, first_event=how == "sse")

        first, _ = get()  # the warm-up: a cold cache's cost
        times, size = [], 0
        c0 = cpu_of(server_pid)
        for _ in range(args.runs):
            t, size = get()
            times.append(t)
        cpu = (cpu_of(server_pid) - c0) / args.runs
        p95 = pct(times, 95)
        ok = "yes" if p95 < TARGET_P95_S else "NO"
        shown = path if len(path) <= 58 else path[:55] + "..."
        print(
            f"{name:34} {method[0]} {shown:56} {first * 1e3:8.0f} {pct(times, 50) * 1e3:8.0f} "
            f"{p95 * 1e3:8.0f} "
            f"{cpu * 1e3:8.0f} {size / 1e3:10.1f}  {ok:9}  {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    from playwright.sync_api import sync_playwright

    print(
        f"\nPages ({args.page_runs} loads each after one warm-up, headless Chromium; useful "
        "paint = goto until the page shows its data)"
    )
    print(
        f"{'page':30} {'request':40} {'paint p50 [ms]':>14} {'max [ms]':>9} {'FCP p50 [ms]':>13}"
        f" {'server CPU [ms]':>20}  < 1 s  load"
    )
    with run_chromium(work) as chromium, sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium.cdp_url)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for name, path, ready in pages:
            if args.only and args.only not in name:
                continue
            useful, fcp = [], []
            c0 = 0.0
            for i in range(args.page_runs + 1):
                if i == 1:
                    c0 = cpu_of(server_pid)
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
            cpu = (cpu_of(server_pid) - c0) / args.page_runs
            p50 = statistics.median(useful)
            ok = "yes" if max(useful) < TARGET_PAINT_S else "NO"
            print(
                f"{name:30} {path[:40]:40} {p50 * 1e3:14.0f} {max(useful) * 1e3:9.0f} "
                f"{statistics.median(fcp) * 1e3:13.0f} {cpu * 1e3:20.0f}  {ok:5}  "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
        context.close()
        browser.close()
    print(
        f"\n{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {json.dumps(vars(args), default=str)}"
    )


def run_live(
    url: str,
    args: argparse.Namespace,
    work: Path,
    run_chromium: Any,
    content: Any,
    port: int,
    wait_until: Any,
) -> None:
    """The live console (``web_live_server.py``): one new flux stored before each measured
    request of the routes and pages that show fluxes; p50/p95 of those requests."""
    from fluxfleet.store import open_store

    with open_store(url, read_only=True) as st:
        hi = st.select('SELECT max("start") AS t FROM fluxes').to_pylist()[0]["t"]
    day = hi.replace(hour=0, minute=0, second=0, microsecond=0)
    d1 = (day + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    w0 = (day - dt.timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%S")
    m0 = (day + dt.timedelta(days=1) - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S")
    routes = [
        ("fluxes default (season: per day)", "/api/fluxes"),
        ("fluxes hour × variant (31 days)", f"/api/fluxes?bin=hour&from={m0}&to={d1}"),
        ("fluxes location × day", "/api/fluxes?level=location&bin=day"),
        ("fluxes filtered, night", "/api/fluxes?filtered=true&night=true"),
        ("quality per week", "/api/quality"),
        ("quality per table", "/api/quality?level=table"),
        ("quality per flag", "/api/quality?level=flag"),
        ("treatment (season)", "/api/treatment"),
        ("treatment (1 week)", f"/api/treatment?from={w0}&to={d1}"),
        ("treatment hourly (31 days)", f"/api/treatment/hourly?from={m0}&to={d1}"),
        ("calibration reference pairs", "/api/calibration/reference"),
        ("pCO2 daily pairs (season)", "/api/pco2"),
        ("pCO2 by variant", "/api/pco2?by=variant"),
        ("pCO2 Fick fits", "/api/pco2/fits"),
    ]
    loaded = "body[data-loaded='true']"
    pages = [
        ("Fluxes (season, bin=auto)", "/fluxes", loaded),
        ("Quality", "/quality", loaded),
        ("Treatment (season)", "/treatment", "table.effects td"),
        ("Calibration", "/calibration", loaded),
        ("Soil pCO2", "/pco2", loaded),
    ]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, str(REPO / "benchmarks" / "web_live_server.py"), url, str(port),
         str(content.analysis)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip

    def tell(what: str) -> float:
        """Send ``what`` to the server; the CPU [s] its write took."""
        server.stdin.write(what + "\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        answer = server.stdout.readline().split()  # type: ignore[union-attr]
        if not answer or answer[0] != "ok":
            raise SystemExit(f"web.py: the live server did not store a flux ({answer})")
        return float(answer[1])

    try:
        wait_until(
            lambda: timed_get(base + "/openapi.json")[0] >= 0,
            timeout_s=60,
            what="the live console",
            proc=server,
        )
        print(
            f"\nLive console ({args.runs} requests each, ONE NEW FLUX STORED BEFORE EACH; "
            "warm-up = the first request after the server started, no new flux; server CPU "
            "= the serve process's user+sys per request, the flux's write taken off)"
        )
        print(
            f"{'route (after a new flux)':34} {'request':58} {'warm-up':>8} {'p50 [ms]':>8} "
            f"{'p95 [ms]':>8} {'CPU [ms]':>8} {'size [kB]':>10}  p95<300ms  load"
        )
        for name, path in routes:
            if args.only and args.only not in name:
                continue
            first, _ = timed_get(base + path)
            times, size, write_cpu = [], 0, 0.0
            c0 = cpu_of(server.pid)
            for _ in range(args.runs):
                write_cpu += tell("flux")
                t, size = timed_get(base + path)
                times.append(t)
            cpu = (cpu_of(server.pid) - c0 - write_cpu) / args.runs
            p95 = pct(times, 95)
            shown = path if len(path) <= 58 else path[:55] + "..."
            print(
                f"{name:34} G {shown:56} {first * 1e3:8.0f} {pct(times, 50) * 1e3:8.0f} "
                f"{p95 * 1e3:8.0f} {cpu * 1e3:8.0f} {size / 1e3:10.1f}  "
                f"{'yes' if p95 < TARGET_P95_S else 'NO':9}  {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        from playwright.sync_api import sync_playwright

        print(
            f"\nLive pages ({args.page_runs} loads each after one warm-up, ONE NEW FLUX STORED "
            "BEFORE EACH load)"
        )
        print(
            f"{'page (after a new flux)':30} {'request':40} {'paint p50 [ms]':>14} "
            f"{'max [ms]':>9} {'server CPU [ms]':>16}  < 1 s  load"
        )
        live_dir = work / "live"  # a browser profile of its own
        live_dir.mkdir(exist_ok=True)
        with run_chromium(live_dir) as chromium, sync_playwright() as p:
            browser = p.chromium.connect_over_cdp(chromium.cdp_url)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for name, path, ready in pages:
                if args.only and args.only not in name:
                    continue
                useful: list[float] = []
                c0, write_cpu = 0.0, 0.0
                for i in range(args.page_runs + 1):
                    if i == 1:
                        c0 = cpu_of(server.pid)
                    if i:
                        write_cpu += tell("flux")
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(base + path, wait_until="commit")
                    page.wait_for_selector(ready, timeout=120_000)
                    t = time.perf_counter() - t0
                    page.close()
                    if i:
                        useful.append(t)
                cpu = (cpu_of(server.pid) - c0 - write_cpu) / args.page_runs
                print(
                    f"{name:30} {path[:40]:40} {statistics.median(useful) * 1e3:14.0f} "
                    f"{max(useful) * 1e3:9.0f} {cpu * 1e3:16.0f}  "
                    f"{'yes' if max(useful) < TARGET_PAINT_S else 'NO':5}  "
                    f"{os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            context.close()
            browser.close()
    finally:
        try:
            tell("clean")
            server.stdin.close()
            server.wait(60)
        except (OSError, SystemExit, subprocess.TimeoutExpired):
            server.kill()
            server.wait(30)


def report_runs(url: str, content: Any, args: argparse.Namespace, work: Path) -> None:
    """``fluxfleet report`` as a user runs it, on the newest week and on the whole store:
    wall, CPU (user + sys, GNU time) and peak RSS of the process, and the file's size."""
    from fluxfleet.store import open_store

    if args.only and args.only not in "report":
        return
    with open_store(url, read_only=True) as st:
        lo, hi = st.select("SELECT min(start), max(start) FROM fluxes").to_pylist()[0].values()
    end = (hi + dt.timedelta(days=1)).date()
    spans = [("newest week", end - dt.timedelta(days=7), end), ("whole store", lo.date(), end)]
    cli = str(Path(sys.executable).parent / "fluxfleet")
    print(f"\nfluxfleet report ({args.report_runs} run(s) each; analysis file {content.analysis})")
    print(f"{'period':12} {'from':>10} {'to':>10} {'wall [s]':>9} {'CPU [s]':>8} "
          f"{'peak RSS [MB]':>13} {'size [kB]':>10}  load")  # fmt: skip
    for name, a, b in spans:
        out = work / "report.html"
        for _ in range(args.report_runs):
            stats = work / "time.txt"
            t0 = time.perf_counter()
            proc = subprocess.run(
                ["/usr/bin/time", "-f", "%M %U %S", "-o", str(stats), cli, "report",
                 "--store", url, "--analysis", str(content.analysis), "--from", str(a),
                 "--to", str(b), "-o", str(out)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"web.py: fluxfleet report failed:\n{proc.stderr}")
            rss_kb, user, sys_ = (float(x) for x in stats.read_text().split()[-3:])
            print(
                f"{name:12} {a!s:>10} {b!s:>10} {wall:9.1f} {user + sys_:8.1f} "
                f"{rss_kb / 1024:13,.0f} {out.stat().st_size / 1e3:10.0f}  "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
