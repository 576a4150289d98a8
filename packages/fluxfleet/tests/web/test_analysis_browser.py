"""The analysis pages in headless Chromium against ``fluxfleet serve`` with an analysis
file: each loads, shows the API's numbers, and asks nothing of any host but the console
(the ``page`` fixture of test_browser checks every request). Screenshots in tmp dirs."""

from __future__ import annotations

import datetime as dt
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fluxfleet.store import open_store

from .test_analysis_api import PCO2, _pco2_csv
from .test_browser import page, serving  # noqa: F401  (the fixture, with our console)
from .test_calibration_api import record_81x

ANALYSIS = """[pco2]
path = "pco2.csv"
[controls]
"5.2" = "5.1"
[reference]
max_gap_min = 6
[[reference.files]]
path = "ref.81x"
location = "5.1.A"
"""


@pytest.fixture(scope="module")
def console(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``fluxfleet serve`` with FLUXFLEET_ANALYSIS set; its base URL."""
    folder = tmp_path_factory.mktemp("serve-analysis")
    analysis = folder / "analysis.toml"
    analysis.write_text(ANALYSIS)
    _pco2_csv(folder / "pco2.csv", PCO2)
    with open_store(store_url, read_only=True) as st:
        rows = [r for r in st.read("fluxes").to_pylist() if r["location"] == "5.1.A"][:6]
    (folder / "ref.81x").write_text(
        "".join(
            record_81x(i + 1, r["start"] + dt.timedelta(minutes=3), 0.9 * r["flux_umol_m2_s"])
            for i, r in enumerate(rows)
        )
    )
    env = {**os.environ, "FLUXFLEET_ANALYSIS": str(analysis)}
    with serving(store_url, folder / "serve.log", env) as base:
        yield base


def _api(console: str, path: str) -> Any:
    import json

    with urllib.request.urlopen(console + path, timeout=30) as r:
        return json.loads(r.read())


def test_treatment_page_shows_the_apis_effects(page: Any, console: str, tmp_path: Path) -> None:  # noqa: F811
    page.goto(console + "/treatment")
    page.screenshot(path=str(tmp_path / "treatment.png"), full_page=True)
    want = _api(console, "/api/treatment")
    rows = page.locator("table.effects tbody tr")
    assert rows.count() == len(want) == 1
    for w in want:
        row = page.locator(f"table.effects tr[data-treatment='{w['treatment']}']")
        assert row.locator("td.control").inner_text() == w["control"]
        assert row.locator("td.difference").inner_text() == f"{w['difference_umol_m2_s']:.3f}"
        assert row.locator("td.hours").inner_text() == str(w["n_hours"])
        assert page.locator(f"circle.effect[data-treatment='{w['treatment']}']").count() == 1
    assert page.locator("section.treatment-table h2").inner_text() == "Table 5"


def test_calibration_page_draws_the_spread_and_reference(
    page: Any,  # noqa: F811
    console: str,
    tmp_path: Path,
) -> None:
    # no frc command in this store: the session comes from the request
    q = "from=2023-09-15T20:00:00Z&to=2023-09-15T23:00:00Z&recalibration=2023-09-15T21:30:00Z"
    page.goto(console + "/calibration?" + q)
    page.wait_for_selector("body[data-loaded='true']")
    page.screenshot(path=str(tmp_path / "calibration.png"), full_page=True)
    rows = _api(console, "/api/calibration/spread?" + q)
    before = [r["co2_sd_ppm"] for r in rows if r["period"] == "before" and r["co2_sd_ppm"]]
    pooled = (sum(v * v for v in before) / len(before)) ** 0.5
    assert page.locator("#sd-before").inner_text() == f"{pooled:.1f}"
    assert page.locator("#n-bins").inner_text() == str(len(rows))
    assert page.locator("#spread-time svg polyline").count() == 2  # before, after
    assert page.locator("#spread-conc svg circle").count() == sum(
        1 for r in rows if r["co2_sd_ppm"] is not None
    )
    # the reference file: 6 observations 3 min after 5.1.A's first closures
    ref = _api(console, "/api/calibration/reference")
    assert len(ref["pairs"]) == 6
    assert page.locator("#scatter svg circle.pair").count() == 6
    assert page.locator("#scatter svg polygon.band").count() == 1
    assert page.locator("#scatter svg polyline.fit-deming").count() == 1
    assert page.locator("#bland-altman svg circle.ba-point").count() == 6
    bias = ref["agreement"]["bland_altman_umol_m2_s"]["bias"]
    assert page.locator("#bias").inner_text() == f"{bias:.3f}"
    assert page.locator("#pairs tbody tr").count() == 6


def test_pco2_page_draws_each_tables_pairs_and_line(
    page: Any,  # noqa: F811
    console: str,
    tmp_path: Path,
) -> None:
    page.goto(console + "/pco2")
    page.wait_for_selector("body[data-loaded='true']")
    page.screenshot(path=str(tmp_path / "pco2.png"), full_page=True)
    pairs = _api(console, "/api/pco2")
    fits = _api(console, "/api/pco2/fits")
    assert page.locator(".pco2-table svg circle.pair").count() == len(pairs) == 5
    assert page.locator(".pco2-table svg polyline.fit").count() == len(fits) == 1
    row = page.locator("#fits tr[data-table='5']")
    assert (
        row.locator("td.slope").inner_text() == f"{1000 * fits[0]['slope_umol_m2_s_per_ppm']:.3g}"
    )
    with page.expect_download() as info:
        page.click("#export-csv")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(str(path))
    assert len(path.read_text().splitlines()) == len(pairs) + 1
