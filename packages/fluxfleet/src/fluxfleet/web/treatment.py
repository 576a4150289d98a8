"""Treatment vs control page: each amendment's effect on efflux with its 95 % confidence
interval, per table, from the store's fluxes through soilflux (the analysis of
``soilflux summarize --controls``: soilflux's default quality filter, two-stage variant
means per hour, hour-by-hour treatment − control, whole-period means with t intervals over
hours and over daily means). The control mapping is the analysis file's ``[controls]``.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from soilflux.aggregate import difference_summary, hourly_means, treatment_minus_control
from soilflux.qc import DEFAULT_DROP, filtered

from fluxfleet.store import schema
from fluxfleet.store.base import Store
from fluxfleet.web import day_rollups, queries
from fluxfleet.web.analysis_config import AnalysisConfig

UNIT = "_umol_m2_s"
SUMMARY_UNITS = {
    "treatment_mean": "treatment_mean" + UNIT,
    "control_mean": "control_mean" + UNIT,
    "difference": "difference" + UNIT,
    "ci95_low": "difference_ci95_low" + UNIT,
    "ci95_high": "difference_ci95_high" + UNIT,
    "daily_ci95_low": "difference_daily_ci95_low" + UNIT,
    "daily_ci95_high": "difference_daily_ci95_high" + UNIT,
}
HOURLY_UNITS = {
    "treatment_mean": "treatment_mean" + UNIT,
    "control_mean": "control_mean" + UNIT,
    "difference": "difference" + UNIT,
    "se": "difference_se" + UNIT,
    "ci95_low": "difference_ci95_low" + UNIT,
    "ci95_high": "difference_ci95_high" + UNIT,
}
SUMMARY_COLUMNS = [
    "table", "treatment", "control", "n_hours", "n_days", *SUMMARY_UNITS.values(),
    "relative_percent",
]  # fmt: skip


def flux_table(store: Store, start: dt.datetime | None, end: dt.datetime | None) -> pd.DataFrame:
    """The store's per-closure fluxes as a soilflux flux table (``chamber`` = device,
    ``gas`` = co2, soilflux's flags)."""
    f = store.read("fluxes", start, end).to_pandas()
    return f.rename(columns={"device": "chamber"}).assign(gas="co2")


def dropped_in_store(
    store: Store,
    start: dt.datetime | None,
    end: dt.datetime | None,
    ranges: list[day_rollups.Range] | None = None,
) -> pd.DataFrame:
    """:func:`flux_table`'s columns that the analysis uses, without the closures carrying
    a flag of soilflux's default filter: the store leaves them out (a season's daylight
    half) with the test soilflux applies (``qc.has_flag``: ``,flag,`` in ``,flags,``), so
    ``filtered`` afterwards keeps exactly what it keeps of the whole table. ``ranges``:
    only the closures starting in one of these [lo, hi) too."""
    parts = ["strpos(',' || coalesce(flags, '') || ',', ?) = 0" for _ in DEFAULT_DROP]
    params: list[object] = [f",{flag}," for flag in DEFAULT_DROP]
    w_parts, w_params = day_rollups.window(start, end)
    parts += w_parts
    params += w_params
    if ranges is not None:
        clause, r_params = day_rollups.ranges_clause(ranges)
        parts.append(clause)
        params += r_params
    f = store.select(
        'SELECT device AS chamber, location, "start", flux_umol_m2_s, flags FROM fluxes '
        f'WHERE {" AND ".join(parts)} ORDER BY device, "start"',
        params,
    )
    f = f.cast(pa.schema([(n, schema.FLUXES.field(n if n != "chamber" else "device").type)
                          for n in f.schema.names]))  # fmt: skip
    return f.to_pandas().assign(gas="co2")


def variant_hourly(
    store: Store,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    ranges: list[day_rollups.Range] | None = None,
) -> pd.DataFrame:
    """soilflux's hourly variant means [µmol m⁻² s⁻¹] (``hourly_means(by="variant")``) of
    the closures kept by its default filter, starting in [start, end) (and ``ranges``)."""
    kept, _ = filtered(dropped_in_store(store, start, end, ranges), DEFAULT_DROP)
    return hourly_means(kept, by="variant", gas="co2")


