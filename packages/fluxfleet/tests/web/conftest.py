"""Fixtures of the console tests: a DuckDB store filled through the real ingestion path
(simulated fleet's messages → BatchBuilder → Store.write → LiveFluxes, as ``fluxfleet
ingest`` does batch by batch), and the app over it."""

from __future__ import annotations

import datetime as dt
import math
import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.ingest.fluxes import LiveFluxes
from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3, Settings
from fluxfleet.sim.faults import default_schedule
from fluxfleet.sim.fleet import FleetConfig
from fluxfleet.sim.runner import run_fleet
from fluxfleet.store import open_store
from fluxfleet.web import create_app

with warnings.catch_warnings():
    # Starlette asks for httpx2 (not in the lock yet); the test client works on httpx.
    warnings.filterwarnings("ignore", "Using `httpx` with")
    from fastapi.testclient import TestClient

START_S = 1_694_808_000.0  # 2023-09-15 20:00 UTC, night
CHAMBERS = 6
HOURS = 3.0
NOW = dt.datetime(2023, 9, 16, 0, 0, tzinfo=dt.UTC)
"""The console's clock in the tests (last-seen ages are counted from it)."""

BATCH_MESSAGES = 500


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB store holding 6 simulated chambers' 3 night hours, with live fluxes; the
    simulator's default faults (stuck lids, clogging, dropouts, …) give QC flags."""
    messages: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=CHAMBERS, start_s=START_S, duration_s=HOURS * 3600.0, seed=3)
    faults = default_schedule(CHAMBERS, HOURS * 3600.0, seed=3)
    run_fleet(cfg, faults, None, sink=lambda t, p: messages.append((t, p)))
    path = tmp_path_factory.mktemp("console") / "fleet.duckdb"
    with open_store(f"duckdb:///{path}") as st:
        live = LiveFluxes(st, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)
        locations = st.last_locations()
        for i in range(0, len(messages), BATCH_MESSAGES):
            b = BatchBuilder(locations)
            for k, (topic, payload) in enumerate(messages[i : i + BATCH_MESSAGES]):
                # received: the message's own order, after the simulated time
                b.add(topic, payload, int((START_S + HOURS * 3600) * 1000) + i + k)
            st.write(b.build())
            live.update(b.dirty)
    return path


@pytest.fixture(scope="session")
def store_url(store_path: Path) -> str:
    return f"duckdb:///{store_path}"


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(store=store_url), now=lambda: NOW)
    with TestClient(app) as c:
        yield c


def iso_ms(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def hourly_from_store_rows(
    rows: list[dict],
) -> dict[tuple[str, str], tuple[float, float | None, int, int]]:
    """(hour, variant) -> (mean of replica means, sd over replicas, replicas, closures).

    Closures without a finite flux are left out, as the console leaves them out."""
    per_loc: dict[tuple[dt.datetime, str], list[float]] = defaultdict(list)
    for r in rows:
        if r["flux_umol_m2_s"] is None or not math.isfinite(r["flux_umol_m2_s"]):
            continue
        hour = r["start"].replace(minute=0, second=0, microsecond=0)
        per_loc[(hour, r["location"])].append(r["flux_umol_m2_s"])
    per_var: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for (hour, loc), fluxes in per_loc.items():
        per_var[(iso_ms(hour), loc.rsplit(".", 1)[0])].append(fluxes)
    out = {}
    for key, reps in per_var.items():
        means = [statistics.fmean(f) for f in reps]
        sd = statistics.stdev(means) if len(means) > 1 else None
        out[key] = (statistics.fmean(means), sd, len(means), sum(len(f) for f in reps))
    return out
