"""The Alarms page's and the Commands panel's routes on a DuckDB store holding alarms raised,
cleared and acknowledged by the store's own methods, and a command whose acks went through
the real ingestion (BatchBuilder → Store.write): what the API answers equals the store;
reading is open, acknowledging is not."""

from __future__ import annotations

import datetime as dt
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.routing import APIRoute
from fluxfleet.firmware import protocol
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.ops import commands as ops
from fluxfleet.ops import tokens
from fluxfleet.settings import Settings
from fluxfleet.store import Store, open_store
from fluxfleet.web import create_app
from fluxfleet.web.command_panel import finished

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with")
    from fastapi.testclient import TestClient

T0 = dt.datetime(2026, 5, 1, 3, tzinfo=dt.UTC)
NOW_MS = 1_765_000_000_000


def ack(dev: str, cmd_id: str, state: str, ts: int, detail: str | None = None) -> bytes:
    """An ack message as a chamber publishes it."""
    d = {"v": 1, "ts": ts, "dev": dev, "boot": 1, "seq": 5, "cmd_id": cmd_id, "state": state}
    if detail:
        d["detail"] = detail
    return bytes(protocol.encode("ack", d))


def ingest_acks(st: Store, msgs: list[tuple[str, str, str, int, str | None]]) -> None:
    """Acks through the ingestor's batch path, as ``fluxfleet ingest`` stores them."""
    b = BatchBuilder({})
    for dev, cmd_id, state, ts, detail in msgs:
        b.add(protocol.topic(dev, "ack"), ack(dev, cmd_id, state, ts, detail), ts)
    st.write(b.build())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = f"duckdb:///{tmp_path}/fleet.duckdb"
    with open_store(url) as st:
        a1, _ = st.raise_alarm("ch001", "offline", "major", T0, None, "no sample for 10 min")
        a2, _ = st.raise_alarm("ch002", "co2_stuck", "minor", T0 + dt.timedelta(minutes=5),
                               0.0, "CO2 flat")  # fmt: skip
        st.raise_alarm("ch002", "co2_stuck", "minor", T0 + dt.timedelta(minutes=6), 0.1, "flat")
        a3, _ = st.raise_alarm("ch003", "offline", "major", T0 - dt.timedelta(hours=1), None, "")
        st.clear_alarm("ch003", "offline", T0)
        assert st.ack_alarm(a2, T0 + dt.timedelta(minutes=7), "token:bob") == "acked"
        token = tokens.create(st, "alice", 1_000)
        c = ops.build("servo_test", {"sweeps": 2}, ["ch001", "ch002", "ch003"], "token:alice",
                      NOW_MS, NOW_MS + 600_000)  # fmt: skip
        ops.record(st, c)
        ingest_acks(st, [
            ("ch001", c.cmd_id, "accepted", NOW_MS + 1000, None),
            ("ch001", c.cmd_id, "done", NOW_MS + 9000, None),
            ("ch002", c.cmd_id, "accepted", NOW_MS + 2000, None),
            ("ch002", c.cmd_id, "failed", NOW_MS + 3000, "lid is closed"),
        ])  # fmt: skip
    app = create_app(Settings(store=url))
    with TestClient(app) as client:
        yield {"client": client, "url": url, "ids": (a1, a2, a3), "token": token,
               "cmd_id": c.cmd_id, "app": app}  # fmt: skip


def store_alarms(url: str) -> list[dict[str, Any]]:
    with open_store(url, read_only=True) as st:
        return list(st.read("alarms").to_pylist())


def iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def test_api_alarms_equals_the_store_open_first_newest_first(env: dict[str, Any]) -> None:
    c: TestClient = env["client"]
    a1, a2, a3 = env["ids"]
    rows = {r["id"]: r for r in store_alarms(env["url"])}
    got = c.get("/api/alarms", params={"state": "all"}).json()
    assert [r["id"] for r in got] == [a2, a1, a3]  # open (newest raised first), then cleared
    for r in got:
        s = rows[r["id"]]
        for k, v in s.items():
            assert r[k] == (iso(v) if isinstance(v, dt.datetime) else v), (r["id"], k)
    assert got[0]["repeats"] == 2
    assert got[0]["value"] == 0.1
    assert got[0]["acked_by"] == "token:bob"
    assert got[1]["acked_by"] is None
    assert [r["id"] for r in c.get("/api/alarms").json()] == [a2, a1]  # open by default
    assert c.get("/api/alarms", params={"state": "closed"}).status_code == 400


