"""Benchmark: fleet messages from Mosquitto into the store, against a bare paho subscriber.

Three measurements, all through a real Mosquitto on the deployed configuration
(deploy/mosquitto/mosquitto.conf):

1. **Drain rate.** A backlog of real fleet messages (telemetry of 20 samples each, cycle,
   status and meta, from the in-process simulator) is queued, QoS 1, for a persistent
   session; then the consumer connects and drains it. Consumers: a bare paho subscriber
   that only decodes the JSON, ``fluxfleet``'s ingestor into DuckDB, and into PostgreSQL
   (when its server is installed). Live fluxes off here (measured in 3).
2. **Publish-to-stored latency** at ``--chambers`` chambers publishing in real time
   (timestamps in the payloads are wall clock): p50/p99 from publish to committed.
3. **Closure-end-to-flux latency**: the simulated fleet replayed ``--speed`` times faster
   than real time into the ingestor with live fluxes; from the publish of each closure's
   ``cycle`` message to its first stored flux.

    python benchmarks/ingest.py            # the full comparison (a few minutes)
    python benchmarks/ingest.py --quick    # the same, reduced (under two minutes)

The last line prints ``ingest/bare ratio: X.XX`` (DuckDB ingest over the bare rate).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def fleet_messages(chambers: int, hours: float) -> list[tuple[str, bytes]]:
    """What ``chambers`` simulated chambers publish in ``hours`` (in-process, no broker)."""
    from fluxfleet.sim.fleet import FleetConfig
    from fluxfleet.sim.runner import run_fleet

    out: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=chambers, start_s=1_694_808_000.0, duration_s=hours * 3600, seed=2)
    run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
    return out


def _client(client_id: str) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def make_session(host: str, port: int, client_id: str) -> None:
    """Create a persistent session subscribed to the fleet, then leave (the broker queues)."""
    from fluxfleet.ingest.mqtt import topics
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    done = threading.Event()
    c = _client(client_id)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.on_connect = lambda c_, u, f, rc, p: c_.subscribe([(t, 1) for t in topics()])
    c.on_subscribe = lambda *a: done.set()
    c.connect(host, port, clean_start=True, properties=props)
    c.loop_start()
    assert done.wait(10), "no SUBACK"
    c.disconnect()
    c.loop_stop()


def publish(host: str, port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish ``messages`` QoS 1 and wait for every PUBACK."""
    c = _client("bench-publisher")
    c.max_inflight_messages_set(1000)
    c.connect(host, port)
    c.loop_start()
    infos = [c.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def drain_bare(host: str, port: int, n: int) -> float:
    """A paho subscriber that only decodes JSON drains ``n`` queued messages; seconds.
    Paho's defaults (no receive maximum: the broker's ``max_inflight_messages``)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    count = [0]
    done = threading.Event()
    t0 = [0.0]

    def on_message(c: Any, u: Any, msg: Any) -> None:
        if count[0] == 0:
            t0[0] = time.perf_counter()
        json.loads(msg.payload)
        count[0] += 1
        if count[0] >= n:
            done.set()

    c = _client("bench-bare")
    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.connect(host, port, clean_start=False, properties=props)
    c.loop_start()
    assert done.wait(600), f"bare subscriber got {count[0]} of {n}"
    elapsed = time.perf_counter() - t0[0]
    c.disconnect()
    c.loop_stop()
    return elapsed


def drain_ingest(host: str, port: int, n: int, store_url: str, client_id: str) -> float:
    """The ingestor drains ``n`` queued messages into ``store_url``; seconds from the first
    message received to the commit of the last one.

    The end is taken when that commit returns, in the writer thread: ``run(until=…)``
    notices it only when its next ``step`` times out (up to 0.2 s later), which the drain
    time included until 2026-12-07 (RESULTS.md, "ingest — key-free samples")."""
    from fluxfleet.ingest.mqtt import Ingestor
    from fluxfleet.store import open_store

    with open_store(store_url) as st:
        server = _backend(st)
        server_cpu = _cpu(server)
        ing = Ingestor(host, port, st, client_id=client_id, receive_maximum=1000, linger_s=0.05)
        t0, t1 = [0.0], [0.0]
        orig = ing._commit

        def timed(items: Any, *rest: Any) -> None:
            if not t0[0]:
                t0[0] = time.perf_counter() - (time.monotonic() - items[0].received_s)
            orig(items, *rest)
            if ing.stats.messages >= n and not t1[0]:
                t1[0] = time.perf_counter()  # the last message is committed (and acked)

        ing._commit = timed  # type: ignore[method-assign]
        ing.start()
        ing.run(until=lambda: ing.stats.messages >= n)
        elapsed = t1[0] - t0[0]
        ing.close()
        assert ing.stats.messages == n, (ing.stats.messages, n)
        SERVER_CPU_S[client_id] = _cpu(server) - server_cpu
    return elapsed


SERVER_CPU_S: dict[str, float] = {}
"""CPU of the PostgreSQL backend process serving each drain's writer [s] (by client id)."""


def _backend(st: Any) -> Any:
    """The PostgreSQL server process behind a store's connection (None for DuckDB)."""
    con = getattr(st, "con", None)
    if con is None or not hasattr(con, "pgconn"):
        return None
    import psutil

    return psutil.Process(con.pgconn.backend_pid)


def _cpu(proc: Any) -> float:
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return float(t.user + t.system)


def live_latency(
    host: str, port: int, store_url: str, chambers: int, seconds: float
) -> list[float]:
    """Publish-to-committed latencies [s] with ``chambers`` publishing in real time."""
    from fluxfleet.ingest.mqtt import Ingestor
    from fluxfleet.store import open_store

    lat: list[float] = []

    def on_commit(payloads: list[bytes]) -> None:
        now = time.time() * 1000
        lat.extend((now - json.loads(p)["ts"]) / 1000 for p in payloads)

    st = open_store(store_url)
    ing = Ingestor(host, port, st, client_id="bench-live", on_commit=on_commit)
    ing.start()
    assert ing.subscribed.wait(10)
    runner = threading.Thread(target=ing.run, daemon=True)
    runner.start()
    c = _client("bench-live-pub")
    c.connect(host, port)
    c.loop_start()
    # each chamber sends one 20-sample telemetry message per minute (the firmware's batch),
    # spread evenly: the fleet's real rate
    period_s = 60.0 / chambers
    seq = [1] * chambers
    t_end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < t_end:
        i = k % chambers
        now_ms = int(time.time() * 1000)
        samples = [
            {"seq": seq[i] + j, "ts": now_ms - 3000 * (19 - j), "cyc": 1, "ph": "open",
             "co2_ppm": 420.0, "rh_pct": 60.0, "t_c": 20.0, "ta_c": 19.0, "p_hpa": 1000.0,
             "lux": 0.0, "lid_deg": 90, "fan_pct": 40, "fl": 0}
            for j in range(20)
        ]  # fmt: skip
        d = {"v": 1, "ts": now_ms, "dev": f"ch{i:03d}", "boot": 1, "seq": seq[i],
             "loc": "5.1.A", "samples": samples}  # fmt: skip
        seq[i] += 20
        c.publish(f"fluxfleet/v1/ch{i:03d}/telemetry", json.dumps(d), qos=1)
        k += 1
        time.sleep(period_s)
    time.sleep(1.0)
    ing.stop()
    runner.join(10)
    ing.close()
    c.disconnect()
    c.loop_stop()
    st.close()
    return lat


def flux_latency(
    host: str, port: int, store_url: str, messages: list[tuple[str, bytes]], speed: float
) -> tuple[list[float], list[float], int]:
    """Replay ``messages`` ``speed`` times faster than real time into the ingestor with
    live fluxes. Returns the closure-end-to-first-flux latencies [s] of the whole replay,
    those of the last 10 simulated minutes replayed after the flux worker went idle (one
    synchronised burst of closures, as in real time, where bursts are 10 min apart), and
    the number of fluxes stored."""
    from fluxfleet.ingest.fluxes import FluxWorker, LiveFluxes
    from fluxfleet.ingest.mqtt import Ingestor
    from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
    from fluxfleet.store import open_store

    st = open_store(store_url)
    flux_store = st.clone()
    first: dict[tuple[str, int], float] = {}
    write = flux_store.write_fluxes

    def record(table: Any) -> None:
        write(table)
        now = time.time()
        for dev, cyc in zip(table["device"].to_pylist(), table["cyc"].to_pylist(), strict=True):
            first.setdefault((dev, cyc), now)

    flux_store.write_fluxes = record  # type: ignore[method-assign]
    worker = FluxWorker(LiveFluxes(flux_store, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2))
    worker.start()
    ing = Ingestor(host, port, st, client_id="bench-flux", fluxes=worker)
    ing.start()
    assert ing.subscribed.wait(10)
    runner = threading.Thread(target=ing.run, daemon=True)
    runner.start()
    c = _client("bench-flux-pub")
    c.connect(host, port)
    c.loop_start()
    stamped = sorted(((json.loads(p)["ts"], t, p) for t, p in messages), key=lambda x: x[0])
    cut_ms = stamped[-1][0] - 600_000
    published: dict[tuple[str, int], float] = {}
    burst: set[tuple[str, int]] = set()

    def replay(part: list[tuple[int, str, bytes]], mark: bool) -> None:
        t_sim0, t_wall0 = part[0][0], time.time()
        for ts, topic, payload in part:
            wait = t_wall0 + (ts - t_sim0) / 1000 / speed - time.time()
            if wait > 0:
                time.sleep(wait)
            c.publish(topic, payload, qos=1)
            if topic.endswith("/cycle"):
                d = json.loads(payload)
                published[(d["dev"], d["cyc"])] = time.time()
                if mark:
                    burst.add((d["dev"], d["cyc"]))

    replay([m for m in stamped if m[0] < cut_ms], False)
    time.sleep(1.0)
    worker.drain(300)  # idle before the last burst, as between real-time bursts
    replay([m for m in stamped if m[0] >= cut_ms], True)
    time.sleep(1.0)
    worker.drain(300)
    ing.stop()
    runner.join(10)
    ing.close()
    worker.stop()
    c.disconnect()
    c.loop_stop()
    st.close()
    lat = [first[k] - t for k, t in published.items() if k in first]
    lat_burst = [first[k] - published[k] for k in burst if k in first]
    return lat, lat_burst, len(first)


def main() -> None:
    from fluxfleet.ingest.broker import Mosquitto
    from fluxfleet.sim.broker import find_mosquitto

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a reduced run (under two minutes)")
    ap.add_argument("--chambers", type=int, default=50, help="chambers of the latency runs")
    ap.add_argument("--drain-only", action="store_true", help="only the drain rates (for A/B runs)")
    args = ap.parse_args()
    q = args.quick
    backlog_chambers, backlog_hours = (50, 1.5) if q else (50, 6.0)
    live_s = 15.0 if q else 60.0
    replay_chambers, replay_hours, speed = (
        (args.chambers, 0.5, 60.0) if q else (args.chambers, 2.0, 60.0)
    )
    exe = find_mosquitto()
    if exe is None:
        raise SystemExit("ingest benchmark: mosquitto is not installed (apt-get install mosquitto)")
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; command: python benchmarks/ingest.py"
        + (" --quick" if q else "")
    )
    t0 = time.monotonic()
    backlog = fleet_messages(backlog_chambers, backlog_hours)
    n = len(backlog)
    n_samples = sum(p.count(b'"co2_ppm"') for t, p in backlog if t.endswith("/telemetry"))
    size = sum(len(p) for _, p in backlog) / n
    print(
        f"backlog: {n:,} messages ({n_samples:,} samples, {size:,.0f} B/message mean) from "
        f"{backlog_chambers} chambers x {backlog_hours:g} h, simulated in "
        f"{time.monotonic() - t0:.1f} s"
    )
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from testsupport.services import run_postgres  # the tests' PostgreSQL launcher

    rows: list[tuple[str, float, float, float]] = []  # name, wall s, CPU s, load

    def timed(name: str, drain: Any, *a: Any) -> None:
        load, cpu = os.getloadavg()[0], time.process_time()
        wall = drain(*a)
        rows.append((name, wall, time.process_time() - cpu, load))

    with tempfile.TemporaryDirectory() as td, Mosquitto(exe, Path(td) / "broker") as broker:
        host, port = broker.host, broker.port
        make_session(host, port, "bench-bare")
        publish(host, port, backlog)
        timed("bare paho + json.loads", drain_bare, host, port, n)
        make_session(host, port, "bench-duckdb")
        publish(host, port, backlog)
        url = f"duckdb:///{td}/bench.duckdb"
        timed("fluxfleet ingest -> DuckDB", drain_ingest, host, port, n, url, "bench-duckdb")
        try:
            pg_ctx = run_postgres()
            pg = pg_ctx.__enter__()
        except BaseException as exc:  # no server installed: say so, keep the rest
            print(f"PostgreSQL skipped: {exc}")
            pg_ctx = None
        if pg_ctx is not None:
            try:
                make_session(host, port, "bench-pg")
                publish(host, port, backlog)
                timed(
                    "fluxfleet ingest -> PostgreSQL",
                    drain_ingest,
                    host,
                    port,
                    n,
                    pg.dsn,
                    "bench-pg",
                )
            finally:
                pg_ctx.__exit__(None, None, None)
        print(
            f"\n| consumer (drain of {n:,} queued QoS 1 messages) | s | messages/s | samples/s "
            "| CPU s (process, incl. open/close) | server CPU s | load (1 min) | ingest/bare |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, s, cpu, load in rows:
            server = f"{SERVER_CPU_S['bench-pg']:.2f}" if "PostgreSQL" in name else ""
            print(
                f"| {name} | {s:.2f} | {n / s:,.0f} | {n_samples / s:,.0f} | {cpu:.2f} "
                f"| {server} | {load:.1f} | {rows[0][1] / s:.2f} |"
            )
        if args.drain_only:
            print(f"ingest/bare ratio: {rows[0][1] / rows[1][1]:.2f}")
            return
        lat = np.array(
            live_latency(host, port, f"duckdb:///{td}/live.duckdb", args.chambers, live_s)
        )
        print(
            f"\npublish-to-stored, {args.chambers} chambers in real time for {live_s:g} s "
            f"(DuckDB, linger 0.2 s): {len(lat)} messages, p50 {np.percentile(lat, 50):.3f} s, "
            f"p99 {np.percentile(lat, 99):.3f} s"
        )
        replay = fleet_messages(replay_chambers, replay_hours)
        flat, fburst, nflux = flux_latency(host, port, f"duckdb:///{td}/flux.duckdb", replay, speed)
        fl, fb = np.array(flat), np.array(fburst)
        print(
            f"closure-end-to-flux, {replay_chambers} chambers x {replay_hours:g} h replayed at "
            f"{speed:g}x real time (DuckDB, live fluxes on): {len(fl)} closures, {nflux} fluxes, "
            f"p50 {np.percentile(fl, 50):.2f} s, p99 {np.percentile(fl, 99):.2f} s"
        )
        print(
            f"closure-end-to-flux, the last burst ({len(fb)} closures ending together) after "
            f"an idle worker, as every 10 min in real time: p50 {np.percentile(fb, 50):.2f} s, "
            f"p99 {np.percentile(fb, 99):.2f} s"
        )
    print(f"ingest/bare ratio: {rows[0][1] / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
