"""Synthetic closures: the generator itself, and soilflux's fluxes against their known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp
from soilflux.flux import flux_term
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.synthetic import (
    SELECTION_MIXES,
    lagged_curve,
    selection_errors,
    synthetic_closures,
)

#: the fleet: SCD30 (~20 s lag, 3 ppm sample noise), HM saturation, leaks, 180–300 s closures
FLEET = dict(kappa_s=(0.0, 0.002), leak_s=(0.0, 0.0005), lag_s=20.0, noise_ppm=3.0)
POOLED = FluxOptions(hm_fallback="pooled")


def test_lagged_curve_solves_the_first_order_lag_ode() -> None:
    c0, s, a, tau = 420.0, 0.4, 0.003, 20.0
    t_eval = np.linspace(0, 240, 81)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        true = c0 + s * (1 - np.exp(-a * t)) / a
        return (true - y) / tau

    sol = solve_ivp(rhs, (0, 240), [c0], t_eval=t_eval, rtol=1e-10, atol=1e-10)
    ours = lagged_curve(t_eval[None, :], np.array([c0]), np.array([s]), np.array([a]), tau)[0]
    np.testing.assert_allclose(ours, sol.y[0], atol=1e-6)


def test_generator_is_reproducible_and_consistent() -> None:
    a = synthetic_closures(20, seed=4)
    b = synthetic_closures(20, seed=4)
    assert a.samples.equals(b.samples)
    assert not a.samples.equals(synthetic_closures(20, seed=5).samples)
    assert set(a.samples["closure"]) == set(a.closures.index)
    per = a.samples.groupby("closure")["elapsed_s"].agg(["min", "max", "size"])
    assert (per["min"] >= 0).all()
    assert (per["min"] < 3).all()
    assert (per["max"] <= 303).all()
    assert (per["size"] >= 60).all()
    # the true flux is flux_term(V, S, P₀, T₀, W₀) × the true initial slope
    first = a.samples.groupby("closure").first()
    term = flux_term(
        5000.0, 300.0, first["pressure_kpa"], first["temperature_c"], first["h2o_mmol_mol"]
    )
    np.testing.assert_allclose(a.true_flux_umol_m2_s / a.true_dcdt_ppm_s, term, rtol=1e-3)


def test_noiseless_straight_closures_give_the_true_flux() -> None:
    syn = synthetic_closures(200, seed=1, kappa_s=(0.0, 0.0), lag_s=0.0, noise_ppm=0.0)
    out = compute_fluxes(syn.samples, syn.closures)
    # W rises during the closure (1 − e^{−t/60}); its 10-s regression intercept is off by
    # a few 0.01 mmol/mol, i.e. ~1e-5 in the flux
    np.testing.assert_allclose(out["flux_linear"], syn.true_flux_umol_m2_s, rtol=1e-4)
    np.testing.assert_allclose(out["flux_umol_m2_s"], syn.true_flux_umol_m2_s, rtol=1e-4)


def test_noiseless_saturating_lagged_closures_give_the_true_flux_by_exp_and_hm() -> None:
    syn = synthetic_closures(
        300, seed=2, kappa_s=(0.0005, 0.003), leak_s=(0, 0.0005), lag_s=20.0, noise_ppm=0.0
    )
    out = compute_fluxes(syn.samples, syn.closures)
    for model in ("exp", "hm"):
        ratio = out[f"flux_{model}"] / syn.true_flux_umol_m2_s
        # the lag transient is modelled; what is left comes from C′₀, whose 10-s regression
        # sees the start of the lagged response
        assert np.median(ratio) == pytest.approx(1.0, abs=0.002)
        assert np.max(np.abs(ratio - 1)) < 0.005
    # a straight line through a saturating curve is far off: the model matters
    assert np.median(out["flux_linear"] / syn.true_flux_umol_m2_s) < 0.9
    # without lag compensation the dead band skips 4 τ and the rest of the transient shows
    plain = compute_fluxes(syn.samples, syn.closures, FluxOptions(lag_compensation=False))
    assert (plain["deadband_s"] >= 80.0).all()
    ratio = plain["flux_exp"] / syn.true_flux_umol_m2_s
    assert np.median(ratio) == pytest.approx(1.0, abs=0.015)
    assert np.max(np.abs(ratio - 1)) < 0.03


@pytest.fixture(scope="module")
def fleet() -> tuple[np.ndarray, object, object]:
    syn = synthetic_closures(3000, seed=11, **FLEET)  # type: ignore[arg-type]
    default = compute_fluxes(syn.samples, syn.closures)
    return syn.true_flux_umol_m2_s, default, compute_fluxes(syn.samples, syn.closures, POOLED)


@pytest.mark.parametrize("model", ["hm", "exp"])
def test_fleet_closures_nonlinear_models_within_2_percent_in_median(
    fleet: tuple, model: str
) -> None:
    truth, out, _ = fleet
    err = out[f"flux_{model}"] / truth - 1
    assert abs(np.nanmedian(err)) < 0.02


def test_fleet_closures_selected_flux_within_2_percent_in_median(fleet: tuple) -> None:
    truth, out, _ = fleet
    # the default, per-closure κ-averaged HM (issue 3's target: 2 %); methods §5
    assert abs(np.nanmedian(out["flux_umol_m2_s"] / truth - 1)) < 0.02
    assert set(out["model"]) <= {"hm_averaged", "hm", "robust", "linear"}
    assert (out["model"] == "hm_averaged").mean() > 0.95


def test_pooled_fleet_closures_selected_flux_within_half_a_percent_in_median(
    fleet: tuple,
) -> None:
    truth, _, out = fleet
    # measured −0.03 % (the kappa.max rule: −1.1 %); methods §5
    assert abs(np.nanmedian(out["flux_umol_m2_s"] / truth - 1)) < 0.005
    assert (out["model"] == "hm_pooled").all()


def test_quieter_fleet_closures_selected_flux_within_half_a_percent_in_median() -> None:
    syn = synthetic_closures(3000, seed=12, **{**FLEET, "noise_ppm": 1.0})  # type: ignore[arg-type]
    out = compute_fluxes(syn.samples, syn.closures, POOLED)
    err = out["flux_umol_m2_s"] / syn.true_flux_umol_m2_s - 1
    assert abs(np.nanmedian(err)) < 0.005  # measured −0.14 %
    assert (out["model"] == "hm_pooled").all()
    # the kappa.max rule selects HM for most of these quiet closures
    old = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="robust"))
    assert (old["model"] == "hm").mean() > 0.7


@pytest.mark.parametrize(
    ("noise_ppm", "lag_s", "duration_s"),
    SELECTION_MIXES,
    ids=[f"noise{n:g}-lag{lag:g}-{d[0]:g}to{d[1]:g}s" for n, lag, d in SELECTION_MIXES],
)
def test_selected_flux_is_unbiased_on_every_closure_mix_without_more_spread(
    noise_ppm: float, lag_s: float, duration_s: tuple[float, float]
) -> None:
    """Methods §5: the pooled-κ rule against the kappa.max rule on the same closures.

    κ 0–0.003 s⁻¹, fluxes 0.3–10 µmol m⁻² s⁻¹, 2000 closures in one call.  Measured on
    seeds 10–15 (one call each): |median| ≤ 1.2 % (fixed 180-s closures; ≤ 0.5 % for the
    others), IQR ≤ 1.11 × and 90 % range ≤ 0.97 × the kappa.max rule's.
    """
    new = selection_errors(2000, 21, noise_ppm, lag_s, duration_s, POOLED)
    old = selection_errors(
        2000, 21, noise_ppm, lag_s, duration_s, FluxOptions(hm_fallback="robust")
    )
    q_new = np.nanpercentile(new, [5, 25, 50, 75, 95])
    q_old = np.nanpercentile(old, [5, 25, 50, 75, 95])
    assert abs(q_new[2]) < 0.015
    assert q_new[3] - q_new[1] < 1.15 * (q_old[3] - q_old[1])
    assert q_new[4] - q_new[0] < q_old[4] - q_old[0]


def test_pooled_estimate_has_the_median_of_seeds_within_one_percent_on_180_s_closures() -> None:
    # the hardest mix (short closures, 3 ppm): pooled over three calls the median is
    # within 1 % (measured −0.3 %; the kappa.max rule: −3.3 %)
    err = np.concatenate(
        [selection_errors(2000, s, 3.0, 20.0, (180.0, 180.0), POOLED) for s in (1, 2, 3)]
    )
    assert abs(np.nanmedian(err)) < 0.01


def test_small_calls_use_the_kappa_max_rule() -> None:
    syn = synthetic_closures(19, seed=5, **FLEET)  # type: ignore[arg-type]
    small = compute_fluxes(syn.samples, syn.closures, POOLED)
    assert set(small["model"]) <= {"hm", "robust", "linear"}
    old = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="robust"))
    pd.testing.assert_frame_equal(small, old)
    syn = synthetic_closures(20, seed=5, **FLEET)  # type: ignore[arg-type]
    assert set(compute_fluxes(syn.samples, syn.closures, POOLED)["model"]) == {"hm_pooled"}


def test_stuck_and_clogged_closures_are_flagged() -> None:
    syn = synthetic_closures(400, seed=3, fraction_stuck=0.1, fraction_clogged=0.1, **FLEET)  # type: ignore[arg-type]
    out = compute_fluxes(syn.samples, syn.closures)
    flags = out["flags"].str.split(",")
    stuck = flags.apply(lambda f: "stuck_chamber" in f).to_numpy()
    clogged = flags.apply(lambda f: "clogged" in f).to_numpy()
    assert stuck[syn.stuck].mean() > 0.9
    assert stuck[~syn.stuck & ~syn.clogged].mean() < 0.02
    assert (clogged | stuck)[syn.clogged].mean() > 0.9
    below = flags.apply(lambda f: "below_threshold" in f).to_numpy()
    assert below[syn.clogged | syn.stuck].mean() > 0.5
