"""Calibration API: the fleet's spread around an frc command recorded in (a copy of) the
store, and the comparison with reference-instrument files (hand-made LI-8100 .81x records
placed on a chamber's pot) — numbers recomputed here from the store's rows."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from fluxfleet.ops.commands import build, record
from fluxfleet.settings import Settings
from fluxfleet.store import open_store
from fluxfleet.web import create_app

from .conftest import NOW, START_S, TestClient, iso_ms

FRC_AT = dt.datetime(2023, 9, 15, 21, 30, tzinfo=dt.UTC)
LOCATION = "5.1.A"


def record_81x(obs: int, start: dt.datetime, flux: float) -> str:
    """One LI-8100 record (layout as the instrument writes it) starting at ``start``
    (instrument clock in UTC), reporting ``flux`` [µmol m⁻² s⁻¹] from its linear fit."""
    head = [
        "LI-8100:\t     239\t      7d", "File Name:\tref", f"Obs#:\t{obs}", "Port#:\t1",
        "Label:\tpot", "Observation Length:\t01:30", "TSource:\tTcham", "Vcham:\t4073.5",
        "Offset:\t2.0", "Area:\t317.8", "Vtotal:\t4900.0", "Labels_01:\t9",
        "Type\tEtime\tDate\tTcham\tPressure\tH2O\tCO2\tCdry\tRH",
    ]  # fmt: skip
    body = []
    for k in range(30):
        stamp = start + dt.timedelta(seconds=k)
        co2 = 420.0 + 0.2 * k
        fields = [1, k - 2, f"{stamp:%Y-%m-%d %H:%M:%S}", 20.0, 97.0, 10.0, co2, co2 / 0.99, 50]
        body.append("\t".join(map(str, fields)))
    foot = [
        "CrvFitStatus:\tLin", f"Exp_Flux:\t{flux + 1:.4f}", "Exp_dCdry/dt:\t0.2500",
        "Exp_R2:\t0.9900", f"Lin_Flux:\t{flux:.4f}", "Lin_dCdry/dt:\t0.2000",
        "Lin_R2:\t0.9800", "Crv_#Smp:\t28", "Dead Band:\t00:10",
    ]  # fmt: skip
    return "\n".join(head + body + foot) + "\n"


@pytest.fixture(scope="module")
def cal_store(store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the console store with a fleet-wide frc command at FRC_AT."""
    path = tmp_path_factory.mktemp("cal") / "fleet.duckdb"
    shutil.copy(store_path, path)
    url = f"duckdb:///{path}"
    with open_store(url) as st:
        now_ms = int(START_S * 1000)
        at_ms = int(FRC_AT.timestamp() * 1000)
        devices = st.read("devices")["device"].to_pylist()
        cmd = build("frc", {"ppm": 420}, None, "tester", now_ms, at_ms + 60_000, at_ms, devices)
        record(st, cmd)
    return url


@pytest.fixture(scope="module")
def fleet_rows(cal_store: str) -> list[dict]:
    with open_store(cal_store, read_only=True) as st:
        return [r for r in st.read("fluxes").to_pylist() if r["location"] == LOCATION]


@pytest.fixture
def reference(tmp_path: Path, fleet_rows: list[dict]) -> tuple[Path, list[tuple[float, float]]]:
    """A .81x file with 5 observations 4 min after 5 of LOCATION's closures, reporting
    the chamber's flux × 1.1 + 0.05; returns (analysis file, [(fleet, reference)])."""
    rows = [r for r in fleet_rows if not r["flags"]][:5]
    assert len(rows) == 5
    records, want = [], []
    for i, r in enumerate(rows):
        ref = round(1.1 * r["flux_umol_m2_s"] + 0.05 * (-1) ** i, 4)
        records.append(record_81x(i + 1, r["start"] + dt.timedelta(minutes=4), ref))
        want.append((r["flux_umol_m2_s"], ref))
    (tmp_path / "ref.81x").write_text("".join(records))
    analysis = tmp_path / "analysis.toml"
    analysis.write_text(
        f'[reference]\nmax_gap_min = 6\n[[reference.files]]\npath = "ref.81x"\n'
        f'location = "{LOCATION}"\n'
    )
    return analysis, want


@pytest.fixture
def cal_client(cal_store: str, reference: tuple[Path, list]) -> Iterator[TestClient]:
    app = create_app(Settings(store=cal_store, analysis=reference[0]), now=lambda: NOW)
    with TestClient(app) as c:
        yield c


