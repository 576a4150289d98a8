"""The console's API against a store filled through the real ingestion: every number it
returns is recomputed here from the store's own rows (not with the console's code)."""

from __future__ import annotations

import datetime as dt
import io
import math

import pyarrow.parquet as pq
import pytest
from fluxfleet.store import open_store

from .conftest import NOW, TestClient, hourly_from_store_rows, iso_ms


def _store_fluxes(store_url: str) -> list[dict]:
    """The store's fluxes that the Fluxes page counts: those with a finite flux (a faulty
    closure, e.g. during a sensor dropout, may have none)."""
    with open_store(store_url, read_only=True) as st:
        rows = st.read("fluxes").to_pylist()
    return [
        r for r in rows if r["flux_umol_m2_s"] is not None and math.isfinite(r["flux_umol_m2_s"])
    ]


def test_devices_are_the_stores(client: TestClient, store_url: str) -> None:
    with open_store(store_url, read_only=True) as st:
        devices = {d["device"]: d for d in st.read("devices").to_pylist()}
        samples = st.read("samples").to_pylist()
    newest: dict[str, dict] = {}
    for s in samples:
        if s["device"] not in newest or s["seq"] > newest[s["device"]]["seq"]:
            newest[s["device"]] = s
    got = client.get("/api/devices").json()
    assert sorted(r["device"] for r in got) == sorted(devices)
    for r in got:
        d, s = devices[r["device"]], newest[r["device"]]
        assert r["last_seen_age_s"] == pytest.approx((NOW - d["last_seen"]).total_seconds())
        assert (r["phase"], r["cyc"]) == (s["phase"], s["cyc"])
        assert r["last_sample"] == iso_ms(s["time"])
        assert (r["firmware"], r["slot"], r["location"], r["state"]) == (
            d["firmware"], d["slot"], d["location"], d["state"]
        )  # fmt: skip
        table, variant, replica = d["location"].split(".")
        assert (r["table"], r["variant"], r["replica"]) == (table, f"{table}.{variant}", replica)


@pytest.mark.parametrize("filtered", [False, True])
def test_hourly_variant_means_are_the_stores(
    client: TestClient, store_url: str, filtered: bool
) -> None:
    rows = _store_fluxes(store_url)
    if filtered:
        rows = [r for r in rows if not r["flags"]]
    want = hourly_from_store_rows(rows)
    got = client.get("/api/fluxes", params={"filtered": str(filtered).lower()}).json()
    assert {(r["hour"], r["variant"]) for r in got} == set(want)
    for r in got:
        mean, sd, reps, n = want[(r["hour"], r["variant"])]
        assert r["flux_mean_umol_m2_s"] == pytest.approx(mean, rel=1e-12)
        assert r["flux_sd_umol_m2_s"] == (None if sd is None else pytest.approx(sd, rel=1e-9))
        assert (r["n_replicas"], r["n_closures"]) == (reps, n)
    assert sum(r["n_closures"] for r in got) == len(rows)


def test_filtered_drops_flagged_closures(client: TestClient, store_url: str) -> None:
    rows = _store_fluxes(store_url)
    flagged = sum(1 for r in rows if r["flags"])
    assert flagged > 0, "the simulated fleet should give some QC-flagged closures"
    n_all = sum(r["n_closures"] for r in client.get("/api/fluxes").json())
    n_ok = sum(r["n_closures"] for r in client.get("/api/fluxes?filtered=true").json())
    assert n_all - n_ok == flagged


