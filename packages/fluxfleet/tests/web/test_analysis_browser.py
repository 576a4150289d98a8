"""The analysis pages in headless Chromium against ``fluxfleet serve`` with an analysis
file: each loads, shows the API's numbers, and asks nothing of any host but the console
(the ``page`` fixture of test_browser checks every request). Screenshots in tmp dirs."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testsupport.services import free_port, wait_until

from .test_browser import FLUXFLEET, page  # noqa: F401  (the fixture, with our console)

ANALYSIS = '[controls]\n"5.2" = "5.1"\n'


@pytest.fixture(scope="module")
def console(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``fluxfleet serve`` with FLUXFLEET_ANALYSIS set; its base URL."""
    folder = tmp_path_factory.mktemp("serve-analysis")
    analysis = folder / "analysis.toml"
    analysis.write_text(ANALYSIS)
    port = free_port()
    log = (folder / "serve.log").open("wb")
    env = {**os.environ, "FLUXFLEET_ANALYSIS": str(analysis)}
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
