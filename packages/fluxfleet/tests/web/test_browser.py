"""End to end in headless Chromium (Debian's, through the ``chromium`` service fixture)
against ``fluxfleet serve`` on a store filled through the real ingestion: each page loads,
shows the store's numbers, zooms to one closure, exports, and asks nothing of any host but
the console's own. Screenshots are left in the test's tmp dir."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest
from fluxfleet.store import open_store

from testsupport.services import free_port, wait_until

from .conftest import hourly_from_store_rows

FLUXFLEET = str(Path(sys.executable).parent / "fluxfleet")


@contextlib.contextmanager
def serving(store_url: str, log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``fluxfleet serve --store store_url`` on a free local port until the block ends; its
    base URL once it answers. Its output goes to ``log_path``."""
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [FLUXFLEET, "serve", "--store", store_url, "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        with urllib.request.urlopen(base + "/api/devices", timeout=2) as r:
            return bool(r.status == 200)

    try:
        wait_until(answers, timeout_s=60, what="fluxfleet serve", proc=proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.fixture(scope="module")
def console(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``fluxfleet serve`` on a free local port; its base URL."""
    with serving(store_url, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@pytest.fixture
def page(chromium: Any, console: str) -> Iterator[Any]:
    """A fresh browser context and page; every request it makes is recorded and, at the
    end, must have gone to the console itself."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium.cdp_url)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.on("request", lambda r: requests.append(r.url))
        pg = context.new_page()
        pg.requests = requests
        try:
            yield pg
        finally:
            context.close()
            browser.close()
    local = urlsplit(console).netloc
    foreign = [u for u in requests if urlsplit(u).netloc != local]
    assert requests, "no request recorded"
    assert foreign == [], f"non-local requests: {foreign}"


def test_fleet_page_shows_the_stores_chambers(
    page: Any, console: str, store_url: str, tmp_path: Path
) -> None:
    before = dt.datetime.now(dt.UTC)
    page.goto(console + "/")
    after = dt.datetime.now(dt.UTC)
    page.screenshot(path=str(tmp_path / "fleet.png"), full_page=True)
    with open_store(store_url, read_only=True) as st:
        devices = {d["device"]: d for d in st.read("devices").to_pylist()}
        last = st.last_samples()
    rows = page.locator("#devices tbody tr")
    assert rows.count() == len(devices)
    for i in range(rows.count()):
        row = rows.nth(i)
        d = devices[row.get_attribute("data-device")]
        cells = ("location", "state", "phase", "cyc", "firmware", "slot", "age", "last-sample")
        text = {c: row.locator("td." + c).inner_text() for c in cells}
        t, phase, cyc = last[d["device"]]
        assert (text["location"], text["state"], text["firmware"], text["slot"]) == (
            d["location"], d["state"], d["firmware"], d["slot"]
        )  # fmt: skip
        assert (text["phase"], text["cyc"]) == (phase, str(cyc))
        assert text["last-sample"] == t.strftime("%Y-%m-%d %H:%M:%S")
        age = float(text["age"])
        assert (before - d["last_seen"]).total_seconds() - 1 <= age
        assert age <= (after - d["last_seen"]).total_seconds() + 1
    # the layout: one box per chamber, under its table and variant
    for dev, d in devices.items():
        box = page.locator(f".chamber[data-device='{dev}']")
        table, variant, replica = d["location"].split(".")
        assert box.locator("xpath=ancestor::section/h3").inner_text() == f"Table {table}"
        assert box.locator("xpath=../span[@class='vname']").inner_text() == f"{table}.{variant}"
        assert box.inner_text().startswith(replica)


def test_fleet_export_downloads(page: Any, console: str, store_url: str, tmp_path: Path) -> None:
    page.goto(console + "/")
    with page.expect_download() as info:
        page.click("#export-parquet")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(str(path))
    table = pq.read_table(path)
    with open_store(store_url, read_only=True) as st:
        assert sorted(table["device"].to_pylist()) == sorted(
            st.read("devices")["device"].to_pylist()
        )
    assert path.name == "devices.parquet"


def test_fluxes_page_shows_the_stores_means_and_zooms_to_a_closure(
    page: Any, console: str, store_url: str, tmp_path: Path
) -> None:
    page.goto(console + "/fluxes")
    page.wait_for_selector("body[data-loaded='true']")
    page.screenshot(path=str(tmp_path / "fluxes.png"), full_page=True)
    with open_store(store_url, read_only=True) as st:
        fluxes = st.read("fluxes").to_pylist()
    want = hourly_from_store_rows(fluxes)
    rows = page.locator("#fluxes tbody tr")
    assert rows.count() == len(want)
    for i in range(rows.count()):
        row = rows.nth(i)
        mean, sd, reps, n = want[
            (row.get_attribute("data-hour"), row.get_attribute("data-variant"))
        ]
        assert row.locator("td.mean").inner_text() == f"{mean:.3f}"
        assert row.locator("td.sd").inner_text() == ("–" if sd is None else f"{sd:.3f}")
        assert row.locator("td.replicas").inner_text() == str(reps)
        assert row.locator("td.closures").inner_text() == str(n)
    assert page.locator("#chart canvas").count() == 1

    # zoom: an hour of one variant -> its closures -> one closure's samples and line
    first = rows.nth(0)
    first.click()
    links = page.locator("a.closure-link")
    links.first.wait_for()
    assert links.count() == n_of(want, first)
    links.first.click()
    page.wait_for_selector("body[data-loaded='true']")
    page.screenshot(path=str(tmp_path / "closure.png"), full_page=True)
    device = page.locator("#device").inner_text()
    cyc = int(page.locator("#cyc").inner_text())
    stored = next(f for f in fluxes if (f["device"], f["cyc"]) == (device, cyc))
    shown = page.locator("dd[data-key='flux [µmol m⁻² s⁻¹]']").inner_text()
    assert float(shown) == stored["flux_umol_m2_s"]
    assert page.locator("dd[data-key='samples fitted (soilflux)']").inner_text() == str(
        stored["n_fit"]
    )
    assert page.locator("#chart canvas").count() == 1
    with page.expect_download() as info:
        page.click("#export-csv")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(str(path))
    assert path.read_text().splitlines()[0].startswith("time,seq,phase,co2_ppm")


def test_fluxes_table_shows_its_first_rows_then_all_on_request(
    page: Any, console: str, store_url: str
) -> None:
    # a season per hour is thousands of rows: the table lays out the first ones at once
    # (500; 3 here, set before the page's script runs) and the rest on a click
    page.add_init_script("window.FLUXFLEET_FIRST_ROWS = 3")
    page.goto(console + "/fluxes")
    page.wait_for_selector("body[data-loaded='true']")
    with open_store(store_url, read_only=True) as st:
        want = hourly_from_store_rows(st.read("fluxes").to_pylist())
    assert len(want) > 3
    rows = page.locator("#fluxes tbody tr")
    more = page.locator("#more-rows")
    assert rows.count() == 3
    assert more.is_visible()
    assert more.inner_text() == f"show all {len(want)} rows"
    more.click()
    assert rows.count() == len(want)
    assert not more.is_visible()


def n_of(want: dict[tuple[str, str], tuple[float, float | None, int, int]], row: Any) -> int:
    """Closures the store holds for a table row's hour and variant."""
    return want[(row.get_attribute("data-hour"), row.get_attribute("data-variant"))][3]


def test_fluxes_export_downloads_what_the_page_shows(
    page: Any, console: str, tmp_path: Path
) -> None:
    page.goto(console + "/fluxes?filtered=true")
    page.wait_for_selector("body[data-loaded='true']")
    shown = page.locator("#fluxes tbody tr").count()
    with page.expect_download() as info:
        page.click("#export-csv")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(str(path))
    lines = path.read_text().splitlines()
    assert len(lines) == shown + 1
    assert lines[0].startswith("hour,variant,flux_mean_umol_m2_s")


def test_closure_view_draws_every_model(
    page: Any, console: str, store_url: str, tmp_path: Path
) -> None:
    """The closure view: samples, fit window, every model's curve, the selected one marked,
    each with its flux and SE; the selected flux is the store's."""
    with open_store(store_url, read_only=True) as st:
        fluxes = st.read("fluxes").to_pylist()
    stored = next(f for f in fluxes if f["model"] == "hm_shared" and not f["flags"])
    page.goto(f"{console}/closure/{stored['device']}/{stored['cyc']}")
    page.wait_for_selector("body[data-models-loaded='true']")
    page.screenshot(path=str(tmp_path / "closure-models.png"), full_page=True)
    with urllib.request.urlopen(
        f"{console}/api/closures/{stored['device']}/{stored['cyc']}/models", timeout=30
    ) as r:
        api = json.load(r)
    rows = page.locator("#models tbody tr")
    assert rows.count() == len(api["models"]) >= 6
    for i in range(rows.count()):
        row = rows.nth(i)
        m = next(m for m in api["models"] if m["model"] == row.get_attribute("data-model"))
        assert row.locator("td.flux").inner_text() == f"{m['flux_umol_m2_s']:.4f}"
        assert row.locator("td.se").inner_text() == f"{m['flux_se_umol_m2_s']:.4f}"
    selected = page.locator("#models tbody tr.selected")
    assert selected.count() == 1
    assert selected.get_attribute("data-model") == stored["model"]
    assert selected.locator("td.flux").inner_text() == f"{stored['flux_umol_m2_s']:.4f}"
    status = page.locator("#models-status")
    assert float(status.get_attribute("data-selected-flux")) == stored["flux_umol_m2_s"]
    chart = page.locator("#models-chart svg")
    assert chart.locator("polyline.curve").count() == len(api["models"])
    assert chart.locator(f"polyline.selected.model-{stored['model']}").count() == 1
    assert chart.locator("polygon.fit-window").count() == 1
    n_fit = sum(1 for s in api["samples"] if s["in_fit"])
    assert chart.locator("circle.in-fit").count() == n_fit > 0