def test_alarm_exports_are_what_the_page_shows(env: dict[str, Any]) -> None:
    c: TestClient = env["client"]
    shown = c.get("/api/alarms", params={"state": "all"}).json()
    r = c.get("/api/alarms", params={"state": "all", "format": "csv"})
    assert r.headers["content-disposition"] == 'attachment; filename="alarms-all.csv"'
    csv = pd.read_csv(io.StringIO(r.text))
    assert csv["id"].tolist() == [a["id"] for a in shown]
    assert csv["detail"].fillna("").tolist() == [a["detail"] for a in shown]
    r = c.get("/api/alarms", params={"state": "open", "format": "parquet"})
    table = pq.read_table(io.BytesIO(r.content))
    assert table["id"].to_pylist() == [a["id"] for a in shown if a["cleared"] is None]
    assert table["severity"].to_pylist() == [a["severity"] for a in shown if a["cleared"] is None]


def test_an_empty_store_answers_an_empty_list(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/empty.duckdb"
    open_store(url).close()
    with TestClient(create_app(Settings(store=url))) as c:
        assert c.get("/api/alarms").json() == []
        assert c.get("/api/alarms", params={"format": "csv"}).text.strip().split(",")[0] == "id"
        assert c.get("/alarms").status_code == 200


def test_ack_needs_a_token_and_the_page_then_shows_who(env: dict[str, Any]) -> None:
    c: TestClient = env["client"]
    a1 = env["ids"][0]
    r = c.post(f"/api/alarms/{a1}/ack")
    assert r.status_code == 401
    r = c.post(f"/api/alarms/{a1}/ack", headers={"Authorization": "Bearer fft_nope"})
    assert r.status_code == 403
    assert next(a for a in c.get("/api/alarms").json() if a["id"] == a1)["acked"] is None
    r = c.post(f"/api/alarms/{a1}/ack", headers={"Authorization": f"Bearer {env['token']}"})
    assert r.json() == {"alarm_id": a1, "result": "acked"}
    shown = next(a for a in c.get("/api/alarms").json() if a["id"] == a1)
    stored = next(a for a in store_alarms(env["url"]) if a["id"] == a1)
    assert shown["acked_by"] == stored["acked_by"] == "token:alice"
    assert shown["acked"] == iso(stored["acked"])


def test_command_status_route_is_the_ops_view(env: dict[str, Any]) -> None:
    c: TestClient = env["client"]
    got = c.get(f"/api/commands/{env['cmd_id']}")
    assert got.status_code == 200
    with open_store(env["url"], read_only=True) as st:
        assert got.json() == ops.command_status(st, env["cmd_id"])
    body = got.json()
    assert body["summary"] == {"done": ["ch001"], "failed": ["ch002"], "expired": [],
                               "accepted": [], "no_answer": ["ch003"]}  # fmt: skip
    assert [a["detail"] for a in body["devices"]["ch002"]] == [None, "lid is closed"]
    assert not finished(body)  # ch003 has not answered
    assert c.get("/api/commands/nope").status_code == 404


def test_the_ack_stream_sends_the_status_and_ends_when_all_are_final(
    env: dict[str, Any],
) -> None:
    with open_store(env["url"]) as st:  # the last target answers: the command is finished
        ingest_acks(st, [("ch003", env["cmd_id"], "expired", NOW_MS + 700_000, None)])
        status = ops.command_status(st, env["cmd_id"])
    assert status is not None
    assert finished(status)
    c: TestClient = env["client"]
    with c.stream("GET", f"/api/commands/{env['cmd_id']}/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [e for e in text.split("\n\n") if e.strip()]
    assert len(events) == 1
    assert events[0].startswith("event: command\ndata: ")
    assert json.loads(events[0].split("data: ", 1)[1]) == status
    r = c.get("/api/commands/nope/stream")
    assert r.text.startswith("event: status\n")
    assert "no command nope" in r.text


def test_the_new_routes_only_read(env: dict[str, Any]) -> None:
    mine = {"/alarms", "/api/alarms", "/commands", "/api/commands/{cmd_id}",
            "/api/commands/{cmd_id}/stream"}  # fmt: skip
    routes = [r for r in env["app"].routes if isinstance(r, APIRoute) and r.path in mine]
    assert {r.path for r in routes} == mine
    assert all(r.methods == {"GET"} for r in routes)
    c: TestClient = env["client"]
    for path in ("/alarms", "/commands", f"/commands?cmd_id={env['cmd_id']}"):
        page = c.get(path)
        assert page.status_code == 200, path
        assert 'href="/alarms"' in page.text
        assert 'href="/commands"' in page.text
        assert 'id="token"' in page.text
