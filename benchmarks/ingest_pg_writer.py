"""The PostgreSQL ingest writer's batches under GIL contention, in-process (no broker).

The ``--quick`` backlog of ``benchmarks/ingest.py`` (50 chambers x 1.5 h) in the drain's
batches of 500 messages, prepared, then written one after another by ``store.write``
into a new database of the tests' PostgreSQL while ``--hogs`` Python threads spin (in
the ingest drain paho's and the receiving thread hold the GIL ≈ 80 % of the time).

    python benchmarks/ingest_pg_writer.py                    # 3 rounds, 1 hog
    python benchmarks/ingest_pg_writer.py --rounds 5 --hogs 0

Columns: the writes' wall time [s], the writing thread's CPU [s], the server backend's
CPU [s], and the writer's waits on the socket per batch (each releases the GIL and takes
it back: under contention up to the interpreter's switch interval each). Compare old
against new by putting the old sources first on ``PYTHONPATH``, alternating.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ingest import fleet_messages


def _hog(stop: threading.Event) -> None:
    """Pure Python until ``stop``: holds the GIL as long as the interpreter lets it."""
    x = 0
    while not stop.is_set():
        for i in range(200):
            x += i


def _counting(gen: Generator[Any, Any, Any], polls: list[int]) -> Generator[Any, Any, Any]:
    """``gen`` (a psycopg wait generator) passed through, its waits counted."""
    try:
        x = gen.send(None)
        while True:
            polls[0] += 1
            x = gen.send((yield x))
    except StopIteration as stop:
        return stop.value


def write_batches(
    dsn: str, built: list[Any], hogs: int, switch_s: float | None
) -> dict[str, float]:
    """Prepare ``built`` and write it into ``dsn`` with ``hogs`` spinning threads."""
    import psutil
    from fluxfleet.store import open_store

    with open_store(dsn) as st:
        server = psutil.Process(st.con.pgconn.backend_pid)  # type: ignore[attr-defined]
        prepare = getattr(st, "prepare", lambda b: b)
        prepared = [prepare(b) for b in built]
        polls = [0]
        wait = st.con.wait  # type: ignore[attr-defined]
        st.con.wait = lambda gen, *a, **k: wait(_counting(gen, polls), *a, **k)  # type: ignore[attr-defined]
        stop = threading.Event()
        threads = [threading.Thread(target=_hog, args=(stop,)) for _ in range(hogs)]
        was = sys.getswitchinterval()
        if switch_s is not None:
            sys.setswitchinterval(switch_s)
        for t in threads:
            t.start()
        try:
            time.sleep(0.02)
            s0, c0, t0 = sum(server.cpu_times()[:2]), time.thread_time(), time.perf_counter()
            for b in prepared:
                st.write(b)
            wall = time.perf_counter() - t0
            cpu, s1 = time.thread_time() - c0, sum(server.cpu_times()[:2])
        finally:
            stop.set()
            for t in threads:
                t.join()
            sys.setswitchinterval(was)
        assert st.counts()["samples"] == sum(b.samples.num_rows for b in prepared)
    return {"wall": wall, "cpu": cpu, "server": s1 - s0, "polls": polls[0] / len(prepared)}


def main() -> None:
    import psycopg
    from fluxfleet.ingest.batch import BatchBuilder

    from testsupport.services import run_postgres

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hogs", type=int, default=1, help="spinning Python threads")
    ap.add_argument("--switch-ms", type=float, default=None, help="the interpreter's [ms]")
    args = ap.parse_args()
    msgs = fleet_messages(50, 1.5)
    built = []
    for i in range(0, len(msgs), 500):
        bb = BatchBuilder({})
        bb.add_many([(t, p, 1_700_000_000_000) for t, p in msgs[i : i + 500]])
        built.append(bb.build())
    switch_s = None if args.switch_ms is None else args.switch_ms / 1000
    print(f"# {len(built)} batches, {args.hogs} hog(s), switch interval "
          f"{args.switch_ms or sys.getswitchinterval() * 1000:g} ms")  # fmt: skip
    print("| round | wall s | writer CPU s | server CPU s | waits/batch | load |")
    print("|---:|---:|---:|---:|---:|---:|")
    rows = []
    with run_postgres() as pg, psycopg.connect(pg.dsn, autocommit=True) as admin:
        for k in range(args.rounds):
            name = f"w{os.getpid()}_{k}"
            admin.execute(f"CREATE DATABASE {name}")
            r = write_batches(pg.dsn.rsplit("/", 1)[0] + f"/{name}", built, args.hogs, switch_s)
            rows.append(r)
            print(f"| {k} | {r['wall']:.3f} | {r['cpu']:.3f} | {r['server']:.3f} "
                  f"| {r['polls']:.1f} | {os.getloadavg()[0]:.1f} |", flush=True)  # fmt: skip
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"| median | {med['wall']:.3f} | {med['cpu']:.3f} | {med['server']:.3f} "
          f"| {med['polls']:.1f} | |")  # fmt: skip


if __name__ == "__main__":
    main()
