"""Fixtures of the server tests: a small simulated fleet's messages and the stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fluxfleet.sim.fleet import FleetConfig
from fluxfleet.sim.runner import run_fleet
from fluxfleet.store import Store, open_store

START_S = 1_694_808_000.0  # 2023-09-15 20:00 UTC, night


@pytest.fixture(scope="session")
def fleet_messages() -> list[tuple[str, bytes]]:
    """What 3 simulated chambers publish in 2 night hours (in-process, no broker)."""
    out: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=3, start_s=START_S, duration_s=2 * 3600.0, seed=1)
    run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
    return out


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty store of each backend (PostgreSQL: a new database on the test server)."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path_factory.mktemp('store')}/fleet.duckdb"
    pg = request.getfixturevalue("postgres")
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{pg.user}@{pg.host}:{pg.port}/{name}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as st:
        yield st
