"""The analysis pages (Treatment vs control, Calibration, Soil pCO₂) and their API, added
to the console by one call of :func:`register` in :mod:`fluxfleet.web.app`.

The analysis file (``analysis`` setting) is read at every request, so an edit shows on the
next load; a file that cannot be used answers 503 naming the file and key (a page shows
the message, the API returns it as ``detail``).
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from soilflux.io import InputError

from fluxfleet.web import calibration, pco2, treatment
from fluxfleet.web.analysis_config import AnalysisConfig, AnalysisConfigError, load_analysis


def register(
    app: FastAPI,
    templates: Jinja2Templates,
    store: Callable[..., Any],
    settings: Any,
    table: Callable[[pd.DataFrame, str, str], Response],
    parse_time: Callable[[str | None, str], dt.datetime | None],
) -> None:
    """Add the analysis pages and routes to ``app``."""

    def analysis() -> AnalysisConfig:
        return load_analysis(getattr(settings, "analysis", None))

    async def unusable(request: Request, exc: Exception) -> Response:
        message = str(exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=503)
        return templates.TemplateResponse(
            request, "analysis_error.html", {"message": message}, status_code=503
        )

    app.add_exception_handler(AnalysisConfigError, unusable)
    app.add_exception_handler(InputError, unusable)
    treatment.register(app, templates, store, analysis, table, parse_time)
    calibration.register(app, templates, store, analysis, table, parse_time)
    pco2.register(app, templates, store, analysis, table)
