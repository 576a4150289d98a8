"""Batched fits of soilflux.fit against closed forms, scipy, and each other."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats
from soilflux.fit import fit_exponential, fit_hm, fit_linear, fit_quadratic, fit_robust_linear

RNG = np.random.default_rng(20240101)


def _noisy_lines(k: int = 50, m: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.sort(RNG.uniform(0, 200, (k, m)), axis=1)
    c = 400 + RNG.uniform(-1, 1, (k, 1)) * t + RNG.normal(0, 3, (k, m))
    mask = np.ones((k, m), dtype=bool)
    mask[:, RNG.integers(20, m, k)[0] :] = False  # ragged: padding at the end
    return t, c, mask


def test_linear_matches_scipy_linregress_row_by_row() -> None:
    t, c, mask = _noisy_lines()
    fit = fit_linear(t, c, mask)
    for i in range(t.shape[0]):
        ref = stats.linregress(t[i, mask[i]], c[i, mask[i]])
        assert fit.slope[i] == pytest.approx(ref.slope, rel=1e-10)
        assert fit.slope_se[i] == pytest.approx(ref.stderr, rel=1e-8)
        assert fit.intercept[i] == pytest.approx(ref.intercept, rel=1e-10)
        assert fit.r2[i] == pytest.approx(ref.rvalue**2, rel=1e-8)


def test_padding_values_are_ignored() -> None:
    t, c, mask = _noisy_lines()
    junk_t = np.where(mask, t, 1e9)
    junk_c = np.where(mask, c, np.nan)
    a, b = fit_linear(t, c, mask), fit_linear(junk_t, junk_c, mask)
    np.testing.assert_array_equal(a.slope, b.slope)
    r1, r2 = fit_robust_linear(t, c, mask), fit_robust_linear(junk_t, junk_c, mask)
    np.testing.assert_allclose(r1.slope, r2.slope, rtol=1e-12)


def test_too_few_samples_give_nan_not_errors() -> None:
    t = np.array([[0.0, 1.0, np.nan, np.nan], [0.0, 1.0, 2.0, 3.0]])
    c = np.array([[1.0, 2.0, np.nan, np.nan], [1.0, 2.0, 3.0, 4.5]])
    lin = fit_linear(t, c)
    assert np.isnan(lin.slope[0])
    assert not lin.ok[0]
    assert lin.ok[1]
    rob = fit_robust_linear(t, c)
    assert np.isnan(rob.slope[0])
    quad = fit_quadratic(t, c)
    assert np.isnan(quad.slope[0])


def test_robust_line_resists_an_outlier_that_pulls_ols() -> None:
    t = np.arange(20.0)
    c = 400 + 0.5 * t + RNG.normal(0, 0.05, 20)
    c[10] += 30
    ols = fit_linear(t, c)
    rob = fit_robust_linear(t, c)
    assert abs(rob.slope[0] - 0.5) < 0.02 < abs(ols.slope[0] - 0.5) + 0.02
    assert rob.weights[0, 10] < 0.05
    assert np.median(rob.weights[0, np.arange(20) != 10]) == 1.0


def test_robust_equals_ols_without_outliers_beyond_huber_k() -> None:
    t = np.arange(10.0)
    c = 1.0 + 2.0 * t + np.array([0.1, -0.1, 0.05, -0.05, 0.0, 0.02, -0.02, 0.1, -0.1, 0.0])
    # all standardised residuals below k = 1.345 → weights 1 → OLS
    rob, ols = fit_robust_linear(t, c), fit_linear(t, c)
    if np.all(rob.weights == 1):
        assert rob.slope[0] == pytest.approx(ols.slope[0], rel=1e-12)


def test_quadratic_recovers_coefficients_and_slope_at_c0() -> None:
    t = np.arange(20.0, 200.0, 3.0)
    b0, b1, b2 = 430.0, 0.4, -0.0005  # in τ = t − 20
    tau = t - 20
    c = b0 + b1 * tau + b2 * tau**2
    fit = fit_quadratic(t, c)
    assert fit.b0[0] == pytest.approx(b0, rel=1e-10)
    assert fit.b1[0] == pytest.approx(b1, rel=1e-8)
    assert fit.b2[0] == pytest.approx(b2, rel=1e-7)
    c0 = 425.0  # crossing before the window start: b2τ² + b1τ + 5 = 0
    roots = np.roots([b2, b1, 5.0])
    x = roots[np.argmin(np.abs(roots))]  # the crossing nearest the window start
    at = fit_quadratic(t, c, c0=[c0])
    assert at.slope[0] == pytest.approx(b1 + 2 * b2 * x, rel=1e-7)
    assert at.t_eval[0] == pytest.approx(20 + x, rel=1e-7)


def _licor_curve(t: np.ndarray, cx: float, c0: float, a: float, t0: float) -> np.ndarray:
    return cx + (c0 - cx) * np.exp(-a * (t - t0))


@pytest.mark.parametrize("a", [0.02, 0.005, 0.0005])
def test_exponential_noiseless_gives_licor_slope_and_t0(a: float) -> None:
    t = np.arange(5.0, 120.0, 1.0)
    cx, c0, t0 = 600.0, 420.0, 2.0
    c = _licor_curve(t, cx, c0, a, t0)
    fit = fit_exponential(t, c, [c0])
    assert fit.ok[0]
    assert fit.slope[0] == pytest.approx(a * (cx - c0), rel=1e-7)
    assert fit.t0[0] == pytest.approx(t0, abs=1e-5)
    assert fit.a[0] == pytest.approx(a, rel=1e-6)


def test_exponential_of_an_accelerating_record_is_the_straight_line() -> None:
    # a < 0 is outside the diffusion model (a = k + gs/v ≥ 0): the fit stops at a = 0,
    # the least-squares line, and reports its slope
    t = np.arange(5.0, 120.0, 1.0)
    c = _licor_curve(t, 600.0, 420.0, -0.002, 2.0)
    fit = fit_exponential(t, c, [420.0])
    assert fit.ok[0]
    assert fit.a[0] == pytest.approx(0.0, abs=1e-9)
    assert fit.slope[0] == pytest.approx(fit_linear(t, c).slope[0], rel=1e-6)


def test_exponential_least_squares_is_as_good_as_curve_fit() -> None:
    t = np.arange(10.0, 190.0, 3.0)
    k = 40
    a = RNG.uniform(0.0005, 0.01, k)
    cx = 420 + RNG.uniform(50, 400, k)
    c = cx[:, None] + (420 - cx[:, None]) * np.exp(-a[:, None] * t) + RNG.normal(0, 2, (k, t.size))
    fit = fit_exponential(np.broadcast_to(t, c.shape), c, np.full(k, 420.0))
    for i in range(k):
        p, _ = optimize.curve_fit(
            lambda x, cx_, c0_, a_: cx_ + (c0_ - cx_) * np.exp(-a_ * (x - 10)),
            t,
            c[i],
            p0=[c[i, -1] + 30, c[i, 0], 0.005],
            maxfev=20000,
        )
        sse_ref = np.sum((c[i] - (p[0] + (p[1] - p[0]) * np.exp(-p[2] * (t - 10)))) ** 2)
        assert fit.curve.sse[i] <= sse_ref * (1 + 1e-7)


def test_exponential_standard_error_matches_monte_carlo() -> None:
    t = np.arange(10.0, 190.0, 3.0)
    k = 3000
    truth = 420 + 200 * (1 - np.exp(-0.004 * t))
    c = truth + RNG.normal(0, 2.0, (k, t.size))
    fit = fit_exponential(np.broadcast_to(t, c.shape), c, np.full(k, 420.0))
    spread = np.std(fit.slope)
    assert np.median(fit.slope_se) == pytest.approx(spread, rel=0.1)
    assert np.median(fit.slope) == pytest.approx(0.8, rel=0.01)


def test_hm_within_bound_equals_exponential_and_is_clipped_beyond() -> None:
    t = np.arange(10.0, 190.0, 3.0)
    c = 420 + 200 * (1 - np.exp(-0.004 * t))
    free = fit_exponential(t, c, [420.0])
    inside = fit_hm(t, c, kappa_max=0.01, c0=[420.0])
    assert not inside.at_bound[0]
    assert inside.kappa[0] == pytest.approx(0.004, rel=1e-6)
    assert inside.slope[0] == pytest.approx(free.slope[0], rel=1e-9)
    clipped = fit_hm(t, c, kappa_max=0.002, c0=[420.0])
    assert clipped.at_bound[0]
    assert clipped.kappa[0] == pytest.approx(0.002)
    # the bounded fit is the best curve with κ = κ_max: worse than free, better than a line
    line = fit_linear(t, c)
    assert free.sse[0] < clipped.sse[0] < line.sse[0]


def test_hm_without_c0_reports_slope_at_window_start() -> None:
    t = np.arange(0.0, 100.0, 2.0)
    c = 400 + 50 * (1 - np.exp(-0.01 * t))
    fit = fit_hm(t, c, kappa_max=np.inf)
    assert fit.slope[0] == pytest.approx(0.5, rel=1e-7)


def _lagged(t: np.ndarray, s: float, a: float, tau: float) -> np.ndarray:
    from soilflux.synthetic import lagged_curve

    return lagged_curve(t[None, :], np.array([420.0]), np.array([s]), np.array([a]), tau)[0]


def test_lag_terms_make_every_model_exact_for_a_first_order_lag() -> None:
    from soilflux.fit._batch import make_batch
    from soilflux.fit.exponential import exponential_from_curve, fit_exp_curve_batch
    from soilflux.fit.lag import lag_basis
    from soilflux.fit.linear import fit_linear_lag_batch
    from soilflux.fit.quadratic import fit_quadratic_lag_batch
    from soilflux.fit.robust import fit_robust_linear_lag_batch

    t = np.arange(0.0, 241.0, 3.0)
    win = t > 20.0  # one time constant: the transient is still large
    # a straight line seen through a 20-s lag
    b = make_batch(t, _lagged(t, 0.3, 0.0, 20.0), win)
    h = lag_basis(b.t, b.mask, 20.0)
    assert fit_linear_lag_batch(b, h).slope[0] == pytest.approx(0.3, rel=1e-9)
    assert fit_robust_linear_lag_batch(b, h).slope[0] == pytest.approx(0.3, rel=1e-9)
    assert fit_quadratic_lag_batch(b, np.array([420.0]), h).slope[0] == pytest.approx(0.3, rel=1e-6)
    plain = fit_linear(t, _lagged(t, 0.3, 0.0, 20.0), win)
    assert abs(plain.slope[0] / 0.3 - 1) > 0.005  # without the term the lag shows
    # a saturating curve seen through the lag: the exponential slope at C′₀ is the true one
    b = make_batch(t, _lagged(t, 0.5, 0.004, 20.0), win)
    h = lag_basis(b.t, b.mask, 20.0)
    curve = fit_exp_curve_batch(b, lag_basis=h)
    fit = exponential_from_curve(curve, np.array([420.0]))
    assert fit.slope[0] == pytest.approx(0.5, rel=1e-7)
    assert fit.a[0] == pytest.approx(0.004, rel=1e-6)


def test_vanished_transient_drops_the_lag_term() -> None:
    from soilflux.fit._batch import make_batch
    from soilflux.fit.lag import lag_basis
    from soilflux.fit.linear import fit_linear_lag_batch

    t = np.arange(0.0, 3000.0, 30.0)
    c = 400 + 0.1 * t + RNG.normal(0, 1, t.size)
    win = t > 1500.0  # e^{−1500/1} underflows: no transient left on the window
    b = make_batch(t, c, win)
    lagged = fit_linear_lag_batch(b, lag_basis(b.t, b.mask, 1.0))
    assert lagged.slope[0] == pytest.approx(fit_linear(t, c, win).slope[0], rel=1e-10)
    assert lagged.lag_coef is not None
    assert lagged.lag_coef[0] == 0.0
