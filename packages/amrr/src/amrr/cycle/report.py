"""HTML report of a cycle run: the results table, temperature–time maps, the cooling curve
and the GGG model band — one self-contained file (plots embedded as base64 PNG).

When the run comes from a design file, ``amrr cycle --design F --report DIR`` also writes the
design tool's ``report.html`` into DIR and links it: the cycle report extends it. Figures
are :class:`matplotlib.figure.Figure` objects (no pyplot state); the file is written under a
temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amrr.properties.validity import FloatArray

CYCLE_REPORT_NAME = "cycle.html"


@dataclass(frozen=True)
class TemperatureMap:
    """Both phases' temperatures over one cycle at cyclic steady state.

    Attributes
    ----------
    cold_K : float
        T_C of the run [K].
    time_s : ndarray, shape (K,)
        Time from the start of the hot blow [s].
    position_m : ndarray, shape (N + 1,)
        Node position from the hot end [m].
    fluid_K, solid_K : ndarray, shape (K, N + 1)
        Mixture and refrigerant temperatures [K].
    """

    cold_K: float
    time_s: FloatArray
    position_m: FloatArray
    fluid_K: FloatArray
    solid_K: FloatArray


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def temperature_map_figure(tmap: TemperatureMap) -> Figure:
    """Fluid and solid T(t, x) over one cycle, side by side, one colour scale [K]."""
    fig = Figure(figsize=(11.0, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    lo = float(min(tmap.fluid_K.min(), tmap.solid_K.min()))
    hi = float(max(tmap.fluid_K.max(), tmap.solid_K.max()))
    mesh = None
    for ax, data, name in zip(
        axes, (tmap.fluid_K, tmap.solid_K), ("mixture T_f", "refrigerant T_s"), strict=True
    ):
        mesh = ax.pcolormesh(
            tmap.time_s,
            tmap.position_m * 1e3,
            data.T,
            shading="nearest",
            vmin=lo,
            vmax=hi,
            cmap="coolwarm",
        )
        ax.set_xlabel("time from the start of the hot blow [s]")
        ax.set_title(f"{name}, T_C = {tmap.cold_K:.3f} K")
    axes[0].set_ylabel("distance from the hot end [mm]")
    axes[0].invert_yaxis()
    assert mesh is not None
    fig.colorbar(mesh, ax=list(axes), label="T [K]")
    return fig


def cooling_curve_figure(
    records: Sequence[Mapping[str, object]], band: Mapping[float, tuple[float, float]]
) -> Figure:
    """Gross and net cooling power against T_C [mW], with the model band where run."""
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    t = np.array([float(r["cold_K"]) for r in records])  # type: ignore[arg-type]
    q = np.array([float(r["cooling_power_W"]) for r in records]) * 1e3  # type: ignore[arg-type]
    ax.plot(t, q, "o-", label="cycle Q_C (gross)")
    if all("net_cooling_W" in r for r in records):
        net = np.array([float(r["net_cooling_W"]) for r in records]) * 1e3  # type: ignore[arg-type]
        ax.plot(t, net, "s-", label="cycle net (− parasitics)")
    if band:
        bt = sorted(band)
        lo = [band[k][0] * 1e3 for k in bt]
        hi = [band[k][1] * 1e3 for k in bt]
        ax.fill_between(bt, lo, hi, color="C2", alpha=0.25, label="net, spin-model band")
        ax.errorbar(bt, 0.5 * (np.array(lo) + hi), yerr=0.5 * (np.array(hi) - lo), fmt="none")
    for r in records[:1]:
        if "design_tool_net_cooling_W" in r:
            ax.axhline(
                float(r["design_tool_net_cooling_W"]) * 1e3,  # type: ignore[arg-type]
                color="k",
                ls="--",
                lw=0.8,
                label="design tool estimate (net)",
            )
    ax.axhline(0.0, color="0.5", lw=0.5)
    ax.set_xlabel("cold heat exchanger T_C [K]")
    ax.set_ylabel("cooling power [mW]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.5g}"
    return html.escape(str(value))


def render_cycle_html(
    records: Sequence[Mapping[str, object]],
    maps: Sequence[TemperatureMap],
    source: str,
    *,
    band: Mapping[float, Mapping[str, Mapping[str, object]]] | None = None,
    design_report: str | None = None,
) -> str:
    """The cycle report as one HTML string (no external assets except the design report
    link)."""
    keys = list(records[0].keys()) if records else []
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(k))}</td>" for k in keys) + "</tr>" for r in records
    )
    band_ranges: dict[float, tuple[float, float]] = {}
    band_html = ""
    if band:
        rows = []
        for t_c, per_model in sorted(band.items()):
            converged = [
                float(p["net_cooling_W"])  # type: ignore[arg-type]
                for p in per_model.values()
                if p.get("converged")
            ]
            if converged:
                band_ranges[t_c] = (min(converged), max(converged))
            for model, p in per_model.items():
                rows.append(
                    f"<tr><td>{t_c:.3f}</td><td>{html.escape(model)}</td>"
                    f"<td>{_fmt(p.get('net_cooling_W'))}</td>"
                    f"<td>{_fmt(p.get('cooling_power_W'))}</td>"
                    f"<td>{_fmt(p.get('energy_residual_fraction'))}</td>"
                    f"<td>{_fmt(p.get('converged'))}</td></tr>"
                )
        band_html = (
            "<h2>Spin-model band</h2><p>The cycle run once per spin model (ideal, mean "
            "field, internal field: the members of <code>model_spread()</code>). Models that "
            "did not reach cyclic steady state are listed and left out of the band.</p>"
            "<table><tr><th>T_C [K]</th><th>model</th><th>net_cooling_W</th>"
            "<th>cooling_power_W</th><th>first-law residual</th><th>converged</th></tr>"
            + "\n".join(rows)
            + "</table>"
        )
    figures: list[tuple[str, Figure]] = []
    if records:
        figures.append(("Cooling power against T_C", cooling_curve_figure(records, band_ranges)))
    figures += [
        (f"Temperature–time map at T_C = {m.cold_K:.3f} K", temperature_map_figure(m)) for m in maps
    ]
    imgs = "\n".join(
        f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" '
        f'src="data:image/png;base64,{_png(f)}">'
        for t, f in figures
    )
    link = (
        f'<p>Design tool report: <a href="{html.escape(design_report)}">'
        f"{html.escape(design_report)}</a>.</p>"
        if design_report
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>AMRR cycle report — {html.escape(source)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}
table{{border-collapse:collapse;font-size:80%}}td,th{{border:1px solid #ccc;padding:2px 6px}}
img{{max-width:100%}}</style></head><body>
<h1>AMRR cycle report</h1>
<p>Input: <code>{html.escape(source)}</code>. Model: two-temperature regenerator pair at cyclic
steady state (docs/amrr/cycle.md); units in the column names.</p>
{link}
<h2>Results</h2><table><tr>{head}</tr>{body}</table>
{band_html}
{imgs}
</body></html>
"""


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "CYCLE_REPORT_NAME",
    "TemperatureMap",
    "cooling_curve_figure",
    "render_cycle_html",
    "temperature_map_figure",
    "write_text_atomic",
]
