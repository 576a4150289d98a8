"""End to end in headless Chromium: the Live and Quality pages against ``fluxfleet serve``.

Live: on a PostgreSQL store (the deployment where ``ingest`` and ``serve`` run together)
filled by the simulated fleet through the real ingestion, the page shows the store's
newest samples; then the rest of the simulated hour is ingested while the page is open, and
the new samples and the new closures' fitted lines appear through server-sent events.
Quality: on the session's DuckDB store, the page's weekly numbers equal the store's and a
row leads to the flagged closures. The ``page`` fixture fails any test whose page asked a
host other than the console. Screenshots stay in the test's tmp dir."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.ingest.fluxes import LiveFluxes
from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
from fluxfleet.sim.fleet import FleetConfig
from fluxfleet.sim.runner import run_fleet
from fluxfleet.store import Store, open_store

from . import test_browser
from .test_browser import serving

console = test_browser.console  # the same fixtures: serve on the session store, a page
page = test_browser.page  # that fails on any non-local request

LIVE_START_S = 1_694_808_000.0


def _ingest(st: Store, live: LiveFluxes, messages: list[tuple[str, bytes]]) -> None:
    """What ``fluxfleet ingest`` does per batch: validate, write, compute the fluxes."""
    for i in range(0, len(messages), 200):
        b = BatchBuilder(st.last_locations())
        for k, (topic, payload) in enumerate(messages[i : i + 200]):
            b.add(topic, payload, int(LIVE_START_S * 1000) + 3_600_000 + i + k)
        st.write(b.build())
        live.update(b.dirty)


@pytest.fixture(scope="module")
def fleet_hour() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=2, start_s=LIVE_START_S, duration_s=3600.0, seed=11)
    run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
    return out


@pytest.fixture(scope="module")
def pg_url(postgres: Any) -> str:
    import psycopg

    name = f"live_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"


@pytest.fixture(scope="module")
def pg_console(
    pg_url: str, fleet_hour: list[tuple[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``fluxfleet serve`` on the PostgreSQL store holding the hour's first 40 minutes."""
    with open_store(pg_url) as st:
        _ingest(
            st,
            LiveFluxes(st, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2),
            fleet_hour[: len(fleet_hour) * 2 // 3],
        )
    with serving(pg_url, tmp_path_factory.mktemp("serve-pg") / "serve.log") as base:
        yield base


@pytest.fixture
def pg_page(chromium: Any, pg_console: str) -> Iterator[Any]:
    """A page on the PostgreSQL console; it must ask nothing of any other host."""
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium.cdp_url)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.on("request", lambda r: requests.append(r.url))
        pg = context.new_page()
        try:
            yield pg
        finally:
            context.close()
            browser.close()
    foreign = [u for u in requests if urlsplit(u).netloc != urlsplit(pg_console).netloc]
    assert requests
    assert foreign == [], f"non-local requests: {foreign}"


def _shown(pg: Any, device: str) -> dict[str, str]:
    panel = pg.locator(f".live-device[data-device='{device}']")
    return {
        k: panel.locator("." + k).inner_text() for k in ("seq", "cyc", "phase", "co2", "n-samples")
    }


