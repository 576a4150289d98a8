"""The unit check's decision by counts is the decision by the column's median."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from soilflux.io.errors import InputError
from soilflux.io.units import _ZERO_POSSIBLE, PLAUSIBLE_MEDIAN, check_plausible_median


def refused_by_median(values: np.ndarray, name: str) -> bool:
    """The rule as the whole median states it."""
    x = values[np.isfinite(values)]
    if not x.size:
        return False
    low, high = PLAUSIBLE_MEDIAN[name]
    median = float(np.median(x))
    if median == 0.0 and name in _ZERO_POSSIBLE:
        return False
    return not low <= median <= high


def near(name: str) -> st.SearchStrategy[float]:
    """Values at, just beside and far from the plausible range's bounds."""
    low, high = PLAUSIBLE_MEDIAN[name]
    edges = [
        low,
        high,
        np.nextafter(low, -np.inf),
        np.nextafter(high, np.inf),
        0.0,
        np.nan,
        np.inf,
        -np.inf,
    ]
    return st.one_of(
        st.sampled_from(edges), st.floats(-2 * abs(high) - 1, 2 * abs(high) + 1, allow_nan=False)
    )


@given(st.data(), st.sampled_from(sorted(PLAUSIBLE_MEDIAN)))
def test_counts_decide_as_the_median(data: st.DataObject, name: str) -> None:
    values = np.array(data.draw(st.lists(near(name), max_size=12)), dtype=np.float64)
    if refused_by_median(values, name):
        with pytest.raises(InputError, match="outside the plausible range"):
            check_plausible_median(values, name, "f")
    else:
        check_plausible_median(values, name, "f")
