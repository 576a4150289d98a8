"""What the console shows, as tables computed from the store (no web code here).

Every route of :mod:`fluxfleet.web.app` returns one of these tables, as JSON for the pages
or as CSV/Parquet for export, so an export holds exactly what a page shows. Aggregation
happens here, on the server: the browser gets hourly means, never a raw season.

Location codes are ``T.V.R`` (table, variant, replica, e.g. ``9.2.B``); a variant is
``T.V``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from fluxfleet.store import schema
from fluxfleet.store.base import Store
from fluxfleet.web import day_rollups, flux_sql

MAX_CLOSURE_SPAN = dt.timedelta(days=2)
"""Longest span of single closures one request may list (beyond: hourly aggregates)."""

FLUX_LEVELS = ("variant", "location", "closure")
FLUX_BINS = ("hour", "day", "auto")
AUTO_DAILY_AFTER = dt.timedelta(days=14)
"""``bin=auto`` aggregates per day when the closures span more than this, else per hour."""
MAX_HOURLY_JSON_SPAN = dt.timedelta(days=31)
"""Longest span of hourly rows one JSON answer (what a page draws) may hold: a season per
hour is ~35 k rows and ~10 MB, which the browser should never receive; CSV and Parquet
downloads of any span are allowed."""

OFFLINE_AFTER_S = 120.0
"""A chamber whose newest sample is older than this is shown offline [s]: it samples every
3 s and streams each sample at once, so two minutes of silence is a lost link, a dead
device or an ingestor that stopped (the device's own ``state`` may still say online)."""


NEWEST_LOOKBACK = dt.timedelta(days=2)
"""How far before the fleet's last message :func:`newest_samples` looks for each device's
newest sample: a bounded read instead of a scan of the whole season. A device silent for
longer shows no newest sample (and is offline)."""


class QueryError(ValueError):
    """A request the console cannot answer (bad parameter: the message says which)."""


def split_location(code: str | None) -> tuple[str, str, str]:
    """(table, variant ``T.V``, replica) of a location code ``T.V.R``; blanks if malformed."""
    parts = (code or "").split(".")
    if len(parts) != 3 or not all(parts):
        return ("", "", "")
    return (parts[0], f"{parts[0]}.{parts[1]}", parts[2])


NEWEST_RECENT = dt.timedelta(minutes=15)
""":func:`newest_samples` first reads only this span before the fleet's last message (a
chamber streams every minute: a healthy fleet is all there), then the full
:data:`NEWEST_LOOKBACK` for the devices it did not find."""


def _newest(
    store: Store, since: dt.datetime, devices: list[str] | None
) -> dict[str, tuple[dt.datetime, str, int]]:
    """Each device's sample with the highest seq among those timed from ``since`` on."""
    only = f" AND device IN ({', '.join('?' for _ in devices)})" if devices else ""
    sql = (
        "SELECT s.device AS device, s.time AS time, s.phase AS phase, s.cyc AS cyc "
        f"FROM samples s JOIN (SELECT device, max(seq) AS seq FROM samples WHERE time >= ?{only} "
        "GROUP BY device) m ON s.device = m.device AND s.seq = m.seq WHERE s.time >= ?"
    )
    rows = store.select(sql, [since, *(devices or []), since]).to_pylist()
    return {
        str(r["device"]): (pd.Timestamp(r["time"]).to_pydatetime(), str(r["phase"]), int(r["cyc"]))
        for r in rows
    }


def newest_samples(store: Store) -> dict[str, tuple[dt.datetime, str, int]]:
    """Each device's newest sample (highest seq) — its (time, phase, cyc) — among the
    samples of the :data:`NEWEST_LOOKBACK` before the newest ``devices.last_seen``.

    Read in two steps (:data:`NEWEST_RECENT`, then the whole lookback for the devices not
    found): a device's seq grows with its sample time, so a device with a sample in the
    recent span has its newest sample there."""
    d = store.read("devices")
    seen = [t for t in d["last_seen"].to_pylist() if t is not None]
    if not seen:
        return {}
    last = max(seen)
    out = _newest(store, last - NEWEST_RECENT, None)
    missing = sorted({str(x) for x in d["device"].to_pylist()} - set(out))
    if missing:
        out.update(_newest(store, last - NEWEST_LOOKBACK, missing))
    return out


def devices(store: Store, now: dt.datetime) -> pd.DataFrame:
    """One row per device: state, ``last_seen_age_s`` [s] at ``now``, phase, firmware, slot,
    location split into table/variant/replica, and its newest sample's time and cycle;
    ``last_sample_age_s`` [s], that sample's age at ``now``, and ``link``, ``online`` or
    ``offline`` derived from it (:data:`OFFLINE_AFTER_S`; offline without any sample)."""
    d = store.read("devices").to_pandas()
    last = newest_samples(store)
    out = pd.DataFrame(
        {
            "device": d["device"].astype(str),
            "state": d["state"],
            "last_seen": d["last_seen"],
            "last_seen_age_s": (pd.Timestamp(now) - d["last_seen"]).dt.total_seconds(),
            "phase": [last.get(x, (None, None, None))[1] for x in d["device"]],
            "last_sample": pd.to_datetime(
                pd.Series([last.get(x, (None, None, None))[0] for x in d["device"]], dtype=object),
                utc=True,
            ),
            "cyc": pd.array([last.get(x, (None, None, None))[2] for x in d["device"]], "Int64"),
            "firmware": d["firmware"],
            "slot": d["slot"],
            "boot": d["boot"],
            "location": d["location"],
        }
    )
    age = (pd.Timestamp(now) - out["last_sample"]).dt.total_seconds()
    out.insert(list(out.columns).index("cyc") + 1, "last_sample_age_s", age)
    link = np.where(age.to_numpy(dtype=float) <= OFFLINE_AFTER_S, "online", "offline")
    out.insert(1, "link", link)
    split = [split_location(loc) for loc in out["location"]]
    out["table"] = [s[0] for s in split]
    out["variant"] = [s[1] for s in split]
    out["replica"] = [s[2] for s in split]
    return out.sort_values(["table", "variant", "replica", "device"], ignore_index=True)


def _closures(
    store: Store,
    device: str | None,
    location: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    filtered: bool,
    night: bool = False,
) -> pd.DataFrame:
    f = store.read("fluxes", start, end, [device] if device else None).to_pandas()
    if night:
        # soilflux flags a closure in daylight (lux above its night threshold, seed: 10 lx)
        f = f[~(("," + f["flags"].fillna("") + ",").str.contains(",daylight,", regex=False))]
    if location:
        # A table "9", a variant "9.2" or one location "9.2.B".
        f = f[(f["location"] == location) | f["location"].str.startswith(location + ".")]
    if filtered:
        f = f[f["flags"].fillna("") == ""]
    f = f[np.isfinite(f["flux_umol_m2_s"])]
    split = [split_location(loc) for loc in f["location"]]
    f = f.assign(variant=[s[1] for s in split])
    return f.reset_index(drop=True)


def fluxes(
    store: Store,
    *,
    device: str | None = None,
    location: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    filtered: bool = False,
    level: str = "variant",
    night: bool = False,
    bin: str = "hour",
) -> pd.DataFrame:
    """Fluxes [µmol m⁻² s⁻¹] per hour (or day), by variant or location, or single closures.

    ``filtered`` keeps only closures without any soilflux QC flag; ``night`` only those
    without soilflux's ``daylight`` flag. ``bin`` is ``hour`` or ``day`` (UTC), or ``auto``
    (day if the closures span more than :data:`AUTO_DAILY_AFTER`): the first column is
    named after the bin used. ``level``:

    * ``variant`` — per hour and variant: each replica's hourly mean, then the mean and
      sample sd (ddof 1; NaN for one replica) over the replicas (``n_replicas``);
    * ``location`` — per hour and location: mean and sd over that hour's closures;
    * ``closure`` — one row per closure, for a span of at most :data:`MAX_CLOSURE_SPAN`.

    The hour/day levels are counted by the store in SQL (:mod:`fluxfleet.web.flux_sql`);
    closures without a finite flux, or whose location is not ``T.V.R``, are left out.
    """
    if bin not in FLUX_BINS:
        raise QueryError(f"bin: {bin!r} is not one of {', '.join(FLUX_BINS)}")
    if level not in FLUX_LEVELS:
        raise QueryError(f"level: {level!r} is not one of {', '.join(FLUX_LEVELS)}")
    if start is not None and end is not None and end <= start:
        raise QueryError("to: must be after from")
    if level == "closure" and (start is None or end is None or end - start > MAX_CLOSURE_SPAN):
        raise QueryError(
            f"level=closure needs from and to at most {MAX_CLOSURE_SPAN.days} days apart"
        )
    if level != "closure":
        clause, params = flux_sql.where(device, location, start, end, filtered, night)

        if bin == "auto":
            long = flux_sql.span(store, clause, params) > AUTO_DAILY_AFTER
            bin = "day" if long else "hour"

        def aggregate(ranges: list[day_rollups.Range]) -> pd.DataFrame:
            days, day_params = day_rollups.ranges_clause(ranges)
            return flux_sql.aggregate(
                store, level, bin, f"{clause} AND {days}", [*params, *day_params]
            )

        # Over a season this counts 1.3 M closures (≈ 0.2 s of CPU, mostly date_trunc):
        # kept per day, counted again only for the days whose fluxes changed (an hour or a
        # day bin lies in one UTC day; web.day_rollups).
        return day_rollups.per_day(
            store, "fluxes", (level, bin, clause, tuple(params)), start, end, aggregate, bin,
            lambda rows: rows,
        )  # fmt: skip
    f = _closures(store, device, location, start, end, filtered, night)
    return f[
        ["device", "cyc", "location", "variant", "start", "end", "flux_umol_m2_s",
         "flux_se_umol_m2_s", "model", "flags", "r2"]
    ].sort_values(["start", "device"], ignore_index=True)  # fmt: skip


def check_hourly_json_span(span: dt.timedelta, what: str) -> None:
    """Refuse hourly JSON over more than :data:`MAX_HOURLY_JSON_SPAN` (QueryError, 422)."""
    if span > MAX_HOURLY_JSON_SPAN:
        raise QueryError(
            f"{what}: hourly rows over {span.days} days are a raw season for the browser; "
            f"give from/to at most {MAX_HOURLY_JSON_SPAN.days} days apart, ask per day "
            "(bin=day or bin=auto), or download it (format=csv or parquet)"
        )


def hourly_span(
    store: Store,
    device: str | None,
    location: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    filtered: bool,
    night: bool,
) -> dt.timedelta:
    """The span an hourly :func:`fluxes` answer covers: ``to − from`` when both are given,
    else the selected closures' span."""
    if start is not None and end is not None:
        return end - start
    clause, params = flux_sql.where(device, location, start, end, filtered, night)
    return flux_sql.span(store, clause, params)


def closure_rows(store: Store, table: str, device: str, cyc: int) -> pd.DataFrame:
    """The rows of ``table`` (``closures`` or ``fluxes``) of one closure, in the store's
    schema: one keyed read instead of the device's whole season."""
    columns = schema.TABLES[table]
    names = ", ".join(f'"{n}"' for n in columns.names)
    rows = store.select(f"SELECT {names} FROM {table} WHERE device = ? AND cyc = ?", [device, cyc])
    return rows.cast(columns).to_pandas()


def closure(store: Store, device: str, cyc: int) -> tuple[pd.DataFrame, dict[str, object]]:
    """One closure: its samples (``co2_ppm`` [µmol mol⁻¹], ``in_fit``) and a summary.

    The summary holds the stored flux [µmol m⁻² s⁻¹], model, flags, the fit window
    (``fit_start`` = start + deadband, ``fit_end`` = end) and the least-squares line over
    the samples in that window (``fit_slope_ppm_s`` [µmol mol⁻¹ s⁻¹], ``fit_intercept_ppm``
    at ``fit_start``) that the page draws. Raises KeyError when the store has no such
    closure.
    """
    c = closure_rows(store, "closures", device, cyc)
    fx = closure_rows(store, "fluxes", device, cyc)
    if c.empty and fx.empty:
        raise KeyError(f"no closure {cyc} of device {device}")
    times = [*c["time_close"], *c["time_open"], *fx["start"], *fx["end"]]
    lo, hi = min(times) - pd.Timedelta(minutes=10), max(times) + pd.Timedelta(minutes=10)
    s = store.read("samples", lo.to_pydatetime(), hi.to_pydatetime(), [device]).to_pandas()
    s = s[s["cyc"] == cyc][["time", "seq", "phase", "co2_ppm"]].reset_index(drop=True)
    summary: dict[str, object] = {"device": device, "cyc": int(cyc)}
    if not c.empty:
        row = c.iloc[0]
        summary.update(
            location=row["location"],
            time_close=row["time_close"],
            time_open=row["time_open"],
            device_slope_ppm_s=float(row["slope_ppm_s"]),
        )
    in_fit = np.zeros(len(s), dtype=bool)
    if not fx.empty:
        row = fx.iloc[0]
        fit_start = row["start"] + pd.Timedelta(seconds=float(row["deadband_s"]))
        fit_end = row["end"]
        in_fit = ((s["time"] >= fit_start) & (s["time"] <= fit_end)).to_numpy()
        summary.update(
            location=row["location"],
            flux_umol_m2_s=float(row["flux_umol_m2_s"]),
            flux_se_umol_m2_s=float(row["flux_se_umol_m2_s"]),
            model=row["model"],
            flags=row["flags"],
            n_fit=int(row["n_fit"]),
            fit_start=fit_start,
            fit_end=fit_end,
        )
        if in_fit.sum() >= 2:
            t = (s["time"][in_fit] - fit_start).dt.total_seconds().to_numpy()
            slope, intercept = np.polyfit(t, s["co2_ppm"][in_fit].to_numpy(), 1)
            summary.update(fit_slope_ppm_s=float(slope), fit_intercept_ppm=float(intercept))
    s["in_fit"] = in_fit
    return s, summary


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """``df`` as an Arrow table (no pandas index)."""
    return pa.Table.from_pandas(df, preserve_index=False)
