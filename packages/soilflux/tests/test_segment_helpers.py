"""The array helpers of segmentation give what the pandas/numpy expressions they replace give."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from soilflux.io.generic import PHASES, _numeric, _unknown_phase
from soilflux.segment import run_order
from soilflux.segment.arrival import median_step_s, steps_s
from soilflux.segment.closures import text_at, utc_ns, utc_times
from soilflux.segment.groups import (
    codes_as,
    factorize_as,
    first_appearance_codes,
    first_valid,
    group_median,
)
from soilflux.segment.report import joined_flags

small_ints = hnp.arrays(np.int64, st.integers(0, 60), elements=st.integers(-3, 3))


@given(keys=small_ints, runs=st.booleans())
def test_first_appearance_codes_are_factorize_codes(keys: np.ndarray, runs: bool) -> None:
    """Sorted keys (each key one run) take the run path, any others pandas' factorize."""
    if runs:
        keys = np.sort(keys)
    got = first_appearance_codes(keys)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, pd.factorize(keys)[0])


@given(
    lengths=st.lists(st.integers(0, 6), min_size=0, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    shuffle_rows=st.booleans(),
)
def test_run_order_is_a_stable_sort_of_closure_numbers(
    lengths: list[int], seed: int, shuffle_rows: bool
) -> None:
    """Groups in runs (or rows in any order, the fallback), closures numbered in any order:
    the stable argsort of the closure numbers."""
    rng = np.random.default_rng(seed)
    n = len(lengths)
    group = np.repeat(np.arange(n, dtype=np.int64), lengths)
    if shuffle_rows:
        group = rng.permutation(group)
    by_start = rng.permutation(n).astype(np.int64)
    renumber = np.empty(n, dtype=np.int64)
    renumber[by_start] = np.arange(n)
    closure = renumber[group]
    got = run_order(closure, group, by_start)
    np.testing.assert_array_equal(got, np.argsort(closure, kind="stable"))


@given(
    values=st.lists(st.sampled_from(["a", "b", " c", "A", None, "10"]), max_size=30),
    categorical=st.booleans(),
    extra=st.lists(st.sampled_from(["zz", "b ", "q"]), max_size=3, unique=True),
)
def test_codes_as_tell_the_same_values_apart(
    values: list[str | None], categorical: bool, extra: list[str]
) -> None:
    """Equal values share a code, others do not, missing is -1, codes are < n; as
    factorize_as's (dense) codes do, unused categories notwithstanding."""
    series = pd.Series(values, dtype="string")
    if categorical:
        present = [v for v in dict.fromkeys(values) if v is not None]
        series = series.astype(pd.CategoricalDtype([*extra, *present][::-1]))
    codes, n = codes_as(series, "string")
    dense = factorize_as(series, "string")[0]
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes < 0, dense < 0)
    assert bool(np.all(codes < n))
    pairs = set(zip(codes.tolist(), dense.tolist(), strict=True))
    assert len({c for c, _ in pairs}) == len(pairs) == len({d for _, d in pairs})


