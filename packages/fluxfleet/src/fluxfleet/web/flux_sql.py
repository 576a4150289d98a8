"""The Fluxes page's aggregation as SQL run by the store (``Store.select``): per hour or
day, per location (mean and sd over closures) or per variant (mean and sd over the
replicas' means). A season is 50 chambers × 26,000 closures: counted where it lies
instead of being read into the web process.

The same statement runs on DuckDB and PostgreSQL (``date_trunc``, ``split_part``,
``stddev_samp``; NaN and ±inf fluxes are left out by comparing with ``'NaN'`` and
``'Infinity'``, which both order above every number).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from fluxfleet.store.base import Store
from fluxfleet.web.day_rollups import window

_VARIANT = "split_part(location, '.', 1) || '.' || split_part(location, '.', 2)"


def where(
    device: str | None,
    location: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    filtered: bool,
    night: bool,
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) of the closures a Fluxes query counts."""
    parts = [
        "location LIKE '%.%.%'",
        "flux_umol_m2_s < CAST('Infinity' AS DOUBLE PRECISION)",
        "flux_umol_m2_s > -CAST('Infinity' AS DOUBLE PRECISION)",
    ]
    params: list[object] = []
    if device:
        parts.append("device = ?")
        params.append(device)
    if location:  # a table "9", a variant "9.2" or one location "9.2.B"
        parts.append("(location = ? OR location LIKE ?)")
        params += [location, location.replace("%", "").replace("_", "") + ".%"]
    since, since_params = window(start, end)
    parts += since
    params += since_params
    if filtered:
        parts.append("coalesce(flags, '') = ''")
    if night:  # soilflux's daylight flag: lux above its night threshold (seed: 10 lx)
        parts.append("(',' || coalesce(flags, '') || ',') NOT LIKE '%,daylight,%'")
    return " AND ".join(parts), params


def span(store: Store, clause: str, params: list[object]) -> dt.timedelta:
    """Time between the first and the last closure start that ``clause`` selects."""
    t = store.select(
        f'SELECT min("start") AS lo, max("start") AS hi FROM fluxes WHERE {clause}', params
    ).to_pylist()[0]
    if t["lo"] is None:
        return dt.timedelta(0)
    return pd.Timestamp(t["hi"]) - pd.Timestamp(t["lo"])


def aggregate(
    store: Store, level: str, bin: str, clause: str, params: list[object]
) -> pd.DataFrame:
    """Per ``bin`` (``hour``/``day``) and ``level`` (``variant``/``location``) means [µmol
    m⁻² s⁻¹] and sample sds (ddof 1; null for one value) of the selected closures."""
    per_location = (
        f"SELECT date_trunc('{bin}', \"start\") AS {bin}, {_VARIANT} AS variant, location, "
        "avg(flux_umol_m2_s) AS m, stddev_samp(flux_umol_m2_s) AS sd, count(*) AS n "
        f"FROM fluxes WHERE {clause} GROUP BY 1, 2, 3"
    )
    if level == "location":
        sql = (
            f"SELECT {bin}, variant, location, m AS flux_mean_umol_m2_s, "
            "sd AS flux_sd_umol_m2_s, n AS n_closures "
            f"FROM ({per_location}) p ORDER BY 1, 2, 3"
        )
        columns = [bin, "variant", "location", "flux_mean_umol_m2_s", "flux_sd_umol_m2_s",
                   "n_closures"]  # fmt: skip
    else:
        sql = (
            f"SELECT {bin}, variant, avg(m) AS flux_mean_umol_m2_s, "
            "stddev_samp(m) AS flux_sd_umol_m2_s, count(*) AS n_replicas, "
            f"sum(n) AS n_closures FROM ({per_location}) p GROUP BY 1, 2 ORDER BY 1, 2"
        )
        columns = [bin, "variant", "flux_mean_umol_m2_s", "flux_sd_umol_m2_s", "n_replicas",
                   "n_closures"]  # fmt: skip
    df = store.select(sql, params).to_pandas()
    if df.empty:
        return pd.DataFrame(columns=columns)
    df[bin] = pd.to_datetime(df[bin], utc=True)
    for c in ("flux_mean_umol_m2_s", "flux_sd_umol_m2_s"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in ("n_replicas", "n_closures"):
        if c in df:
            df[c] = df[c].astype("int64")
    return df[columns].reset_index(drop=True)
