"""The analysis pages' API (treatment vs control, calibration, soil pCO₂) against the store
filled through the real ingestion; numbers recomputed here from the store's rows."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from fluxfleet.settings import Settings
from fluxfleet.store import open_store
from fluxfleet.web import create_app
from scipy import stats
from soilflux.qc import DEFAULT_DROP

from .conftest import NOW, TestClient, iso_ms


@pytest.fixture
def analysis_file(tmp_path: Path) -> Path:
    path = tmp_path / "analysis.toml"
    path.write_text('[controls]\n"5.2" = "5.1"  # the simulated fleet\'s two variants\n')
    return path


@pytest.fixture
def aclient(store_url: str, analysis_file: Path) -> Iterator[TestClient]:
    app = create_app(Settings(store=store_url, analysis=analysis_file), now=lambda: NOW)
    with TestClient(app) as c:
        yield c


def _variant_hourly(rows: list[dict]) -> dict[tuple[dt.datetime, str], float]:
    """(hour, variant) -> mean over replicas of each replica's hourly mean, kept closures."""
    per_loc: dict[tuple[dt.datetime, str], list[float]] = defaultdict(list)
    for r in rows:
        flags = set(filter(None, (r["flags"] or "").split(",")))
        if flags & set(DEFAULT_DROP):
            continue
        hour = r["start"].replace(minute=0, second=0, microsecond=0)
        per_loc[(hour, r["location"])].append(r["flux_umol_m2_s"])
    per_var: dict[tuple[dt.datetime, str], list[float]] = defaultdict(list)
    for (hour, loc), f in per_loc.items():
        per_var[(hour, loc.rsplit(".", 1)[0])].append(statistics.fmean(f))
    return {k: (statistics.fmean(v), len(v)) for k, v in per_var.items()}


def test_treatment_effect_is_the_stores_hourly_difference(
    aclient: TestClient, store_url: str
) -> None:
    with open_store(store_url, read_only=True) as st:
        rows = st.read("fluxes").to_pylist()
    hourly = _variant_hourly(rows)
    hours = sorted(h for (h, v) in hourly if v == "5.2" and (h, "5.1") in hourly)
    diffs = [hourly[(h, "5.2")][0] - hourly[(h, "5.1")][0] for h in hours]
    assert len(hours) >= 2
    got = aclient.get("/api/treatment").json()
    assert len(got) == 1
    r = got[0]
    assert (r["table"], r["treatment"], r["control"]) == ("5", "5.2", "5.1")
    assert r["n_hours"] == len(hours)
    mean = statistics.fmean(diffs)
    assert r["difference_umol_m2_s"] == pytest.approx(mean, rel=1e-12)
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    assert r["difference_ci95_low_umol_m2_s"] == pytest.approx(mean - half, rel=1e-9)
    assert r["difference_ci95_high_umol_m2_s"] == pytest.approx(mean + half, rel=1e-9)
    control = statistics.fmean(hourly[(h, "5.1")][0] for h in hours)
    assert r["relative_percent"] == pytest.approx(100 * mean / control, rel=1e-9)

    per_hour = aclient.get("/api/treatment/hourly").json()
    assert [x["hour"] for x in per_hour] == [iso_ms(h) for h in hours]
    assert [x["difference_umol_m2_s"] for x in per_hour] == pytest.approx(diffs, rel=1e-12)
    csv = aclient.get("/api/treatment?format=csv")
    assert csv.text.splitlines()[0].startswith("table,treatment,control,n_hours")


def test_treatment_time_window(aclient: TestClient) -> None:
    everything = aclient.get("/api/treatment/hourly").json()
    first = everything[0]["hour"]
    to = dt.datetime.fromisoformat(first.replace("Z", "+00:00")) + dt.timedelta(hours=1)
    got = aclient.get("/api/treatment/hourly", params={"to": to.isoformat()}).json()
    assert [x["hour"] for x in got] == [first]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[controls]\n"5.2" = "5"\n', "controls.5.2"),
        ('[controls]\n"5.2" = "5.1"\n"5.2" = "5.0"\n', "invalid TOML"),
        ("[pco2]\npath = 3\n", "pco2.path"),
        ("[colour]\n", "colour: unknown section"),
    ],
)
def test_a_bad_analysis_file_is_named_on_page_and_api(
    store_url: str, tmp_path: Path, text: str, names: str
) -> None:
    path = tmp_path / "analysis.toml"
    path.write_text(text)
    app = create_app(Settings(store=store_url, analysis=path), now=lambda: NOW)
    with TestClient(app) as c:
        api = c.get("/api/treatment")
        assert api.status_code == 503
        assert str(path) in api.json()["detail"]
        assert names in api.json()["detail"]
        page = c.get("/treatment")
        assert page.status_code == 503
        assert names in page.text
        assert "Traceback" not in page.text


