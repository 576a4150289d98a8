"""Benchmark: a season of 50 chambers bulk-loaded into the fleet store, then exported.

A season is 50 chambers × 180 days of 3-s samples (28,800 a chamber a day, 1.44 M a day,
259 M in all). It is generated vectorised with numpy one day at a time (memory stays
bounded by one day) in the store's samples schema (``fluxfleet.store.schema.SAMPLES``:
device, seq, time, location, boot, cyc, phase, CO₂, RH, both temperatures, pressure, lux,
lid, fan, flags, received) with one closures row per closure (every 10 min: closing,
180 s closed, opening, flush, open). ``--path bulk`` (the default; the issue allows a bulk
load) appends each day in one statement into the store ``open_store`` made (DuckDB:
``INSERT … SELECT`` from Arrow, primary key kept, ``memory_limit`` from ``--memory-limit``;
PostgreSQL: ``COPY`` into a bare day table, then ``ATTACH PARTITION``, see
:func:`load_bulk_postgres`); ``--path write`` goes through ``Store.write(Batch)``, the
ingestor's path (idempotent on (device, seq)), in batches of ``--batch-minutes``.

Per backend (DuckDB file; a real PostgreSQL server started with the tests' launcher,
``testsupport.services.run_postgres``) it prints rows, load time, rows/s, size on disk and
the loader's peak resident memory (and the PostgreSQL server's), then times
``fluxfleet export --table samples --from DAY --to DAY+1 -o day.parquet`` as a user runs it
(a subprocess, 3 runs, p50) with that process's peak RSS and CPU time (user + sys) and,
for PostgreSQL, the server's CPU time during it (its backends included); unless
``--export-only``, also the peak RSS of a process running a whole-season aggregate
(``count``/``avg`` per device over every sample), how the day's rows are found (a day's
count against every row's; PostgreSQL's plan) and ``fluxfleet serve``'s first answers
with its peak RSS.

When fewer days than the season are loaded, the season's load time and size are
extrapolated linearly from the measured rate and bytes/row, and labelled as such.

    python benchmarks/season_store.py --days 3 --backend both     # a few minutes
    python benchmarks/season_store.py --days 3 --backend postgresql --export-only
    python benchmarks/season_store.py --backend duckdb            # the full season: ≈ 40 min

The generated stores are deleted at the end (``--keep`` keeps the DuckDB file; ``--pg-root
DIR`` keeps the PostgreSQL cluster and resumes an interrupted load)::

    python benchmarks/season_store.py --backend postgresql --pg-root /work/data/pgseason
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

SAMPLE_S = 3
SAMPLES_PER_DAY = 86_400 // SAMPLE_S
CYCLE = 200  # samples per closure cycle (10 min)
START = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
SEASON_DAYS = 180
# Disk planning (bytes a sample row takes, index included, generously rounded up from
# the measured sizes recorded in RESULTS.md) and the space left to others on a shared disk.
BYTES_PER_ROW = {"duckdb": 60, "postgresql": 220}  # through Store.write (--path write)
BYTES_PER_ROW_BULK = {"duckdb": 20, "postgresql": 200}  # bulk: 16 and 191 measured
RESERVE_BYTES = 10 * 2**30

REPO = Path(__file__).resolve().parents[1]


def _phases() -> np.ndarray:
    """The phase of each sample of one 10-min cycle (firmware phase names)."""
    ph = np.full(CYCLE, "open", dtype=object)
    ph[0] = "closing"
    ph[1:61] = "closed"  # 180 s
    ph[61] = "opening"
    ph[62:72] = "flush"
    return ph


PHASES = _phases()


def day_batch(day: int, chambers: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """Samples and closures of day ``day`` (0-based) of the season, all chambers."""
    from fluxfleet.sim.truth import device_id, location_code
    from fluxfleet.store import schema

    n = SAMPLES_PER_DAY
    day0_ms = int((START + dt.timedelta(days=day)).timestamp() * 1000)
    k = np.arange(n, dtype=np.int64)
    t_ms = day0_ms + k * SAMPLE_S * 1000  # same tick for every chamber
    hour = (k * SAMPLE_S / 3600.0) % 24
    daylight = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None)
    pos = k % CYCLE
    closed_s = np.where((pos >= 1) & (pos <= 61), (pos - 1) * SAMPLE_S, 0).astype(float)
    cyc_in_day = k // CYCLE
    cycles_per_day = n // CYCLE
    total = n * chambers
    # Rows interleaved by time as the fleet streams them: (time, chamber) order.
    ch = np.tile(np.arange(chambers), n)
    kk = np.repeat(k, chambers)
    chamber_slope = rng.uniform(0.05, 1.2, chambers)  # [ppm s⁻¹], one per chamber and day
    slope = chamber_slope[ch]
    co2 = (
        420.0
        + np.repeat(closed_s, chambers) * slope
        + rng.normal(0, 1.5, total)
        - np.repeat(daylight, chambers) * 15
    )
    temp = 12 + 10 * np.repeat(daylight, chambers) + rng.normal(0, 0.1, total)
    devices = np.array([device_id(i) for i in range(chambers)], dtype=object)
    locs = np.array([location_code(i) for i in range(chambers)], dtype=object)
    time_arr = pa.array(np.repeat(t_ms, chambers), pa.int64()).cast(schema.TIME)
    samples = pa.table(
        {
            "device": pa.DictionaryArray.from_arrays(pa.array(ch, pa.int32()), devices).cast(
                pa.string()
            ),
            "seq": pa.array(day * n + kk, pa.int64()),
            "time": time_arr,
            "location": pa.DictionaryArray.from_arrays(pa.array(ch, pa.int32()), locs).cast(
                pa.string()
            ),
            "boot": pa.array(np.ones(total, np.int64)),
            "cyc": pa.array(np.repeat(day * cycles_per_day + cyc_in_day, chambers)),
            "phase": pa.DictionaryArray.from_arrays(
                pa.array(np.repeat(pos, chambers).astype(np.int32)), PHASES
            ).cast(pa.string()),
            "co2_ppm": co2.round(1),
            "rh_percent": (
                70 - 20 * np.repeat(daylight, chambers) + rng.normal(0, 0.5, total)
            ).round(1),
            "scd30_temperature_c": (temp + 1.8).round(2),
            "temperature_c": temp.round(2),
            "pressure_hpa": (1013 + rng.normal(0, 0.3, total)).round(2),
            "lux": (np.repeat(daylight, chambers) * 40_000).round(0),
            "lid_deg": pa.array(np.where(np.repeat(closed_s, chambers) > 0, 0, 90), pa.int16()),
            "fan_pct": pa.array(np.full(total, 40), pa.int16()),
            "flags": pa.array(np.zeros(total), pa.int16()),
            "received": time_arr,
        }
    ).cast(schema.SAMPLES)
    # One closures row per closure: the device's own summary at its lid-open.
    starts = np.arange(0, n, CYCLE)
    nc = len(starts) * chambers
    cch = np.tile(np.arange(chambers), len(starts))
    tc = np.repeat(day0_ms + starts * SAMPLE_S * 1000, chambers)
    cslope = chamber_slope[cch]
    close = pa.array(tc, pa.int64()).cast(schema.TIME)
    opened = pa.array(tc + 183_000, pa.int64()).cast(schema.TIME)
    closures = pa.table(
        {
            "device": pa.array(devices[cch], pa.string()),
            "cyc": pa.array(np.repeat(day * cycles_per_day + np.arange(len(starts)), chambers)),
            "boot": pa.array(np.ones(nc, np.int64)),
            "location": pa.array(locs[cch], pa.string()),
            "time_close": close,
            "time_open": opened,
            "closed_ms": pa.array(np.full(nc, 180_000, np.int64)),
            "extended_ms": pa.array(np.zeros(nc, np.int64)),
            "n": pa.array(np.full(nc, 60, np.int64)),
            "co2_start_ppm": np.full(nc, 420.0),
            "co2_end_ppm": 420.0 + 177 * cslope,
            "slope_ppm_s": cslope,
            "r2": np.full(nc, 0.99),
            "flags": pa.array(np.zeros(nc), pa.int16()),
            "received": opened,
        }
    ).cast(schema.CLOSURES)
    return samples, closures


# --------------------------------------------------------------------------- measuring


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children [MB] (0 if gone)."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += q.memory_info().rss
    return total / 2**20


class PeakWatcher:
    """Samples a process tree's RSS every 0.2 s in a thread; ``peak_mb`` is the maximum."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.peak_mb = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.pid is not None:
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def server_cpu_s(pid: int | None) -> float:
    """CPU time [s] (user + sys) of a server process tree so far: the process, its live
    children, and the children it has reaped (a PostgreSQL backend that served one client
    ends with it; the postmaster's ``children_*`` times then hold its CPU)."""
    import psutil

    if pid is None:
        return 0.0
    try:
        p = psutil.Process(pid)
        own = p.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        kids = p.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    for q in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = q.cpu_times()
            total += t.user + t.system
    return total


