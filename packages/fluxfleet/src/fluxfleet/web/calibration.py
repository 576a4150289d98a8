"""Calibration page: the fleet's CO₂ spread around a forced recalibration (FRC), from the
samples of a calibration session, and the chambers against a reference flux meter (LI-COR
files named in the analysis file, matched by location and time): scatter with the ±15 %
band, OLS and Deming lines, Bland–Altman. The statistics are soilflux's
(:mod:`soilflux.calibration`, :mod:`soilflux.agreement`).

The session is the analysis file's ``[calibration]`` (start, end, recalibration) or, by
default, :data:`SESSION_HALF` either side of the newest ``frc`` command in the store.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated aliases.

import dataclasses
import datetime as dt
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from soilflux.agreement import bland_altman, deming, match_reference, ols, share_within_band
from soilflux.calibration import fleet_spread, spread_by_concentration
from soilflux.io.reference_fluxes import read_reference_fluxes
from soilflux.qc import DEFAULT_DROP, filtered

from fluxfleet.store import schema
from fluxfleet.store.base import Store
from fluxfleet.web import rollups
from fluxfleet.web.analysis_config import AnalysisConfig
from fluxfleet.web.queries import QueryError

SESSION_HALF = dt.timedelta(hours=2)
"""Default session: this long before and after the newest frc command."""
MAX_SESSION = dt.timedelta(days=1)
"""Longest session one request may read (samples are many: 50 chambers × 1,200 an hour)."""
PAIR_COLUMNS = (
    "location", "source", "closure_id", "time_reference", "device", "cyc", "start_fleet",
    "gap_s", "flux_reference_umol_m2_s", "flux_fleet_umol_m2_s",
)  # fmt: skip
BAND = 0.15
"""The seed's agreement criterion: the chamber within ±15 % of the reference."""


@dataclasses.dataclass(frozen=True)
class Session:
    """A calibration session's window and its recalibration time (aware, UTC)."""

    start: dt.datetime
    end: dt.datetime
    recalibration: dt.datetime | None
    source: str


def newest_frc(store: Store) -> dt.datetime | None:
    """When the newest ``frc`` command was to run (its ``exec_at``, else when sent)."""
    c = store.read("commands").to_pandas()
    c = c[c["cmd"] == "frc"]
    if c.empty:
        return None
    at = c["exec_at"].fillna(c["sent"]).max()
    return pd.Timestamp(at).to_pydatetime()


def session(
    store: Store,
    cfg: AnalysisConfig,
    start: dt.datetime | None,
    end: dt.datetime | None,
    recalibration: dt.datetime | None,
) -> Session | None:
    """The session to show: the request's times, else the analysis file's, else around
    the newest frc command; None when there is none."""
    if start is not None or end is not None or recalibration is not None:
        source = "request"
    elif cfg.calibration_start is not None or cfg.calibration_recalibration is not None:
        source = "analysis file"
        start, end = cfg.calibration_start, cfg.calibration_end
        recalibration = cfg.calibration_recalibration
    else:
        source = "newest frc command"
        recalibration = newest_frc(store)
    if recalibration is not None:
        start = start or recalibration - SESSION_HALF
        end = end or recalibration + SESSION_HALF
    if start is None or end is None:
        return None
    if end <= start:
        raise QueryError("to: must be after from")
    if end - start > MAX_SESSION:
        raise QueryError(f"a calibration session spans at most {MAX_SESSION.days} day")
    return Session(start, end, recalibration, source)


def spread(store: Store, s: Session, bin_s: float) -> pd.DataFrame:
    """Per time bin: mean and sd [µmol mol⁻¹] across the sensors (soilflux); kept between
    requests (the page draws it twice) while the session's samples are unchanged."""
    return rollups.cached(
        store,
        "spread",
        (s.start, s.end, s.recalibration, bin_s),
        lambda: _spread(store, s, bin_s),
        lambda st: rollups.samples_version(st, s.start, s.end),
    )


