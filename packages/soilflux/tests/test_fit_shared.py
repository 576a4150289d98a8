"""The chamber-shared HM (soilflux.fit.shared) and its selection in the pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from soilflux.fit._batch import make_batch
from soilflux.fit.shared import (
    KAPPA_GRID_S,
    at_kappa,
    kappa_profile,
    lagged_hm_basis,
    shared_kappa,
)
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.synthetic import lagged_curve, synthetic_closures

T = np.arange(0.0, 181.0, 3.0)  # a 3-min closure sampled every 3 s [s]


@pytest.mark.parametrize("kappa", [0.0, 0.004, -0.001, 0.015])
@pytest.mark.parametrize("tau", [0.0, 1.0, 20.0])
def test_basis_is_the_first_order_response_to_the_hm_rise(kappa: float, tau: float) -> None:
    """v solves τ v′ + v = u_κ, v(0) = 0 (integrated numerically, not from the formula)."""
    basis = lagged_hm_basis(T[None, :], kappa, np.array([tau]))[0]
    if tau == 0.0:
        expected = T if kappa == 0.0 else (1 - np.exp(-kappa * T)) / kappa
    else:

        def rise(t: float) -> float:
            return t if kappa == 0.0 else float((1 - np.exp(-kappa * t)) / kappa)

        sol = solve_ivp(
            lambda t, v: [(rise(t) - v[0]) / tau],
            (0.0, T[-1]),
            [0.0],
            t_eval=T,
            rtol=1e-10,
            atol=1e-10,
        )
        expected = sol.y[0]
    np.testing.assert_allclose(basis, expected, rtol=1e-7, atol=1e-7)


def _closures(
    kappa: np.ndarray, dcdt: np.ndarray, noise_ppm: float, seed: int, tau: float = 20.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.broadcast_to(T, (kappa.size, T.size)).copy()
    c = lagged_curve(t, np.full(kappa.size, 450.0), dcdt, kappa, tau)
    return t, c + rng.normal(0.0, noise_ppm, c.shape)


def test_profile_is_exact_at_the_true_curvature() -> None:
    j = int(np.argmin(np.abs(KAPPA_GRID_S - 0.003)))
    kappa = np.full(3, KAPPA_GRID_S[j])
    dcdt = np.array([0.05, 0.2, 1.0])
    t, c = _closures(kappa, dcdt, 0.0, 0)
    prof = kappa_profile(make_batch(t, c), np.full(3, 20.0))
    np.testing.assert_allclose(prof.slope[:, j], dcdt, rtol=1e-9)
    assert np.all(prof.sse[:, j] < 1e-12 * (c**2).sum(axis=1))
    assert np.all(np.nanargmin(prof.sse, axis=1) == j)


@settings(max_examples=30, deadline=None)
@given(
    offset=st.floats(-300.0, 300.0),
    scale=st.floats(0.2, 5.0),
    seed=st.integers(0, 2**16),
)
def test_profile_is_affine_equivariant(offset: float, scale: float, seed: int) -> None:
    """C → a + sC moves the slope to s·F′ and the SSE to s²·SSE; nothing else changes."""
    t, c = _closures(np.array([0.002, 0.0]), np.array([0.3, 0.1]), 3.0, seed)
    tau = np.full(2, 20.0)
    base = kappa_profile(make_batch(t, c), tau)
    moved = kappa_profile(make_batch(t, offset + scale * c), tau)
    np.testing.assert_allclose(moved.slope, scale * base.slope, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(moved.sse, scale**2 * base.sse, rtol=1e-6, atol=1e-9)


def test_at_kappa_is_exact_for_a_parabola_in_kappa() -> None:
    values = 2.0 + 300.0 * KAPPA_GRID_S - 4e4 * KAPPA_GRID_S**2
    where = np.array([0.00123, -0.0019, 0.0199, np.nan])
    out = at_kappa(np.broadcast_to(values, (4, KAPPA_GRID_S.size)), KAPPA_GRID_S, where)
    np.testing.assert_allclose(out[:3], 2.0 + 300.0 * where[:3] - 4e4 * where[:3] ** 2, rtol=1e-12)
    assert np.isnan(out[3])


def _pool_inputs(
    kappa: np.ndarray, noise_ppm: float, seed: int, chamber: np.ndarray, time_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    dcdt = np.random.default_rng(seed + 1).uniform(0.1, 0.4, kappa.size)
    t, c = _closures(kappa, dcdt, noise_ppm, seed)
    prof = kappa_profile(make_batch(t, c), np.full(kappa.size, 20.0))
    return prof.sse, prof.n


def test_shared_kappa_recovers_off_grid_curvature_per_chamber() -> None:
    """Three chambers, 40 closures each, 3 ppm: κ* within 3 of its own SEs of the truth,
    and the chambers are not mixed."""
    truth = {"a": 0.00123, "b": 0.0041, "c": 0.0}
    chamber = np.repeat(list(truth), 40)
    kappa = np.array([truth[ch] for ch in chamber])
    time_s = np.tile(np.arange(40) * 600.0, 3)
    sse, n = _pool_inputs(kappa, 3.0, 5, chamber, time_s)
    sk = shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, np.ones(120, bool), 1e6, 6)
    assert np.all(sk.pool_size == 40)
    for ch, k in truth.items():
        rows = chamber == ch
        est, se = sk.kappa_s[rows][0], sk.kappa_se_s[rows][0]
        assert np.all(sk.kappa_s[rows] == est)  # one pool: one κ*
        assert 0 < se < 4e-4
        assert abs(est - k) <= 3 * se, (ch, est, k, se)


def test_shared_kappa_standard_error_is_honest() -> None:
    """Over 60 independent pools, about 95 % of κ* lie within 2 SE of the truth."""
    z = []
    for seed in range(60):
        kappa = np.full(12, 0.0025)
        chamber = np.zeros(12, dtype=int)
        time_s = np.arange(12) * 600.0
        sse, n = _pool_inputs(kappa, 3.0, 100 + seed, chamber, time_s)
        sk = shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, np.ones(12, bool), 1e6, 6)
        z.append((sk.kappa_s[0] - 0.0025) / sk.kappa_se_s[0])
    share = np.mean(np.abs(np.array(z)) <= 2.0)
    # binomial(60, 0.954): P(share < 0.85) ≈ 0.4 %
    assert share >= 0.85, share
    assert abs(np.mean(z)) < 0.5  # unbiased (SE of the mean of 60 z ≈ 0.13)


def test_window_follows_a_change_of_curvature() -> None:
    """κ steps from 0.001 to 0.006 s⁻¹ after 12 h; a 6-h window tracks it."""
    time_s = np.arange(144) * 600.0
    kappa = np.where(time_s < 12 * 3600, 0.001, 0.006)
    chamber = np.zeros(144, dtype=int)
    sse, n = _pool_inputs(kappa, 1.0, 9, chamber, time_s)
    sk = shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, np.ones(144, bool), 6 * 3600.0, 6)
    early, late = time_s < 9 * 3600, time_s >= 15 * 3600
    np.testing.assert_allclose(sk.kappa_s[early], 0.001, atol=3e-4)
    np.testing.assert_allclose(sk.kappa_s[late], 0.006, atol=3e-4)
    assert np.all(sk.pool_size[early & (time_s >= 3 * 3600)] == 37)  # ±3 h of 10-min cycles


def test_pool_rules() -> None:
    """Too few closures, unknown start times and excluded closures."""
    time_s = np.arange(10) * 600.0
    time_s[3] = np.nan
    chamber = np.zeros(10, dtype=int)
    kappa = np.full(10, 0.002)
    sse, n = _pool_inputs(kappa, 1.0, 2, chamber, time_s)
    pool = np.ones(10, bool)
    pool[[0, 1]] = False
    sk = shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, pool, 1e6, 6)
    assert np.isnan(sk.kappa_s[3])  # no start time: no pool
    assert np.all(sk.pool_size[~np.isnan(time_s)] == 7)  # 10 − 2 excluded − 1 without time
    assert np.isfinite(sk.kappa_s[[0, 1]]).all()  # excluded closures still receive κ*
    few = shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, pool, 1e6, 8)
    assert np.isnan(few.kappa_s).all()
    with pytest.raises(ValueError, match="window_s"):
        shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, pool, 0.0, 6)
    with pytest.raises(ValueError, match="min_closures"):
        shared_kappa(sse, n, KAPPA_GRID_S, chamber, time_s, pool, 1e6, 1)


def _fleet(noise_ppm: float, seed: int = 3, n: int = 600):
    # four chambers every 10 min: each chamber closes every 40 min, κ per chamber
    return synthetic_closures(
        n,
        seed=seed,
        chambers=4,
        kappa_per_chamber=True,
        noise_ppm=noise_ppm,
        flux_umol_m2_s=(0.5, 5.0),
        c0_ppm=(440.0, 450.0),
    )


def test_pipeline_shared_selection_beats_the_kappa_max_rule_at_scd30_noise() -> None:
    syn = _fleet(3.0)
    auto = compute_fluxes(syn.samples, syn.closures, FluxOptions())
    shared = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="shared"))
    err_auto = auto["flux_umol_m2_s"] / syn.true_flux_umol_m2_s - 1
    err = shared["flux_umol_m2_s"] / syn.true_flux_umol_m2_s - 1
    chosen = shared["model"] == "hm_shared"
    # all but each chamber's first and last closure (5 neighbours < 6 within ±3 h)
    assert chosen.sum() >= 590
    assert abs(err[chosen].median()) < 0.01
    assert (err.abs() <= 0.05).mean() > (err_auto.abs() <= 0.05).mean() + 0.3
    # the reported standard errors cover the truth
    z = (shared["flux_umol_m2_s"] - syn.true_flux_umol_m2_s) / shared["flux_hm_shared_se"]
    assert 0.9 <= (z[chosen].abs() <= 2).mean() <= 0.99
    # κ* per chamber near the chamber's κ
    for ch, rows in shared.groupby("chamber").groups.items():
        true_kappa = syn.kappa_s[np.asarray(rows)][0]
        assert abs(shared.loc[rows, "kappa_shared"].median() - true_kappa) < 3e-4, ch
    # other columns are the selected model's
    np.testing.assert_allclose(
        shared.loc[chosen, "flux_umol_m2_s"], shared.loc[chosen, "flux_hm_shared"]
    )
    assert (shared.loc[chosen, "deadband_s"] == 0).all()
    assert (shared.loc[chosen, "r2"] > 0.5).mean() > 0.9


def test_pipeline_without_a_pool_falls_back() -> None:
    syn = _fleet(1.0, n=5)
    # the shared rule falls back to the kappa.max rule (not to the default "averaged")
    auto = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="robust"))
    shared = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="shared"))
    pd.testing.assert_series_equal(shared["model"], auto["model"])
    np.testing.assert_allclose(shared["flux_umol_m2_s"], auto["flux_umol_m2_s"])
    assert shared["kappa_shared"].isna().all()
    only = compute_fluxes(syn.samples, syn.closures, FluxOptions(method="hm_shared"))
    assert (only["model"] == "").all()
    assert only["flags"].astype(str).str.contains("fit_failed").all()


def test_daylight_closures_stay_out_of_the_pool() -> None:
    """Photosynthesis bends daylight closures; they must not move the night κ*."""
    syn = _fleet(1.0, n=120)
    base = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="shared"))
    # turn every third closure into a daylight one whose CO2 falls steeply
    samples = syn.samples.copy()
    day = samples["closure"] % 3 == 0
    samples.loc[day, "lux"] = 20_000.0
    samples.loc[day, "co2_ppm"] -= 200.0 * -np.expm1(-samples.loc[day, "elapsed_s"] / 60.0)
    out = compute_fluxes(samples, syn.closures, FluxOptions(hm_fallback="shared"))
    night = (out["closure"] % 3 != 0) & out["kappa_shared"].notna()
    assert night.sum() > 60
    # same κ* up to the pools being smaller (a third of the closures left)
    diff = (out.loc[night, "kappa_shared"] - base.loc[night, "kappa_shared"]).abs()
    assert diff.median() < 2e-4
    assert out.loc[out["closure"] % 3 == 0, "flags"].astype(str).str.contains("daylight").all()


def test_options_validation() -> None:
    for bad in ({"shared_window_s": 0.0}, {"shared_min_closures": 1}, {"shared_deadband_s": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FluxOptions(**bad)  # type: ignore[arg-type]
    assert FluxOptions(method="hm_shared").shares_kappa
    assert FluxOptions(hm_fallback="shared").shares_kappa
    assert not FluxOptions().shares_kappa


def test_per_closure_sensor_lag_overrides_the_option() -> None:
    """A closures column ``sensor_lag_s`` (e.g. measured per device) is the τ the models use."""
    syn = synthetic_closures(
        240,
        seed=8,
        chambers=2,
        kappa_per_chamber=True,
        noise_ppm=0.0,
        lag_s=30.0,
        flux_umol_m2_s=(0.5, 5.0),
        c0_ppm=(440.0, 450.0),
    )
    wrong = compute_fluxes(syn.samples, syn.closures, FluxOptions(hm_fallback="shared"))
    told = syn.closures.assign(sensor_lag_s=30.0)
    right = compute_fluxes(syn.samples, told, FluxOptions(hm_fallback="shared"))
    same = compute_fluxes(
        syn.samples, syn.closures, FluxOptions(hm_fallback="shared", sensor_lag_s=30.0)
    )
    np.testing.assert_allclose(right["flux_umol_m2_s"], same["flux_umol_m2_s"])
    err_right = right["flux_umol_m2_s"] / syn.true_flux_umol_m2_s - 1
    err_wrong = wrong["flux_umol_m2_s"] / syn.true_flux_umol_m2_s - 1
    assert err_right.abs().max() < 1e-3  # noiseless, exact model
    assert err_wrong.abs().median() > 0.05  # the shared HM needs the right τ
    with pytest.raises(ValueError, match="sensor_lag_s"):
        compute_fluxes(syn.samples, syn.closures.assign(sensor_lag_s=-1.0))


def test_a_short_closure_gets_no_shared_flux() -> None:
    """A record cut after a few samples is `short` and not fitted, by hm_shared either."""
    syn = _fleet(1.0, n=60)
    cut = syn.samples[(syn.samples["closure"] != 30) | (syn.samples["elapsed_s"] < 9.0)]
    out = compute_fluxes(cut, syn.closures, FluxOptions(hm_fallback="shared"))
    row = out.loc[out["closure"] == 30].iloc[0]
    assert "short" in str(row["flags"])
    assert row["model"] != "hm_shared"
    assert (out.loc[out["closure"] != 30, "model"] == "hm_shared").mean() > 0.8


def test_grid_minimum_finds_a_parabola_vertex_and_its_curvature() -> None:
    from soilflux.fit._profile import grid_minimum

    grid = np.linspace(0.0, 10.0, 21)
    rows = np.stack(
        [
            3.0 + 2.0 * (grid - 4.3) ** 2,  # vertex between grid points
            (grid - 10.0) ** 2,  # minimum at the edge: not interior
            np.full(grid.size, np.inf),  # nothing usable
            np.where(grid == 5.5, np.nan, (grid - 5.0) ** 2),  # a hole beside the minimum
        ]
    )
    m = grid_minimum(rows, grid)
    assert m.x[0] == pytest.approx(4.3, abs=1e-12)
    assert m.value[0] == pytest.approx(3.0, abs=1e-12)
    assert m.second_derivative[0] == pytest.approx(4.0, rel=1e-12)
    assert m.standard_error(np.array([2.0, 1.0, 1.0, 1.0]))[0] == pytest.approx(1.0)
    assert list(m.interior) == [True, False, False, False]
    assert m.x[1] == 10.0
    assert np.isnan(m.standard_error(np.ones(4))[1])
    assert np.isnan(m.x[2])
    assert m.index[2] == -1
    assert m.x[3] == 5.0  # the grid minimum, unrefined
    with pytest.raises(ValueError, match="3 points"):
        grid_minimum(rows[:, :2], grid[:2])
