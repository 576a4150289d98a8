"""The **Quality** page: the share of filtered closures per week — over the fleet, per
greenhouse table and per QC flag (the seed's weekly plots) — down to the flagged closures.

A closure is *filtered* when soilflux gave it any QC flag (the ``flags`` column of
``fluxes`` is not empty), as ``/api/fluxes?filtered=true`` leaves it out. The counting is
done by the store in SQL (one ``GROUP BY`` per table), so a season costs the browser a few
rows per week. Weeks are ISO weeks starting Monday 00:00 UTC.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import datetime as dt
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from fluxfleet.store import Store
from fluxfleet.web import day_rollups
from fluxfleet.web.console import Console
from fluxfleet.web.formats import FORMAT_PATTERN, parse_time, table_response

LEVELS = ("week", "table", "flag")
MAX_CLOSURES = 1000
"""Flagged closures one request lists (the newest first; the page says when cut)."""

_FLAGGED = "coalesce(flags, '') <> ''"
_TABLE = "split_part(location, '.', 1)"


def _where(start: dt.datetime | None, end: dt.datetime | None) -> tuple[str, list[object]]:
    parts, params = day_rollups.window(start, end)
    return " AND ".join(["1 = 1", *parts]), params


def _frame(store: Store, statement: str, params: list[object], columns: list[str]) -> pd.DataFrame:
    df = store.select(statement, params).to_pandas()
    if df.empty:
        return pd.DataFrame(columns=columns)
    if "week" in df:
        df["week"] = pd.to_datetime(df["week"], utc=True)
    return df[columns]


def filtered_share(
    store: Store,
    level: str = "week",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> pd.DataFrame:
    """Closures and filtered closures per week (``level="week"``), per week and table
    (``"table"``) or per week and flag (``"flag"``), with ``filtered_share`` [-] =
    filtered / closures of that week (and table). Per flag, a closure with two flags
    counts once under each, so the flags' shares of a week may add up to more than its
    filtered share."""
    if level not in LEVELS:
        raise HTTPException(400, f"level: {level!r} is not one of {', '.join(LEVELS)}")
    # A season's weeks are counted over every closure: the counts are kept per day and
    # counted again only for the days whose fluxes changed (web.day_rollups).
    return day_rollups.per_day(
        store,
        "quality",
        level,
        start,
        end,
        lambda ranges: _daily_counts(store, level, start, end, ranges),
        "day",
        lambda daily: _weekly(daily, level),
    )


def _daily_counts(
    store: Store,
    level: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    ranges: list[day_rollups.Range],
) -> pd.DataFrame:
    """Per UTC day (and week, table or flag): closures and filtered closures. Per flag,
    a row with a null flag carries the day's closures (a day without a flag counts)."""
    where, params = _where(start, end)
    days, day_params = day_rollups.ranges_clause(ranges)
    where, params = f"{where} AND {days}", [*params, *day_params]
    keys = "date_trunc('week', \"start\") AS week, date_trunc('day', \"start\") AS day"
    if level == "week":
        statement = (
            f"SELECT {keys}, count(*) AS n_closures, count(*) FILTER (WHERE {_FLAGGED}) "
            f"AS n_filtered FROM fluxes WHERE {where} GROUP BY 1, 2 ORDER BY 2"
        )
        columns = ["week", "day", "n_closures", "n_filtered"]
    elif level == "table":
        statement = (
            f'SELECT {keys}, {_TABLE} AS "table", count(*) AS n_closures, '
            f"count(*) FILTER (WHERE {_FLAGGED}) AS n_filtered "
            f"FROM fluxes WHERE {where} GROUP BY 1, 2, 3 ORDER BY 2, 3"
        )
        columns = ["week", "day", "table", "n_closures", "n_filtered"]
    else:
        statement = (
            f"SELECT week, day, flag, count(*) AS n_filtered FROM (SELECT {keys}, "
            "unnest(string_to_array(flags, ',')) AS flag "
            f"FROM fluxes WHERE {where} AND {_FLAGGED}) f GROUP BY 1, 2, 3 "
            f"UNION ALL SELECT {keys}, NULL AS flag, count(*) AS n_filtered "
            f"FROM fluxes WHERE {where} GROUP BY 1, 2 ORDER BY 2, 3"
        )
        params = params + params
        columns = ["week", "day", "flag", "n_filtered"]
    df = store.select(statement, params).to_pandas()
    if df.empty:
        return pd.DataFrame(columns=columns)
    df["week"] = pd.to_datetime(df["week"], utc=True)
    df["day"] = pd.to_datetime(df["day"], utc=True)
    return df[columns]


def _weekly(daily: pd.DataFrame, level: str) -> pd.DataFrame:
    """Per week (and table or flag): closures, filtered closures and their share."""
    columns = {
        "week": ["week", "n_closures", "n_filtered"],
        "table": ["week", "table", "n_closures", "n_filtered"],
        "flag": ["week", "flag", "n_closures", "n_filtered"],
    }[level]
    if daily.empty:
        df = pd.DataFrame(columns=columns)
    elif level == "flag":
        total = daily[daily["flag"].isna()].groupby("week", sort=True)["n_filtered"].sum()
        flags = daily[daily["flag"].notna()]
        df = flags.groupby(["week", "flag"], sort=True)["n_filtered"].sum().reset_index()
        df["n_closures"] = total.reindex(df["week"]).to_numpy()
        df = df[columns]
    else:
        keys = columns[:-2]
        df = daily.groupby(keys, sort=True)[["n_closures", "n_filtered"]].sum().reset_index()
    df["n_closures"] = df["n_closures"].astype("int64")
    df["n_filtered"] = df["n_filtered"].astype("int64")
    df["filtered_share"] = (df["n_filtered"] / df["n_closures"]).astype("float64")
    return df.reset_index(drop=True)


