"""Every flux model of one closure, recomputed from its stored samples (the closure view).

What SoilFluxPro and goFlux users look at first: the samples, the dead band, the fit
window, each model's fitted curve with its flux and standard error, the selected model
marked. The store keeps only the selected model's flux, so the models are recomputed on
demand, with soilflux's public API and the options and chain of the live flux worker
(:mod:`fluxfleet.ingest.fluxes`): the device's closure samples within the worker's reach
(``shared_window_s``/2 + its margin) around the closure, in soilflux's generic layout
(:func:`fluxfleet.ingest.layout.generic_samples`) → `soilflux.io.parse_generic_table` →
`soilflux.segment.segment` → `soilflux.pipeline.compute_fluxes`. The chamber-shared HM
pools κ over the chamber's neighbouring closures, so the neighbours' samples are part of
the computation; once a closure's neighbourhood is complete, the selected flux recomputed
here is the stored one (``stored_flux_umol_m2_s`` is returned beside it, and the tests
compare the two).

The curves are those of `soilflux.closure_plot.model_curves` (each model refitted on the
fit window, plain curves without the sensor-lag term the engine adds), and for
``hm_shared`` the lagged HM response y = C₀ + F′·v(t) (`soilflux.fit.shared`) at the
closure's shared κ, F′ = flux / flux term (LI-8100A manual eq. 4-12, `soilflux.flux.
flux_term`) and C₀ the mean of y − F′·v over the fit window: its slope is the reported
flux. The fluxes and SEs shown are soilflux's own numbers, not the curves'.
"""

# No "from __future__ import annotations": FastAPI resolves the local Annotated alias.

import datetime as dt
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse

from fluxfleet.store.base import Store
from fluxfleet.web.console import Console

CURVE_POINTS = 120
"""Points of each model's curve across the closure."""

MODELS = ("linear", "robust", "exp", "hm", "quadratic", "hm_shared", "hm_averaged")
"""soilflux's models whose fluxes (``flux_<model>``, ``flux_<model>_se``) are shown."""


def _finite(x: Any) -> float | None:
    """``x`` as a float, None where it is missing or not finite (JSON has no NaN)."""
    if x is None or x is pd.NA:
        return None
    v = float(x)
    return v if np.isfinite(v) else None


def _hm_shared_curve(view: Any, row: pd.Series, t: np.ndarray, tau_s: float, term: float) -> Any:
    """y(t) = C₀ + F′·v(t) at the closure's shared κ [µmol mol⁻¹] (module docstring)."""
    from soilflux.fit.shared import lagged_hm_basis

    kappa, flux = float(row["kappa_shared"]), float(row["flux_hm_shared"])
    if not (np.isfinite(kappa) and np.isfinite(flux) and np.isfinite(term) and term > 0):
        return None
    slope = flux / term  # F′ [µmol mol⁻¹ s⁻¹]
    window = (view.elapsed_s > view.deadband_s) & (view.elapsed_s <= view.end_s)
    window &= np.isfinite(view.c_dry) & (view.elapsed_s >= 0)
    if window.sum() < 2:
        return None
    tau = np.array([tau_s])
    v_win = lagged_hm_basis(view.elapsed_s[window][None, :], kappa, tau)[0]
    c0 = float(np.mean(view.c_dry[window] - slope * v_win))
    return c0 + slope * lagged_hm_basis(np.clip(t, 0.0, None)[None, :], kappa, tau)[0]


