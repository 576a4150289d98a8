"""``fluxfleet report``: a standalone HTML file whose numbers are the store's, with plots
inline and nothing to fetch; bad usage exits 2 and bad data 1, leaving nothing behind."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from fluxfleet.store import open_store
from soilflux.qc import DEFAULT_DROP

from .test_browser import FLUXFLEET
from .test_calibration_api import cal_store  # noqa: F401  (the fixture: a store with an frc)

NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLUXFLEET, "report", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def report(cal_store: str, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    folder = tmp_path_factory.mktemp("report")
    (folder / "analysis.toml").write_text('[controls]\n"5.2" = "5.1"\n')
    out = folder / "report.html"
    r = run("--store", cal_store, "--from", "2023-09-15", "--to", "2023-09-15",
            "--analysis", str(folder / "analysis.toml"), "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def _kept(store_url: str) -> list[dict]:
    with open_store(store_url, read_only=True) as st:
        rows = st.read("fluxes").to_pylist()
    return [r for r in rows if not set((r["flags"] or "").split(",")) & set(DEFAULT_DROP)]


def test_report_is_standalone(report: Path) -> None:
    html = report.read_text()
    assert html.count("<svg") >= 3  # variants, effects, quality, spread
    # nothing to fetch: every src/href/url() points inside the document (SVG ids)
    refs = re.findall(r"\b(?:src|href)\s*=\s*\"([^\"]*)\"", html)
    refs += re.findall(r"url\(([^)]*)\)", html)
    assert refs
    assert [r for r in refs if not r.startswith("#")] == []
    assert "<link" not in html
    assert "<script" not in html
    # the only absolute URLs are SVG's XML namespaces
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= NAMESPACES, urls


def test_report_numbers_are_the_stores(report: Path, cal_store: str) -> None:  # noqa: F811
    html = report.read_text()
    with open_store(cal_store, read_only=True) as st:
        n_all = st.read("fluxes").num_rows
        n_dev = st.read("devices").num_rows
    kept = _kept(cal_store)
    assert f'<td class="n" id="closures">{n_all}</td>' in html
    assert f'<td class="n" id="chambers">{n_dev}</td>' in html
    per_variant: dict[str, list[float]] = defaultdict(list)
    for r in kept:
        per_variant[r["location"].rsplit(".", 1)[0]].append(r["flux_umol_m2_s"])
    for variant, fluxes in per_variant.items():
        m = re.search(
            rf'data-variant="{re.escape(variant)}"><td>[^<]*</td><td class="n mean">([^<]*)<', html
        )
        assert m is not None, variant
        assert m.group(1) == f"{statistics.fmean(fluxes):.3f}"
    assert 'data-treatment="5.2"' in html
    assert "forced recalibration at 21:30:00" in html


def test_report_opens_in_chromium_without_a_request_elsewhere(
    report: Path, chromium: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium.cdp_url)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        page.goto(report.as_uri())
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert page.locator("figure svg").count() >= 3
        context.close()
        browser.close()
    assert requests == [report.as_uri()]


@pytest.mark.parametrize(
    ("args", "code", "names"),
    [
        (["--from", "2023-09-16", "--to", "2023-09-15"], 2, "--to"),
        (["--from", "yesterday", "--to", "2023-09-15"], 2, "--from"),
        (["--from", "2023-09-15", "--to", "2023-09-16", "-o", "{tmp}/r.pdf"], 2, "-o"),
        (
            ["--from", "2023-09-15", "--to", "2023-09-16", "--analysis", "{tmp}/bad.toml"],
            1,
            "bad.toml",
        ),
    ],
)
def test_report_bad_input(
    cal_store: str,  # noqa: F811
    tmp_path: Path,
    args: list[str],
    code: int,
    names: str,
) -> None:
    (tmp_path / "bad.toml").write_text('[controls]\n"5.2" = 5\n')
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "r.html")]
    r = run("--store", cal_store, *argv)
    assert r.returncode == code, r.stderr
    assert names in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
