"""The pooled-κ selection rule's parts (`soilflux.qc`; docs/soilflux/methods.md §5)."""

from __future__ import annotations

import numpy as np
import pytest
from soilflux.fit._batch import make_batch
from soilflux.fit.lag import lag_basis
from soilflux.fit.linear import fit_linear_batch, fit_linear_lag_batch
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.qc import lag_calibration, line_curvature_factor, line_slope_moments, shrunk_kappa
from soilflux.synthetic import lagged_curve, synthetic_closures

POOLED = FluxOptions(hm_fallback="pooled")


def _windows(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Irregular windows: random start, length, step and holes; padded with NaN."""
    rng = np.random.default_rng(seed)
    m = 120
    step = rng.uniform(1.0, 4.0, k)
    start = rng.uniform(15.0, 60.0, k)
    t = start[:, None] + np.cumsum(rng.uniform(0.5, 1.5, (k, m)), axis=1) * step[:, None]
    keep = (t < start[:, None] + rng.uniform(100.0, 300.0, k)[:, None]) & (rng.random((k, m)) > 0.1)
    return np.where(keep, t, np.nan), rng.uniform(0.0, 0.006, k)


@pytest.mark.parametrize("tau", [20.0, 0.0])
def test_line_curvature_factor_is_the_line_slope_through_a_noiseless_hm_curve(
    tau: float,
) -> None:
    k = 300
    t, kappa = _windows(k, seed=3)
    slope = np.full(k, 0.2)
    c = lagged_curve(np.nan_to_num(t), np.full(k, 420.0), slope, kappa, tau)
    b = make_batch(t, np.where(np.isfinite(t), c, np.nan))
    h = lag_basis(b.t, b.w, tau) if tau > 0 else None
    line = fit_linear_batch(b) if h is None else fit_linear_lag_batch(b, h)
    mu, t_ref, span = line_slope_moments(b.t, b.w, h)
    r = line_curvature_factor(mu, t_ref, span, kappa, np.full(k, tau))
    assert (kappa * span).max() > 1.0  # strongly curved closures are among them
    np.testing.assert_allclose(line.slope / slope, r, rtol=1e-6)
    # and a line is its own slope
    np.testing.assert_allclose(line_curvature_factor(mu, t_ref, span, 0 * kappa, 0 * kappa), 1.0)


def test_shrunk_kappa_keeps_precise_estimates_and_pools_vague_ones() -> None:
    rng = np.random.default_rng(0)
    true = rng.uniform(0.0, 0.003, 400)
    se = np.where(np.arange(400) < 200, 1e-5, 1.0)  # half precise, half useless
    est = np.maximum(true + rng.normal(0, se), 0.0)
    star, centre, between = shrunk_kappa(est, se)
    assert centre == pytest.approx(0.0015, abs=2e-4)  # the precise half's mean
    assert np.sqrt(between) == pytest.approx(0.003 / np.sqrt(12), rel=0.2)
    np.testing.assert_allclose(star[:200], est[:200], atol=1e-5)
    np.testing.assert_allclose(star[200:], centre, rtol=0.01)
    # order-invariant; an exact κ̂ (SE 0) is kept, a missing one gets the centre
    order = rng.permutation(400)
    np.testing.assert_allclose(shrunk_kappa(est[order], se[order])[0], star[order], rtol=1e-12)
    more, _, _ = shrunk_kappa(np.r_[est, 0.0, np.nan], np.r_[se, 0.0, np.nan])
    assert more[-2] == 0.0
    assert more[-1] == pytest.approx(centre, rel=1e-6)
    # without a pool: its own estimate
    assert shrunk_kappa(np.array([0.001]), np.array([0.01]))[0][0] == 0.001


def test_lag_calibration_finds_a_lag_the_line_was_wrongly_told_of() -> None:
    rng = np.random.default_rng(1)
    kappa = rng.uniform(0.001, 0.003, 100)
    r_told = rng.uniform(0.7, 0.9, 100)
    truth = np.ones(100)
    # the line was told τ = 20 s, the sensor has none: its slope is r_told·(1 − 20κ)
    line = truth * r_told * (1 - 20.0 * kappa)
    precise = np.ones(100, dtype=bool)
    assert lag_calibration(truth, line, r_told, kappa, precise) == pytest.approx(20.0, rel=1e-9)
    assert lag_calibration(truth, truth * r_told, r_told, kappa, precise) == pytest.approx(0.0)
    assert lag_calibration(truth, line, r_told, kappa, precise & (kappa < 0.0012)) == 0.0


def test_pooled_rule_does_not_depend_on_units_row_order_or_chunking() -> None:
    syn = synthetic_closures(60, seed=8)
    base = compute_fluxes(syn.samples, syn.closures, POOLED)
    assert set(base["model"]) == {"hm_pooled"}
    as_ch4 = syn.samples.rename(columns={"co2_ppm": "ch4_ppb"}).assign(
        ch4_ppb=syn.samples["co2_ppm"] * 1000
    )
    ch4_options = FluxOptions(gas_precision_ppm={"ch4": 10.0}, hm_fallback="pooled")
    ch4 = compute_fluxes(as_ch4, syn.closures, ch4_options)
    assert list(ch4["model"]) == list(base["model"])
    # the exponential solver's κ̂ agrees to ~1e-9 across units; the pooled flux follows it
    np.testing.assert_allclose(ch4["flux_umol_m2_s"], base["flux_umol_m2_s"], rtol=1e-7)
    shuffled = compute_fluxes(
        syn.samples.sample(frac=1.0, random_state=3),
        syn.closures.sample(frac=1.0, random_state=4),
        FluxOptions(chunk_closures=7, workers=2, hm_fallback="pooled"),
    )
    shuffled = shuffled.set_index("closure").loc[base["closure"]].reset_index()
    np.testing.assert_allclose(shuffled["flux_umol_m2_s"], base["flux_umol_m2_s"], rtol=1e-9)
    assert list(shuffled["flags"]) == list(base["flags"])


def test_flags_follow_the_corrected_flux() -> None:
    # fluxes near the 0.1 µmol m⁻² s⁻¹ threshold, some clogged pots: the flags that depend
    # on the selected flux must agree with the corrected value, not the robust line's
    syn = synthetic_closures(
        300, seed=9, flux_umol_m2_s=(0.05, 0.3), fraction_clogged=0.1, noise_ppm=1.0
    )
    out = compute_fluxes(syn.samples, syn.closures, POOLED)
    assert (out["model"] == "hm_pooled").mean() > 0.9
    flux = out["flux_umol_m2_s"].to_numpy()
    flags = out["flags"].str.split(",")
    below = flags.apply(lambda f: "below_threshold" in f).to_numpy()
    np.testing.assert_array_equal(below, flux < 0.1)
    moved = (flux >= 0.1) & (out["flux_robust"].to_numpy() < 0.1)
    assert moved.any()  # the correction moved some closures across the threshold
    clogged = flags.apply(lambda f: "clogged" in f).to_numpy()
    stuck = flags.apply(lambda f: "stuck_chamber" in f).to_numpy()
    near_zero = np.abs(flux) < 0.05
    assert near_zero.any()
    assert (clogged | stuck)[near_zero].all()
