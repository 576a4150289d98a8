"""Temperature–entropy charts of the refrigerants and the working fluid (matplotlib, Agg).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot global state),
so they render headless; each function writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amrr.properties import helium4
from amrr.properties.mixture import mixture_properties
from amrr.properties.paramagnet import MATERIALS, Model, paramagnet_properties
from amrr.properties.phase_diagram import superfluid_boundary_x3


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # render with Agg explicitly: no display, no pyplot state
    # Written under a temporary name, then renamed: never a half-written chart.
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        fig.savefig(tmp, dpi=120, format=out.suffix.lstrip(".").lower() or "png")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def paramagnet_ts_chart(
    path: str | Path,
    material: str = "GGG",
    fields_T: Sequence[float] = (0.0, 0.5, 1.0, 1.5),
    *,
    models: Sequence[Model] = ("ideal", "mean_field"),
    temperature_range_K: tuple[float, float] = (0.5, 2.5),
    curie_weiss_K: float | None = None,
    internal_field_T: float | None = None,
    mark_K: Sequence[float] = (),
) -> Path:
    """Write a T–S chart (specific entropy [J/(kg K)] vs T [K]) at several fields.

    One line per field and model (solid: first model, dashed: second, ...). Vertical
    dotted lines at ``mark_K`` [K] (e.g. the cycle's cold and hot ends).
    """
    params = MATERIALS[material.upper()]
    T = np.linspace(*temperature_range_K, 300)
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    styles = ["-", "--", ":", "-."]
    colours = [f"C{i}" for i in range(10)]
    for k, model in enumerate(models):
        for i, B in enumerate(fields_T):
            p = paramagnet_properties(
                T,
                B,
                params,
                model=model,
                curie_weiss_K=curie_weiss_K,
                internal_field_T=internal_field_T,
                extrapolate=True,
            )
            ax.plot(
                p.entropy_J_kgK,
                T,
                styles[k % 4],
                color=colours[i % 10],
                label=f"{B:g} T, {model}",
            )
    for t in mark_K:
        ax.axhline(t, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("specific entropy S [J/(kg K)]")
    ax.set_ylabel("temperature T [K]")
    ax.set_title(f"{params.name} ({params.formula}): T–S at constant field")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def helium4_ts_chart(path: str | Path) -> Path:
    """Write the T–S chart of He II at SVP (Donnelly & Barenghi 1998), 0.5–2.17 K."""
    T = np.linspace(0.5, 2.17, 300)
    p = helium4.helium4_svp(T)
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    ax.plot(p.entropy_J_kgK, T)
    ax.set_xlabel("specific entropy s [J/(kg K)]")
    ax.set_ylabel("temperature T [K]")
    ax.set_title("He II at SVP (Donnelly & Barenghi 1998)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def mixture_ts_chart(path: str | Path, x3_values: Sequence[float] = (0.02, 0.05, 0.1, 0.2)) -> Path:
    """Write the T–S chart of He II 3He-4He mixtures at several x3 (molar entropy)."""
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.add_subplot()
    for x in x3_values:
        T = np.linspace(0.15, 1.8, 300)
        T = T[x <= superfluid_boundary_x3(T)]
        if T.size == 0:
            continue
        m = mixture_properties(T, x)
        ax.plot(m.entropy_J_molK, T, label=f"x3 = {x:g}")
    ax.set_xlabel("molar entropy s [J/(mol K)]")
    ax.set_ylabel("temperature T [K]")
    ax.set_title("3He-4He mixture (He II), quasiparticle model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
