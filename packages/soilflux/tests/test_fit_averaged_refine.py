"""refine_profile: local parabolas through three grid points, gathered per refined point."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from soilflux.fit.averaged import AVERAGED_KAPPA_GRID_S, refine_profile


def _dense(values: np.ndarray, g: int, factor: int) -> np.ndarray:
    """The same parabolas written out point by point (the definition)."""
    x = np.arange((g - 1) * factor + 1) / factor
    out = np.full((values.shape[0], x.size), np.nan)
    for i, xi in enumerate(x):
        j = min(max(round(xi), 1), g - 2)
        u = xi - j
        w = (0.5 * u * (u - 1.0), 1.0 - u**2, 0.5 * u * (u + 1.0))
        pts = [(j - 1 + r, w[r]) for r in range(3) if w[r] != 0.0]
        if all(np.isfinite(values[:, p]).all() for p, _ in pts):
            out[:, i] = sum(values[:, p] * wr for p, wr in pts)
        else:
            for row in range(values.shape[0]):
                if all(np.isfinite(values[row, p]) for p, _ in pts):
                    out[row, i] = sum(values[row, p] * wr for p, wr in pts)
    return out


@given(
    st.integers(3, 21).flatmap(
        lambda g: st.tuples(
            arrays(
                np.float64,
                (4, g),
                elements=st.one_of(
                    st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf), st.just(-np.inf)
                ),
            ),
            st.integers(1, 6),
        )
    )
)
def test_matches_the_parabolas_point_by_point(args: tuple[np.ndarray, int]) -> None:
    values, factor = args
    g = values.shape[1]
    got = refine_profile(values, AVERAGED_KAPPA_GRID_S[:g], factor)
    want = _dense(values, g, factor)
    assert got.shape == want.shape
    assert (np.isnan(got) == np.isnan(want)).all()
    ok = np.isfinite(want)
    scale = np.abs(values[np.isfinite(values)]).max(initial=1.0)
    np.testing.assert_allclose(got[ok], want[ok], rtol=0, atol=1e-12 * scale)
    # at the grid points the refined profile is the profile
    on_grid = got[:, ::factor]
    finite = np.isfinite(values)
    np.testing.assert_array_equal(on_grid[finite], values[finite])


def test_a_parabola_is_refined_exactly() -> None:
    grid = AVERAGED_KAPPA_GRID_S[:9]
    values = (3.0 - 2.0 * grid + 40.0 * grid**2)[None, :] * np.array([[1.0], [-2.0]])
    fine = grid[0] + np.arange(8 * 5 + 1) * ((grid[1] - grid[0]) / 5)
    want = (3.0 - 2.0 * fine + 40.0 * fine**2)[None, :] * np.array([[1.0], [-2.0]])
    np.testing.assert_allclose(refine_profile(values, grid, 5), want, rtol=1e-13)


def test_needs_three_grid_points() -> None:
    with pytest.raises(ValueError, match="3 points"):
        refine_profile(np.zeros((1, 2)), AVERAGED_KAPPA_GRID_S[:2], 5)
