"""Soil pCO₂ page: daily efflux against daily soil pCO₂ per table, with the line of Fick's
first law fitted by soilflux (:mod:`soilflux.fick`), from the soil pCO₂ table named in the
analysis file's ``[pco2]`` (the Carbdown layout, :mod:`soilflux.io.pco2`). Fluxes are the
store's closures kept by soilflux's default quality filter.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import datetime as dt
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from soilflux.fick import daily_flux_pco2, fick_fit
from soilflux.io.pco2 import read_pco2_table
from soilflux.qc import DEFAULT_DROP, filtered

from fluxfleet.store import schema
from fluxfleet.store.base import Store
from fluxfleet.web import day_rollups
from fluxfleet.web.analysis_config import AnalysisConfig

FIT_COLUMNS = (
    "table", "n_days", "slope_umol_m2_s_per_ppm", "slope_ci95_low_umol_m2_s_per_ppm",
    "slope_ci95_high_umol_m2_s_per_ppm", "intercept_umol_m2_s", "r2", "zero_flux_pco2_ppm",
)  # fmt: skip
BY = ("location", "variant")


def _empty_pairs(by: str) -> pd.DataFrame:
    return pd.DataFrame(columns=["day", "table", by, "flux_umol_m2_s", "pco2_ppm", "n_closures"])


@functools.lru_cache(maxsize=8)
def _parsed(path: str, tz: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """A pCO₂ table as soilflux reads it, kept while the file is unchanged."""
    return read_pco2_table(Path(path), tz=tz)


def pco2_table(cfg: AnalysisConfig) -> pd.DataFrame:
    """The analysis file's pCO₂ table (soilflux's reader), parsed again only when the
    file's modification time or size changes."""
    assert cfg.pco2_path is not None
    try:
        st = os.stat(cfg.pco2_path)
    except OSError:  # soilflux names the missing file
        return read_pco2_table(cfg.pco2_path, tz=cfg.pco2_tz)
    return _parsed(str(cfg.pco2_path), cfg.pco2_tz, st.st_mtime_ns, st.st_size).copy()


def _span(pco2: pd.DataFrame) -> tuple[dt.datetime, dt.datetime]:
    """[first day, day after the last) of the pCO₂ readings (UTC)."""
    ok = pco2["time"].notna()
    start = pco2["time"][ok].min().floor("D").to_pydatetime()
    end = pco2["time"][ok].max().floor("D").to_pydatetime() + dt.timedelta(days=1)
    return start, end


def _daily(
    store: Store,
    pco2: pd.DataFrame,
    by: str,
    start: dt.datetime,
    end: dt.datetime,
    ranges: list[day_rollups.Range] | None = None,
) -> pd.DataFrame:
    """soilflux's daily pairs of the fluxes starting in [start, end) (and ``ranges``)."""
    if ranges is None:
        fluxes = store.read("fluxes", start, end).to_pandas()
    else:
        parts, params = day_rollups.window(start, end)
        clause, r_params = day_rollups.ranges_clause(ranges)
        fluxes = store.select(
            f'SELECT * FROM fluxes WHERE {" AND ".join([*parts, clause])} ORDER BY device, "start"',
            params + r_params,
        )
        fluxes = fluxes.cast(schema.FLUXES).to_pandas()
        # only those days' readings: a day's pair needs no other day's (ranges are whole
        # UTC days here, as the window is)
        keep = np.zeros(len(pco2), dtype=bool)
        for lo, hi in ranges:
            keep |= ((pco2["time"] >= lo) & (pco2["time"] < hi)).to_numpy(dtype=bool)
        pco2 = pco2[keep]
    kept, _ = filtered(fluxes, DEFAULT_DROP)
    daily = daily_flux_pco2(kept, pco2, by=by)
    # pandas' merge gives the day in ms or µs depending on the rows: one unit for any days
    daily["day"] = daily["day"].astype("datetime64[ms, UTC]")
    return daily


def pairs(store: Store, cfg: AnalysisConfig, by: str = "location") -> pd.DataFrame:
    """Daily mean flux [µmol m⁻² s⁻¹] and soil pCO₂ [µmol mol⁻¹] per location or variant,
    over the days of the pCO₂ table (empty without one)."""
    if cfg.pco2_path is None:
        return _empty_pairs(by)
    pco2 = read_pco2_table(cfg.pco2_path, tz=cfg.pco2_tz)
    return _daily(store, pco2, by, *_span(pco2))


def cached_pairs(store: Store, cfg: AnalysisConfig, by: str = "location") -> pd.DataFrame:
    """:func:`pairs`, with each day's pairs kept and computed again only for the days whose
    fluxes changed (:mod:`fluxfleet.web.day_rollups`); all again when the pCO₂ file
    (modification time, size) changes."""
    if cfg.pco2_path is None:
        return _empty_pairs(by)
    try:
        st = os.stat(cfg.pco2_path)
    except OSError:  # soilflux names the missing file
        return pairs(store, cfg, by)
    pco2 = pco2_table(cfg)
    start, end = _span(pco2)
    key = (str(cfg.pco2_path), cfg.pco2_tz, st.st_mtime_ns, st.st_size, by)
    return day_rollups.per_day(
        store,
        "pco2",
        key,
        start,
        end,
        lambda ranges: _daily(store, pco2, by, start, end, ranges),
        "day",
        lambda daily: daily.sort_values(["table", by, "day"], ignore_index=True),
    )


def fits(daily: pd.DataFrame) -> pd.DataFrame:
    """Fick line per table (tables with at least 3 days × places and varying pCO₂)."""
    rows = []
    for table, g in daily.groupby("table", sort=True):
        x = g["pco2_ppm"].to_numpy(dtype=np.float64)
        if len(g) < 3 or np.ptp(x) == 0:
            continue
        f = fick_fit(x, g["flux_umol_m2_s"].to_numpy(dtype=np.float64))
        rows.append(
            (
                str(table),
                len(g),
                f.line.slope,
                f.line.slope_ci95_low,
                f.line.slope_ci95_high,
                f.line.intercept,
                f.line.r2,
                f.zero_flux_pco2_ppm,
            )
        )
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))


def register(
    app: FastAPI,
    templates: Jinja2Templates,
    store: Callable[..., Any],
    analysis: Callable[[], AnalysisConfig],
    table: Callable[[pd.DataFrame, str, str], Response],
) -> None:
    """Add ``/pco2`` and ``/api/pco2[/fits]`` to ``app``."""
    StoreDep = Annotated[Store, Depends(store)]
    Format = Annotated[str, Query(pattern="^(json|csv|parquet)$")]
    By = Annotated[str, Query(pattern="^(location|variant)$")]

    @app.get("/api/pco2")
    def api_pco2(st: StoreDep, by: By = "location", format: Format = "json") -> Response:
        return table(cached_pairs(st, analysis(), by), format, f"pco2-{by}")

    @app.get("/api/pco2/fits")
    def api_pco2_fits(st: StoreDep, by: By = "location", format: Format = "json") -> Response:
        return table(fits(cached_pairs(st, analysis(), by)), format, f"pco2-fits-{by}")

    @app.get("/pco2", response_class=HTMLResponse)
    def pco2_page(request: Request, st: StoreDep, by: By = "location") -> Response:
        cfg = analysis()
        f = fits(cached_pairs(st, cfg, by))
        return templates.TemplateResponse(
            request, "pco2.html", {"cfg": cfg, "by": by, "fits": f.to_dict("records")}
        )
