"""``fluxfleet report``: one standalone HTML file for papers and partners — fleet summary,
fluxes per variant, treatment effects, quality and calibration over a period — with every
plot embedded as inline SVG (matplotlib) and no external asset, written atomically.

The numbers are the console's (the same functions as its pages and API), so a report and
the console agree.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fluxfleet.store.base import Store
from fluxfleet.web import calibration, queries, treatment
from fluxfleet.web.analysis_config import AnalysisConfig

HERE = Path(__file__).parent


@dataclass
class Report:
    """What the report shows (tables as records, plots as SVG text)."""

    start: dt.datetime
    end: dt.datetime
    store_url: str
    generated: dt.datetime
    fleet: dict[str, Any] = field(default_factory=dict)
    variants: list[dict[Any, Any]] = field(default_factory=list)
    effects: list[dict[Any, Any]] = field(default_factory=list)
    controls: dict[str, str] = field(default_factory=dict)
    quality_weekly: list[dict[Any, Any]] = field(default_factory=list)
    quality_flags: list[dict[Any, Any]] = field(default_factory=list)
    calibration_session: calibration.Session | None = None
    calibration_sd: dict[str, float] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, str] = field(default_factory=dict)


def _svg(fig: Any) -> str:
    """The figure as inline SVG text (no XML header), closed after."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # matplotlib's RDF metadata (creator, date) says nothing to a reader
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)


def _naive(t: dt.datetime) -> pd.Timestamp:
    """A UTC time as matplotlib's naive axis value."""
    return pd.Timestamp(t).tz_convert("UTC").tz_localize(None)


