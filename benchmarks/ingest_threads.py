"""Where one drain's CPU goes, thread by thread: the ``--quick`` backlog of
``benchmarks/ingest.py`` (50 chambers x 1.5 h = 5,050 QoS 1 messages) queued at a real
Mosquitto, then drained by the ingestor into DuckDB and PostgreSQL.

    python benchmarks/ingest_threads.py            # 3 drains per backend
    python benchmarks/ingest_threads.py --rounds 5

Columns: the drain's wall time [s]; CPU time [s] of the whole process, of paho's network
thread (receives, sends PUBACKs), of the receiving thread (validates and builds batches:
``Ingestor.run``), of the writer thread (``store.write``), the rest (the store's own
threads), and PostgreSQL's server backend behind the writer. CPU, not wall time, is what
compares on a shared machine; the load is printed beside each row.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ingest import _backend, _cpu, fleet_messages, make_session, publish


def _thread_cpu(target: Any, into: dict[str, float], name: str) -> Any:
    """``target`` wrapped to record its thread's CPU time [s] in ``into[name]``."""

    def run(*a: Any, **k: Any) -> Any:
        t = time.thread_time()
        try:
            return target(*a, **k)
        finally:
            into[name] = time.thread_time() - t

    return run


def drain(host: str, port: int, n: int, url: str, client_id: str) -> dict[str, float]:
    """Drain ``n`` queued messages into ``url``; wall and CPU figures (module docstring)."""
    from fluxfleet.ingest.mqtt import Ingestor
    from fluxfleet.store import open_store

    cpu: dict[str, float] = {}
    with open_store(url) as st:
        server = _backend(st)
        ing = Ingestor(host, port, st, client_id=client_id, receive_maximum=1000, linger_s=0.05)
        paho_main = ing.client._thread_main
        ing.client._thread_main = _thread_cpu(paho_main, cpu, "paho")  # type: ignore[method-assign]
        ing._write_loop = _thread_cpu(ing._write_loop, cpu, "writer")  # type: ignore[method-assign]
        server0, process0, main0 = _cpu(server), time.process_time(), time.thread_time()
        t0 = time.perf_counter()
        ing.start()
        ing.run(until=lambda: ing.stats.messages >= n)
        wall = time.perf_counter() - t0
        main = time.thread_time() - main0
        ing.close()  # joins the writer and paho's thread: their CPU is in
        process = time.process_time() - process0
        assert ing.stats.messages == n, (ing.stats.messages, n)
        return {
            "wall": wall,
            "process": process,
            "paho": cpu["paho"],
            "receiving": main,
            "writer": cpu["writer"],
            "rest": process - cpu["paho"] - main - cpu["writer"],
            "server": _cpu(server) - server0,
            "batches": float(ing.stats.batches),
        }


def main() -> None:
    from fluxfleet.ingest.broker import Mosquitto
    from fluxfleet.sim.broker import find_mosquitto

    from testsupport.services import run_postgres

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="drains per backend")
    args = ap.parse_args()
    exe = find_mosquitto()
    if exe is None:
        raise SystemExit("ingest_threads: mosquitto is not installed (apt-get install mosquitto)")
    backlog = fleet_messages(50, 1.5)
    n = len(backlog)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} UTC, {n:,} messages a drain, {os.cpu_count()} CPUs")
    print(
        "\n| backend | wall s | CPU s process | paho | receiving | writer | rest "
        "| server | batches | load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in range(args.rounds):
        for name in ("DuckDB", "PostgreSQL"):
            with contextlib.ExitStack() as stack:  # a new broker and store every drain
                td = stack.enter_context(tempfile.TemporaryDirectory())
                br = stack.enter_context(Mosquitto(exe, Path(td) / "b"))
                if name == "DuckDB":
                    url = f"duckdb:///{td}/s.duckdb"
                else:
                    url = stack.enter_context(run_postgres()).dsn
                cid = f"threads-{k}"
                make_session(br.host, br.port, cid)
                publish(br.host, br.port, backlog)
                load = os.getloadavg()[0]
                r = drain(br.host, br.port, n, url, cid)
                server = f"{r['server']:.2f}" if name == "PostgreSQL" else ""
                print(
                    f"| {name} | {r['wall']:.2f} | {r['process']:.2f} | {r['paho']:.2f} "
                    f"| {r['receiving']:.2f} | {r['writer']:.2f} | {r['rest']:.2f} "
                    f"| {server} | {r['batches']:.0f} | {load:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