def test_location_device_and_time_filters(client: TestClient, store_url: str) -> None:
    rows = _store_fluxes(store_url)
    variants = sorted({r["location"].rsplit(".", 1)[0] for r in rows})
    v = variants[-1]
    got = client.get("/api/fluxes", params={"location": v}).json()
    assert {r["variant"] for r in got} == {v}
    assert sum(r["n_closures"] for r in got) == sum(
        1 for r in rows if r["location"].startswith(v + ".")
    )
    dev = rows[0]["device"]
    got = client.get("/api/fluxes", params={"device": dev, "level": "location"}).json()
    assert {r["location"] for r in got} == {rows[0]["location"]}
    assert sum(r["n_closures"] for r in got) == sum(1 for r in rows if r["device"] == dev)
    t0 = min(r["start"] for r in rows).replace(minute=0, second=0, microsecond=0)
    t1 = t0 + dt.timedelta(hours=1)
    got = client.get("/api/fluxes", params={"from": t0.isoformat(), "to": t1.isoformat()}).json()
    assert {r["hour"] for r in got} == {iso_ms(t0)}


def test_closure_level_lists_each_closure(client: TestClient, store_url: str) -> None:
    rows = _store_fluxes(store_url)
    t0 = min(r["start"] for r in rows)
    t1 = t0 + dt.timedelta(hours=1)
    want = {(r["device"], r["cyc"]): r["flux_umol_m2_s"] for r in rows if t0 <= r["start"] < t1}
    got = client.get(
        "/api/fluxes", params={"level": "closure", "from": t0.isoformat(), "to": t1.isoformat()}
    ).json()
    assert {(r["device"], r["cyc"]): r["flux_umol_m2_s"] for r in got} == want


def test_closure_is_the_stores(client: TestClient, store_url: str) -> None:
    flux = _store_fluxes(store_url)[3]
    with open_store(store_url, read_only=True) as st:
        samples = [
            s for s in st.read("samples", devices=[flux["device"]]).to_pylist()
            if s["cyc"] == flux["cyc"]
        ]  # fmt: skip
    got = client.get(f"/api/closures/{flux['device']}/{flux['cyc']}").json()
    c = got["closure"]
    assert c["flux_umol_m2_s"] == flux["flux_umol_m2_s"]
    assert (c["model"], c["n_fit"], c["location"]) == (
        flux["model"],
        flux["n_fit"],
        flux["location"],
    )
    assert [s["seq"] for s in got["samples"]] == [s["seq"] for s in samples]
    assert [s["co2_ppm"] for s in got["samples"]] == [s["co2_ppm"] for s in samples]
    fit_start = flux["start"] + dt.timedelta(seconds=flux["deadband_s"])
    in_fit = [s["seq"] for s in samples if fit_start <= s["time"] <= flux["end"]]
    assert [s["seq"] for s in got["samples"] if s["in_fit"]] == in_fit
    assert len(in_fit) == flux["n_fit"]  # the window holds the samples soilflux fitted
    assert c["fit_start"] == fit_start.isoformat()


@pytest.mark.parametrize(
    "path",
    ["/api/devices", "/api/fluxes", "/api/fluxes?level=location&filtered=true"],
)
def test_csv_and_parquet_hold_what_json_shows(client: TestClient, path: str) -> None:
    sep = "&" if "?" in path else "?"
    shown = client.get(path).json()
    table = pq.read_table(io.BytesIO(client.get(f"{path}{sep}format=parquet").content))
    assert table.num_rows == len(shown)
    assert table.column_names == list(shown[0])
    numeric = [k for k, v in shown[0].items() if isinstance(v, float)]
    for k in numeric:
        assert table[k].to_pylist() == pytest.approx([r[k] for r in shown], nan_ok=True)
    csv = client.get(f"{path}{sep}format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].split(",") == list(shown[0])
    assert len(lines) == len(shown) + 1


def test_closure_export(client: TestClient, store_url: str) -> None:
    flux = _store_fluxes(store_url)[0]
    path = f"/api/closures/{flux['device']}/{flux['cyc']}"
    shown = client.get(path).json()["samples"]
    table = pq.read_table(io.BytesIO(client.get(path + "?format=parquet").content))
    assert table["seq"].to_pylist() == [s["seq"] for s in shown]


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/fluxes?from=yesterday", 400, "from"),
        ("/api/fluxes?level=season", 400, "level"),
        ("/api/fluxes?level=closure", 400, "level=closure"),
        ("/api/fluxes?level=closure&from=2023-09-01&to=2023-09-20", 400, "2 days"),
        ("/api/fluxes?from=2023-09-16&to=2023-09-15", 400, "to"),
        ("/api/closures/ch000/1", 404, "no closure"),
        ("/api/devices?format=xlsx", 422, "format"),
    ],
)
def test_bad_requests_say_why(client: TestClient, path: str, status: int, says: str) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert says in r.text