def _by_period(spread: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The spread's periods in time order: before, after (or session)."""
    order = ("before", "after", "session")
    return [(p, spread[spread["period"] == p]) for p in order if (spread["period"] == p).any()]


def _figure(width: float = 8.0, height: float = 3.2, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    plt.rcParams["svg.hashsalt"] = "fluxfleet"  # same data, same file
    return plt.subplots(1, ncols, figsize=(width, height))


def build(
    store: Store, cfg: AnalysisConfig, start: dt.datetime, end: dt.datetime, store_url: str
) -> Report:
    """Gather every section of the report for [start, end)."""
    from soilflux.aggregate import filter_rate_weekly
    from soilflux.qc import DEFAULT_DROP, filtered

    rep = Report(start, end, store_url, dt.datetime.now(dt.UTC), controls=dict(cfg.controls))
    flux = treatment.flux_table(store, start, end)
    kept, by_flag = filtered(flux, DEFAULT_DROP)
    devices = queries.devices(store, end)
    states = devices["state"].fillna("unknown").value_counts().sort_index()
    rep.fleet = {
        "chambers": len(devices),
        "states": {str(k): int(v) for k, v in states.items()},
        "locations": int(flux["location"].nunique()),
        "closures": len(flux),
        "kept": len(kept),
        "kept_percent": 100.0 * len(kept) / len(flux) if len(flux) else float("nan"),
    }

    # fluxes per variant: daily replicate means of the quality-kept closures
    k = kept.assign(
        day=kept["start"].dt.floor("D"),
        variant=[queries.split_location(x)[1] for x in kept["location"]],
    )
    per_loc = k.groupby(["day", "variant", "location"])["flux_umol_m2_s"].mean().reset_index()
    daily = (
        per_loc.groupby(["day", "variant"])["flux_umol_m2_s"]
        .agg(flux_mean_umol_m2_s="mean", flux_sd_umol_m2_s="std", n_replicas="count")
        .reset_index()
    )
    period = (
        k.groupby("variant")["flux_umol_m2_s"]
        .agg(flux_mean_umol_m2_s="mean", flux_sd_umol_m2_s="std", n_closures="count")
        .reset_index()
    )
    rep.variants = period.to_dict("records")
    if len(daily):
        fig, ax = _figure()
        for variant, g in daily.groupby("variant"):
            ax.errorbar(
                (g["day"] + pd.Timedelta(hours=12)).dt.tz_localize(None),  # mid-day
                g["flux_mean_umol_m2_s"],
                yerr=g["flux_sd_umol_m2_s"].fillna(0), marker="o", capsize=3, label=variant,
            )  # fmt: skip
        ax.set_ylabel("flux [µmol m⁻² s⁻¹]")
        ax.set_title("Daily replicate mean ± sd per variant (quality-kept closures)")
        ax.legend(fontsize=8, ncol=4)
        ax.set_xlim(_naive(start), _naive(end))
        fig.autofmt_xdate()
        rep.plots["variants"] = _svg(fig)

    # treatment effects
    if cfg.controls:
        summary, _ = treatment.effects(store, cfg.controls, start, end)
        rep.effects = summary.to_dict("records")
        if len(summary):
            fig, ax = _figure(height=0.5 + 0.4 * len(summary))
            y = np.arange(len(summary))[::-1]
            d = summary["difference_umol_m2_s"].to_numpy(dtype=float)
            lo = summary["difference_ci95_low_umol_m2_s"].to_numpy(dtype=float)
            hi = summary["difference_ci95_high_umol_m2_s"].to_numpy(dtype=float)
            ax.errorbar(d, y, xerr=[d - lo, hi - d], fmt="o", capsize=3)
            ax.axvline(0, color="grey", linestyle="--")
            pairs_ = zip(summary["treatment"], summary["control"], strict=True)
            ax.set_yticks(y, [f"{t} − {c}" for t, c in pairs_])
            ax.set_xlabel("treatment − control [µmol m⁻² s⁻¹] (95 % CI over hours)")
            rep.plots["effects"] = _svg(fig)

    # quality
    rates = filter_rate_weekly(flux, kept.index, gas="co2") if len(flux) else pd.DataFrame()
    rep.quality_weekly = rates.to_dict("records")
    rep.quality_flags = by_flag.to_dict("records")
    if len(rates):
        fig, ax = _figure()
        for table, g in rates.groupby("table"):
            week = g["week"].dt.tz_localize(None)
            ax.plot(week, g["filter_rate_percent"], marker="o", label=f"table {table}")
        ax.set_ylabel("closures filtered [%]")
        ax.set_ylim(0, 100)
        ax.set_title("Share of closures removed by the quality filter, per week")
        ax.legend(fontsize=8)
        ax.set_xlim(min(_naive(start), rates["week"].min().tz_localize(None)), _naive(end))
        fig.autofmt_xdate()
        rep.plots["quality"] = _svg(fig)

    # calibration: the session of the analysis file or around the newest frc in the period
    s = calibration.session(store, cfg, None, None, None)
    if s is not None and s.end > start and s.start < end:
        rep.calibration_session = s
        spread = calibration.spread(store, s, 60.0)
        for p, g in _by_period(spread):
            sd = g["co2_sd_ppm"].dropna().to_numpy(dtype=float)
            if len(sd):
                rep.calibration_sd[str(p)] = float(np.sqrt(np.mean(sd**2)))
        if len(spread):
            fig, ax = _figure()
            for p, g in _by_period(spread):
                ax.plot(g["time"].dt.tz_localize(None), g["co2_sd_ppm"], label=str(p))
            if s.recalibration:
                at = pd.Timestamp(s.recalibration).tz_localize(None)
                ax.axvline(at, color="k", linestyle="--")
            ax.set_ylabel("sd across sensors [µmol mol⁻¹]")
            ax.set_title("Fleet spread around the forced recalibration")
            ax.legend(fontsize=8)
            fig.autofmt_xdate()
            rep.plots["spread"] = _svg(fig)
    pairs = calibration.reference_pairs(store, cfg)
    if len(pairs):
        rep.reference = calibration.agreement(pairs)
        x = pairs["flux_reference_umol_m2_s"].to_numpy(dtype=float)
        y = pairs["flux_fleet_umol_m2_s"].to_numpy(dtype=float)
        fig, (a1, a2) = _figure(9.0, 3.6, ncols=2)
        top = float(max(x.max(), y.max())) * 1.05
        lo_ = min(0.0, float(min(x.min(), y.min())))
        e = np.array([lo_, top])
        a1.fill_between(e, 0.85 * e, 1.15 * e, color="#dde8dd", label="±15 %")
        a1.plot(e, e, "k--", lw=1, label="1:1")
        for name in ("ols", "deming"):
            f = rep.reference.get(name, {})
            if "slope" in f:
                label = "OLS" if name == "ols" else "Deming"
                a1.plot(e, f["intercept"] + f["slope"] * e, label=label)
        a1.plot(x, y, "o", color="#24513a")
        a1.set_xlabel("reference [µmol m⁻² s⁻¹]")
        a1.set_ylabel("chamber [µmol m⁻² s⁻¹]")
        a1.legend(fontsize=8)
        ba = rep.reference.get("bland_altman_umol_m2_s")
        a2.plot((x + y) / 2, y - x, "o", color="#24513a")
        if ba:
            for v, style in ((ba["bias"], "-"), (ba["loa_low"], "--"), (ba["loa_high"], "--")):
                a2.axhline(v, linestyle=style, color="#b2182b")
        a2.set_xlabel("mean [µmol m⁻² s⁻¹]")
        a2.set_ylabel("chamber − reference [µmol m⁻² s⁻¹]")
        rep.plots["reference"] = _svg(fig)
    return rep


def render(rep: Report) -> str:
    """The report as one HTML document (inline CSS and SVG; nothing fetched)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    css = (HERE / "static" / "report.css").read_text(encoding="utf-8")
    return env.get_template("report.html").render(r=rep, css=css)
