"""Tables and a figure of a simulation run compared with soilflux (for ``fluxfleet demo``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fluxfleet.sim.compare import Comparison


def closure_table(cmp: Comparison, limit: int | None = None) -> pd.DataFrame:
    """One row per closure: true flux, soilflux flux, error, model, flags, faults.

    Fluxes in µmol m⁻² s⁻¹, the error in %.
    """
    t = cmp.table.sort_values(["start", "chamber"])
    out = pd.DataFrame(
        {
            "chamber": t["chamber"],
            "location": t["location"],
            "start_utc": t["start"].dt.strftime("%H:%M"),
            "true_flux": t["flux_true_umol_m2_s"].round(3),
            "soilflux": t["flux_umol_m2_s"].round(3),
            "error_pct": (100.0 * t["rel_error"]).round(1),
            "model": t["model"],
            "flags": t["flags"].fillna(""),
            "fault": t["faults"].fillna(""),
        }
    )
    return out.head(limit) if limit else out


def chamber_table(cmp: Comparison) -> pd.DataFrame:
    """Per chamber: closures, median true and soilflux fluxes [µmol m⁻² s⁻¹], error [%].

    Medians over the valid closures (no drop flag); ``dropped`` counts the others.
    """
    t = cmp.table
    rows = []
    for chamber, d in t.groupby("chamber", sort=True):
        ok = d[d["valid"]]
        faults = sorted({f for s in d["faults"] for f in s.split(",") if f})
        rows.append(
            {
                "chamber": chamber,
                "location": d["location"].iloc[0],
                "closures": len(d),
                "dropped": int((~d["valid"]).sum()),
                "true_median": round(float(ok["flux_true_umol_m2_s"].median()), 3)
                if len(ok)
                else np.nan,
                "soilflux_median": round(float(ok["flux_umol_m2_s"].median()), 3)
                if len(ok)
                else np.nan,
                "median_error_pct": round(100.0 * float(ok["rel_error"].median()), 1)
                if len(ok)
                else np.nan,
                "faults": ",".join(faults),
            }
        )
    return pd.DataFrame(rows)


def fault_table(cmp: Comparison) -> pd.DataFrame:
    """Per injected fault kind: closures it touched, how many soilflux dropped, its flags."""
    t = cmp.table
    rows = []
    kinds = sorted({k for s in t["faults"] for k in s.split(",") if k})
    for kind in kinds:
        hit = t[t["faults"].str.split(",").apply(lambda ks, k=kind: k in ks)]
        flags = sorted({f for s in hit["flags"].fillna("") for f in s.split(",") if f})
        rows.append(
            {
                "fault": kind,
                "closures": len(hit),
                "dropped": int((~hit["valid"]).sum()),
                "flags raised": ",".join(flags) or "(none)",
            }
        )
    return pd.DataFrame(rows, columns=["fault", "closures", "dropped", "flags raised"])


def plot_run(samples: pd.DataFrame, cmp: Comparison, path: str | Path) -> Path:
    """A two-panel PNG: CO2 of a few chambers over time, and soilflux vs the truth.

    Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = Path(path)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), dpi=110)
    chambers = sorted(samples["chamber"].unique())[:4]
    t0 = samples["time"].min()
    window = samples[samples["time"] < t0 + pd.Timedelta(hours=1)]
    for ch in chambers:
        s = window[window["chamber"] == ch]
        ax1.plot(s["time"], s["co2_ppm"], lw=0.8, label=f"{ch} ({s['location'].iloc[0]})")
    ax1.set_xlabel("time (UTC)")
    ax1.set_ylabel("CO2 as measured [µmol mol⁻¹]")
    ax1.set_title("SCD30 readings: closures every 10 min")
    ax1.legend(fontsize=8)
    ax1.tick_params(axis="x", labelrotation=30)

    t = cmp.table.dropna(subset=["flux_umol_m2_s"])
    ok = t[t["valid"]]
    bad = t[~t["valid"]]
    hi = float(np.nanmax(np.r_[t["flux_true_umol_m2_s"], t["flux_umol_m2_s"], 1.0])) * 1.1
    line = np.array([0.0, hi])
    ax2.plot(line, line, "k-", lw=0.8, label="1:1")
    ax2.fill_between(line, 0.95 * line, 1.05 * line, color="0.85", label="±5 %")
    ax2.scatter(ok["flux_true_umol_m2_s"], ok["flux_umol_m2_s"], s=10, label="valid")
    ax2.scatter(
        bad["flux_true_umol_m2_s"], bad["flux_umol_m2_s"], s=14, marker="x", label="flagged"
    )
    ax2.set_xlim(0, hi)
    ax2.set_ylim(min(0.0, float(np.nanmin(t["flux_umol_m2_s"], initial=0.0))), hi)
    ax2.set_xlabel("true soil CO2 efflux [µmol m⁻² s⁻¹]")
    ax2.set_ylabel("soilflux [µmol m⁻² s⁻¹]")
    ax2.set_title(f"soilflux vs truth: {cmp.within(0.05):.0%} of valid night closures within ±5 %")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    plt.close(fig)
    return p
