"""The **Live** page: each selected chamber's CO2 as samples arrive, and the fitted line of
every closure that ends, pushed to the browser by server-sent events.

Where the data come from: the store, polled. ``fluxfleet serve`` is its own process and
the store is the one place every sample and every flux lands (written by however many
ingestors); polling it needs no broker account for the console, shows exactly what was
stored, and draws the fit of the flux the ingestor actually computed. A poll asks for the
selected devices' samples since the newest one it has seen (minus :data:`OVERLAP`, for
batches committed out of order), which both backends answer from their time order
(PostgreSQL prunes to the newest partition; DuckDB skips row groups by their time range).
The cost: a sample is shown one commit plus one poll (:data:`POLL_S`) after it arrived,
and a DuckDB file is readable only while no ingestor holds it (the stream then says so
and retries) — run ``ingest`` and ``serve`` on PostgreSQL for a live console.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from fluxfleet.store import Store, StoreError, schema
from fluxfleet.web.console import Console
from fluxfleet.web.formats import FORMAT_PATTERN, parse_time, records, table_response
from fluxfleet.web.queries import newest_samples
from fluxfleet.web.store_access import open_console_store

WINDOW = dt.timedelta(minutes=20)
"""How much of each chamber's recent CO2 the page shows: the running closure and the
one before it (a cycle is 10 min open + 3-5 min closed)."""
OVERLAP = dt.timedelta(seconds=60)
"""A poll re-reads this far behind the newest sample seen (kept apart by ``seq``)."""
POLL_S = 1.0
"""Seconds between two polls of the store [s]."""
KEEPALIVE_S = 15.0
"""Seconds without events after which the stream sends a comment line [s]."""
MAX_DEVICES = 12
"""Chambers one Live page may follow at once."""

SAMPLE_COLUMNS = ["device", "seq", "time", "cyc", "phase", "co2_ppm"]
FIT_COLUMNS = [
    "device", "cyc", "location", "model", "flux_umol_m2_s", "flags",
    "fit_start", "fit_end", "fit_start_co2_ppm", "fit_end_co2_ppm", "fit_slope_ppm_s",
]  # fmt: skip


def read_columns(
    store: Store, table: str, columns: list[str], since: dt.datetime, devices: list[str]
) -> pd.DataFrame:
    """``Store.read(table, since, None, devices)`` with only ``columns`` read (the Live
    page uses 3–6 of the samples' 17), by device and time, in the store's types."""
    tc = schema.TIME_COLUMN[table]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(devices))
    t = store.select(
        f'SELECT {names} FROM {table} WHERE "{tc}" >= ? AND device IN ({marks}) '
        f'ORDER BY device, "{tc}"',
        [since, *devices],
    )
    return t.cast(pa.schema([schema.TABLES[table].field(c) for c in columns])).to_pandas()


def samples_since(store: Store, devices: list[str], since: dt.datetime) -> pd.DataFrame:
    """The ``devices``' samples at or after ``since``: device, seq, time, cyc, phase and
    ``co2_ppm`` [µmol mol⁻¹], by device and time."""
    return read_columns(store, "samples", SAMPLE_COLUMNS, since, devices)


def fit_lines(store: Store, devices: list[str], since: dt.datetime) -> pd.DataFrame:
    """The stored fluxes of closures starting at or after ``since`` with their fitted line.

    The line is the least-squares line of CO2 [µmol mol⁻¹] against time over soilflux's fit
    window (closure start + deadband … end), as on the closure page; it is given by its
    ends (``fit_start``, ``fit_start_co2_ppm``; ``fit_end``, ``fit_end_co2_ppm``) and its
    slope ``fit_slope_ppm_s`` [µmol mol⁻¹ s⁻¹]. Flux in [µmol m⁻² s⁻¹].
    """
    f = store.read("fluxes", since, None, devices).to_pandas()
    if f.empty:
        return pd.DataFrame(columns=FIT_COLUMNS)
    since = f["start"].min().to_pydatetime()
    s = read_columns(store, "samples", ["device", "time", "co2_ppm"], since, devices)
    rows = []
    for r in f.itertuples(index=False):
        fit_start = r.start + pd.Timedelta(seconds=float(r.deadband_s))
        win = s[(s["device"] == r.device) & (s["time"] >= fit_start) & (s["time"] <= r.end)]
        win = win[np.isfinite(win["co2_ppm"])]
        if len(win) < 2:
            continue
        t = (win["time"] - fit_start).dt.total_seconds().to_numpy()
        slope, intercept = np.polyfit(t, win["co2_ppm"].to_numpy(), 1)
        span = (r.end - fit_start).total_seconds()
        rows.append(
            (r.device, int(r.cyc), r.location, r.model, float(r.flux_umol_m2_s), r.flags or "",
             fit_start, r.end, float(intercept), float(intercept + slope * span), float(slope))
        )  # fmt: skip
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def window_start(store: Store, devices: list[str]) -> dt.datetime | None:
    """Start of the shown window: :data:`WINDOW` before the newest sample of ``devices``."""
    last = newest_samples(store)
    times = [last[d][0] for d in devices if d in last]
    return (max(times) - WINDOW) if times else None


class LiveFeed:
    """What one stream has sent: the newest ``seq`` per device and the fits drawn.

    ``seen`` holds the newest ``seq`` per device that the page already has (from
    ``/api/live/samples``); a device without one gets its samples after ``after``.
    :meth:`poll` returns the events of the store's new rows; apart from the store reads
    it is bookkeeping, so the tests drive it step by step.
    """

    def __init__(
        self, devices: list[str], after: dt.datetime, seen: dict[str, int] | None = None
    ) -> None:
        self.devices = devices
        self.after = after
        self.newest: dict[str, tuple[int, dt.datetime | None]] = {
            d: (int(q), None) for d, q in (seen or {}).items() if d in devices
        }
        self.fitted: set[tuple[str, int]] = set()

    def _since(self) -> dt.datetime:
        # From the newest sample of the device furthest behind (kept within WINDOW of the
        # newest of all, so that a silent chamber does not widen every read).
        known = [t for _, t in self.newest.values() if t is not None]
        since = self.after - WINDOW
        if known:
            since = max(since, max(known) - WINDOW - OVERLAP)
        if len(known) == len(self.devices):
            since = max(since, min(known) - OVERLAP)
        return since

    def poll(self, store: Store) -> list[tuple[str, dict[str, Any]]]:
        """``(event, data)`` pairs: a ``sample`` per new sample, a ``fit`` per new flux."""
        since = self._since()
        s = samples_since(store, self.devices, since)
        seen = pd.Series({d: q for d, (q, _) in self.newest.items()}, dtype="float64")
        # float: on no samples pandas keeps the (string) dtype of the empty device column
        limit = s["device"].map(seen).astype("float64")
        new = s[(s["seq"] > limit) | (limit.isna() & (s["time"] > self.after))]
        events: list[tuple[str, dict[str, Any]]] = [("sample", r) for r in records(new)]
        for device, g in s.groupby("device"):
            i = int(g["seq"].to_numpy().argmax())
            seq, t = int(g["seq"].iloc[i]), g["time"].iloc[i].to_pydatetime()
            q, _ = self.newest.get(str(device), (-1, None))
            if seq >= q and (q >= 0 or t > self.after):
                self.newest[str(device)] = (seq, t)
        fits = fit_lines(store, self.devices, since - WINDOW)
        keys = list(zip(fits["device"], fits["cyc"], strict=True))
        # a boolean array: an empty *list* would select no columns instead of no rows
        fresh = fits[np.array([k not in self.fitted for k in keys], dtype=bool)]
        self.fitted.update(zip(fresh["device"], fresh["cyc"], strict=True))
        events += [("fit", r) for r in records(fresh)]
        return events


def sse(event: str, data: object) -> str:
    """One server-sent event (``event:`` and a one-line JSON ``data:``)."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _devices(device: list[str]) -> list[str]:
    if not device:
        raise HTTPException(400, "device: choose at least one chamber")
    if len(device) > MAX_DEVICES:
        raise HTTPException(400, f"device: at most {MAX_DEVICES} chambers at once")
    return list(dict.fromkeys(device))


def register(app: FastAPI, console: Console) -> None:
    """Add the Live page and its routes to ``app``."""
    StoreDep = Annotated[Store, console.store_dep]
    Devices = Annotated[list[str], Query()]
    Format = Annotated[str, Query(pattern=FORMAT_PATTERN)]

    @app.get("/api/live/samples")
    def api_live_samples(st: StoreDep, device: Devices, format: Format = "json") -> Response:
        devices = _devices(device)
        start = window_start(st, devices)
        df = samples_since(st, devices, start) if start else pd.DataFrame(columns=SAMPLE_COLUMNS)
        return table_response(df, format, "live-samples")

    @app.get("/api/live/fits")
    def api_live_fits(st: StoreDep, device: Devices, format: Format = "json") -> Response:
        devices = _devices(device)
        start = window_start(st, devices)
        df = fit_lines(st, devices, start) if start else pd.DataFrame(columns=FIT_COLUMNS)
        return table_response(df, format, "live-fits")

    @app.get("/api/live/stream")
    async def api_live_stream(
        request: Request,
        device: Devices,
        after: str | None = None,
        seen: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> StreamingResponse:
        """Server-sent events: ``sample`` for each sample newer than ``seen`` (``DEVICE:SEQ``,
        the newest the page has) or, for a device without, than ``after`` (default now);
        ``fit`` for each stored flux; ``status`` when the store cannot be read (retried)."""
        devices = _devices(device)
        newest = {}
        for item in seen:
            name, _, seq = item.rpartition(":")
            if not name or not seq.isdigit():
                raise HTTPException(400, f"seen: {item!r} is not DEVICE:SEQ")
            newest[name] = int(seq)
        feed = LiveFeed(devices, parse_time(after, "after") or console.clock(), newest)
        # PostgreSQL: one connection for the stream's life. DuckDB: opened per poll, so
        # that an ingestor can take the file between two polls.
        keep = not console.store_url.startswith("duckdb")

        def poll(held: Store | None) -> tuple[Store | None, list[tuple[str, Any]]]:
            st = held or open_console_store(console.store_url, read_only=True)
            kept = False
            try:
                out = feed.poll(st)
                kept = keep
                return (st if kept else None), out
            finally:
                if not kept:
                    st.close()

        async def events() -> AsyncIterator[str]:
            held: Store | None = None
            quiet = 0.0
            yield sse("status", {"ok": True, "devices": devices})
            try:
                while not await request.is_disconnected():
                    try:
                        held, out = await run_in_threadpool(poll, held)
                    except StoreError as exc:
                        held, out = None, [("status", {"ok": False, "detail": str(exc)})]
                    for name, data in out:
                        yield sse(name, data)
                    quiet = 0.0 if out else quiet + POLL_S
                    if quiet >= KEEPALIVE_S:
                        quiet = 0.0
                        yield ": keepalive\n\n"
                    await asyncio.sleep(POLL_S)
            finally:
                if held is not None:
                    held.close()

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/live", response_class=HTMLResponse)
    def live_page(request: Request, st: StoreDep, device: Devices = []) -> Response:  # noqa: B006
        known = [str(d) for d in st.read("devices")["device"].to_pylist()]
        chosen = [d for d in dict.fromkeys(device) if d in known][:MAX_DEVICES]
        if not device:
            chosen = known[: min(4, len(known))]
        return console.templates.TemplateResponse(
            request,
            "live.html",
            {"known": known, "chosen": chosen, "max_devices": MAX_DEVICES},
        )
