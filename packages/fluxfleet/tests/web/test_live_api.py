"""The Live page's API: the shown window and fitted lines equal the store's, and the
stream's bookkeeping (:class:`fluxfleet.web.live.LiveFeed`) sends each new sample and each
new flux exactly once as ingestion adds them."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import numpy as np
import pyarrow.parquet as pq
import pytest
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.ingest.fluxes import LiveFluxes
from fluxfleet.settings import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
from fluxfleet.sim.fleet import FleetConfig
from fluxfleet.sim.runner import run_fleet
from fluxfleet.store import Store, open_store
from fluxfleet.web.live import MAX_DEVICES, WINDOW, LiveFeed, sse

from .conftest import START_S, TestClient, iso_ms


def _window(store_url: str, devices: list[str]) -> tuple[list[dict], list[dict]]:
    """The store's samples and fluxes of ``devices`` in the 20 minutes before the newest."""
    with open_store(store_url, read_only=True) as st:
        samples = st.read("samples", devices=devices).to_pylist()
        fluxes = st.read("fluxes", devices=devices).to_pylist()
    t0 = max(s["time"] for s in samples) - WINDOW
    return [s for s in samples if s["time"] >= t0], [f for f in fluxes if f["start"] >= t0]


def test_live_samples_are_the_stores_last_20_minutes(client: TestClient, store_url: str) -> None:
    devices = ["ch000", "ch003"]
    want, _ = _window(store_url, devices)
    got = client.get("/api/live/samples", params={"device": devices}).json()
    assert [(r["device"], r["seq"]) for r in got] == [(s["device"], s["seq"]) for s in want]
    assert [r["co2_ppm"] for r in got] == [s["co2_ppm"] for s in want]
    assert [r["time"] for r in got] == [iso_ms(s["time"]) for s in want]
    assert {r["phase"] for r in got} >= {"open", "closed"}  # a whole cycle is in the window


def test_live_fits_are_the_stored_fluxes_with_their_lines(
    client: TestClient, store_url: str
) -> None:
    devices = ["ch000", "ch001"]
    _, fluxes = _window(store_url, devices)
    assert fluxes, "a closure ended in the window"
    got = {(r["device"], r["cyc"]): r for r in client.get(
        "/api/live/fits", params={"device": devices}).json()}  # fmt: skip
    assert set(got) == {(f["device"], f["cyc"]) for f in fluxes}
    with open_store(store_url, read_only=True) as st:
        all_samples = st.read("samples", devices=devices).to_pylist()
    for f in fluxes:
        r = got[(f["device"], f["cyc"])]
        assert (r["flux_umol_m2_s"], r["model"], r["flags"]) == (
            f["flux_umol_m2_s"], f["model"], f["flags"]
        )  # fmt: skip
        start = f["start"] + dt.timedelta(seconds=f["deadband_s"])
        assert (r["fit_start"], r["fit_end"]) == (iso_ms(start), iso_ms(f["end"]))
        win = [
            s for s in all_samples if s["device"] == f["device"] and start <= s["time"] <= f["end"]
        ]
        assert len(win) == f["n_fit"]
        t = np.array([(s["time"] - start).total_seconds() for s in win])
        slope, icept = np.polyfit(t, [s["co2_ppm"] for s in win], 1)
        assert r["fit_slope_ppm_s"] == pytest.approx(slope, rel=1e-9)
        assert r["fit_start_co2_ppm"] == pytest.approx(icept, rel=1e-9)
        span = (f["end"] - start).total_seconds()
        assert r["fit_end_co2_ppm"] == pytest.approx(icept + slope * span, rel=1e-9)


@pytest.mark.parametrize("what", ["samples", "fits"])
def test_live_exports_hold_what_json_shows(client: TestClient, what: str) -> None:
    params = {"device": ["ch000", "ch002"]}
    shown = client.get(f"/api/live/{what}", params=params).json()
    table = pq.read_table(
        io.BytesIO(client.get(f"/api/live/{what}", params={**params, "format": "parquet"}).content)
    )
    assert table.num_rows == len(shown) > 0
    assert table.column_names == list(shown[0])
    csv = client.get(f"/api/live/{what}", params={**params, "format": "csv"}).text
    assert len(csv.strip().splitlines()) == len(shown) + 1


@pytest.mark.parametrize(
    ("params", "says"),
    [({}, "at least one"), ({"device": [f"d{i}" for i in range(MAX_DEVICES + 1)]}, "at most")],
)
def test_live_refuses_no_or_too_many_chambers(client: TestClient, params: dict, says: str) -> None:
    for route in ("/api/live/samples", "/api/live/fits", "/api/live/stream"):
        r = client.get(route, params=params)
        assert r.status_code in (400, 422)
        assert says in r.text or "device" in r.text