def _spread(store: Store, s: Session, bin_s: float) -> pd.DataFrame:
    # The three columns soilflux uses (of 17): 4 h of a fleet is ≈ 240,000 samples.
    samples = store.select(
        'SELECT "time", device AS sensor, co2_ppm FROM samples WHERE "time" >= ? '
        'AND "time" < ? ORDER BY device, "time"',
        [s.start, s.end],
    )
    samples = samples.cast(
        pa.schema([("time", schema.TIME), ("sensor", pa.string()), ("co2_ppm", pa.float64())])
    ).to_pandas()
    at = pd.Timestamp(s.recalibration) if s.recalibration else None
    return fleet_spread(samples, bin_s=bin_s, recalibration=at)


@functools.lru_cache(maxsize=32)
def _parsed(path: str, tz: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """A reference file as soilflux reads it, kept while the file is unchanged (parsing a
    LI-8100 file costs ≈ 20 ms of CPU per observation; the page and its API read it at
    every request)."""
    return read_reference_fluxes(Path(path), tz=tz)


def reference_fluxes(path: Path, tz: str) -> pd.DataFrame:
    """``read_reference_fluxes(path, tz)``, parsed again only when the file's modification
    time or size changes (an edited file shows on the next request)."""
    try:
        st = os.stat(path)
    except OSError:  # soilflux names the missing file
        return read_reference_fluxes(path, tz=tz)
    return _parsed(str(path), tz, st.st_mtime_ns, st.st_size).copy()


def fleet_fluxes(
    store: Store, locations: list[str], start: dt.datetime, end: dt.datetime
) -> pd.DataFrame:
    """The stored fluxes at ``locations`` starting in [start, end), as ``Store.read`` gives
    them (sorted by device and start): only the reference pots' closures are read, not
    the whole fleet's over the reference files' span (a season: 1.3 M rows)."""
    marks = ", ".join("?" * len(locations))
    return store.select(
        f'SELECT * FROM fluxes WHERE location IN ({marks}) AND "start" >= ? AND "start" < ? '
        'ORDER BY device, "start"',
        [*locations, start, end],
    ).to_pandas()


def reference_pairs(store: Store, cfg: AnalysisConfig) -> pd.DataFrame:
    """Reference observations of the analysis file paired with the fleet's closures at the
    same location (nearest start within ``max_gap_min``; soilflux's default filter)."""
    frames = []
    for ref in cfg.reference_files:
        r = reference_fluxes(ref.path, ref.tz)
        frames.append(r.assign(location=ref.location))
    columns = list(PAIR_COLUMNS)
    if not frames:
        return pd.DataFrame(columns=columns)
    reference = pd.concat(frames, ignore_index=True)
    reference = reference[np.isfinite(reference["flux_umol_m2_s"])]
    if reference.empty:
        return pd.DataFrame(columns=columns)
    gap = dt.timedelta(minutes=cfg.reference_max_gap_min)
    lo = reference["time"].min().to_pydatetime() - gap
    hi = reference["time"].max().to_pydatetime() + gap
    fleet = fleet_fluxes(store, sorted({r.location for r in cfg.reference_files}), lo, hi)
    fleet, _ = filtered(fleet, DEFAULT_DROP)
    m = match_reference(fleet, reference, max_gap_s=gap.total_seconds())
    out = pd.DataFrame(
        {
            "location": m["location"],
            "source": m["source_reference"],
            "closure_id": m["closure_id_reference"],
            "time_reference": m["time_reference"],
            "device": m["device_fleet"],
            "cyc": m["cyc_fleet"],
            "start_fleet": m["start_fleet"],
            "gap_s": m["gap_s"],
            "flux_reference_umol_m2_s": m["flux_umol_m2_s_reference"],
            "flux_fleet_umol_m2_s": m["flux_umol_m2_s_fleet"],
        }
    )
    return out.sort_values("time_reference", ignore_index=True)


def agreement(pairs: pd.DataFrame) -> dict[str, Any]:
    """Bland–Altman, OLS and Deming (fleet on reference), share within ±15 % [µmol m⁻² s⁻¹]."""
    out: dict[str, Any] = {"n_pairs": len(pairs), "band": BAND}
    if len(pairs) < 3:
        out["note"] = f"{len(pairs)} matched pairs: at least 3 are needed for the statistics"
        return out
    fleet = pairs["flux_fleet_umol_m2_s"].to_numpy(dtype=np.float64)
    ref = pairs["flux_reference_umol_m2_s"].to_numpy(dtype=np.float64)
    ba = bland_altman(fleet, ref)
    out["bland_altman_umol_m2_s"] = dataclasses.asdict(ba)
    out["share_within_band"] = share_within_band(fleet, ref, BAND)
    for name, fit in (("ols", ols), ("deming", deming)):
        try:
            out[name] = dataclasses.asdict(fit(ref, fleet))
        except ValueError as exc:  # e.g. every reference flux equal
            out[name] = {"note": str(exc)}
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def register(
    app: FastAPI,
    templates: Jinja2Templates,
    store: Callable[..., Any],
    analysis: Callable[[], AnalysisConfig],
    table: Callable[[pd.DataFrame, str, str], Response],
    parse_time: Callable[[str | None, str], dt.datetime | None],
) -> None:
    """Add ``/calibration`` and ``/api/calibration/*`` to ``app``."""
    StoreDep = Annotated[Store, Depends(store)]
    Format = Annotated[str, Query(pattern="^(json|csv|parquet)$")]
    From = Annotated[str | None, Query(alias="from")]
    Bin = Annotated[float, Query(ge=1, le=3600)]

    def chosen(st: Store, from_: str | None, to: str | None, at: str | None) -> Session | None:
        return session(
            st, analysis(), parse_time(from_, "from"), parse_time(to, "to"),
            parse_time(at, "recalibration"),
        )  # fmt: skip

    @app.get("/api/calibration/spread")
    def api_spread(
        st: StoreDep,
        from_: From = None,
        to: str | None = None,
        recalibration: str | None = None,
        bin_s: Bin = 60.0,
        format: Format = "json",
    ) -> Response:
        s = chosen(st, from_, to, recalibration)
        df = (
            spread(st, s, bin_s)
            if s
            else fleet_spread(pd.DataFrame(columns=["time", "sensor", "co2_ppm"]))
        )
        return table(df, format, "calibration-spread")

    @app.get("/api/calibration/by-concentration")
    def api_by_concentration(
        st: StoreDep,
        from_: From = None,
        to: str | None = None,
        recalibration: str | None = None,
        bin_s: Bin = 60.0,
        format: Format = "json",
    ) -> Response:
        s = chosen(st, from_, to, recalibration)
        empty = pd.DataFrame(columns=["time", "sensor", "co2_ppm"])
        df = spread_by_concentration(spread(st, s, bin_s) if s else fleet_spread(empty))
        return table(df, format, "calibration-by-concentration")

    @app.get("/api/calibration/reference")
    def api_reference(st: StoreDep, format: Format = "json") -> Response:
        pairs = reference_pairs(st, analysis())
        if format != "json":
            return table(pairs, format, "reference-pairs")
        from fluxfleet.web.app import _records

        body = {"pairs": _records(pairs), "agreement": _clean(agreement(pairs))}
        return JSONResponse(body)

    @app.get("/calibration", response_class=HTMLResponse)
    def calibration_page(
        request: Request,
        st: StoreDep,
        from_: From = None,
        to: str | None = None,
        recalibration: str | None = None,
    ) -> Response:
        cfg = analysis()
        s = chosen(st, from_, to, recalibration)
        pairs = reference_pairs(st, cfg)
        stats = _clean(agreement(pairs))
        query = {"from": s.start.isoformat(), "to": s.end.isoformat()} if s else {}
        if s and s.recalibration:
            query["recalibration"] = s.recalibration.isoformat()
        return templates.TemplateResponse(
            request,
            "calibration.html",
            {
                "cfg": cfg,
                "session": s,
                "query": json.dumps(query),
                "stats": stats,
                "n_files": len(cfg.reference_files),
            },
        )
