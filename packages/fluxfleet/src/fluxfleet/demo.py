"""``fluxfleet demo``: the platform end to end on a small simulated fleet.

Mosquitto on the deployed configuration (``deploy/mosquitto``) → the ingestor (MQTT v5,
persistent session, manual acks) → a DuckDB store, with live fluxes computed by soilflux
as closures end → a summary read back from the store, and the stored fluxes beside the
simulator's truth. Without Mosquitto the messages go in-process into the same batches and
store (it says so).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

DEMO_STORE = Path(tempfile.gettempdir()) / "fluxfleet-demo.duckdb"


def _stored_comparison(fluxes: pd.DataFrame, truth: pd.DataFrame) -> Any:
    """The stored live fluxes joined to the truth, as a `sim.compare.Comparison`."""
    from soilflux.qc import DEFAULT_DROP

    from fluxfleet.sim.compare import Comparison

    f = fluxes.rename(
        columns={
            "device": "chamber",
            "flux_se_umol_m2_s": "flux_se",
            "r2": "fit_r2",
            "start": "flux_start",
            "end": "flux_end",
            "location": "flux_location",
        }
    )
    joined = truth.merge(f, on=["chamber", "cyc"], how="inner")
    flags = joined["flags"].fillna("").astype(str)
    joined["valid"] = [not (set(s.split(",")) & set(DEFAULT_DROP)) if s else True for s in flags]
    joined["rel_error"] = joined["flux_umol_m2_s"] / joined["flux_true_umol_m2_s"] - 1.0
    return Comparison(joined)


def run_demo(
    out: Path,
    chambers: int,
    hours: float,
    seed: int,
    co2_noise_ppm: float,
    store_file: Path = DEMO_STORE,
) -> None:
    """Run the demo (see the module docstring) and print what it finds; the store is
    written afresh to ``store_file``."""
    from fluxfleet.ingest.batch import BatchBuilder
    from fluxfleet.ingest.broker import CONFIG, Mosquitto
    from fluxfleet.ingest.fluxes import FluxWorker, LiveFluxes
    from fluxfleet.ingest.layout import generic_samples
    from fluxfleet.ingest.mqtt import Ingestor
    from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
    from fluxfleet.sim.broker import find_mosquitto
    from fluxfleet.sim.faults import default_schedule
    from fluxfleet.sim.fleet import FleetConfig
    from fluxfleet.sim.report import chamber_table, closure_table, fault_table, plot_run
    from fluxfleet.sim.runner import run_fleet
    from fluxfleet.sim.sensors import SensorSpec
    from fluxfleet.store import open_store

    t0 = time.monotonic()
    cfg = FleetConfig(
        chambers=chambers,
        start_s=1_694_808_000.0,  # 2023-09-15 20:00 UTC: a night
        duration_s=hours * 3600.0,
        seed=seed,
        sensors=SensorSpec(co2_noise_ppm=co2_noise_ppm),
    )
    schedule = default_schedule(chambers, cfg.duration_s, seed)
    injected = ", ".join(f"{f.kind} on ch{f.chamber:03d}" for f in schedule)
    typer.echo(
        f"fluxfleet demo: {chambers} virtual chambers (the real firmware controller), "
        f"{hours:g} simulated night hours from 2023-09-15 20:00 UTC, faults: "
        + (injected or "none (chambers 0 and 1 are fault-free references: use 3 or more)")
    )
    for path in (store_file, store_file.with_name(store_file.name + ".wal")):
        path.unlink(missing_ok=True)
    store = open_store(f"duckdb:///{store_file}")
    worker = FluxWorker(LiveFluxes(store.clone(), DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2))
    worker.start()
    exe = find_mosquitto()
    if exe is not None and CONFIG.is_file():
        with tempfile.TemporaryDirectory() as td, Mosquitto(exe, Path(td)) as broker:
            typer.echo(
                f"broker: Mosquitto ({exe}) on {broker.host}:{broker.port}, configuration "
                f"{CONFIG} (persistence on)"
            )
            ing = Ingestor(
                broker.host, broker.port, store, client_id="fluxfleet-demo", fluxes=worker
            )
            ing.start()
            if not ing.subscribed.wait(10):
                raise RuntimeError("the ingestor could not subscribe")
            typer.echo(
                "ingest: MQTT v5 client 'fluxfleet-demo', persistent session, QoS 1, "
                f"acks after each commit -> {store.url}"
            )
            runner = threading.Thread(target=ing.run, daemon=True)
            runner.start()
            result = run_fleet(cfg, schedule, (broker.host, broker.port), workers=2)
            last, quiet_since = -1, time.monotonic()
            while time.monotonic() - quiet_since < 1.0:  # until the backlog is committed
                if ing.stats.messages != last:
                    last, quiet_since = ing.stats.messages, time.monotonic()
                time.sleep(0.1)
            ing.stop()
            runner.join(10)
            ing.close()
    else:
        typer.echo(
            "broker: Mosquitto is not installed (apt-get install mosquitto) - the demo falls "
            "back to an in-process link: the same firmware, protocol, batches and store, "
            "no MQTT broker"
        )
        messages: list[tuple[str, bytes]] = []
        result = run_fleet(cfg, schedule, None, sink=lambda t, p: messages.append((t, p)))
        locations = store.last_locations()
        for i in range(0, len(messages), 500):
            builder = BatchBuilder(locations)
            for topic, payload in messages[i : i + 500]:
                builder.add(topic, payload, int(time.time() * 1000))
            store.write(builder.build())
            worker.submit(builder.dirty)
    worker.drain()
    worker.stop()

    counts = store.counts()
    samples = store.read("samples")
    fluxes = store.read("fluxes").to_pandas()
    closures = store.read("closures").to_pandas()
    lat = (
        fluxes.merge(closures, on=["device", "cyc"])
        .pipe(lambda d: (d["computed"] - d["received"]).dt.total_seconds())
        .to_numpy()
    )
    typer.echo(
        f"\nread back from the store {store_file}:\n"
        f"  samples {counts['samples']:,} (the devices took {result.samples:,}), "
        f"closures {counts['closures']:,} ({int(result.closures['complete'].sum())} finished "
        f"in the truth), fluxes {counts['fluxes']:,}, devices {counts['devices']}, "
        f"dead letters {counts['dead_letters']}"
    )
    if len(lat):
        typer.echo(
            "  last flux computation after its cycle message arrived: median "
            f"{np.median(lat):.1f} s (a flux is recomputed as its neighbours arrive)"
        )
    cmp = _stored_comparison(fluxes, result.closures)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        typer.echo("\nstored fluxes (first 15) beside the truth, µmol m⁻² s⁻¹:")
        typer.echo(closure_table(cmp, 15).to_string(index=False))
        typer.echo("\nper chamber (medians of valid closures):")
        typer.echo(chamber_table(cmp).to_string(index=False))
        typer.echo("\ninjected faults and the soilflux quality flags on their closures:")
        typer.echo(fault_table(cmp).to_string(index=False))
    nv = cmp.night_valid()
    typer.echo(
        f"\nvalid night closures without faults: {len(nv)}; stored flux within ±5 % of the "
        f"truth: {cmp.within(0.05):.0%}, within ±10 %: {cmp.within(0.10):.0%} "
        f"(the SCD30 model: {co2_noise_ppm:g} ppm noise, 20-s response)"
    )
    generic = generic_samples(samples, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)
    path = plot_run(generic, cmp, out)
    store.close()
    typer.echo(f"figure: {path.resolve()}")
    typer.echo(
        f"store: {store_file} (fluxfleet export --store duckdb:///{store_file} --table fluxes "
        "-o fluxes.csv)"
    )
    typer.echo(f"done in {time.monotonic() - t0:.1f} s")
