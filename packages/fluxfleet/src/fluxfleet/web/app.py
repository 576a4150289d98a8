"""The console's web app: thin routes over :mod:`fluxfleet.web.queries`.

Each request opens the store and closes it when answered. A DuckDB store is opened
read-only (``open_store(url, read_only=True)``): the console never takes the file's single
write lock and never migrates it. DuckDB still lets only one *process* open a file while it
is being written, so while ``fluxfleet ingest`` holds a DuckDB file the console answers
503 with that reason; run both at once on a PostgreSQL store (docs/fleet/console.md).
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from fluxfleet.store import Store, StoreError
from fluxfleet.web import (
    actions,
    alarms_page,
    analysis_pages,
    closure_models,
    command_panel,
    firmware,
    live,
    quality,
    queries,
)
from fluxfleet.web.console import Console
from fluxfleet.web.formats import FORMATS, jsonable, parse_time, records, table_response
from fluxfleet.web.store_access import open_console_store

HERE = Path(__file__).parent
__all__ = ["FORMATS", "create_app"]
# The names the routes below (and routes written before formats.py) use.
_table, _records, _jsonable, _time = table_response, records, jsonable, parse_time


def create_app(settings: Any, *, now: Any = None) -> FastAPI:
    """The console for the store of ``settings`` (a :class:`fluxfleet.settings.Settings`).

    ``now`` (a callable returning an aware datetime) is the clock of the last-seen ages;
    default the wall clock.
    """
    url = settings.store_url
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    app = FastAPI(title="fluxfleet console", docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")

    def store() -> Iterator[Store]:
        try:
            st = open_console_store(url, read_only=True)
        except StoreError as exc:
            raise HTTPException(503, str(exc)) from None
        try:
            yield st
        finally:
            st.close()

    StoreDep = Annotated[Store, Depends(store)]
    Format = Annotated[str, Query(pattern="^(json|csv|parquet)$")]

    @app.exception_handler(queries.QueryError)
    async def _bad_query(_request: Request, exc: queries.QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/api/devices")
    def api_devices(st: StoreDep, format: Format = "json") -> Response:
        return _table(queries.devices(st, clock()), format, "devices")

    @app.get("/api/fluxes")
    def api_fluxes(
        st: StoreDep,
        device: str | None = None,
        location: str | None = None,
        from_: Annotated[str | None, Query(alias="from")] = None,
        to: str | None = None,
        filtered: bool = False,
        level: str = "variant",
        night: bool = False,
        bin: str = "auto",
        format: Format = "json",
    ) -> Response:
        start, end = _time(from_, "from"), _time(to, "to")
        if format == "json" and bin == "hour" and level != "closure":
            span = queries.hourly_span(
                st, device or None, location or None, start, end, filtered, night
            )
            queries.check_hourly_json_span(span, "bin=hour")
        df = queries.fluxes(
            st,
            device=device or None,
            location=location or None,
            start=start,
            end=end,
            filtered=filtered,
            level=level,
            night=night,
            bin=bin,
        )
        return _table(df, format, f"fluxes-{level}")

    @app.get("/api/closures/{device}/{cyc}")
    def api_closure(st: StoreDep, device: str, cyc: int, format: Format = "json") -> Response:
        try:
            samples, summary = queries.closure(st, device, cyc)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        if format != "json":
            return _table(samples, format, f"closure-{device}-{cyc}")
        body = {
            "closure": _jsonable(summary),
            "samples": _records(samples),
        }
        return JSONResponse(body)

    @app.get("/", response_class=HTMLResponse)
    def fleet_page(request: Request, st: StoreDep) -> Response:
        d = queries.devices(st, clock())
        layout: dict[str, dict[str, list[dict[Any, Any]]]] = {}
        for row in d.to_dict("records"):
            layout.setdefault(row["table"] or "?", {}).setdefault(row["variant"] or "?", []).append(
                row
            )
        return templates.TemplateResponse(
            request,
            "fleet.html",
            {
                "devices": d.to_dict("records"),
                "layout": layout,
                "offline_after_s": queries.OFFLINE_AFTER_S,
            },
        )

    @app.get("/fluxes", response_class=HTMLResponse)
    def fluxes_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "fluxes.html", {})

    @app.get("/closure/{device}/{cyc}", response_class=HTMLResponse)
    def closure_page(request: Request, device: str, cyc: int) -> Response:
        return templates.TemplateResponse(request, "closure.html", {"device": device, "cyc": cyc})

    app.state.store_url = url  # the bearer-token check reads the tokens from it
    firmware.register(app, settings)
    actions.register(app, settings)
    analysis_pages.register(app, templates, store, settings, _table, _time)
    console = Console(url, Depends(store), templates, clock)
    live.register(app, console)
    closure_models.register(app, console, settings)
    quality.register(app, console)
    alarms_page.register(app, console)
    command_panel.register(app, console)
    return app