def test_offline_is_derived_from_the_last_samples_age(store_url: str) -> None:
    from fluxfleet.settings import Settings
    from fluxfleet.web import create_app
    from fluxfleet.web.queries import OFFLINE_AFTER_S

    with open_store(store_url, read_only=True) as st:
        last = {d: t for d, (t, _, _) in st.last_samples().items()}
    now = max(last.values()) + dt.timedelta(seconds=30)
    with TestClient(create_app(Settings(store=store_url), now=lambda: now)) as c:
        got = c.get("/api/devices").json()
    for r in got:
        age = (now - last[r["device"]]).total_seconds()
        assert r["last_sample_age_s"] == pytest.approx(age)
        assert r["link"] == ("online" if age <= OFFLINE_AFTER_S else "offline")
    assert {r["link"] for r in got} >= {"online"}


def test_night_only_leaves_out_daylight_closures(store_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The simulated night has no daylight closure: mark three in a copy of the store."""
    import shutil

    import pyarrow as pa
    from fluxfleet.settings import Settings
    from fluxfleet.web import create_app

    copy = tmp_path / "day.duckdb"
    shutil.copy(store_path, copy)
    url = f"duckdb:///{copy}"
    with open_store(url) as st:
        f = st.read("fluxes")
        flags = f["flags"].to_pylist()
        day = [i for i, x in enumerate(f["flux_umol_m2_s"].to_pylist()) if x == x][:3]
        for i in day:
            flags[i] = ",".join(x for x in [flags[i], "daylight"] if x)
        st.write_fluxes(f.set_column(f.schema.get_field_index("flags"), "flags", pa.array(flags)))
    rows = [r for r in _store_fluxes(url) if "daylight" not in (r["flags"] or "").split(",")]
    assert len(rows) == len(_store_fluxes(url)) - 3
    want = hourly_from_store_rows(rows)
    with TestClient(create_app(Settings(store=url), now=lambda: NOW)) as c:
        got = c.get("/api/fluxes", params={"night": "true"}).json()
    assert {(r["hour"], r["variant"]): r["n_closures"] for r in got} == {
        k: v[3] for k, v in want.items()
    }


def test_daily_bins(client: TestClient, store_url: str) -> None:
    rows = _store_fluxes(store_url)
    by_day: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        day = iso_ms(r["start"].replace(hour=0, minute=0, second=0, microsecond=0))
        by_day.setdefault((day, r["location"]), []).append(r["flux_umol_m2_s"])
    got = client.get("/api/fluxes", params={"bin": "day", "level": "location"}).json()
    assert {(r["day"], r["location"]): r["n_closures"] for r in got} == {
        k: len(v) for k, v in by_day.items()
    }
    for r in got:
        assert r["flux_mean_umol_m2_s"] == pytest.approx(
            sum(by_day[(r["day"], r["location"])]) / r["n_closures"], rel=1e-12
        )
    assert client.get("/api/fluxes", params={"bin": "week"}).status_code == 400


def test_auto_bin_is_daily_beyond_two_weeks(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    from fluxfleet.store import schema
    from fluxfleet.web import queries

    # the 3-hour test store: per hour
    # (to 1e-12: DuckDB's parallel aggregation may sum in another order from call to call,
    # which moves the last bit of an sd; a CI run saw 0.10554780516357834 vs ...842)
    auto, hourly = client.get("/api/fluxes").json(), client.get("/api/fluxes?bin=hour").json()
    assert len(auto) == len(hourly)
    for a, h in zip(auto, hourly, strict=True):
        assert a.keys() == h.keys()
        for k, v in h.items():
            assert a[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v), k
    # 20 days of one closure a day: per day
    t0 = dt.datetime(2024, 5, 1, 3, tzinfo=dt.UTC)
    starts = [t0 + dt.timedelta(days=i) for i in range(20)]
    rows = {
        "device": ["ch000"] * 20, "cyc": list(range(20)), "location": ["5.1.A"] * 20,
        "start": starts, "end": [t + dt.timedelta(minutes=3) for t in starts],
        "flux_umol_m2_s": [float(i) for i in range(20)], "flux_se_umol_m2_s": [0.1] * 20,
        "model": ["robust"] * 20, "flags": [""] * 20, "n_fit": [50] * 20, "r2": [0.99] * 20,
        "deadband_s": [20.0] * 20, "computed": starts,
    }  # fmt: skip
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as st:
        st.write_fluxes(pa.table(rows).cast(schema.FLUXES))
        got = queries.fluxes(st, bin="auto")
    assert got.columns[0] == "day"
    assert len(got) == 20
    assert got["flux_mean_umol_m2_s"].tolist() == [float(i) for i in range(20)]


def test_hourly_json_beyond_a_month_is_refused_files_are_not(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    from fluxfleet.store import schema
    from fluxfleet.web import queries

    # from/to 59 days apart: hourly JSON is a raw season for the browser (400, says why)
    span = {"bin": "hour", "from": "2024-01-01T00:00:00", "to": "2024-02-29T00:00:00"}
    r = client.get("/api/fluxes", params=span)
    assert r.status_code == 400
    assert "at most 31 days" in r.json()["detail"]
    assert "format=csv" in r.json()["detail"]
    # the same span as a download, per day, or as 31 days of hours: answered
    assert client.get("/api/fluxes", params={**span, "format": "csv"}).status_code == 200
    assert client.get("/api/fluxes", params={**span, "bin": "day"}).status_code == 200
    month = {**span, "to": "2024-02-01T00:00:00"}
    assert client.get("/api/fluxes", params=month).status_code == 200
    # without from/to the selected closures' own span counts: 40 days of one closure a day
    t0 = dt.datetime(2024, 5, 1, 3, tzinfo=dt.UTC)
    starts = [t0 + dt.timedelta(days=i) for i in range(40)]
    rows = {
        "device": ["ch000"] * 40, "cyc": list(range(40)), "location": ["5.1.A"] * 40,
        "start": starts, "end": [t + dt.timedelta(minutes=3) for t in starts],
        "flux_umol_m2_s": [1.0] * 40, "flux_se_umol_m2_s": [0.1] * 40,
        "model": ["robust"] * 40, "flags": [""] * 40, "n_fit": [50] * 40, "r2": [0.99] * 40,
        "deadband_s": [20.0] * 40, "computed": starts,
    }  # fmt: skip
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as st:
        st.write_fluxes(pa.table(rows).cast(schema.FLUXES))
        span_all = queries.hourly_span(st, None, None, None, None, False, False)
    assert span_all == dt.timedelta(days=39)
    with pytest.raises(queries.QueryError, match="39 days"):
        queries.check_hourly_json_span(span_all, "bin=hour")
    queries.check_hourly_json_span(dt.timedelta(days=31), "bin=hour")  # the limit itself


def test_newest_samples_finds_a_device_silent_before_the_recent_span(store_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The two-step read (recent span, then the lookback for the devices not found) gives
    the store's own newest sample of every device, also of one silent for an hour."""
    import shutil

    from fluxfleet.web.queries import NEWEST_RECENT, newest_samples

    copy = tmp_path / "silent.duckdb"
    shutil.copy(store_path, copy)
    with open_store(f"duckdb:///{copy}") as st:
        last = st.last_samples()
        quiet = sorted(last)[0]
        cut = max(t for t, _, _ in last.values()) - NEWEST_RECENT - dt.timedelta(hours=1)
        st.select("DELETE FROM samples WHERE device = ? AND time > ?", [quiet, cut])
        want = st.last_samples()
        assert want[quiet][0] <= cut < last[quiet][0]
        assert newest_samples(st) == want
