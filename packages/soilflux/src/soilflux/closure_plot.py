"""One closure drawn for inspection: samples, dead band, fit window, each model's curve.

What SoilFluxPro and goFlux (``flux.plot``) users look at first. The samples come from the
input files again (the flux table holds no samples); the window is the flux table's (its
``deadband_s``, and the closure's observation length or end), and each model is refitted
on it with the public single-closure fits of :mod:`soilflux.fit` — plain curves, without
the sensor-lag term the engine adds under an automatic dead band. The legend gives the flux
table's own numbers, and marks the selected model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.fit.exponential import ExpCurve, fit_exponential
from soilflux.fit.hm import fit_hm
from soilflux.fit.linear import fit_linear
from soilflux.fit.quadratic import fit_quadratic
from soilflux.fit.robust import fit_robust_linear
from soilflux.flux import dry_mole_fraction, initial_values

FloatArray = npt.NDArray[np.float64]

#: Gas → (sample column, factor to µmol mol⁻¹, unit shown).
_GAS = {"co2": ("co2_ppm", 1.0, "µmol mol⁻¹"), "ch4": ("ch4_ppb", 1.0, "nmol mol⁻¹")}
_GAS["n2o"] = ("n2o_ppb", 1.0, "nmol mol⁻¹")


@dataclass
class ClosureView:
    """What the figure shows of one closure.

    Attributes
    ----------
    title : str
        Closure id, chamber and gas.
    elapsed_s : ndarray
        Sample times since the lid closed [s].
    c_dry : ndarray
        Dry mole fraction C′ [µmol mol⁻¹, or nmol mol⁻¹ for CH4 and N2O].
    deadband_s, end_s : float
        The fit window (deadband_s, end_s] [s].
    unit : str
        Unit of ``c_dry``.
    fluxes : dict
        Model → (flux [µmol m⁻² s⁻¹], its standard error) from the flux table.
    selected : str
        The selected model.
    """

    title: str
    elapsed_s: FloatArray
    c_dry: FloatArray
    deadband_s: float
    end_s: float
    unit: str
    fluxes: dict[str, tuple[float, float]]
    selected: str


def _exp_curve(curve: ExpCurve, t: FloatArray) -> FloatArray:
    """C(t) = c₁ + s·(1 − e^{−a(t − t_ref)})/a (a → 0: the line)."""
    tau = t - float(curve.t_ref[0])
    a, s, c1 = float(curve.a[0]), float(curve.s[0]), float(curve.c1[0])
    if abs(a) < 1e-12:
        return c1 + s * tau
    return np.asarray(c1 + s * (1.0 - np.exp(-a * tau)) / a, dtype=np.float64)


def model_curves(view: ClosureView, t: FloatArray) -> dict[str, FloatArray]:
    """Each model refitted on the window and evaluated at ``t`` [s] (failed fits left out)."""
    window = (view.elapsed_s > view.deadband_s) | (view.deadband_s == 0)
    window &= (view.elapsed_s <= view.end_s) & np.isfinite(view.c_dry)
    tw, cw = view.elapsed_s[window], view.c_dry[window]
    out: dict[str, FloatArray] = {}
    if len(tw) < 4:
        return out
    c0 = initial_values(view.elapsed_s, view.c_dry, np.isfinite(view.c_dry))
    line = fit_linear(tw, cw)
    if bool(line.ok[0]):
        out["linear"] = float(line.intercept[0]) + float(line.slope[0]) * t
    robust = fit_robust_linear(tw, cw)
    if bool(robust.ok[0]):
        out["robust"] = float(robust.intercept[0]) + float(robust.slope[0]) * t
    exp = fit_exponential(tw, cw, c0)
    if bool(exp.ok[0]):
        out["exp"] = _exp_curve(exp.curve, t)
    hm = fit_hm(tw, cw, np.inf, c0=c0)
    if bool(hm.ok[0]):
        out["hm"] = _exp_curve(hm.curve, t)
    quad = fit_quadratic(tw, cw, c0=c0)
    if bool(quad.ok[0]):
        tau = t - float(quad.t_ref[0])
        out["quadratic"] = float(quad.b0[0]) + float(quad.b1[0]) * tau + float(quad.b2[0]) * tau**2
    return out


def closure_view(
    fluxes: pd.DataFrame,
    samples: pd.DataFrame,
    closures: pd.DataFrame,
    closure_id: str,
    gas: str = "co2",
) -> ClosureView:
    """Gather one closure's samples and flux-table row.

    Parameters
    ----------
    fluxes : pandas.DataFrame
        Output of ``soilflux compute`` (``closure_id``, ``gas``, ``deadband_s``, ``model``,
        ``flux_<model>``).
    samples, closures : pandas.DataFrame
        The engine's input read from the same files (:func:`soilflux.segment.segment`).
    closure_id : str
        The closure to draw: its ``closure_id``, or its number (column ``closure``) where the
        closures were found from phases.
    gas : str
        ``co2``, ``ch4`` or ``n2o``.

    Returns
    -------
    ClosureView

    Raises
    ------
    ValueError
        The closure or gas is in neither the flux table nor the records, naming what is.
    """
    if gas not in _GAS:
        raise ValueError(f"gas must be one of {', '.join(_GAS)}, got {gas!r}")
    ids = fluxes["closure_id"].astype("string").fillna("")
    by_id = ids == closure_id
    # closures found from phases have no id of their own: their number (column `closure`)
    by_number = closure_id.isdigit() and not by_id.any()
    if by_number:
        by_id = fluxes["closure"] == int(closure_id)
    rows = fluxes[by_id & (fluxes["gas"] == gas)]
    if rows.empty:
        known = ", ".join(sorted(set(ids) - {""})[:10]) or "closure numbers 0, 1, ..."
        raise ValueError(f"closure {closure_id!r} ({gas}) is not in the flux table (e.g. {known})")
    row = rows.iloc[0]
    if by_number:
        match = np.flatnonzero(closures.index.to_numpy() == int(closure_id))
    else:
        match = np.flatnonzero(closures["closure_id"].astype(str).to_numpy() == closure_id)
    if not len(match):
        raise ValueError(f"closure {closure_id!r} is not in the input files given")
    number = closures.index[match[0]]
    closure = closures.loc[number]
    mine = samples[samples["closure"] == number]
    column, _, unit = _GAS[gas]
    w = mine["h2o_mmol_mol"].to_numpy(np.float64) if "h2o_mmol_mol" in mine else None
    wet = mine[column].to_numpy(np.float64)
    c_dry = dry_mole_fraction(wet, np.nan_to_num(w) if w is not None else 0.0, extrapolate=True)
    elapsed = mine["elapsed_s"].to_numpy(np.float64)
    obs = float(closure.get("obs_length_s", np.nan))
    end = obs if np.isfinite(obs) else float(np.nanmax(elapsed))
    fluxes_by_model = {}
    for model in ("linear", "robust", "exp", "hm", "quadratic", "hm_shared"):
        if f"flux_{model}" in row and np.isfinite(row[f"flux_{model}"]):
            fluxes_by_model[model] = (float(row[f"flux_{model}"]), float(row[f"flux_{model}_se"]))
    return ClosureView(
        title=f"{closure_id} · {row['chamber']} · {gas.upper()}",
        elapsed_s=elapsed,
        c_dry=np.asarray(c_dry, dtype=np.float64),
        deadband_s=float(row["deadband_s"]),
        end_s=end,
        unit=unit,
        fluxes=fluxes_by_model,
        selected=str(row["model"]),
    )


def draw_closure(view: ClosureView, path: Path) -> Path:
    """Write the inspection figure (PNG) atomically.

    Parameters
    ----------
    view : ClosureView
        The closure.
    path : Path
        Destination ``.png``.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    t = view.elapsed_s
    inside = (t > view.deadband_s) & (t <= view.end_s)
    ax.axvspan(0.0, view.deadband_s, color="0.85", label=f"dead band {view.deadband_s:g} s")
    ax.axvspan(view.deadband_s, view.end_s, color="#e8f0fb", label="fit window")
    ax.plot(t[~inside], view.c_dry[~inside], ".", ms=3, color="0.55", label="samples")
    ax.plot(t[inside], view.c_dry[inside], ".", ms=4, color="k", label="samples in window")
    grid = np.linspace(0.0, view.end_s, 200)
    for k, (model, curve) in enumerate(model_curves(view, grid).items()):
        flux = view.fluxes.get(model)
        label = model if flux is None else f"{model}: {flux[0]:.4g} ± {flux[1]:.2g}"
        chosen = model == view.selected
        ax.plot(
            grid,
            curve,
            "-",
            lw=2.6 if chosen else 1.1,
            color=f"C{k}",
            label=label + ("  ← selected" if chosen else ""),
            zorder=3 if chosen else 2,
        )
    ax.set_xlabel("time since the lid closed [s]")
    ax.set_ylabel(f"dry mole fraction C′ [{view.unit}]")
    ax.set_title(
        f"{view.title}: selected {view.selected}"
        + (
            f" {view.fluxes[view.selected][0]:.4g} µmol m⁻² s⁻¹"
            if view.selected in view.fluxes
            else ""
        ),
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="best")
    ax.text(
        0.99,
        0.01,
        "curves: plain fits on the window; fluxes [µmol m⁻² s⁻¹]: the flux table's",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=6,
        color="0.4",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
