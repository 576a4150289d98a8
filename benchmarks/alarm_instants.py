"""Cost of one alarm evaluation instant on the data clock (issue 10).

A DuckDB store gets ``--devices`` devices sampling every 3 s (the lookback's worth, then
``--hours`` more, written in 10-min batches as an ingestor would); an ``AlarmEvaluator``
on the data clock (60-s instants, 3-h lookback) catches up after each batch. Prints the
instants judged, CPU and wall time per instant, and the load average.

    python3 -m uv run --frozen python benchmarks/alarm_instants.py [--devices 10] [--hours 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from fluxfleet.ops.alarm_runner import AlarmEvaluator
from fluxfleet.store import open_store, schema
from fluxfleet.store.base import Batch

T0 = pd.Timestamp("2023-09-15T20:00:00Z")


def samples(devices: int, first: int, n: int) -> pa.Table:
    """Samples ``first`` … ``first + n − 1`` (3 s apart) of every device, received 1 s late."""
    frames = []
    rng = np.random.default_rng(first)
    for d in range(devices):
        k = np.arange(first, first + n)
        t = T0 + pd.to_timedelta(k * 3, unit="s")
        frames.append(
            pd.DataFrame(
                {
                    "device": f"ch{d:03d}",
                    "seq": k + 1,
                    "time": t,
                    "location": "1.1.A",
                    "boot": 1,
                    "cyc": k // 200,
                    "phase": np.where(k % 200 < 60, "closed", "open"),
                    "co2_ppm": 430.0 + rng.normal(0, 5, n),
                    "rh_percent": 70.0,
                    "scd30_temperature_c": 22.0,
                    "temperature_c": 21.0,
                    "pressure_hpa": 990.0,
                    "lux": 0.0,
                    "lid_deg": 90,
                    "fan_pct": 0,
                    "flags": 0,
                    "received": t + pd.Timedelta("1s"),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return pa.Table.from_pandas(frame, preserve_index=False).cast(schema.SAMPLES)


def simulated(devices: int, hours: float) -> list[tuple[str, bytes, int]]:
    """What ``devices`` simulated chambers (the real firmware) publish in ``hours`` from
    20:00 UTC, each message received 1 s after its device's clock (``ts``) said."""
    from fluxfleet.sim.fleet import FleetConfig
    from fluxfleet.sim.runner import run_fleet

    out: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=devices, start_s=T0.timestamp(), duration_s=hours * 3600, seed=3)
    run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
    last = int(T0.timestamp() * 1000)
    msgs = []
    for topic, payload in out:
        ts = json.loads(payload).get("ts")
        last = max(last, int(ts) + 1000) if isinstance(ts, int) else last
        msgs.append((topic, payload, last))
    return msgs


def replay(devices: int, hours: float) -> tuple[int, float, float]:
    """Simulated data ingested in 10-min slices (with live fluxes), the evaluator catching
    up after each: (instants, CPU [s], wall [s]) of the evaluator alone."""
    from fluxfleet.ingest.batch import BatchBuilder
    from fluxfleet.ingest.fluxes import LiveFluxes
    from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3

    msgs = simulated(devices, hours)
    cpu = wall = 0.0
    with tempfile.TemporaryDirectory() as tmp, open_store(f"duckdb:///{tmp}/b.duckdb") as st:
        live = LiveFluxes(st, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)
        ev = AlarmEvaluator(st, clock="data")
        slice_ms = 600_000
        i = 0
        while i < len(msgs):
            end = msgs[i][2] + slice_ms
            b = BatchBuilder(st.last_locations())
            while i < len(msgs) and msgs[i][2] < end:
                b.add(*msgs[i])
                i += 1
            st.write(b.build())
            live.update(b.dirty)
            c0, w0 = time.process_time(), time.perf_counter()
            ev.evaluate()
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        return ev.evaluations, cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument(
        "--sim-hours", type=float, default=4.0, help="hours of the simulated fleet (0: skip)"
    )
    a = ap.parse_args()
    per_batch = 200  # 10 min of samples
    with tempfile.TemporaryDirectory() as tmp, open_store(f"duckdb:///{tmp}/b.duckdb") as st:
        st.write(Batch(samples=samples(a.devices, 0, 3 * 1200)))  # the 3-h lookback
        ev = AlarmEvaluator(st, clock="data")
        ev.evaluate()
        first, batches = 3 * 1200, int(a.hours * 6)
        cpu = wall = 0.0
        n0 = ev.evaluations
        for b in range(batches):
            st.write(Batch(samples=samples(a.devices, first + b * per_batch, per_batch)))
            c0, w0 = time.process_time(), time.perf_counter()
            ev.evaluate()
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        n = ev.evaluations - n0
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f}\n")
    print("| data, devices | instants | CPU per instant [ms] | wall per instant [ms] |")
    print("|---:|---:|---:|---:|")
    print(f"| synthetic, {a.devices} | {n} | {1000 * cpu / n:.1f} | {1000 * wall / n:.1f} |")
    if a.sim_hours > 0:
        n, cpu, wall = replay(a.devices, a.sim_hours)
        print(f"| simulated, {a.devices} | {n} | {1000 * cpu / n:.1f} | {1000 * wall / n:.1f} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