def test_live_page_shows_new_samples_and_fits_as_they_are_stored(
    pg_page: Any, pg_console: str, pg_url: str, fleet_hour: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    with open_store(pg_url) as st:
        last = st.last_samples()
        devices = sorted(last)
        fluxes_before = {(r["device"], r["cyc"]) for r in st.read("fluxes").to_pylist()}
    pg_page.goto(pg_console + "/live?" + "&".join(f"device={d}" for d in devices))
    pg_page.wait_for_selector("body[data-loaded='true'][data-stream='open']")
    for d in devices:
        seq, _cyc, phase, _co2 = (*_newest(pg_url, d),)
        shown = _shown(pg_page, d)
        assert (shown["seq"], shown["phase"]) == (str(seq), phase)
    pg_page.screenshot(path=str(tmp_path / "live-before.png"), full_page=True)

    # the rest of the hour reaches the store while the page is open
    with open_store(pg_url) as st:
        _ingest(
            st,
            LiveFluxes(st, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2),
            fleet_hour[len(fleet_hour) * 2 // 3 :],
        )
        new_fluxes = {
            (r["device"], r["cyc"]) for r in st.read("fluxes").to_pylist()
        } - fluxes_before
    assert new_fluxes, "a closure ends in the last 20 minutes"
    for d in devices:
        seq, cyc, phase, co2 = _newest(pg_url, d)
        panel = f".live-device[data-device='{d}']"
        pg_page.wait_for_selector(f"{panel} .seq:text-is('{seq}')", timeout=30_000)
        shown = _shown(pg_page, d)
        assert (shown["cyc"], shown["phase"], shown["co2"]) == (str(cyc), phase, f"{co2:.1f}")
    # the charts redraw every 0.5 s: each new closure's fitted line is drawn over the
    # samples soilflux fitted
    with open_store(pg_url) as st:
        n_fit = {(r["device"], r["cyc"]): r["n_fit"] for r in st.read("fluxes").to_pylist()}
    for d, cyc in new_fluxes:
        fit = f".fits li[data-cyc='{cyc}'][data-points='{n_fit[(d, cyc)]}']"
        pg_page.wait_for_selector(f".live-device[data-device='{d}'] {fit}")
    pg_page.screenshot(path=str(tmp_path / "live-after.png"), full_page=True)
    assert pg_page.locator(".live-device canvas").count() == len(devices)


def _newest(url: str, device: str) -> tuple[int, int, str, float]:
    with open_store(url) as st:
        rows = st.read("samples", devices=[device]).to_pylist()
    r = max(rows, key=lambda r: r["seq"])
    return r["seq"], r["cyc"], r["phase"], r["co2_ppm"]


def test_quality_page_shows_the_stores_shares_and_flagged_closures(
    page: Any, console: str, store_url: str, tmp_path: Path
) -> None:
    from .test_quality_api import _fluxes, _want

    page.goto(console + "/quality")
    page.wait_for_selector("body[data-loaded='true']")
    rows = _fluxes(store_url)
    for level in ("week", "table", "flag"):
        want = _want(rows, level)
        trs = page.locator(f"#q-{level} table.rows tbody tr")
        assert trs.count() == len(want)
        for i in range(trs.count()):
            tr = trs.nth(i)
            key = (tr.get_attribute("data-week"),) + (
                () if level == "week" else (tr.get_attribute("data-key"),)
            )
            n, f = want[key]
            assert tr.locator("td.closures").inner_text() == str(n)
            assert tr.locator("td.filtered").inner_text() == str(f)
            assert tr.locator("td.share").inner_text() == f"{100 * f / n:.1f}"
        assert page.locator(f"#q-{level} canvas").count() == 1
    page.screenshot(path=str(tmp_path / "quality.png"), full_page=True)
    # a flag's row lists its closures, and a closure leads to its samples and fit
    flag_row = page.locator("#q-flag table.rows tbody tr").first
    n = int(flag_row.locator("td.filtered").inner_text())
    flag_row.click()
    page.wait_for_selector("#flagged[data-loaded='true']")
    assert page.locator("#flagged tbody tr").count() == n
    link = page.locator("#flagged a.closure-link").first
    link.click()
    page.wait_for_selector("body[data-loaded='true']")
    assert page.locator("#chart canvas").count() == 1


def test_fluxes_page_by_location_per_day_night_only(
    page: Any, console: str, store_url: str, tmp_path: Path
) -> None:
    import json

    query = "level=location&bin=day&night=true"
    with urllib.request.urlopen(f"{console}/api/fluxes?{query}") as r:
        want = {(x["day"], x["location"]): x for x in json.load(r)}
    page.goto(f"{console}/fluxes?{query}")
    page.wait_for_selector("body[data-loaded='true']")
    page.screenshot(path=str(tmp_path / "fluxes-location-day.png"), full_page=True)
    rows = page.locator("#fluxes tbody tr")
    assert rows.count() == len(want) > 0
    for i in range(rows.count()):
        row = rows.nth(i)
        x = want[(row.get_attribute("data-hour"), row.get_attribute("data-variant"))]
        assert row.locator("td.mean").inner_text() == f"{x['flux_mean_umol_m2_s']:.3f}"
        assert row.locator("td.closures").inner_text() == str(x["n_closures"])
    assert page.locator("select[name='level']").input_value() == "location"
    rows.nth(0).click()  # that day's closures of that location
    links = page.locator("a.closure-link")
    links.first.wait_for()
    assert links.count() == int(rows.nth(0).locator("td.closures").inner_text())
