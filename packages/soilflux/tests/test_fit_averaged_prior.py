"""The averaged HM's prior on κ: the spike at 0, the slab on both sides, the profiled grid."""

from __future__ import annotations

import numpy as np
import pytest
from soilflux.fit.averaged import (
    AVERAGED_KAPPA_GRID_S,
    MAX_KAPPA_SPAN,
    MIN_KAPPA_SPAN,
    AveragedWindowFit,
    averaged_hm,
    averaged_hm_window,
    prior_grid,
    zero_index,
)
from soilflux.fit.shared import lagged_hm_basis
from soilflux.options import FluxOptions

TAU_S = 20.0


def _records(
    kappa_s: float, slope: float, noise: float, k: int, seed: int = 0, span_s: float = 240.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k records of 3-s readings from the lid closing: 400 + slope·v_κ(t) + white noise."""
    t = np.tile(np.arange(0.0, span_s + 1e-9, 3.0), (k, 1))
    v = lagged_hm_basis(t, kappa_s, np.full(k, TAU_S))
    c = 400.0 + slope * v + noise * np.random.default_rng(seed).normal(size=t.shape)
    return t, c, np.ones(t.shape, dtype=bool)


def _fit(t: np.ndarray, c: np.ndarray, ok: np.ndarray, **prior: float) -> AveragedWindowFit:
    k = t.shape[0]
    return averaged_hm_window(t, c, ok, np.zeros(k), np.full(k, TAU_S), **prior)


def test_zero_index_finds_kappa_zero_and_needs_it() -> None:
    assert AVERAGED_KAPPA_GRID_S[zero_index(AVERAGED_KAPPA_GRID_S)] == 0.0
    with pytest.raises(ValueError, match="κ = 0"):
        zero_index(np.array([0.001, 0.002, 0.003]))


@pytest.mark.parametrize("span_s", [60.0, 180.0, 300.0, 3600.0])
@pytest.mark.parametrize(("lo", "hi"), [(-1.0, 2.0), (0.0, 2.0), (-2.0, 3.0)])
def test_prior_grid_reaches_past_the_slab_and_holds_zero(
    span_s: float, lo: float, hi: float
) -> None:
    grid = prior_grid(np.array([span_s, 2 * span_s]), hi, lo)
    step = AVERAGED_KAPPA_GRID_S[1] - AVERAGED_KAPPA_GRID_S[0]
    assert grid.size >= 3
    assert zero_index(grid) >= 0
    assert np.allclose(np.diff(grid), step)
    full = AVERAGED_KAPPA_GRID_S
    # one step beyond each end of the slab, as far as the full grid goes
    assert grid[-1] >= min(hi / span_s + step, full[-1]) - 1e-12
    if lo < 0:
        assert grid[0] <= max(lo / span_s - step, full[0]) + 1e-12
    else:
        assert grid[0] == 0.0  # no slab below 0: nothing profiled there


def test_a_noiseless_curve_bending_either_way_gives_its_slope() -> None:
    # κ·T = −0.48 and +0.96 over 240 s: both inside the default slab [−1, 2]
    for kappa in (-0.002, 0.004):
        t, c, ok = _records(kappa, 0.05, 0.0, 2)
        fit = _fit(t, c, ok)
        np.testing.assert_allclose(fit.slope, 0.05, rtol=1e-3)


def test_a_noiseless_line_gives_its_slope() -> None:
    t, c, ok = _records(0.0, 0.05, 0.0, 2)
    np.testing.assert_allclose(_fit(t, c, ok).slope, 0.05, rtol=1e-9)


def test_the_slab_below_zero_unbiases_noisy_straight_records() -> None:
    # a straight record's posterior median of κ: with the slab on κ > 0 only it can only sit
    # at or above 0 (the flux read high), with the slab on both sides on either side of 0
    t, c, ok = _records(0.0, 0.2, 3.0, 400, seed=5)
    one_sided = _fit(t, c, ok, prior_straight=0.03, min_kappa_span=0.0)
    two_sided = _fit(t, c, ok, prior_straight=0.03, min_kappa_span=MIN_KAPPA_SPAN)
    err_one = one_sided.slope / 0.2 - 1
    err_two = two_sided.slope / 0.2 - 1
    assert (err_one > 0).mean() > 0.7
    assert 0.4 < (err_two > 0).mean() < 0.6
    assert abs(np.median(err_two)) < abs(np.median(err_one))


def test_averaged_hm_rejects_a_bad_prior() -> None:
    grid = AVERAGED_KAPPA_GRID_S
    z = np.zeros((1, grid.size))
    one = np.ones(1)
    with pytest.raises(ValueError, match="min_kappa_span"):
        averaged_hm(z, z, z, one * 10, one * 100, grid, min_kappa_span=0.5)
    with pytest.raises(ValueError, match="max_kappa_span"):
        averaged_hm(z, z, z, one * 10, one * 100, grid, max_kappa_span=0.0)
    with pytest.raises(ValueError, match="prior_straight"):
        averaged_hm(z, z, z, one * 10, one * 100, grid, prior_straight=1.0)
    with pytest.raises(ValueError, match="κ = 0"):
        averaged_hm(z[:, 1:4], z[:, 1:4], z[:, 1:4], one * 10, one * 100, grid[1:4] + 0.05)


def test_flux_options_default_to_the_module_prior_and_check_the_lower_end() -> None:
    opts = FluxOptions()
    assert opts.averaged_min_kappa_span == MIN_KAPPA_SPAN
    assert opts.averaged_max_kappa_span == MAX_KAPPA_SPAN
    with pytest.raises(ValueError, match="averaged_min_kappa_span"):
        FluxOptions(averaged_min_kappa_span=0.1)
    with pytest.raises(ValueError, match="averaged_min_kappa_span"):
        FluxOptions(averaged_min_kappa_span=float("-inf"))