def test_spread_around_the_newest_frc_is_the_stores(cal_client: TestClient, cal_store: str) -> None:
    got = cal_client.get("/api/calibration/spread").json()
    lo, hi = FRC_AT - dt.timedelta(hours=2), FRC_AT + dt.timedelta(hours=2)
    with open_store(cal_store, read_only=True) as st:
        samples = st.read("samples", lo, hi).to_pylist()
    per: dict[dt.datetime, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        if s["co2_ppm"] is not None:
            per[s["time"].replace(second=0, microsecond=0)][s["device"]].append(s["co2_ppm"])
    assert [r["time"] for r in got] == [iso_ms(t) for t in sorted(per)]
    for r in got:
        t = dt.datetime.fromisoformat(r["time"].replace("Z", "+00:00"))
        means = [statistics.fmean(v) for v in per[t].values()]
        assert r["n_sensors"] == len(means)
        assert r["co2_mean_ppm"] == pytest.approx(statistics.fmean(means), rel=1e-12)
        sd = statistics.stdev(means) if len(means) > 1 else None
        assert r["co2_sd_ppm"] == (None if sd is None else pytest.approx(sd, rel=1e-9))
        assert r["period"] == ("before" if t < FRC_AT else "after")
    bands = cal_client.get("/api/calibration/by-concentration").json()
    assert sum(b["n_bins"] for b in bands) == sum(1 for r in got if r["co2_sd_ppm"] is not None)


def test_a_session_from_the_request(cal_client: TestClient) -> None:
    params = {"from": "2023-09-15T20:00:00Z", "to": "2023-09-15T20:10:00Z", "bin_s": "300"}
    got = cal_client.get("/api/calibration/spread", params=params).json()
    assert [r["time"] for r in got] == ["2023-09-15T20:00:00.000Z", "2023-09-15T20:05:00.000Z"]
    assert {r["period"] for r in got} == {"session"}
    too_long = {"from": "2023-09-15T00:00:00Z", "to": "2023-09-17T00:00:00Z"}
    assert cal_client.get("/api/calibration/spread", params=too_long).status_code == 400


def test_reference_comparison_is_the_files_against_the_store(
    cal_client: TestClient, reference: tuple[Path, list[tuple[float, float]]]
) -> None:
    body = cal_client.get("/api/calibration/reference").json()
    want = reference[1]
    pairs = body["pairs"]
    assert [(p["flux_fleet_umol_m2_s"], p["flux_reference_umol_m2_s"]) for p in pairs] == want
    assert all(
        p["location"] == LOCATION and p["gap_s"] == pytest.approx(-240, abs=1) for p in pairs
    )
    a = body["agreement"]
    diffs = [f - r for f, r in want]
    ba = a["bland_altman_umol_m2_s"]
    assert ba["bias"] == pytest.approx(statistics.fmean(diffs), rel=1e-12)
    assert ba["sd"] == pytest.approx(statistics.stdev(diffs), rel=1e-9)
    inside = sum(abs(f - r) <= 0.15 * abs(r) for f, r in want)
    assert a["share_within_band"] == inside / len(want)
    fit = statistics.linear_regression([r for _, r in want], [f for f, _ in want])
    assert a["ols"]["slope"] == pytest.approx(fit.slope, rel=1e-9)
    assert a["deming"]["slope"] > 0
    csv = cal_client.get("/api/calibration/reference?format=csv").text.splitlines()
    assert len(csv) == len(want) + 1


def test_an_unreadable_reference_file_is_named(cal_store: str, tmp_path: Path) -> None:
    (tmp_path / "ref.81x").write_text("not a licor file\n")
    analysis = tmp_path / "analysis.toml"
    analysis.write_text('[[reference.files]]\npath = "ref.81x"\nlocation = "5.1.A"\n')
    app = create_app(Settings(store=cal_store, analysis=analysis), now=lambda: NOW)
    with TestClient(app) as c:
        r = c.get("/api/calibration/reference")
        assert r.status_code == 503
        assert "ref.81x" in r.json()["detail"]
        page = c.get("/calibration")
        assert page.status_code == 503
        assert "ref.81x" in page.text


def test_calibration_page_without_a_session(client: TestClient) -> None:
    page = client.get("/calibration")
    assert page.status_code == 200
    assert 'id="no-session"' in page.text
    assert 'id="no-reference"' in page.text


def test_an_edited_reference_file_shows_on_the_next_request(
    cal_client: TestClient, reference: tuple[Path, list[tuple[float, float]]]
) -> None:
    """The parsed reference files are kept between requests (web.calibration's cache)
    only while each file's modification time and size are unchanged."""
    first = cal_client.get("/api/calibration/reference").json()["pairs"]
    again = cal_client.get("/api/calibration/reference").json()["pairs"]
    assert again == first
    ref = reference[0].parent / "ref.81x"
    text = ref.read_text()
    before = ref.stat().st_mtime_ns
    ref.write_text(text.replace("Lin_Flux:\t", "Lin_Flux:\t1", 1))  # first flux + 10…
    os.utime(ref, ns=(before + 10**9, before + 10**9))
    edited = cal_client.get("/api/calibration/reference").json()["pairs"]
    assert [p["flux_reference_umol_m2_s"] for p in edited[1:]] == [
        p["flux_reference_umol_m2_s"] for p in first[1:]
    ]
    assert edited[0]["flux_reference_umol_m2_s"] == pytest.approx(
        float(f"1{first[0]['flux_reference_umol_m2_s']:.4f}"), rel=1e-9
    )