def test_no_analysis_file_says_what_to_set(client: TestClient) -> None:
    page = client.get("/treatment")
    assert page.status_code == 200
    assert "FLUXFLEET_ANALYSIS" in page.text
    assert 'id="no-controls"' in page.text
    assert client.get("/api/treatment").json() == []


def _pco2_csv(path: Path, values: dict[str, float]) -> None:
    """A soil pCO₂ table in the Carbdown layout: one reading per pot at 13:00 on the
    store's day (2023-09-15)."""
    lines = ["Timestamp,Column Name,Value,Month,Expid,Replica"]
    for loc, v in values.items():
        t, var, _rep = loc.split(".")
        lines.append(f"2023-09-15 13:00:00,{loc}.Basalt.40,{v},9,{t}.{var}.,{loc}.")
    path.write_text("\n".join(lines) + "\n")


PCO2 = {"5.1.A": 2100.0, "5.1.B": 2600.0, "5.1.C": 3050.0, "5.1.D": 1800.0,
        "5.2.A": 2900.0, "5.2.B": 0.0}  # fmt: skip
"""5.2.B's sensor is dead (0 ppm): left out."""


def test_pco2_pairs_and_fick_line_are_the_stores(store_url: str, tmp_path: Path) -> None:
    _pco2_csv(tmp_path / "pco2.csv", PCO2)
    (tmp_path / "analysis.toml").write_text('[pco2]\npath = "pco2.csv"\n')
    app = create_app(
        Settings(store=store_url, analysis=tmp_path / "analysis.toml"), now=lambda: NOW
    )
    with open_store(store_url, read_only=True) as st:
        rows = st.read("fluxes").to_pylist()
    per_loc: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        flags = set(filter(None, (r["flags"] or "").split(",")))
        if r["start"].date() == dt.date(2023, 9, 15) and not flags & set(DEFAULT_DROP):
            per_loc[r["location"]].append(r["flux_umol_m2_s"])
    with TestClient(app) as c:
        got = c.get("/api/pco2").json()
        fits = c.get("/api/pco2/fits").json()
        page = c.get("/pco2")
    want = {loc: statistics.fmean(v) for loc, v in per_loc.items() if PCO2[loc] > 0}
    assert {r["location"]: r["flux_umol_m2_s"] for r in got} == pytest.approx(want, rel=1e-12)
    assert {r["location"]: r["pco2_ppm"] for r in got} == {k: PCO2[k] for k in want}
    locs = sorted(want)
    line = statistics.linear_regression([PCO2[k] for k in locs], [want[k] for k in locs])
    assert len(fits) == 1
    assert fits[0]["table"] == "5"
    assert fits[0]["n_days"] == 5
    assert fits[0]["slope_umol_m2_s_per_ppm"] == pytest.approx(line.slope, rel=1e-9)
    assert fits[0]["intercept_umol_m2_s"] == pytest.approx(line.intercept, rel=1e-9)
    assert page.status_code == 200
    assert f"{1000 * line.slope:.3g}" in page.text


def test_a_bad_pco2_table_names_its_line(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "pco2.csv").write_text("Timestamp,Value,Replica\n2023-09-15,abc,5.1.A.\n")
    (tmp_path / "analysis.toml").write_text('[pco2]\npath = "pco2.csv"\n')
    app = create_app(
        Settings(store=store_url, analysis=tmp_path / "analysis.toml"), now=lambda: NOW
    )
    with TestClient(app) as c:
        r = c.get("/api/pco2")
    assert r.status_code == 503
    assert "pco2.csv:2: field 'Value'" in r.json()["detail"]
