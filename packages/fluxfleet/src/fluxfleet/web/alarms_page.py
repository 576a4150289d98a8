"""The **Alarms** page: the store's alarms, open ones first, each with an Acknowledge button.

Reading is open (``GET /alarms``, ``GET /api/alarms``); acknowledging goes through the
token-protected ``POST /api/alarms/{id}/ack`` of :mod:`fluxfleet.web.actions`, with a
bearer token the operator types into the page (kept in the tab's ``sessionStorage`` only).
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

from typing import Annotated

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from fluxfleet.store import Store
from fluxfleet.store.schema import ALARMS
from fluxfleet.web.console import Console
from fluxfleet.web.formats import FORMAT_PATTERN, table_response

STATES = ("open", "all")
"""What ``/api/alarms?state=`` selects: the alarms not cleared, or every alarm."""
COLUMNS = ALARMS.names


def alarms(store: Store, state: str = "open") -> pd.DataFrame:
    """The store's alarms (``state="open"``: those not cleared), open ones first, then the
    newest raised first; the columns of the store's ``alarms`` table (``value`` in the unit
    of its rule, :mod:`fluxfleet.ops.alarm_rules`)."""
    if state not in STATES:
        raise HTTPException(400, f"state: {state!r} is not one of {', '.join(STATES)}")
    df = store.read("alarms").to_pandas()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    if state == "open":
        df = df[df["cleared"].isna()]
    df = df.assign(_open=df["cleared"].isna())
    df = df.sort_values(["_open", "raised", "id"], ascending=[False, False, False])
    return df[COLUMNS].reset_index(drop=True)


def register(app: FastAPI, console: Console) -> None:
    """Add the Alarms page and its read route to ``app``."""
    StoreDep = Annotated[Store, console.store_dep]
    Format = Annotated[str, Query(pattern=FORMAT_PATTERN)]

    @app.get("/api/alarms")
    def api_alarms(st: StoreDep, state: str = "open", format: Format = "json") -> Response:
        return table_response(alarms(st, state), format, f"alarms-{state}")

    @app.get("/alarms", response_class=HTMLResponse)
    def alarms_page(request: Request) -> Response:
        return console.templates.TemplateResponse(request, "alarms.html", {})