def _formatted(summary: pd.DataFrame, hourly: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """soilflux's (summary, hourly) with the page's column names and order."""
    if summary.empty:
        summary = pd.DataFrame(columns=[c for c in SUMMARY_COLUMNS if c != "table"])
    summary = summary.rename(columns=SUMMARY_UNITS)
    summary.insert(0, "table", [t.split(".")[0] for t in summary["treatment"]])
    summary = summary[SUMMARY_COLUMNS].sort_values(["table", "treatment"], ignore_index=True)
    hourly = hourly.rename(columns=HOURLY_UNITS)
    hourly["hour"] = pd.to_datetime(hourly["hour"], utc=True)
    return summary, hourly.sort_values(["treatment", "hour"], ignore_index=True)


def effects(
    store: Store,
    controls: dict[str, str],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary per treatment, hourly differences) [µmol m⁻² s⁻¹] for ``controls``
    (treatment variant → control variant), as ``soilflux summarize --controls`` gives."""
    hourly, summary = treatment_minus_control(variant_hourly(store, start, end), controls)
    return _formatted(summary, hourly)


def summary_of(hourly: pd.DataFrame, controls: dict[str, str]) -> pd.DataFrame:
    """The whole-period summary of ``treatment_minus_control`` from its hourly rows
    [µmol m⁻² s⁻¹] (soilflux's equations: mean of the hourly differences with a t interval
    over hours and over daily means): the hourly rows are a day's business, so they are
    kept per day and only this runs over the season. Tested equal to soilflux's."""
    rows = []
    for treatment, control in controls.items():
        h = hourly[hourly["treatment"] == treatment]
        if not h.empty:
            rows.append(difference_summary(h, treatment, control))
    return pd.DataFrame(rows)


def cached_effects(
    store: Store,
    controls: dict[str, str],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`effects`, with the hourly differences kept per day and computed again only
    for the days whose fluxes changed (:mod:`fluxfleet.web.day_rollups`): after a new
    flux, one day's closures instead of the season's; the summary from every day's
    hourly rows (:func:`summary_of`)."""

    def hourly_of(ranges: list[day_rollups.Range]) -> pd.DataFrame:
        hourly, _ = treatment_minus_control(variant_hourly(store, start, end, ranges), controls)
        return hourly

    return day_rollups.per_day(
        store,
        "treatment",
        tuple(controls.items()),
        start,
        end,
        hourly_of,
        "hour",
        lambda hourly: _formatted(summary_of(hourly, controls), hourly),
    )


def forest(summary: pd.DataFrame, width: int = 640, row_h: int = 26) -> dict[str, Any]:
    """Geometry of the forest plot (one row per treatment, grouped by table) in px."""
    cols = ["difference" + UNIT, "difference_ci95_low" + UNIT, "difference_ci95_high" + UNIT]
    values = summary[cols].to_numpy(dtype=np.float64).ravel() if len(summary) else np.zeros(0)
    values = values[np.isfinite(values)]
    lo = float(min(0.0, values.min())) if len(values) else -1.0
    hi = float(max(0.0, values.max())) if len(values) else 1.0
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    left, right = 170, width - 20

    def x(v: float) -> float | None:
        return None if not np.isfinite(v) else left + (v - lo) / (hi - lo) * (right - left)

    rows = []
    for i, r in enumerate(summary.to_dict("records")):
        rows.append(
            {
                "y": 30 + i * row_h,
                "label": f"{r['treatment']} − {r['control']}",
                "treatment": r["treatment"],
                "x": x(r[cols[0]]),
                "x_low": x(r[cols[1]]),
                "x_high": x(r[cols[2]]),
            }
        )
    ticks = [(x(t), f"{t:.2g}") for t in np.linspace(lo + pad, hi - pad, 5)]
    return {
        "width": width,
        "height": 50 + len(rows) * row_h,
        "zero": x(0.0),
        "rows": rows,
        "ticks": ticks,
        "axis_y": 40 + len(rows) * row_h - row_h + 6,
    }


def register(
    app: FastAPI,
    templates: Jinja2Templates,
    store: Callable[..., Any],
    analysis: Callable[[], AnalysisConfig],
    table: Callable[[pd.DataFrame, str, str], Response],
    parse_time: Callable[[str | None, str], dt.datetime | None],
) -> None:
    """Add ``/treatment`` and ``/api/treatment[/hourly]`` to ``app``."""
    StoreDep = Annotated[Store, Depends(store)]
    Format = Annotated[str, Query(pattern="^(json|csv|parquet)$")]
    From = Annotated[str | None, Query(alias="from")]

    @app.get("/api/treatment")
    def api_treatment(
        st: StoreDep, from_: From = None, to: str | None = None, format: Format = "json"
    ) -> Response:
        summary, _ = cached_effects(
            st, analysis().controls, parse_time(from_, "from"), parse_time(to, "to")
        )
        return table(summary, format, "treatment")

    @app.get("/api/treatment/hourly")
    def api_treatment_hourly(
        st: StoreDep, from_: From = None, to: str | None = None, format: Format = "json"
    ) -> Response:
        _, hourly = cached_effects(
            st, analysis().controls, parse_time(from_, "from"), parse_time(to, "to")
        )
        if format == "json" and not hourly.empty:
            span = hourly["hour"].max() - hourly["hour"].min()
            queries.check_hourly_json_span(span.to_pytimedelta(), "treatment/hourly")
        return table(hourly, format, "treatment-hourly")

    @app.get("/treatment", response_class=HTMLResponse)
    def treatment_page(
        request: Request, st: StoreDep, from_: From = None, to: str | None = None
    ) -> Response:
        cfg = analysis()
        summary, _ = cached_effects(
            st, cfg.controls, parse_time(from_, "from"), parse_time(to, "to")
        )
        tables = {t: g.to_dict("records") for t, g in summary.groupby("table", sort=True)}
        query = "&".join(f"{k}={v}" for k, v in (("from", from_), ("to", to)) if v)
        return templates.TemplateResponse(
            request,
            "treatment.html",
            {
                "cfg": cfg,
                "tables": tables,
                "plots": {t: forest(g) for t, g in summary.groupby("table", sort=True)},
                "query": query,
                "drop": ", ".join(DEFAULT_DROP),
            },
        )