def test_live_page_lists_the_chambers(client: TestClient) -> None:
    html = client.get("/live", params={"device": ["ch001", "nosuch"]}).text
    assert 'data-device="ch001"' in html
    assert 'data-device="nosuch"' not in html


def test_sse_frame() -> None:
    assert sse("sample", {"seq": 3}) == 'event: sample\ndata: {"seq": 3}\n\n'


# ----------------------------------------------------------------- the stream's bookkeeping


@pytest.fixture(scope="module")
def messages() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    cfg = FleetConfig(chambers=2, start_s=START_S, duration_s=3600.0, seed=5)
    run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
    return out


def _ingest(st: Store, live: LiveFluxes, messages: list[tuple[str, bytes]]) -> None:
    for i in range(0, len(messages), 200):
        b = BatchBuilder(st.last_locations())
        for k, (topic, payload) in enumerate(messages[i : i + 200]):
            b.add(topic, payload, int(START_S * 1000) + 3_600_000 + i + k)
        st.write(b.build())
        live.update(b.dirty)


@pytest.fixture
def half_store(tmp_path, messages) -> Iterator[tuple[Store, LiveFluxes, int]]:  # type: ignore[no-untyped-def]
    st = open_store(f"duckdb:///{tmp_path / 'live.duckdb'}")
    live = LiveFluxes(st, DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)
    half = len(messages) // 2
    _ingest(st, live, messages[:half])
    yield st, live, half
    st.close()


def test_feed_sends_each_new_sample_and_flux_once(half_store, messages) -> None:  # type: ignore[no-untyped-def]
    st, live, half = half_store
    last = st.last_samples()
    devices = sorted(last)
    # what the page passes: the newest sample time it shows, and each chamber's newest seq
    after = max(t for t, _, _ in last.values())
    newest = {r["device"]: r["seq"] for r in st.read("samples").to_pylist()}
    feed = LiveFeed(devices, after, newest)
    first = feed.poll(st)
    # before anything new: only the fits of closures already ended may come, no sample
    assert [e for e, _ in first if e == "sample"] == []
    fitted_before = {(d["device"], d["cyc"]) for e, d in first if e == "fit"}

    seen_before = {(r["device"], r["seq"]) for r in st.read("samples").to_pylist()}
    fluxes_before = {(r["device"], r["cyc"]) for r in st.read("fluxes").to_pylist()}
    _ingest(st, live, messages[half:])
    events = feed.poll(st)
    sent = [(d["device"], d["seq"]) for e, d in events if e == "sample"]
    new = [
        (r["device"], r["seq"]) for r in st.read("samples").to_pylist()
        if (r["device"], r["seq"]) not in seen_before
    ]  # fmt: skip
    assert new, "the second half adds samples"
    assert sorted(sent) == sorted(new)
    fits = {(d["device"], d["cyc"]) for e, d in events if e == "fit"}
    stored_new = {(r["device"], r["cyc"]) for r in st.read("fluxes").to_pylist()} - fluxes_before
    assert stored_new, "closures end in the second half"
    # every new flux whose closure started within the window is drawn, none twice
    assert stored_new - fits <= set()
    assert fits.isdisjoint(fitted_before)
    assert feed.poll(st) == []  # nothing is sent twice


def test_feed_on_a_store_without_data_yet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A page opened before the chambers' first samples (the live demo's first seconds):
    the stream polls an empty store, then one with samples but no flux yet, without error."""
    with open_store(f"duckdb:///{tmp_path / 'empty.duckdb'}") as st:
        after = dt.datetime.fromtimestamp(START_S, dt.UTC)
        feed = LiveFeed(["ch000"], after, {"ch000": 5})
        assert feed.poll(st) == []
        out: list[tuple[str, bytes]] = []
        cfg = FleetConfig(chambers=1, start_s=START_S, duration_s=120.0, seed=5)
        run_fleet(cfg, [], None, sink=lambda t, p: out.append((t, p)))
        b = BatchBuilder(st.last_locations())
        for k, (topic, payload) in enumerate(out):
            b.add(topic, payload, int(START_S * 1000) + 200_000 + k)
        st.write(b.build())
        events = feed.poll(st)
        assert {e for e, _ in events} == {"sample"}
        assert sorted(d["seq"] for _, d in events) == sorted(
            r["seq"] for r in st.read("samples").to_pylist() if r["seq"] > 5
        )