def closure_models(
    store: Store,
    device: str,
    cyc: int,
    volume_cm3: float,
    area_cm2: float,
    options: Any = None,
) -> dict[str, Any]:
    """Every model's flux, SE and curve for closure ``cyc`` of ``device`` (module docstring).

    Parameters
    ----------
    store : Store
        The fleet's store (samples, closures, fluxes).
    device : str
        Device id.
    cyc : int
        The closure's cycle number.
    volume_cm3, area_cm2 : float
        Chamber volume [cm³] and soil area [cm²] the live worker used (the settings').
    options : soilflux.options.FluxOptions, optional
        Default `fluxfleet.flux_options.FLEET_FLUX_OPTIONS`, the live worker's.

    Returns
    -------
    dict
        ``device``, ``cyc``, ``location``; ``time_close`` (UTC); ``selected_model``,
        its ``flux_umol_m2_s`` and ``flux_se_umol_m2_s`` [µmol m⁻² s⁻¹] as recomputed, and
        ``stored_flux_umol_m2_s``/``stored_model`` (None when the store has no flux);
        ``deadband_s`` and ``fit_end_s`` [s since the lid closed], the fit window;
        ``flags``; ``samples``: ``elapsed_s`` [s], ``co2_dry_ppm`` [µmol mol⁻¹ dry air],
        ``in_fit``; ``curve_elapsed_s`` [s]; ``models``: one entry per model with a flux
        or a curve: ``model``, ``flux_umol_m2_s``, ``flux_se_umol_m2_s``, ``selected``
        and ``co2_dry_ppm`` (the curve at ``curve_elapsed_s``, or None).

    Raises
    ------
    KeyError
        The store has no such closure, or soilflux finds none in its samples.
    """
    from soilflux.closure_plot import closure_view, model_curves
    from soilflux.conventions import for_format
    from soilflux.flux import flux_term
    from soilflux.io import parse_generic_table
    from soilflux.pipeline import compute_fluxes
    from soilflux.segment import segment

    from fluxfleet.flux_options import FLEET_FLUX_OPTIONS
    from fluxfleet.ingest.batch import CLOSURE_PHASES
    from fluxfleet.ingest.fluxes import MARGIN_S
    from fluxfleet.ingest.layout import generic_samples

    opts = FLEET_FLUX_OPTIONS if options is None else options
    found = store.select(
        "SELECT time_close, location FROM closures WHERE device = ? AND cyc = ?",
        [device, int(cyc)],
    ).to_pylist()
    if not found:
        raise KeyError(f"no closure {cyc} of device {device}")
    t_close = pd.Timestamp(found[0]["time_close"]).tz_convert("UTC")
    reach = dt.timedelta(seconds=float(opts.shared_window_s) / 2.0 + MARGIN_S)
    samples = store.read(
        "samples",
        (t_close - reach).to_pydatetime(),
        (t_close + reach).to_pydatetime(),
        [device],
    )
    samples = samples.filter(pc.is_in(samples["phase"], pa.array(CLOSURE_PHASES)))
    if samples.num_rows == 0:
        raise KeyError(f"closure {cyc} of device {device} has no stored samples")
    generic = generic_samples(samples, volume_cm3, area_cm2)
    data, _meta = parse_generic_table(generic, source="store")
    sf_samples, sf_closures, _report = segment(data)
    ids = sf_closures["closure_id"].astype(str) if "closure_id" in sf_closures else None
    if ids is None or not (ids == str(int(cyc))).any():
        raise KeyError(f"soilflux finds no closure {cyc} of device {device} in its samples")
    out = compute_fluxes(sf_samples, sf_closures, for_format(opts, "generic"))
    number_to_id = sf_closures["closure_id"].astype(str)
    out = out.assign(closure_id=number_to_id.reindex(out["closure"]).to_numpy())
    row = out[(out["closure_id"] == str(int(cyc))) & (out["gas"] == "co2")].iloc[0]
    # a closure whose every sample was lost (a dropout) has no flux and nothing to draw
    drawable = bool((sf_samples["closure"] == row["closure"]).any())
    view = closure_view(out, sf_samples, sf_closures, str(int(cyc)), "co2") if drawable else None
    grid = np.linspace(0.0, float(view.end_s) if view else 0.0, CURVE_POINTS if view else 0)
    curves = model_curves(view, grid) if view else {}
    tau = float(opts.sensor_lag_s) if opts.sensor_lag_s is not None else 0.0
    term = float(
        flux_term(volume_cm3, area_cm2, row["p0_kpa"], row["t0_c"], row["w0_mmol_mol"],
                  extrapolate=True)
    )  # fmt: skip
    shared = _hm_shared_curve(view, row, grid, tau, term) if view else None
    if shared is not None:
        curves["hm_shared"] = shared
    selected = str(row["model"])
    models = []
    for model in MODELS:
        flux = _finite(row.get(f"flux_{model}", np.nan))
        curve = curves.get(model)
        if flux is None and curve is None and model != selected:
            continue
        models.append(
            {
                "model": model,
                "flux_umol_m2_s": flux,
                "flux_se_umol_m2_s": _finite(row.get(f"flux_{model}_se", np.nan)),
                "selected": model == selected,
                "co2_dry_ppm": None if curve is None else [_finite(c) for c in curve],
            }
        )
    stored = store.select(
        "SELECT flux_umol_m2_s, model FROM fluxes WHERE device = ? AND cyc = ?",
        [device, int(cyc)],
    ).to_pylist()
    t = view.elapsed_s if view else np.empty(0)
    c_dry = view.c_dry if view else np.empty(0)
    deadband_s = float(view.deadband_s) if view else float(row["deadband_s"])
    fit_end_s = float(view.end_s) if view else float("nan")
    in_fit = (t > deadband_s) & (t <= fit_end_s)
    return {
        "device": device,
        "cyc": int(cyc),
        "location": found[0]["location"],
        "time_close": t_close.isoformat(),
        "selected_model": selected,
        "flux_umol_m2_s": _finite(row["flux_umol_m2_s"]),
        "flux_se_umol_m2_s": _finite(row["flux_se_umol_m2_s"]),
        "stored_flux_umol_m2_s": _finite(stored[0]["flux_umol_m2_s"]) if stored else None,
        "stored_model": stored[0]["model"] if stored else None,
        "flags": str(row["flags"] or ""),
        "deadband_s": _finite(deadband_s),
        "fit_end_s": _finite(fit_end_s),
        "samples": [
            {"elapsed_s": float(a), "co2_dry_ppm": _finite(c), "in_fit": bool(f)}
            for a, c, f in zip(t, c_dry, in_fit, strict=True)
        ],
        "curve_elapsed_s": [float(x) for x in grid],
        "models": models,
    }


def register(app: FastAPI, console: Console, settings: Any) -> None:
    """``GET /api/closures/{device}/{cyc}/models``: :func:`closure_models` as JSON, with the
    chamber geometry of ``settings`` (the live worker's); 404 for an unknown closure."""
    StoreDep = Annotated[Store, console.store_dep]

    @app.get("/api/closures/{device}/{cyc}/models")
    def api_closure_models(st: StoreDep, device: str, cyc: int) -> JSONResponse:
        try:
            body = closure_models(
                st, device, cyc, settings.chamber_volume_cm3, settings.chamber_area_cm2
            )
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return JSONResponse(body)
