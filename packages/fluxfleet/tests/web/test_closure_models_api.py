"""``/api/closures/{device}/{cyc}/models``: every model of one closure recomputed from the
stored samples, on a store filled through the real ingestion (conftest)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from fluxfleet.store import open_store
from fluxfleet.web.closure_models import CURVE_POINTS


def _stored(store_url: str) -> list[dict]:
    with open_store(store_url, read_only=True) as st:
        rows = st.read("fluxes").to_pylist()
    return sorted(rows, key=lambda r: (r["device"], r["cyc"]))


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def test_selected_flux_is_the_stored_one(client: TestClient, store_url: str) -> None:
    """The live worker's chain and options, recomputed on demand, give the stored flux, SE
    and model of every closure (every third, to keep the test short)."""
    rows = [r for r in _stored(store_url) if _finite(r["flux_umol_m2_s"])][::3]
    assert len(rows) > 20
    for r in rows:
        got = client.get(f"/api/closures/{r['device']}/{r['cyc']}/models").json()
        assert got["selected_model"] == r["model"]
        assert got["flux_umol_m2_s"] == r["flux_umol_m2_s"]
        assert got["stored_flux_umol_m2_s"] == r["flux_umol_m2_s"]
        assert got["flux_se_umol_m2_s"] == r["flux_se_umol_m2_s"]
        assert got["flags"] == (r["flags"] or "")
        assert got["deadband_s"] == r["deadband_s"]
        chosen = [m for m in got["models"] if m["selected"]]
        assert [m["model"] for m in chosen] == [r["model"]]
        assert chosen[0]["flux_umol_m2_s"] == r["flux_umol_m2_s"]
        assert chosen[0]["flux_se_umol_m2_s"] == r["flux_se_umol_m2_s"]


def test_every_model_has_a_flux_and_a_curve_through_the_samples(
    client: TestClient, store_url: str
) -> None:
    r = next(
        r for r in _stored(store_url)
        if _finite(r["flux_umol_m2_s"]) and not r["flags"]
    )  # fmt: skip
    got = client.get(f"/api/closures/{r['device']}/{r['cyc']}/models").json()
    names = [m["model"] for m in got["models"]]
    assert {"linear", "robust", "exp", "hm", "quadratic", r["model"]} <= set(names)
    grid = np.asarray(got["curve_elapsed_s"])
    assert len(grid) == CURVE_POINTS
    assert grid[0] == 0.0
    assert grid[-1] == got["fit_end_s"]
    t = np.array([s["elapsed_s"] for s in got["samples"] if s["in_fit"]])
    c = np.array([s["co2_dry_ppm"] for s in got["samples"] if s["in_fit"]])
    assert len(t) >= r["n_fit"] - 1  # the window's samples (soilflux also counts t = 0)
    for m in got["models"]:
        assert m["flux_umol_m2_s"] is not None, m["model"]
        assert m["flux_se_umol_m2_s"] > 0, m["model"]
        assert m["co2_dry_ppm"] is not None, m["model"]
        curve = np.asarray(m["co2_dry_ppm"], dtype=float)
        assert curve.shape == grid.shape
        # each curve follows the samples it was fitted to (SCD30 noise: a few ppm)
        rms = float(np.sqrt(np.mean((np.interp(t, grid, curve) - c) ** 2)))
        assert rms < 6.0, (m["model"], rms)
        # and rises as the flux it reports says (all fluxes here are positive)
        assert curve[-1] > curve[0], m["model"]


def test_hm_shared_curve_starts_with_the_reported_flux(client: TestClient, store_url: str) -> None:
    """The hm_shared curve is y = C₀ + F′·v(t) with F′ = flux / flux term: its slope where
    the analyser has caught up follows from the reported flux, not from a refit."""
    r = next(r for r in _stored(store_url) if r["model"] == "hm_shared")
    got = client.get(f"/api/closures/{r['device']}/{r['cyc']}/models").json()
    shared = next(m for m in got["models"] if m["model"] == "hm_shared")
    linear = next(m for m in got["models"] if m["model"] == "linear")
    grid = np.asarray(got["curve_elapsed_s"])
    rise_shared = shared["co2_dry_ppm"][-1] - shared["co2_dry_ppm"][0]
    rise_linear = linear["co2_dry_ppm"][-1] - linear["co2_dry_ppm"][0]
    # same samples, same window: both rises agree within the noise, the initial slopes
    # are in the ratio of the fluxes (the line's slope is its flux / term throughout)
    assert rise_shared == pytest.approx(rise_linear, rel=0.1)
    slope_linear = rise_linear / (grid[-1] - grid[0])
    term = linear["flux_umol_m2_s"] / slope_linear  # [mol m⁻²]
    assert term == pytest.approx(
        shared["flux_umol_m2_s"] / _max_slope(grid, shared["co2_dry_ppm"]), rel=0.15
    )


def _max_slope(t: np.ndarray, y: list[float]) -> float:
    """Steepest slope of a curve [per s]: an HM rise seen through a lagged analyser is
    steepest after the lag, before the curvature bends it, near F′."""
    return float(np.max(np.diff(y) / np.diff(t)))


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/closures/ch000/1/models", 404, "no closure 1 of device ch000"),
        ("/api/closures/nobody/2824681/models", 404, "no closure"),
        ("/api/closures/ch000/x/models", 422, "cyc"),
    ],
)
def test_unknown_closure(client: TestClient, path: str, status: int, says: str) -> None:
    got = client.get(path)
    assert got.status_code == status
    assert says in got.text


def test_on_postgresql_the_selected_flux_is_the_stored_one(postgres) -> None:  # type: ignore[no-untyped-def]
    """The same on a PostgreSQL store (the multi-machine deployment), filled through the
    same ingestion path: the keyed reads and the recomputation give the stored fluxes."""
    import uuid

    import psycopg
    from fluxfleet.ingest.batch import BatchBuilder
    from fluxfleet.ingest.fluxes import LiveFluxes
    from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
    from fluxfleet.sim.fleet import FleetConfig
    from fluxfleet.sim.runner import run_fleet
    from fluxfleet.web.closure_models import closure_models
    from fluxfleet.web.queries import closure

    name = f"models_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"
    start_s = 1_694_808_000.0
    messages: list[tuple[str, bytes]] = []
    run_fleet(
        FleetConfig(chambers=2, start_s=start_s, duration_s=7200.0, seed=9),
        [],
        None,
        sink=lambda t, p: messages.append((t, p)),
    )
    with open_store(url) as st:
        live = LiveFluxes(st, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)
        for i in range(0, len(messages), 500):
            b = BatchBuilder(st.last_locations())
            for k, (topic, payload) in enumerate(messages[i : i + 500]):
                b.add(topic, payload, int((start_s + 7200) * 1000) + i + k)
            st.write(b.build())
            live.update(b.dirty)
        rows = [r for r in st.read("fluxes").to_pylist() if _finite(r["flux_umol_m2_s"])]
        assert len(rows) >= 16
        for r in rows[::4]:
            got = closure_models(st, r["device"], r["cyc"], DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)
            assert (got["selected_model"], got["flux_umol_m2_s"]) == (
                r["model"],
                r["flux_umol_m2_s"],
            )
            assert got["flux_se_umol_m2_s"] == r["flux_se_umol_m2_s"]
            _, summary = closure(st, r["device"], r["cyc"])
            assert summary["flux_umol_m2_s"] == r["flux_umol_m2_s"]
            assert summary["n_fit"] == r["n_fit"]
