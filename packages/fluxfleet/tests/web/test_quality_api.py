"""The Quality page's API: weekly shares of filtered closures (fleet, per table, per flag)
and the flagged closures, recomputed here from the store's rows; the SQL is run on both
backends (the same fluxes copied into a PostgreSQL database give the same tables, and so
do the Fluxes page's SQL aggregations)."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections import Counter
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fluxfleet.store import open_store
from fluxfleet.web import queries
from fluxfleet.web.quality import MAX_CLOSURES, filtered_share, flagged_closures

from .conftest import TestClient, iso_ms


def _week(t: dt.datetime) -> dt.datetime:
    d = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return d - dt.timedelta(days=d.weekday())


def _fluxes(store_url: str) -> list[dict]:
    with open_store(store_url, read_only=True) as st:
        return st.read("fluxes").to_pylist()


def _want(rows: list[dict], level: str) -> dict[tuple[str, ...], tuple[int, int]]:
    """(week[, table or flag]) -> (closures, filtered) from the store's rows."""
    closures: Counter[tuple[str, ...]] = Counter()
    filtered: Counter[tuple[str, ...]] = Counter()
    for r in rows:
        w = iso_ms(_week(r["start"]))
        if level == "week":
            keys = [(w,)]
            closures[(w,)] += 1
        elif level == "table":
            keys = [(w, r["location"].split(".")[0])]
            closures[keys[0]] += 1
        else:
            keys = [(w, f) for f in (r["flags"] or "").split(",") if f]
            for k in keys:
                closures[k] = sum(1 for x in rows if iso_ms(_week(x["start"])) == w)
        if r["flags"]:
            for k in keys:
                filtered[k] += 1
    if level == "flag":
        return {k: (closures[k], filtered[k]) for k in filtered}
    return {k: (closures[k], filtered[k]) for k in closures}


@pytest.mark.parametrize("level", ["week", "table", "flag"])
def test_shares_are_the_stores(client: TestClient, store_url: str, level: str) -> None:
    rows = _fluxes(store_url)
    want = _want(rows, level)
    got = client.get("/api/quality", params={"level": level}).json()
    key = (lambda r: (r["week"],)) if level == "week" else (lambda r: (r["week"], r[level]))
    assert {key(r): (r["n_closures"], r["n_filtered"]) for r in got} == want
    for r in got:
        assert r["filtered_share"] == r["n_filtered"] / r["n_closures"]
    if level == "week":
        assert sum(r["n_filtered"] for r in got) == sum(1 for r in rows if r["flags"]) > 0
    if level == "flag":
        flags = {f for r in rows for f in (r["flags"] or "").split(",") if f}
        assert {r["flag"] for r in got} == flags
        assert len(flags) >= 2, f"the faults raise several flags: {flags}"


def test_flagged_closures_drill_down(client: TestClient, store_url: str) -> None:
    rows = _fluxes(store_url)
    by_flag = client.get("/api/quality", params={"level": "flag"}).json()
    for q in by_flag:
        r = client.get("/api/quality/closures", params={"week": q["week"], "flag": q["flag"]})
        got = r.json()
        want = [
            x for x in rows
            if iso_ms(_week(x["start"])) == q["week"] and q["flag"] in x["flags"].split(",")
        ]  # fmt: skip
        assert int(r.headers["x-total-count"]) == len(want) == q["n_filtered"]
        assert sorted((x["device"], x["cyc"]) for x in got) == sorted(
            (x["device"], x["cyc"]) for x in want
        )
        assert [x["start"] for x in got] == sorted((x["start"] for x in got), reverse=True)
    table = rows[0]["location"].split(".")[0]
    week = iso_ms(_week(rows[0]["start"]))
    got = client.get("/api/quality/closures", params={"week": week, "table": table}).json()
    want = {
        (x["device"], x["cyc"]) for x in rows
        if x["flags"] and x["location"].split(".")[0] == table
        and iso_ms(_week(x["start"])) == week
    }  # fmt: skip
    assert {(x["device"], x["cyc"]) for x in got} == want


@pytest.mark.parametrize("level", ["week", "table", "flag"])
def test_quality_exports_hold_what_json_shows(client: TestClient, level: str) -> None:
    shown = client.get("/api/quality", params={"level": level}).json()
    table = pq.read_table(
        io.BytesIO(client.get("/api/quality", params={"level": level, "format": "parquet"}).content)
    )
    assert table.column_names == list(shown[0])
    assert table["n_filtered"].to_pylist() == [r["n_filtered"] for r in shown]
    csv = client.get("/api/quality", params={"level": level, "format": "csv"}).text
    assert len(csv.strip().splitlines()) == len(shown) + 1


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/quality?level=month", "level"),
        ("/api/quality?from=soon", "from"),
        ("/api/quality/closures?week=", "week"),
    ],
)
def test_quality_bad_requests_say_why(client: TestClient, path: str, says: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert says in r.text


def test_postgresql_gives_the_same_tables(store_url: str, postgres: Any) -> None:
    import psycopg

    name = f"q_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    with open_store(store_url, read_only=True) as duck:
        fluxes = duck.read("fluxes")
        with open_store(
            f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"
        ) as pg:
            pg.write_fluxes(fluxes)
            for level in ("week", "table", "flag"):
                a, b = filtered_share(duck, level), filtered_share(pg, level)
                pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=level)
            # the Fluxes page's SQL aggregation too
            for kw in ({}, {"level": "location", "bin": "day"}, {"filtered": True, "night": True}):
                pd.testing.assert_frame_equal(
                    queries.fluxes(duck, **kw), queries.fluxes(pg, **kw), check_dtype=False,
                    rtol=1e-12, obj=str(kw),
                )  # fmt: skip
            week = filtered_share(duck, "flag")["week"].iloc[0].to_pydatetime()
            a_rows, a_n = flagged_closures(duck, week)
            b_rows, b_n = flagged_closures(pg, week)
            assert a_n == b_n > 0
            pd.testing.assert_frame_equal(a_rows, b_rows, check_dtype=False)
    assert a_n <= MAX_CLOSURES  # the list above was whole
