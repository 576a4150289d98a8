"""Benchmark: where a PostgreSQL store's one-day export spends its time, part by part.

``fluxfleet export --store postgresql://… --table samples --from DAY --to DAY+1 -o
day.parquet`` (issue 9: < 2 s) is, in order, a process start (Python, typer, the settings,
duckdb), the server's binary ``COPY`` of the day, the ADBC driver decoding it into Arrow,
and DuckDB's layout, sort and zstd Parquet writing. This script starts a PostgreSQL with the
tests' launcher, bulk-loads ``--days`` days of 50 chambers with ``season_store``'s loader,
and times each part alone, then the whole command; every figure is wall, the client's CPU
(user + sys) and the server's CPU (its backends included), with the load average, p50 of
``--runs`` (the machine is shared: CPU is the figure to judge by).

The last lines give the bound that CPU sets on two cores: the parts' CPU summed, halved.

    python benchmarks/pg_export_parts.py            # ≈ 2 min (load, then 5 parts × 3)
    python benchmarks/pg_export_parts.py --runs 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import season_store as ss  # the loader and the timing helpers


def _server_cpu(pid: int | None) -> float:
    # A backend's CPU reaches the postmaster's reaped-children times only once it has
    # ended and been reaped: wait for that before reading.
    time.sleep(0.5)
    return ss.server_cpu_s(pid)


def in_process(fn: Callable[[], object], server_pid: int | None) -> tuple[float, float, float]:
    """(wall, client CPU, server CPU) [s] of ``fn()`` run in this process."""
    s0 = _server_cpu(server_pid)
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return wall, cpu, _server_cpu(server_pid) - s0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=2, help="Days loaded; day 2 is exported.")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.days < 2 or args.runs < 1:
        ap.error("--days must be at least 2 and --runs at least 1")

    import duckdb
    import psycopg
    from fluxfleet import export
    from fluxfleet.export_postgres import arrow_stream, select_sql

    day0 = ss.START + dt.timedelta(days=1)
    day1 = day0 + dt.timedelta(days=1)
    select = select_sql("samples", day0, day1, export._SAMPLES_READ)
    cli = str(Path(sys.executable).with_name("fluxfleet"))
    print(f"{os.uname().nodename}: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    with ss.postgres_target() as target, tempfile.TemporaryDirectory() as tmp:
        ss.load_bulk_postgres(target, args.days, 50)
        url, pid, out = target.url, target.server_pid, Path(tmp) / "day.parquet"

        def export_cmd(t0: dt.datetime, t1: dt.datetime) -> list[str]:
            return [cli, "export", "--store", url, "--table", "samples",
                    "--from", t0.isoformat(), "--to", t1.isoformat(), "-o", str(out)]  # fmt: skip

        def child(cmd: list[str]) -> tuple[float, float, float]:
            r = ss.run_child(cmd, pid)
            return r.wall_s, r.cpu_s, r.server_cpu_s

        def server_copy() -> None:  # the server's part alone: its binary COPY, discarded
            with psycopg.connect(url, autocommit=True) as con:
                con.execute(f"COPY ({select}) TO '/dev/null' (FORMAT binary)")

        def decode() -> None:  # + the driver's decoding (DuckDB only counts the rows)
            with arrow_stream(url, select) as stream:
                con = duckdb.connect(":memory:")
                con.register("rows", stream)
                con.execute("SELECT count(*) FROM rows").fetchall()

        day_table = duckdb.connect(":memory:")
        with arrow_stream(url, select) as stream:
            day_table.register("rows", stream)
            day_table.execute("CREATE TABLE stored_rows AS SELECT * FROM rows")

        def write() -> None:  # DuckDB's layout, sort and zstd Parquet, rows already in
            con = day_table.cursor()
            export._write(con, "samples", "stored_rows", out, {}, 1000.0, 100.0)

        parts: list[tuple[str, Callable[[], tuple[float, float, float]]]] = [
            ("process start: `fluxfleet export` of an empty range",
             lambda: child(export_cmd(ss.START - dt.timedelta(days=9), ss.START))),
            ("server: binary COPY of the day to /dev/null", lambda: in_process(server_copy, pid)),
            ("ADBC stream decoded, rows counted by DuckDB", lambda: in_process(decode, pid)),
            ("DuckDB: layout, sort, zstd Parquet (rows in memory)",
             lambda: in_process(write, pid)),
            ("the whole command: `fluxfleet export` of the day",
             lambda: child(export_cmd(day0, day1))),
        ]  # fmt: skip
        results: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n, _ in parts}
        for _ in range(args.runs):
            for name, run in parts:
                wall, cpu, server = run()
                load = os.getloadavg()[0]
                results[name].append((wall, cpu, server, load))
                print(f"  {name}: {wall:.2f} s wall, client CPU {cpu:.2f} s, "
                      f"server CPU {server:.2f} s, load {load:.1f}", flush=True)  # fmt: skip
        day_table.close()

    print()
    print("| part | wall s, p50 | client CPU s, p50 | server CPU s, p50 | load |")
    print("|---|---:|---:|---:|---:|")
    p50: dict[str, tuple[float, float, float]] = {}
    for name, rows in results.items():
        w, c, s = (statistics.median(r[i] for r in rows) for i in range(3))
        loads = [r[3] for r in rows]
        p50[name] = (w, c, s)
        print(f"| {name} | {w:.2f} | {c:.2f} | {s:.2f} | {min(loads):.1f}–{max(loads):.1f} |")
    names = list(p50)
    # The parts' CPU: start + decoding (its stream's server share counted once, as the
    # server's COPY) + DuckDB's writing + the server.
    client = p50[names[0]][1] + p50[names[2]][1] + p50[names[3]][1]
    server = p50[names[1]][2]
    print()
    print(
        f"parts' CPU: client {client:.2f} s + server {server:.2f} s = "
        f"{client + server:.2f} s; on 2 idle cores, spread perfectly, at best "
        f"{(client + server) / 2:.2f} s wall"
    )
    whole = p50[names[4]]
    print(
        f"the whole command: {whole[0]:.2f} s wall, client CPU {whole[1]:.2f} s, "
        f"server CPU {whole[2]:.2f} s (target < 2 s wall)"
    )


if __name__ == "__main__":
    main()
