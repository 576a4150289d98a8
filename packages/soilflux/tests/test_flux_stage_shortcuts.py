"""The flux stage's shortcuts give the numbers of the plain formulations, bit for bit.

Each shortcut (a cached derived array, a product left out because it is exact, a faster
path for small arrays, a computation on fewer columns) must not change a single bit of the
output: here each is checked against the plain formulation it replaced, on random batches
with empty windows, holes, NaN and one-sample windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from soilflux.deadband import auto_deadband
from soilflux.fit._batch import (
    _SMALL,
    Batch,
    compact_windows,
    make_batch,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit._lstsq import weighted_lstsq
from soilflux.fit.exponential import _g_dg, _g_only
from soilflux.fit.lag import lag_basis
from soilflux.fit.linear import fit_linear_batch, fit_linear_slope_batch
from soilflux.fit.robust import fit_robust_linear_batch
from soilflux.flux import initial_values
from soilflux.options import FluxOptions
from soilflux.pipeline import _closure_positions, _iter_chunks
from soilflux.qc_record import _masked_moments, _slope_given_time, _time_moments, flux_stopped


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN where NaN, the same dtype and the same sign of every zero."""
    a, b = np.asarray(a), np.asarray(b)
    return bool(
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _records(seed: int, k: int = 40, m: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time-ordered padded closures (t ≥ 0, NaN past each end) with holes and empty rows."""
    rng = np.random.default_rng(seed)
    step = rng.uniform(1.0, 5.0, (k, 1))
    t = rng.uniform(0.0, 3.0, (k, 1)) + step * np.arange(m)
    c = 420.0 + rng.uniform(0.0, 0.5, (k, 1)) * t + rng.normal(0.0, 2.0, (k, m))
    length = rng.integers(0, m + 1, k)
    t[np.arange(m)[None, :] >= length[:, None]] = np.nan
    c[rng.random((k, m)) < 0.05] = np.nan
    mask = np.isfinite(t) & np.isfinite(c) & (rng.random((k, m)) > 0.05)
    return t, c, mask


@given(st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_time_moments_are_masked_moments(seed: int) -> None:
    t, c, mask = _records(seed)
    n, tm, cm, sxx, sxy = _masked_moments(t, c, mask)
    n2, dt, sxx2 = _time_moments(t, mask)
    slope, dy = _slope_given_time(c, mask, n2, dt, sxx2)
    assert _same(n, n2)
    assert _same(sxx, sxx2)
    assert _same(dt, np.where(mask, t - tm[:, None], 0.0))
    assert _same(dy, np.where(mask, c - cm[:, None], 0.0))
    assert _same(slope, safe_divide(sxy, sxx))


def _flux_stopped_plain(t, co2, h2o, mask, ratio=1.0 / 3.0, z=3.0):  # type: ignore[no-untyped-def]
    """flux_stopped as first written: every half's moments from `_masked_moments`."""
    ok = mask & np.isfinite(t) & np.isfinite(co2)
    lo = np.where(ok, t, np.inf).min(axis=1)
    hi = np.where(ok, t, -np.inf).max(axis=1)
    mid = 0.5 * (lo + hi)[:, None]
    parts = []
    for half in (ok & (t <= mid), ok & (t > mid)):
        n, tm, cm, sxx, sxy = _masked_moments(t, co2, half)
        s = safe_divide(sxy, sxx)
        r = np.where(half, co2 - cm[:, None] - s[:, None] * (t - tm[:, None]), 0.0)
        se = safe_sqrt(safe_divide((r * r).sum(axis=1), (n - 2.0) * sxx))
        hw = half & np.isfinite(h2o)
        _, _, _, hsxx, hsxy = _masked_moments(t, np.where(hw, h2o, 0.0), hw)
        parts.append((s, se, safe_divide(hsxy, hsxx), n))
    (s1, se1, h1, n1), (s2, se2, h2, n2) = parts
    out = (
        (n1 >= 5)
        & (n2 >= 5)
        & (s1 > z * se1)
        & (s2 < ratio * s1)
        & (s1 - s2 > z * safe_sqrt(se1**2 + se2**2))
        & (h1 > 0)
        & (h2 < ratio * h1)
    )
    return np.nan_to_num(out, nan=0.0).astype(bool)


@given(st.integers(0, 10_000), st.sampled_from(["everywhere", "holes", "outside"]))
@settings(max_examples=40, deadline=None)
def test_flux_stopped_equals_the_plain_formulation(seed: int, h2o_gaps: str) -> None:
    t, c, mask = _records(seed)
    rng = np.random.default_rng(seed + 1)
    # a stop half-way in some rows, so that the flag is raised as well as not
    stop = rng.random(t.shape[0]) < 0.5
    late = np.nan_to_num(t) > 40.0
    co2 = np.where(stop[:, None] & late, 440.0 + rng.normal(0.0, 0.1, t.shape), c)
    h2o = 12.0 + 0.01 * np.where(stop[:, None] & late, 0.0, np.nan_to_num(t))
    h2o = h2o + rng.normal(0.0, 0.001, t.shape)
    if h2o_gaps == "holes":  # H2O missing inside windows: the general path
        h2o[rng.random(t.shape) < 0.1] = np.nan
    elif h2o_gaps == "outside":  # missing only where no window is: still the shared path
        h2o[~mask] = np.nan
    got = flux_stopped(t, co2, h2o, mask)
    with np.errstate(all="ignore"):  # empty halves: NaN moments
        want = _flux_stopped_plain(t, co2, h2o, mask)
    assert _same(got, want)


@given(st.integers(0, 10_000), st.booleans())
@settings(max_examples=40, deadline=None)
def test_auto_deadband_to_the_last_sample_is_the_default(seed: int, with_end: bool) -> None:
    t, c, mask = _records(seed)
    last = np.where(mask, t, -np.inf).max(axis=1)
    end = np.where(np.isfinite(last), last, np.nan) if with_end else None
    got = auto_deadband(t, c, mask, max_s=30.0, end_s=end)
    assert _same(got, auto_deadband(t, c, mask, max_s=30.0))


def test_auto_deadband_end_cuts_the_window() -> None:
    t, c, mask = _records(3)
    early = auto_deadband(t, c, mask, max_s=30.0, end_s=np.full(t.shape[0], 40.0))
    assert _same(early, auto_deadband(t, c, mask & (t <= 40.0), max_s=30.0))


@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0), st.just(-0.0)),
        min_size=2,
        max_size=40,
    ),
)
@settings(max_examples=200, deadline=None)
def test_safe_divide_and_sqrt_do_not_depend_on_the_array_size(values: list[float]) -> None:
    """The short path (small arrays) and the masked one (large) give the same bits."""
    x = np.asarray(values)
    num, den = x[: x.size // 2], x[x.size // 2 : x.size // 2 * 2]
    reps = _SMALL // max(num.size, 1) + 1  # tiled past the short path's size
    with np.errstate(all="ignore"):
        small, large = safe_divide(num, den), safe_divide(np.tile(num, reps), np.tile(den, reps))
        assert _same(small, large[: num.size])
        assert _same(safe_sqrt(x), safe_sqrt(np.tile(x, _SMALL // x.size + 1))[: x.size])
    assert _same(safe_divide(np.ones(3), np.zeros((2, 1))), np.full((2, 3), np.nan))
    f32 = safe_divide(np.ones(3, np.float32), np.full(3, 3, np.float32))
    assert f32.dtype == np.float64  # float64 as before, whatever the inputs


@given(st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_batch_cache_is_the_plain_formulas(seed: int) -> None:
    t, c, mask = _records(seed)
    b = make_batch(t, c, mask)
    n = b.n.astype(np.float64)
    c_mean = safe_divide(b.wsum(b.c), n)
    t_mean = safe_divide(b.wsum(b.t), n)
    dt = (b.t - np.nan_to_num(t_mean)[:, None]) * b.w
    first = np.where(b.mask, b.t, np.inf).min(axis=1)
    t_ref = np.where(np.isfinite(first), first, np.nan)
    tau = (b.t - np.nan_to_num(t_ref)[:, None]) * b.w
    got_c, got_t, got_s = b.centred_c(), b.centred_t(), b.from_start()
    assert _same(got_c[0], c_mean)
    assert _same(got_c[1], (b.c - np.nan_to_num(c_mean)[:, None]) * b.w)
    assert _same(got_t[0], t_mean)
    assert _same(got_t[1], dt)
    assert _same(got_t[2], np.einsum("ij,ij->i", dt, dt))
    assert _same(got_s[0], t_ref)
    assert _same(got_s[1], tau)
    assert _same(got_s[2], tau.max(axis=1))
    assert b.centred_c() is got_c  # computed once
    with pytest.raises(ValueError, match="read-only"):
        got_c[1][0, 0] = 1.0  # shared between fits: read-only
    other = b.with_c(b.c * 2.0)
    assert other.from_start() is got_s  # times kept
    assert other.centred_t() is got_t
    assert _same(other.centred_c()[0], 2.0 * c_mean)  # concentrations not


@given(st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_lstsq_on_its_window_needs_no_weight_products(seed: int) -> None:
    t, c, mask = _records(seed)
    b = make_batch(t, c, mask)
    h = lag_basis(b.t, b.w, 20.0)
    _, y = b.centred_c()
    _, tau, span = b.from_start()
    x = tau / np.where(span > 0, span, 1.0)[:, None]  # −0 outside the window
    for cols in ([b.w, b.t, h], [b.w, x, x * x, h]):
        plain = weighted_lstsq(cols, y, b.w, min_n=4)
        short = weighted_lstsq(cols, y, b.w, min_n=4, window=True)
        assert all(_same(p, s) for p, s in zip(plain, short, strict=True))


@given(st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_g_alone_is_g_of_g_dg(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tau = np.abs(rng.normal(100.0, 50.0, (30, 20)))
    tau[:, 0] = 0.0
    a = rng.choice([0.0, 1e-9, -1e-9, 1e-3, 0.05, -0.01, np.nan], 30)
    tmax = tau.max(axis=1)
    with np.errstate(all="ignore"):
        assert _same(_g_only(a, tau, tmax), _g_dg(a, tau, tmax)[0])


@given(st.integers(0, 10_000), st.booleans())
@settings(max_examples=30, deadline=None)
def test_compact_windows_without_shift_is_the_gather(seed: int, shifted: bool) -> None:
    t, c, mask = _records(seed)
    if shifted:
        mask[:, :2] = False
    got = compact_windows(t, c, mask)
    m = t.shape[1]
    any_win = mask.any(axis=1)
    first = np.where(any_win, np.argmax(mask, axis=1), 0)
    last = np.where(any_win, m - np.argmax(mask[:, ::-1], axis=1), 0)
    width = max(int((last - first).max()), 1)
    idx = np.minimum(first[:, None] + np.arange(width), m - 1)
    inside = first[:, None] + np.arange(width) < last[:, None]
    want = (
        np.take_along_axis(t, idx, axis=1),
        np.take_along_axis(c, idx, axis=1),
        np.take_along_axis(mask, idx, axis=1) & inside,
    )
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))


@given(st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_initial_values_from_the_leading_columns(seed: int) -> None:
    """Rows in time order: the columns holding every t < the window are enough."""
    t, c, mask = _records(seed)
    head = max(int(np.count_nonzero(t < 10.0, axis=1).max()), 1)
    got = initial_values(t[:, :head], c[:, :head], mask[:, :head], 10.0)
    assert _same(got, initial_values(t, c, mask, 10.0))


@given(st.integers(0, 10_000))
@settings(max_examples=20, deadline=None)
def test_robust_sse_is_that_of_its_final_line(seed: int) -> None:
    t, c, mask = _records(seed)
    b = make_batch(t, c, mask)
    fit = fit_robust_linear_batch(b)
    plain = (b.c - fit.intercept[:, None] - fit.slope[:, None] * b.t) * b.w
    ok = fit.ok
    assert _same(fit.sse[ok], np.einsum("ij,ij->i", plain, plain)[ok])
    assert not Batch.__dataclass_fields__["_derived"].init  # replace() starts a new cache


@given(st.integers(0, 10_000), st.integers(1, 7))
@settings(max_examples=30, deadline=None)
def test_chunks_hold_each_closures_samples_then_nan(seed: int, chunk: int) -> None:
    """`_iter_chunks` copies each closure's run of samples (the last closures' runs end at
    the column's end, shorter than the chunk's width) and NaN after it."""
    rng = np.random.default_rng(seed)
    n_closures = int(rng.integers(1, 12))
    counts = rng.integers(1, 9, n_closures)
    closure = np.repeat(np.arange(n_closures), counts)
    elapsed = np.concatenate([np.sort(rng.uniform(0.0, 60.0, c)) for c in counts])
    co2 = rng.normal(450.0, 5.0, closure.size)
    samples = pd.DataFrame(
        {
            "closure": closure,
            "elapsed_s": elapsed,
            "co2_ppm": co2,
            "temperature_c": 20.0,
            "pressure_kpa": 100.0,
        }
    )
    closures = pd.DataFrame(
        {"chamber": "a", "start": 0, "end": 1, "volume_cm3": 1.0, "area_cm2": 1.0},
        index=pd.Index(np.arange(n_closures), name="closure"),
    )
    opts = FluxOptions(chunk_closures=chunk)
    for rows, ch in _iter_chunks(samples, closures, ["co2_ppm"], opts):
        for i, row in enumerate(rows):
            own = closure == row
            n = int(own.sum())
            assert _same(ch.t[i, :n], elapsed[own])
            assert _same(ch.gas["co2_ppm"][i, :n], co2[own])
            assert np.isnan(ch.t[i, n:]).all()
            assert np.isnan(ch.gas["co2_ppm"][i, n:]).all()


@given(
    st.lists(st.integers(-3, 12), max_size=30),
    st.sampled_from(["range", "shifted", "gap", "descending", "float"]),
    st.integers(0, 10),
)
@settings(max_examples=100, deadline=None)
def test_closure_positions_are_get_indexer(ids: list[int], kind: str, n: int) -> None:
    values = {
        "range": np.arange(n),
        "shifted": np.arange(n) + 1,
        "gap": np.concatenate([np.arange(n), [n + 5]]),
        "descending": np.arange(n)[::-1],
        "float": np.arange(n, dtype=np.float64),
    }[kind]
    index = pd.Index(values, name="closure")
    series = pd.Series(np.asarray(ids, dtype=np.int64), name="closure")
    want = index.get_indexer(pd.Index(series))
    assert np.array_equal(_closure_positions(index, series), want)


@given(st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_linear_slope_alone_is_the_fits_slope(seed: int) -> None:
    t, c, mask = _records(seed)
    assert _same(
        fit_linear_slope_batch(make_batch(t, c, mask)),
        fit_linear_batch(make_batch(t, c, mask)).slope,
    )