@given(
    values=st.lists(st.sampled_from(["x1", "x2", None, "y"]), min_size=1, max_size=20),
    categorical=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_text_at_is_take_as_string(values: list[str | None], categorical: bool, seed: int) -> None:
    series = pd.Series(values, dtype="string")
    if categorical:
        series = series.astype("category")
    positions = np.random.default_rng(seed).integers(0, len(values), 7)
    got = pd.Series(text_at(series, positions))
    want = pd.Series(series.take(positions).astype("string").to_numpy()).astype("string")
    pd.testing.assert_series_equal(got, want, check_exact=True)


@given(t=hnp.arrays(np.int64, st.integers(0, 20), elements=st.integers(-(2**62), 2**62)))
def test_utc_times_and_back(t: np.ndarray) -> None:
    want = pd.to_datetime(t, utc=True).astype("datetime64[ns, UTC]")
    got = utc_times(t)
    assert got.dtype == want.dtype
    assert got.equals(want)
    np.testing.assert_array_equal(utc_ns(pd.Series(got)), t)


def test_utc_ns_converts_other_times() -> None:
    """A column not read as UTC nanoseconds (an offset, text) is converted as before."""
    times = pd.Series(["2026-05-01T02:00:00+02:00", "2026-05-01T00:00:01Z"])
    want = pd.to_datetime(times, utc=True).to_numpy(dtype="datetime64[ns]").view(np.int64)
    np.testing.assert_array_equal(utc_ns(times), want)
    berlin = pd.to_datetime(times, utc=True).dt.tz_convert("Europe/Berlin")
    np.testing.assert_array_equal(utc_ns(berlin), want)


@given(
    t=hnp.arrays(np.int64, st.integers(0, 30), elements=st.integers(-(10**12), 10**12)),
    seed=st.integers(0, 2**32 - 1),
)
def test_steps_s_as_diff(t: np.ndarray, seed: int) -> None:
    same = np.random.default_rng(seed).random(t.size) < 0.8
    want = np.where(same, np.diff(t, prepend=t[0]) / 1.0e9, np.nan) if t.size else np.zeros(0)
    np.testing.assert_array_equal(steps_s(t, same), want)


@given(
    n=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.0, 1.0),
)
def test_joined_flags_join_each_closures_flags(n: int, seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    names = ["clock_jump", "gap", "missing_values", "short", "long"]
    flags = {name: rng.random(n) < share for name in names}
    strings, counts = joined_flags(flags, n)
    want = [",".join(k for k in names if flags[k][i]) for i in range(n)]
    pd.testing.assert_extension_array_equal(strings, pd.array(want, dtype="string"))
    assert counts == {k: int(v.sum()) for k, v in flags.items() if v.any()}


@given(
    chamber=hnp.arrays(np.int64, st.integers(0, 60), elements=st.integers(0, 4)),
    seed=st.integers(0, 2**32 - 1),
    grouped=st.booleans(),
)
def test_median_step_per_chamber_as_group_median(
    chamber: np.ndarray, seed: int, grouped: bool
) -> None:
    """Rows grouped by chamber (the partition path) or not: the median of each chamber's
    positive steps, as group_median gives it."""
    if grouped:
        chamber = np.sort(chamber)
    choices = np.array([-1.0, 0.0, 3.0, 3.0, 2.5, np.nan, 100.0, 1e-9])
    step = np.random.default_rng(seed).choice(choices, chamber.size)
    want = group_median(np.where(step > 0, step, np.nan), chamber, 5)[chamber]
    np.testing.assert_array_equal(median_step_s(step, chamber, 5), want)


@given(st.lists(st.one_of(st.none(), st.sampled_from(["closed", "open", "bogus", "flush"]))))
def test_unknown_phase_by_category_as_by_row(values: list[str | None]) -> None:
    text = pd.Series(values, dtype="string")
    want = (text.notna() & ~text.isin(PHASES)).to_numpy(dtype=bool)
    np.testing.assert_array_equal(_unknown_phase(text), want)
    np.testing.assert_array_equal(_unknown_phase(text.astype("category")), want)


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))))
def test_numeric_owns_a_float_copy(values: list[float | None]) -> None:
    """A float64 column and the same values as a nullable Float64 column: the same numbers
    and bad cells, in an array of its own (writable, not the input's)."""
    column = pd.Series(values, dtype=np.float64)
    got, bad = _numeric(column)
    want, want_bad = _numeric(column.astype("Float64"))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(bad, want_bad)
    assert got.flags.writeable
    assert not np.shares_memory(got, column.to_numpy())


@given(
    n=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
    grouped=st.booleans(),
    all_valid=st.booleans(),
)
def test_first_valid_row_of_each_group(n: int, seed: int, grouped: bool, all_valid: bool) -> None:
    """Rows grouped or not, every row valid (the bisection path) or not: the first valid
    row of each group in row order, -1 for a group without one."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 30))
    codes = rng.integers(-1, n, size) if n else np.full(size, -1)
    codes = np.sort(codes) if grouped else codes
    valid = np.ones(size, dtype=bool) if all_valid else rng.random(size) < 0.7
    want = [next((i for i in range(size) if codes[i] == g and valid[i]), -1) for g in range(n)]
    np.testing.assert_array_equal(first_valid(codes.astype(np.int64), valid, n), want)