@dataclass
class ChildRun:
    wall_s: float
    rss_mb: float  # the child's peak
    server_mb: float  # the server's peak (PostgreSQL)
    text: str  # the child's stderr, then its CPU, the server's and the load
    cpu_s: float  # the child's user + sys
    server_cpu_s: float  # the server's user + sys during the run (PostgreSQL)


def run_child(cmd: list[str], server_pid: int | None) -> ChildRun:
    """Run ``cmd``: wall, CPU and peak RSS of it, and of the server (``server_pid``'s tree).

    The stderr text ends with the child's CPU time (user + sys), the server's CPU time
    during the run (PostgreSQL) and the load average.
    """
    # Peak RSS by GNU time's own child: a child forked from this (large) loader would
    # inherit its high-water mark in ru_maxrss.
    with tempfile.TemporaryDirectory() as tmp, PeakWatcher(server_pid) as server:
        stats, err = Path(tmp) / "time", Path(tmp) / "stderr"
        server_cpu0 = server_cpu_s(server_pid)
        t0 = time.perf_counter()
        with err.open("wb") as err_file:
            proc = subprocess.run(
                ["/usr/bin/time", "-f", "%M %U %S", "-o", str(stats), *cmd],
                stdout=subprocess.DEVNULL, stderr=err_file, check=False,
            )  # fmt: skip
        wall = time.perf_counter() - t0
        server_cpu = server_cpu_s(server_pid) - server_cpu0
        text = err.read_text(errors="replace")
        maxrss_kb, user_s, sys_s = (float(x) for x in stats.read_text().split()[-3:])
        text += f" [CPU {user_s + sys_s:.2f} s"
        text += f", server CPU {server_cpu:.2f} s" if server_pid is not None else ""
        text += f", load {os.getloadavg()[0]:.1f}]"
    if proc.returncode != 0:
        raise SystemExit(f"season_store: {' '.join(cmd)} failed ({proc.returncode}):\n{text}")
    return ChildRun(
        wall, maxrss_kb / 1024, server.peak_mb, text.strip(), user_s + sys_s, server_cpu
    )


