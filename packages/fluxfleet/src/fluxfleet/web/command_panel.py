"""The **Commands** panel: send frc / reboot / servo-test to chambers or to the whole fleet,
then watch each device's acks arrive.

Sending goes through the token-protected ``POST /api/commands`` of
:mod:`fluxfleet.web.actions` with the bearer token the operator typed into the page (kept
in the tab's ``sessionStorage`` only). Following a command is read-only and open:
``GET /api/commands/{cmd_id}`` is :func:`fluxfleet.ops.commands.command_status` (what
``fluxfleet cmd status`` prints), and ``GET /api/commands/{cmd_id}/stream`` pushes it again
by server-sent events each time it changes. As on the Live page, the stream polls the store
(where the ingestor writes every ack it receives) rather than the broker: an ack is shown
one ingestor commit plus one poll (:data:`POLL_S`) after the device sent it.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from fluxfleet.ops.commands import FINAL_STATES, command_status
from fluxfleet.store import Store, StoreError
from fluxfleet.web.console import Console
from fluxfleet.web.live import KEEPALIVE_S, sse
from fluxfleet.web.store_access import open_console_store

PANEL_COMMANDS = ("frc", "reboot", "servo_test")
"""The commands the panel offers (the others stay with ``fluxfleet cmd``)."""
POLL_S = 1.0
"""Seconds between two reads of a followed command's acks [s]."""


def finished(status: dict[str, Any]) -> bool:
    """Whether every target of the command reached a final state (done, failed, expired)."""
    s = status["summary"]
    return not s["accepted"] and not s["no_answer"] and sum(len(s[k]) for k in FINAL_STATES) > 0


def register(app: FastAPI, console: Console) -> None:
    """Add the Commands page and its read routes to ``app``."""
    StoreDep = Annotated[Store, console.store_dep]

    @app.get("/api/commands/{cmd_id}")
    def api_command_status(st: StoreDep, cmd_id: str) -> Response:
        status = command_status(st, cmd_id)
        if status is None:
            raise HTTPException(404, f"no command {cmd_id}")
        return JSONResponse(status)

    @app.get("/api/commands/{cmd_id}/stream")
    async def api_command_stream(request: Request, cmd_id: str) -> StreamingResponse:
        """Server-sent events: ``command`` with the command's status each time it changes
        (the first at once), ``status`` when the store cannot be read (retried); the stream
        ends once every target is in a final state."""

        def read() -> dict[str, Any] | None:
            st = open_console_store(console.store_url, read_only=True)
            try:
                return command_status(st, cmd_id)
            finally:
                st.close()

        async def events() -> AsyncIterator[str]:
            last = ""
            quiet = 0.0
            while not await request.is_disconnected():
                try:
                    status = await run_in_threadpool(read)
                except StoreError as exc:
                    yield sse("status", {"ok": False, "detail": str(exc)})
                    status = None
                else:
                    if status is None:
                        yield sse("status", {"ok": False, "detail": f"no command {cmd_id}"})
                        return
                    text = json.dumps(status, sort_keys=True)
                    if text != last:
                        last, quiet = text, 0.0
                        yield sse("command", status)
                        if finished(status):
                            return
                quiet += POLL_S
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keepalive\n\n"
                await asyncio.sleep(POLL_S)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/commands", response_class=HTMLResponse)
    def commands_page(request: Request, cmd_id: str = "") -> Response:
        return console.templates.TemplateResponse(
            request, "commands.html", {"commands": PANEL_COMMANDS, "cmd_id": cmd_id}
        )