def _filtered_share(
    store: Store, level: str, start: dt.datetime | None, end: dt.datetime | None
) -> pd.DataFrame:
    """:func:`filtered_share` counted by week over the whole window at once (the reference
    the kept-per-day counts are tested against)."""
    where, params = _where(start, end)
    week = "date_trunc('week', \"start\")"
    if level == "week":
        df = _frame(
            store,
            f"SELECT {week} AS week, count(*) AS n_closures, "
            f"count(*) FILTER (WHERE {_FLAGGED}) AS n_filtered "
            f"FROM fluxes WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
            ["week", "n_closures", "n_filtered"],
        )
    elif level == "table":
        df = _frame(
            store,
            f'SELECT {week} AS week, {_TABLE} AS "table", count(*) AS n_closures, '
            f"count(*) FILTER (WHERE {_FLAGGED}) AS n_filtered "
            f"FROM fluxes WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
            params,
            ["week", "table", "n_closures", "n_filtered"],
        )
    else:
        df = _frame(
            store,
            f"WITH w AS (SELECT {week} AS week, count(*) AS n_closures "
            f"FROM fluxes WHERE {where} GROUP BY 1), "
            f"f AS (SELECT {week} AS week, unnest(string_to_array(flags, ',')) AS flag "
            f"FROM fluxes WHERE {where} AND {_FLAGGED}) "
            "SELECT f.week AS week, f.flag AS flag, w.n_closures AS n_closures, "
            "count(*) AS n_filtered FROM f JOIN w ON f.week = w.week "
            "GROUP BY f.week, f.flag, w.n_closures ORDER BY 1, 2",
            params + params,
            ["week", "flag", "n_closures", "n_filtered"],
        )
    df["n_closures"] = df["n_closures"].astype("int64")
    df["n_filtered"] = df["n_filtered"].astype("int64")
    df["filtered_share"] = (df["n_filtered"] / df["n_closures"]).astype("float64")
    return df.reset_index(drop=True)


def flagged_closures(
    store: Store,
    week: dt.datetime,
    table: str | None = None,
    flag: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The filtered closures of the week starting ``week`` (of one greenhouse ``table``,
    carrying ``flag``), newest first, at most :data:`MAX_CLOSURES`; and how many there are.
    Flux in [µmol m⁻² s⁻¹]."""
    where, params = _where(week, week + dt.timedelta(days=7))
    where += f" AND {_FLAGGED}"
    if table:
        where += f" AND {_TABLE} = ?"
        params.append(table)
    if flag:
        where += " AND (',' || flags || ',') LIKE ?"
        params.append(f"%,{flag},%")
    columns = ["device", "cyc", "location", "start", "flux_umol_m2_s", "model", "flags", "r2"]
    total = store.select(f"SELECT count(*) AS n FROM fluxes WHERE {where}", params)
    df = store.select(
        f'SELECT device, cyc, location, "start", flux_umol_m2_s, model, flags, r2 '
        f'FROM fluxes WHERE {where} ORDER BY "start" DESC, device LIMIT {MAX_CLOSURES}',
        params,
    ).to_pandas()
    if df.empty:
        df = pd.DataFrame(columns=columns)
    df["start"] = pd.to_datetime(df["start"], utc=True)
    return df[columns].reset_index(drop=True), int(total["n"][0].as_py())


def register(app: FastAPI, console: Console) -> None:
    """Add the Quality page and its routes to ``app``."""
    StoreDep = Annotated[Store, console.store_dep]
    Format = Annotated[str, Query(pattern=FORMAT_PATTERN)]

    @app.get("/api/quality")
    def api_quality(
        st: StoreDep,
        level: str = "week",
        from_: Annotated[str | None, Query(alias="from")] = None,
        to: str | None = None,
        format: Format = "json",
    ) -> Response:
        start, end = parse_time(from_, "from"), parse_time(to, "to")
        return table_response(filtered_share(st, level, start, end), format, f"quality-{level}")

    @app.get("/api/quality/closures")
    def api_quality_closures(
        st: StoreDep,
        week: str,
        table: str | None = None,
        flag: str | None = None,
        format: Format = "json",
    ) -> Response:
        t = parse_time(week, "week")
        if t is None:
            raise HTTPException(400, "week: give the week's first day (ISO 8601)")
        df, total = flagged_closures(st, t, table or None, flag or None)
        out = table_response(df, format, "flagged-closures")
        out.headers["X-Total-Count"] = str(total)
        return out

    @app.get("/quality", response_class=HTMLResponse)
    def quality_page(request: Request) -> Response:
        return console.templates.TemplateResponse(
            request, "quality.html", {"max_closures": MAX_CLOSURES}
        )