def load_result(
    rows: int, wall: float, gen_s: float, target: Target, server_mb: float, **extra: float
) -> dict[str, float]:
    """One load's figures, as every loader reports them."""
    return {
        "rows": rows,
        "wall_s": wall,
        "write_s": wall - gen_s,
        **extra,
        "size_b": target.size(),
        "loader_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "server_mb": server_mb,
    }


def dir_size(path: Path) -> int:
    """Bytes under ``path`` (a file or a directory tree)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- backends


@dataclass
class Target:
    name: str
    url: str
    size: callable  # type: ignore[valid-type]
    server_pid: int | None


@contextlib.contextmanager
def duckdb_target(workdir: Path, keep: bool) -> Iterator[Target]:
    path = workdir / "season.duckdb"
    try:
        yield Target("duckdb", f"duckdb:///{path}", lambda: dir_size(path) + _wal(path), None)
    finally:
        if keep:
            print(f"  kept {path}")
        else:
            path.unlink(missing_ok=True)
            Path(f"{path}.wal").unlink(missing_ok=True)


def _wal(path: Path) -> int:
    wal = Path(f"{path}.wal")
    return wal.stat().st_size if wal.exists() else 0


@contextlib.contextmanager
def postgres_target(root: Path | None = None) -> Iterator[Target]:
    """A PostgreSQL server from the tests' launcher: throw-away, or kept in ``root``."""
    sys.path.insert(0, str(REPO))
    from testsupport.services import run_postgres  # the tests' launcher: initdb + pg_ctl

    with run_postgres(keep_root=root) as pg:
        import psycopg

        with psycopg.connect(pg.dsn) as con:
            pid = int(con.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
            import psutil

            postmaster = psutil.Process(pid).ppid()

        def size() -> int:
            with psycopg.connect(pg.dsn) as c:
                c.execute("CHECKPOINT")
                row = c.execute("SELECT pg_database_size(current_database())").fetchone()
                return int(row[0])  # type: ignore[index]

        yield Target("postgresql", pg.dsn, size, postmaster)


# --------------------------------------------------------------------------- the run


def check_disk(workdir: Path, backends: list[str], rows: int, bulk: bool = False) -> None:
    # The backends are loaded one after the other, each deleted before the next.
    per_row = BYTES_PER_ROW_BULK if bulk else BYTES_PER_ROW
    need = max(per_row[b] * rows for b in backends)
    free = shutil.disk_usage(workdir).free
    if need + RESERVE_BYTES > free:
        raise SystemExit(
            f"season_store: {rows:,} rows need about {need / 2**30:.0f} GB "
            f"({', '.join(f'{b} ≈ {per_row[b]} B/row' for b in backends)}) plus "
            f"{RESERVE_BYTES / 2**30:.0f} GB left to others; {workdir} has "
            f"{free / 2**30:.0f} GB free. Load fewer --days (the season is extrapolated)."
        )


def load(target: Target, days: int, chambers: int, batch_minutes: int) -> dict[str, float]:
    from fluxfleet.store import Batch, open_store

    rng = np.random.default_rng(9)
    per_batch = batch_minutes * 60 // SAMPLE_S * chambers
    rows = 0
    gen_s = 0.0
    with PeakWatcher(target.server_pid) as server:
        t0 = time.perf_counter()
        with open_store(target.url) as store:
            for day in range(days):
                g0 = time.perf_counter()
                samples, closures = day_batch(day, chambers, rng)
                gen_s += time.perf_counter() - g0
                c_per = max(1, closures.num_rows * per_batch // samples.num_rows)
                for i, off in enumerate(range(0, samples.num_rows, per_batch)):
                    batch = Batch(
                        samples=samples.slice(off, per_batch),
                        closures=closures.slice(i * c_per, c_per),
                    )
                    rows += store.write(batch).samples
                del samples, closures
                elapsed = time.perf_counter() - t0
                print(
                    f"  {target.name}: day {day + 1}/{days}, {rows:,} rows, "
                    f"{elapsed:.0f} s ({(elapsed - gen_s):.0f} s writing), "
                    f"loader RSS now {rss_mb(os.getpid()):,.0f} MB",
                    flush=True,
                )
            if target.name == "duckdb":
                store.con.execute("CHECKPOINT")  # type: ignore[attr-defined]
        wall = time.perf_counter() - t0
    return load_result(rows, wall, gen_s, target, server.peak_mb)


def load_bulk_duckdb(target: Target, days: int, chambers: int, memory_limit: str) -> dict:
    """Bulk path: each generated day appended in one ``INSERT … SELECT`` from Arrow.

    The store is opened (and so migrated) by ``open_store`` like any other, so the file
    holds exactly the schema the migrations create, the (device, seq) primary key
    included; the key's ART index is built as rows go in (a duplicate would fail the
    append). What the bulk path leaves out is only ``Store.write``'s per-batch work:
    ``ON CONFLICT DO NOTHING``, the de-duplication of each batch and the small commits.
    DuckDB's ``memory_limit`` (the store URL's query) bounds its buffer pool, the index's
    blocks included (``duckdb_memory()`` tag ``ART_INDEX``).
    """
    t0 = time.perf_counter()
    rows, gen_s = bulk_load_duckdb(
        f"{target.url}?memory_limit={memory_limit}", days, chambers, np.random.default_rng(9)
    )
    wall = time.perf_counter() - t0
    return load_result(rows, wall, gen_s, target, 0.0, cpu_s=sum(os.times()[:2]))


def bulk_load_duckdb(
    url: str,
    days: int,
    chambers: int,
    rng: np.random.Generator,
    extra: Callable[[int, pa.Table, pa.Table], dict[str, pa.Table]] | None = None,
    label: str = "duckdb",
) -> tuple[int, float]:
    """Append ``days`` generated days to the DuckDB store at ``url`` (opened, so migrated,
    by ``open_store``), each day's samples and closures in one transaction of
    ``INSERT … SELECT`` from Arrow; samples written and seconds spent generating.

    ``extra(day, samples, closures)`` returns more tables to append in the same
    transaction (name → Arrow table with a subset of the table's columns, by name), e.g.
    the day's ``fluxes`` (``benchmarks/web.py``). Progress is printed every 10 days.
    """
    from fluxfleet.store import open_store

    rows = 0
    gen_s = 0.0
    t0 = time.perf_counter()
    with open_store(url) as store:
        con = store.con  # type: ignore[attr-defined]
        for day in range(days):
            g0 = time.perf_counter()
            samples, closures = day_batch(day, chambers, rng)
            tables = {"samples": samples, "closures": closures}
            if extra is not None:
                tables.update(extra(day, samples, closures))
            gen_s += time.perf_counter() - g0
            con.execute("BEGIN TRANSACTION")
            for name, table in tables.items():
                con.register("stg", table)
                cols = ", ".join(f'"{c}"' for c in table.schema.names)
                con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM stg")
                con.unregister("stg")
            con.execute("COMMIT")
            rows += samples.num_rows
            del samples, closures, tables
            if day % 10 == 9 or day == days - 1:
                elapsed = time.perf_counter() - t0
                mem = con.execute(
                    "SELECT tag, memory_usage_bytes FROM duckdb_memory() "
                    "WHERE tag IN ('BASE_TABLE', 'ART_INDEX')"
                ).fetchall()
                print(
                    f"  {label} (bulk): day {day + 1}/{days}, {rows:,} rows, "
                    f"{elapsed:.0f} s ({(elapsed - gen_s):.0f} s writing), "
                    f"loader RSS now {rss_mb(os.getpid()):,.0f} MB, DuckDB "
                    + ", ".join(f"{t} {b / 2**20:,.0f} MB" for t, b in mem),
                    flush=True,
                )
        con.execute("CHECKPOINT")
    return rows, gen_s


def _attached_days(con: object) -> set[str]:
    """Names of the day partitions attached under ``samples``."""
    rows = con.execute(  # type: ignore[attr-defined]
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'samples'::regclass"
    ).fetchall()
    return {r[0] for r in rows}


def load_bulk_postgres(target: Target, days: int, chambers: int, log: Path | None = None) -> dict:
    r"""Bulk path: each day COPYed into a bare table, indexed, then attached as its partition.

    The store's migrations own the schema (``open_store`` creates and migrates it). A day's
    partition is made ``LIKE samples`` without its index, filled by one binary ``COPY …
    FROM STDIN`` (made by ``fluxfleet.store.pgcopy``, as the ingestor's ``Store.write``
    sends its samples), given a ``CHECK`` on its time range, then ``ATTACH``ed under the
    store's own name (``samples_YYYYMMDD``, the same bounds ``Store.write`` creates):
    PostgreSQL builds the partition's primary-key index in one sorted pass instead of row
    by row, and the ``CHECK`` spares the attach its validation scan (dropped afterwards).
    The result is what the store makes itself: the same partitions, the same index;
    ``\d+ samples`` lists them.

    With ``log`` (a kept cluster, ``--pg-root``) the load resumes: days already attached
    are skipped, a day whose table was filled but not attached is attached, and each day's
    times (wall, loader CPU, server CPU, load average) are appended to ``log`` as a JSON
    line, so that a season loaded over several runs reports the sum of its days. Each
    day's data come from its own seed, the same whichever run makes it.
    """
    import json

    import psycopg
    from fluxfleet.store import open_store
    from fluxfleet.store.pgcopy import binary_copy
    from psycopg import sql as psql

    rows = 0
    gen_s = copy_s = index_s = 0.0
    t0 = time.perf_counter()
    with (
        PeakWatcher(target.server_pid) as server,
        open_store(target.url),  # creates and migrates the schema
        psycopg.connect(target.url, autocommit=True) as con,
    ):
        con.execute("SET TIME ZONE 'UTC'")
        con.execute("SET maintenance_work_mem = '512MB'")
        attached = _attached_days(con)
        for day in range(days):
            lo = START + dt.timedelta(days=day)
            hi = lo + dt.timedelta(days=1)
            name = f"samples_{lo:%Y%m%d}"
            if name in attached:
                continue
            part = psql.Identifier(name)
            d0, cpu0, scpu0 = (
                time.perf_counter(),
                sum(os.times()[:2]),
                server_cpu_s(target.server_pid),
            )
            filled = con.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()[0]  # type: ignore[index]
            g = c = 0.0
            n_rows = 0
            if not filled:
                samples, closures = day_batch(day, chambers, np.random.default_rng([9, day]))
                n_rows = samples.num_rows
                c0 = time.perf_counter()
                g = c0 - d0
                with con.transaction():
                    con.execute(psql.SQL("CREATE TABLE {} (LIKE samples)").format(part))
                    for table, target_sql in (
                        (samples, part),
                        (closures, psql.Identifier("closures")),
                    ):
                        cols = psql.SQL(", ").join(map(psql.Identifier, table.schema.names))
                        with con.cursor().copy(
                            psql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
                                target_sql, cols
                            )
                        ) as copy:
                            copy.write(binary_copy(table))
                del samples, closures
                c = time.perf_counter() - c0
            else:  # filled by an interrupted run, not attached yet
                n_rows = con.execute(psql.SQL("SELECT count(*) FROM {}").format(part)).fetchone()[0]  # type: ignore[index]
            i0 = time.perf_counter()
            bounds = (psql.Literal(lo), psql.Literal(hi))
            with con.transaction():
                con.execute(
                    psql.SQL("ALTER TABLE {} ADD CONSTRAINT bulk_range "
                             "CHECK (time >= {} AND time < {})").format(part, *bounds)
                )  # fmt: skip
                con.execute(
                    psql.SQL("ALTER TABLE samples ATTACH PARTITION {} "
                             "FOR VALUES FROM ({}) TO ({})").format(part, *bounds)
                )  # fmt: skip
                con.execute(psql.SQL("ALTER TABLE {} DROP CONSTRAINT bulk_range").format(part))
            i = time.perf_counter() - i0
            gen_s, copy_s, index_s = gen_s + g, copy_s + c, index_s + i
            rows += n_rows
            if log is not None:
                entry = {
                    "day": day, "rows": n_rows, "utc": dt.datetime.now(dt.UTC).isoformat(),
                    "wall_s": time.perf_counter() - d0, "gen_s": g, "copy_s": c, "index_s": i,
                    "loader_cpu_s": sum(os.times()[:2]) - cpu0,
                    "server_cpu_s": server_cpu_s(target.server_pid) - scpu0,
                    "load": os.getloadavg()[0],
                }  # fmt: skip
                with log.open("a") as f:
                    f.write(json.dumps(entry) + "\n")
            elapsed = time.perf_counter() - t0
            print(
                f"  {target.name} (bulk): day {day + 1}/{days}, {rows:,} rows, {elapsed:.0f} s "
                f"(COPY {copy_s:.0f} s, index+attach {index_s:.0f} s), "
                f"free disk {shutil.disk_usage(tempfile.gettempdir()).free / 2**30:.1f} GB",
                flush=True,
            )
            if shutil.disk_usage(tempfile.gettempdir()).free < RESERVE_BYTES + 2 * 2**30:
                print(f"  stopping after day {day + 1}: the disk's reserve is reached")
                break
        if rows:  # (a resumed load with nothing left to load has its statistics)
            con.execute("ANALYZE samples")
    wall = time.perf_counter() - t0
    res = load_result(rows, wall, gen_s, target, server.peak_mb, cpu_s=sum(os.times()[:2]))
    if log is not None and log.exists():  # the season over every run that loaded it
        days_logged = [json.loads(line) for line in log.read_text().splitlines() if line]
        res["rows"] = sum(d["rows"] for d in days_logged)
        res["wall_s"] = sum(d["wall_s"] for d in days_logged)
        res["write_s"] = res["wall_s"] - sum(d["gen_s"] for d in days_logged)
        print(
            f"  {target.name}: {len(days_logged)} days in {log}: {res['rows']:,} rows, "
            f"{res['wall_s']:.0f} s wall, loader CPU "
            f"{sum(d['loader_cpu_s'] for d in days_logged):.0f} s, server CPU "
            f"{sum(d['server_cpu_s'] for d in days_logged):.0f} s",
            flush=True,
        )
    return res


def export_runs(target: Target, day: int, out: Path, runs: int = 3) -> dict[str, float]:
    t0 = START + dt.timedelta(days=day)
    t1 = t0 + dt.timedelta(days=1)
    cli = str(Path(sys.executable).with_name("fluxfleet"))
    cmd = [cli, "export", "--store", target.url, "--table", "samples",
           "--from", t0.isoformat(), "--to", t1.isoformat(), "-o", str(out)]  # fmt: skip
    done = []
    for _ in range(runs):
        r = run_child(cmd, target.server_pid)
        print(f"  {target.name} export: {r.wall_s:.2f} s wall, {r.rss_mb:,.0f} MB; {r.text}",
              flush=True)  # fmt: skip
        done.append(r)
    out.unlink(missing_ok=True)
    return {"p50_s": statistics.median(r.wall_s for r in done),
            "max_s": max(r.wall_s for r in done),
            "cpu_p50_s": statistics.median(r.cpu_s for r in done),
            "server_cpu_p50_s": statistics.median(r.server_cpu_s for r in done),
            "rss_mb": max(r.rss_mb for r in done),
            "server_mb": max(r.server_mb for r in done),
            "said": done[-1].text}  # type: ignore[dict-item]  # fmt: skip


QUERY = """
import sys
from fluxfleet.store import open_store
with open_store(sys.argv[1]) as st:
    st.counts()
    if sys.argv[1].startswith('duckdb'):
        rows = st.con.execute(
            "SELECT device, count(*), avg(co2_ppm) FROM samples GROUP BY device").fetchall()
    else:
        rows = st.con.execute(
            "SELECT device, count(*), avg(co2_ppm) FROM samples GROUP BY device").fetchall()
    print(len(rows))
"""


def query_run(target: Target) -> dict[str, float]:
    r = run_child([sys.executable, "-c", QUERY, target.url], target.server_pid)
    return {"wall_s": r.wall_s, "rss_mb": r.rss_mb, "server_mb": r.server_mb}


PRUNING = """
import sys, time, datetime as dt
from fluxfleet.store import open_store
t0 = dt.datetime.fromisoformat(sys.argv[2])
t1 = t0 + dt.timedelta(days=1)
day = "SELECT count(*), sum(co2_ppm) FROM samples WHERE time >= {p} AND time < {p}"
every = "SELECT count(*), sum(co2_ppm) FROM samples WHERE co2_ppm > -1"
with open_store(sys.argv[1], read_only=True) as st:
    p = "?" if sys.argv[1].startswith("duckdb") else "%s"
    for name, q, args in (("day", day.format(p=p), [t0, t1]), ("every row", every, [])):
        c = st.con.cursor() if p == "?" else st.con
        w = time.perf_counter()
        n = c.execute(q, args).fetchone()[0]
        print(f"{name}: {n:,} rows counted in {time.perf_counter() - w:.2f} s")
    if p == "%s":
        plan = st.con.execute("EXPLAIN (COSTS OFF) " + day.format(p=p), [t0, t1]).fetchall()
        scans = [r[0].strip() for r in plan if "Scan" in r[0]]
        print("plan scans: " + "; ".join(scans))
"""


def pruning_run(target: Target, day: int) -> str:
    """How the day's rows are found: a day's count against a count over every row, and
    (PostgreSQL) the plan's scans, which list the partitions it reads."""
    t0 = (START + dt.timedelta(days=day)).isoformat()
    out = subprocess.run(
        [sys.executable, "-c", PRUNING, target.url, t0],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def serve_run(target: Target, day: int) -> str:
    """``fluxfleet serve`` on the store: wall of its first answers (one closure's samples
    mid-day ``day``, then the fleet page) and the server process's peak RSS."""
    import socket
    import urllib.request

    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    cli = str(Path(sys.executable).with_name("fluxfleet"))
    cyc = day * (SAMPLES_PER_DAY // CYCLE) + SAMPLES_PER_DAY // CYCLE // 2
    paths = [f"/api/closures/ch000/{cyc}", "/"]
    proc = subprocess.Popen(
        [cli, "serve", "--store", target.url, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out = []
    try:
        with PeakWatcher(proc.pid) as peak:
            deadline = time.monotonic() + 120
            while True:  # up when it accepts a connection
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        return "serve did not start"
                    time.sleep(0.2)
            for path in paths:
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as r:
                    size = len(r.read())
                    out.append(
                        f"GET {path} {r.status} {size:,} B in {time.perf_counter() - t0:.2f} s"
                    )
        out.append(f"serve peak RSS {peak.peak_mb:,.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return "; ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=SEASON_DAYS)
    ap.add_argument("--chambers", type=int, default=50)
    ap.add_argument("--backend", choices=["duckdb", "postgresql", "both"], default="both")
    ap.add_argument("--dir", type=Path, default=None, help="Where the DuckDB store goes.")
    ap.add_argument("--batch-minutes", type=int, default=60,
                    help="Samples of this many minutes of the fleet per Store.write.")  # fmt: skip
    ap.add_argument("--path", choices=["bulk", "write"], default="bulk",
                    help="bulk: DuckDB appends a day at a time, PostgreSQL COPYs into the "
                    "partitions; write: Store.write batches (the ingestor's path).")  # fmt: skip
    ap.add_argument("--memory-limit", default="3GB",
                    help="DuckDB memory_limit of the bulk loader (URL query).")  # fmt: skip
    ap.add_argument("--export-only", action="store_true",
                    help="After the load, time the one-day export only (no aggregate, "
                    "pruning or serve runs).")  # fmt: skip
    ap.add_argument("--keep", action="store_true",
                    help="Keep the DuckDB store (in --dir) to look at it.")  # fmt: skip
    ap.add_argument("--pg-root", type=Path, default=None,
                    help="Keep the PostgreSQL cluster in this directory (bulk path): a later "
                    "run resumes the load where it stopped; the days' times are logged in "
                    "DIR/load-log.jsonl and the season's load time is their sum.")  # fmt: skip
    args = ap.parse_args()
    if args.days < 1 or args.chambers < 1 or args.batch_minutes < 1:
        ap.error("--days, --chambers and --batch-minutes must be at least 1")
    backends = ["duckdb", "postgresql"] if args.backend == "both" else [args.backend]
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="season-store-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = args.days * args.chambers * SAMPLES_PER_DAY
    bulk = args.path == "bulk"
    if "duckdb" in backends:
        check_disk(workdir, ["duckdb"], rows, bulk)
    pg_dir = args.pg_root or Path(tempfile.gettempdir())
    pg_dir.mkdir(parents=True, exist_ok=True)
    if "postgresql" in backends and not (args.pg_root and (args.pg_root / "data").exists()):
        check_disk(pg_dir, ["postgresql"], rows, bulk)  # (a resumed load has its space)
    season_rows = SEASON_DAYS * 50 * SAMPLES_PER_DAY
    print(f"{platform.node()}: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.days} days × "
          f"{args.chambers} chambers = {rows:,} samples")  # fmt: skip
    results = {}
    for b in backends:
        ctx = (
            duckdb_target(workdir, keep=args.keep)
            if b == "duckdb"
            else postgres_target(args.pg_root)
        )
        with ctx as target:
            if args.path == "bulk" and b == "duckdb":
                res = load_bulk_duckdb(target, args.days, args.chambers, args.memory_limit)
            elif args.path == "bulk":
                log = args.pg_root / "load-log.jsonl" if args.pg_root else None
                res = load_bulk_postgres(target, args.days, args.chambers, log)
            else:
                res = load(target, args.days, args.chambers, args.batch_minutes)
            day = min(args.days - 1, 1)
            res.update({f"export_{k}": v for k, v in
                        export_runs(target, day, workdir / "day.parquet").items()})  # fmt: skip
            if args.export_only:
                res.update({f"query_{k}": float("nan") for k in ("wall_s", "rss_mb", "server_mb")})
            else:
                res.update({f"query_{k}": v for k, v in query_run(target).items()})
                print(f"  {b} pruning (day {day + 1}):\n    " +
                      pruning_run(target, day).replace("\n", "\n    "), flush=True)  # fmt: skip
                print(f"  {b} serve: {serve_run(target, day)}", flush=True)
            results[b] = res
    print()
    print("| backend | rows | load s | write s | rows/s | size on disk | B/row | "
          "loader peak RSS | server peak RSS |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b, r in results.items():
        print(f"| {b} | {r['rows']:,} | {r['wall_s']:.0f} | {r['write_s']:.0f} | "
              f"{r['rows'] / r['wall_s']:,.0f} | {r['size_b'] / 2**30:.2f} GB | "
              f"{r['size_b'] / max(r['rows'], 1):.0f} | {r['loader_mb']:,.0f} MB | "
              f"{r['server_mb']:,.0f} MB |")  # fmt: skip
    print()
    print("| backend | export of one day, p50 (max) of 3 | its CPU s, p50 | server CPU s, p50 |"
          " export peak RSS | server peak RSS |"
          " season aggregate s | its peak RSS | server peak RSS |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b, r in results.items():
        server_cpu = f"{r['export_server_cpu_p50_s']:.2f}" if b == "postgresql" else "—"
        print(f"| {b} | {r['export_p50_s']:.2f} s ({r['export_max_s']:.2f}) | "
              f"{r['export_cpu_p50_s']:.2f} | {server_cpu} | "
              f"{r['export_rss_mb']:,.0f} MB | {r['export_server_mb']:,.0f} MB | "
              f"{r['query_wall_s']:.1f} | {r['query_rss_mb']:,.0f} MB | "
              f"{r['query_server_mb']:,.0f} MB |")  # fmt: skip
        print(f"  ({b} export said: {r['export_said']})")
    if args.days * args.chambers != SEASON_DAYS * 50:
        print()
        print(f"EXTRAPOLATED to the season ({season_rows:,} samples) from the rates above:")
        for b, r in results.items():
            rate = r["rows"] / r["wall_s"]
            bpr = r["size_b"] / max(r["rows"], 1)
            print(f"  {b}: load ≈ {season_rows / rate / 3600:.1f} h, "
                  f"size ≈ {season_rows * bpr / 2**30:.0f} GB (linear; not measured)")  # fmt: skip
    if args.dir is None and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
