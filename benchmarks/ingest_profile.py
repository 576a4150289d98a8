"""Where the ingestor's writer spends its CPU, in-process (no broker): the backlog of
``benchmarks/ingest.py --quick`` (50 chambers × 1.5 h) in batches of 1,000 messages.

    python benchmarks/ingest_profile.py            # CPU-time table: validation, store.write
    python benchmarks/ingest_profile.py --profile  # plus cProfile's top functions

CPU time (``time.process_time``, best of 3), not wall time: the machine is shared.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import fleet_messages

RECEIVED_MS = 1_700_000_000_000


def cpu_s(f: Callable[[], Any], repeat: int = 3) -> float:
    """Best CPU time of ``repeat`` calls of ``f`` [s]."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        f()
        best = min(best, time.process_time() - t)
    return best


def pg_write(built: list[Any]) -> list[tuple[str, float]]:
    """CPU of ``store.write`` into PostgreSQL: this process, and the server backend that
    serves its connection (the tests' launcher; nothing if PostgreSQL is not installed)."""
    import psutil
    from fluxfleet.store import open_store

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from testsupport.services import run_postgres

    try:
        ctx = run_postgres()
        pg = ctx.__enter__()
    except BaseException as exc:  # no server installed: say so, keep the rest
        print(f"PostgreSQL skipped: {exc}")
        return []
    try:
        with open_store(pg.dsn) as st:
            server = psutil.Process(st.con.pgconn.backend_pid)  # type: ignore[attr-defined]
            # (a store without prepare, before 2026-12-07: all of it in write)
            prepare = getattr(st, "prepare", lambda b: b)
            prep = cpu_s(lambda: [prepare(b) for b in built])
            prepared = [prepare(b) for b in built]
            t0 = sum(server.cpu_times()[:2])
            own = cpu_s(lambda: [st.write(b) for b in prepared], repeat=1)
            srv = sum(server.cpu_times()[:2]) - t0
    finally:
        ctx.__exit__(None, None, None)
    return [
        ("store.prepare, PostgreSQL (the ingestor's receiving thread)", prep),
        ("store.write of the prepared batches, PostgreSQL, this process (first write)", own),
        ("store.write, PostgreSQL, its server backend", srv),
    ]


def main() -> None:
    import fluxfleet.ingest.mqtt  # noqa: F401  (what the ingestor imports: pandas among them)
    from fluxfleet.ingest.batch import BatchBuilder
    from fluxfleet.store import open_store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = ap.parse_args()
    msgs = fleet_messages(50, 1.5)
    batches = [msgs[i : i + 1000] for i in range(0, len(msgs), 1000)]

    def per_message() -> list[Any]:
        out = []
        for b in batches:
            bb = BatchBuilder({})
            for t, p in b:
                bb.add(t, p, RECEIVED_MS)
            out.append(bb.build())
        return out

    def per_batch() -> list[Any]:
        out = []
        for b in batches:
            bb = BatchBuilder({})
            bb.add_many([(t, p, RECEIVED_MS) for t, p in b])
            out.append(bb.build())
        return out

    def per_batch_orjson() -> list[Any]:
        """The batch path without Arrow's reader: every telemetry message through orjson."""
        from fluxfleet.ingest import fastcheck
        from fluxfleet.ingest.proven import TelemetryRows

        arrow = fastcheck.prove_columnar
        fastcheck.prove_columnar = lambda msgs, *a: (  # type: ignore[assignment]
            TelemetryRows.empty(),
            [i for i, (t, _) in enumerate(msgs) if t.endswith("/telemetry")],
        )
        try:
            return per_batch()
        finally:
            fastcheck.prove_columnar = arrow

    built = per_batch()
    with tempfile.TemporaryDirectory() as td, open_store(f"duckdb:///{td}/p.duckdb") as st:
        write_s = cpu_s(lambda: [st.write(b) for b in built], repeat=1)
    n = len(msgs)
    rows = [
        ("json.loads(payload.decode()) (what the bare subscriber does)",
         cpu_s(lambda: [json.loads(p.decode()) for _, p in msgs])),
        ("orjson.loads(payload)", cpu_s(lambda: [orjson.loads(p) for _, p in msgs])),
        ("decode + validate + build, per message (protocol)", cpu_s(per_message)),
        ("decode + validate + build, per batch, orjson (fastcheck alone)",
         cpu_s(per_batch_orjson)),
        ("decode + validate + build, per batch, Arrow's JSON reader (arrowcheck)",
         cpu_s(per_batch)),
        ("store.write, DuckDB (first write of these rows)", write_s),
        *pg_write(built),
    ]  # fmt: skip
    print(
        f"# {n:,} messages in {len(batches)} batches; CPU s (best of 3); "
        f"load {os.getloadavg()[0]:.1f}\n"
    )
    print("| step | CPU s | µs/message |")
    print("|---|---:|---:|")
    for name, s in rows:
        print(f"| {name} | {s:.3f} | {1e6 * s / n:.0f} |")
    if args.profile:
        for name, f in (
            ("per message", per_message),
            ("per batch, orjson", per_batch_orjson),
            ("per batch, Arrow", per_batch),
        ):
            prof = cProfile.Profile()
            prof.runcall(f)
            print(f"\n## cProfile, {name}")
            pstats.Stats(prof).sort_stats("tottime").print_stats(10)


if __name__ == "__main__":
    main()
