"""HTML design report: one self-contained file, plots embedded as base64 PNG (opens offline).

Plots: the magnet's field map (axis and bore), the cycle on GGG's T–S chart, the
regenerator's temperature profile with the heat each slice takes up, and the length's
sensitivities. Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state).
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amrr.design import DesignResult, assumptions, pump_refrigerant_of, refrigerant_of


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def field_map_figure(result: DesignResult) -> Figure:
    """|B| across the bore and winding (Biot–Savart), and B_z on the axis (eq. 4 and loops)."""
    m = result.magnet
    w, current = m.winding, m.current_A
    fig = Figure(figsize=(10.0, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    z = np.linspace(-w.length_m, w.length_m, 121)
    r = np.linspace(0.0, 0.98 * w.inner_radius_m, 25)
    R, Z = np.meshgrid(r, z)
    br, bz = w.field_T(R, Z, current)
    cs = ax1.contourf(Z * 1e3, R * 1e3, np.hypot(br, bz), levels=20)
    fig.colorbar(cs, ax=ax1, label="|B| [T]")
    reg_len = result.regenerator.length_m
    reg_r = result.regenerator.spec.inner_diameter_m / 2
    ax1.plot(
        np.array([-1, 1, 1, -1, -1]) * reg_len / 2 * 1e3,
        np.array([0, 0, 1, 1, 0]) * reg_r * 1e3,
        "w--",
        lw=1,
        label=f"{result.design['refrigerant']['material']} bed",
    )
    ax1.set_xlabel("z [mm]")
    ax1.set_ylabel("r [mm]")
    ax1.set_title(f"Field in the bore at {current:g} A")
    ax1.legend(loc="upper right", fontsize=8)
    zs = np.linspace(-1.5 * w.length_m, 1.5 * w.length_m, 301)
    ax2.plot(zs * 1e3, w.axial_field_T(zs, current), label="eq. 4, layer by layer")
    ax2.plot(zs * 1e3, w.eq4_axial_field_T(zs, current), "--", label="eq. 4, R at mid-thickness")
    ax2.axvspan(-w.length_m / 2 * 1e3, w.length_m / 2 * 1e3, color="0.9", label="winding")
    ax2.axvspan(-reg_len / 2 * 1e3, reg_len / 2 * 1e3, color="C2", alpha=0.15, label="bed")
    ax2.set_xlabel("z [mm]")
    ax2.set_ylabel("B on axis [T]")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ts_chart_figure(result: DesignResult) -> Figure:
    """The cycle on the refrigerant's T–S chart: regenerator isotherms and the pump bed's
    field ramp (the pump's GGG, on its own entropy, when the regenerators are GLF)."""
    d = result.design
    ggg = refrigerant_of(d)
    pump_ggg = pump_refrigerant_of(d)
    t_low = min(0.6, 0.9 * d["cycle"]["cold_outlet_temperature_K"])
    T = np.linspace(t_low, 2.0, 200)
    reg = result.regenerator.spec
    pump = result.pump.spec
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    fields = sorted({0.0, reg.low_field_T, reg.high_field_T, pump.high_field_T})
    for i, B in enumerate(fields):
        ax.plot(ggg(T, B).entropy_J_kgK, T, color=f"C{i}", label=f"B = {B:g} T")
    nodes = result.regenerator.node_temperature_K
    for k, Ti in enumerate(nodes[:: max(1, len(nodes) // 8)]):
        s = ggg(np.array([Ti, Ti]), np.array([reg.high_field_T, reg.low_field_T])).entropy_J_kgK
        ax.annotate(
            "",
            xy=(s[1], Ti),
            xytext=(s[0], Ti),
            arrowprops={"arrowstyle": "->", "color": "k", "lw": 0.8},
        )
        if k == 0:
            ax.plot([], [], "k-", lw=0.8, label="regenerator slices, cold blow")
    sp = pump_ggg(
        np.array([pump.temperature_K] * 2), np.array([pump.low_field_T, pump.high_field_T])
    ).entropy_J_kgK
    pump_label = "pump bed, magnetising" + ("" if pump_ggg == ggg else f" ({pump_ggg.name})")
    ax.plot(sp, [pump.temperature_K] * 2, "r-", lw=2.5, label=pump_label)
    ax.set_xlabel("S [J/(kg K)]")
    ax.set_ylabel("T [K]")
    ax.set_title(f"{ggg.name}: the cycle of the design model")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def profile_figure(result: DesignResult) -> Figure:
    """Regenerator temperature profile (linear, the model's assumption) and heat per slice."""
    r = result.regenerator
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    x = r.node_position_m * 1e3
    ax.plot(x, r.node_temperature_K, "o-", ms=3, label="T_i (linear profile)")
    ax.set_xlabel("distance from the hot end [mm]")
    ax.set_ylabel("T [K]")
    ax2 = ax.twinx()
    width = (x[1] - x[0]) * 0.8 if len(x) > 1 else 1.0
    ax2.bar(x, r.node_heat_J * 1e3, width=width, color="C1", alpha=0.4, label="Σ_j Q_ij")
    ax2.set_ylabel("heat into the slice per blow [mJ]")
    material = result.design["refrigerant"]["material"]
    mass_g = r.ggg_mass_kg * 1e3
    ax.set_title(f"Regenerator: ℓ = {r.length_m * 1e3:.1f} mm, {material} {mass_g:.0f} g")
    fig.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def sensitivity_figure(result: DesignResult) -> Figure:
    """Bar chart of d ln ℓ / d ln p for each input."""
    items = sorted(result.sensitivities.items(), key=lambda kv: abs(kv[1]))
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("d ln ℓ / d ln p  (low_field_T: d ln ℓ / dB [1/T])")
    ax.set_title("Sensitivity of the regenerator length")
    fig.tight_layout()
    return fig


def _fmt(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def render_html(result: DesignResult, source: str, design_text: str | None = None) -> str:
    """The whole report as one HTML string (no external assets)."""
    figures = [
        ("Magnet field map", field_map_figure(result)),
        ("Cycle on the refrigerant's T–S chart", ts_chart_figure(result)),
        ("Regenerator temperature profile", profile_figure(result)),
    ]
    if result.sensitivities:
        figures.append(("Sensitivities of the regenerator length", sensitivity_figure(result)))
    rows = "\n".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in result.summary().items()
    )
    assume = "\n".join(f"<li>{html.escape(a)}</li>" for a in assumptions(design_text))
    warn = "\n".join(f"<li>{html.escape(w)}</li>" for w in result.warnings) or "<li>none</li>"
    imgs = "\n".join(
        f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" '
        f'src="data:image/png;base64,{_png(f)}">'
        for t, f in figures
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>AMRR design report — {html.escape(source)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td{{border:1px solid #ccc;padding:2px 8px}}
img{{max-width:100%}}</style></head><body>
<h1>AMRR design report</h1>
<p>Design file: <code>{html.escape(source)}</code>. Method: regenerator by the paper's eqs. 1–3,
magnet by eq. 4 and Biot–Savart, pump by the reversible SMP entropy balance, budget by the
Kevlar suspension and lumped parasitics (docs/amrr/design.md).</p>
<h2>Warnings</h2><ul>{warn}</ul>
<h2>Results (units in the names)</h2><table>{rows}</table>
<h2>Assumptions (not given by the paper)</h2><ul>{assume}</ul>
{imgs}
</body></html>
"""


def write_report(
    result: DesignResult, directory: str | Path, source: str, design_text: str | None = None
) -> Path:
    """Write ``report.html`` into ``directory`` atomically (temporary file, then rename)."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "report.html"
    text = render_html(result, source, design_text)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".report-", suffix=".html")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
