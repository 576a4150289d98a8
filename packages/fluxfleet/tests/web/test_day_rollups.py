"""web.day_rollups: the Treatment and Soil pCO₂ results kept per day and recomputed only for
the days whose fluxes changed equal a computation from scratch after every kind of change
(a new flux, a flux recomputed in an old day, a deleted one, a day emptied, a flag set),
and a change shows on the next request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fluxfleet.settings import Settings
from fluxfleet.store import open_store, schema
from fluxfleet.web import create_app, day_rollups, flux_sql, pco2, quality, queries, treatment
from fluxfleet.web.analysis_config import load_analysis
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import TestClient

D0 = dt.datetime(2026, 5, 4, tzinfo=dt.UTC)
DAYS = 4
LOCATIONS = [f"{v}.{r}" for v in ("5.1", "5.2", "5.3") for r in "ABC"]
CONTROLS = '[controls]\n"5.2" = "5.1"\n"5.3" = "5.1"\n'
STEP = dt.timedelta(minutes=20)


def _fluxes(cycs: list[int], computed: dt.datetime, seed: int = 0, shift: float = 0.0) -> pa.Table:
    """Fluxes of cycles ``cycs`` (cycle c: location c % 9, start D0 + (c // 9) × 20 min):
    some daylight, a few below threshold, one NaN flux in 50."""
    rng = np.random.default_rng(seed)
    c = np.asarray(cycs, dtype=np.int64)
    start = [D0 + int(k // len(LOCATIONS)) * STEP for k in c]
    hour = np.array([t.hour for t in start])
    flags = np.where((hour >= 7) & (hour < 19), "daylight", "")
    flags = np.where(rng.random(len(c)) < 0.05, "below_threshold", flags)
    flux = 1.0 + (c % len(LOCATIONS)) * 0.3 + rng.normal(0, 0.2, len(c)) + shift
    flux[rng.random(len(c)) < 0.02] = np.nan
    return pa.table(
        {
            "device": [f"ch{k % len(LOCATIONS):03d}" for k in c],
            "cyc": c,
            "location": [LOCATIONS[k % len(LOCATIONS)] for k in c],
            "start": start,
            "end": [t + dt.timedelta(minutes=3) for t in start],
            "flux_umol_m2_s": flux,
            "flux_se_umol_m2_s": np.full(len(c), 0.1),
            "model": ["hm"] * len(c),
            "flags": flags.astype(object),
            "n_fit": np.full(len(c), 53),
            "r2": np.full(len(c), 0.99),
            "deadband_s": np.full(len(c), 20.0),
            "computed": [computed] * len(c),
        }
    ).cast(schema.FLUXES)


N = DAYS * 72 * len(LOCATIONS)  # 72 closures a day per location


def _cyc(day: int, k: int = 0) -> int:
    """The k-th cycle of day ``day``."""
    return day * 72 * len(LOCATIONS) + k


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path]:
    return _small(tmp_path)


def _write(url: str, table: pa.Table) -> None:
    with open_store(url) as s:
        s.write_fluxes(table)


def _delete(url: str, where: str) -> None:
    with open_store(url) as s:
        s.execute([(f"DELETE FROM fluxes WHERE {where}", [])])


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal keys and counts; means equal to rounding (pandas' grouped mean is not bitwise
    the same over a day's rows as over a season's)."""
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=0)


def _check(
    url: str, analysis: Path, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The kept-per-day results equal from-scratch ones; (treatment hourly, pCO₂ pairs)."""
    cfg = load_analysis(analysis)
    with open_store(url, read_only=True) as s:
        summary, hourly = treatment.cached_effects(s, cfg.controls, start, end)
        want_summary, want_hourly = treatment.effects(s, cfg.controls, start, end)
        pairs = {by: pco2.cached_pairs(s, cfg, by) for by in pco2.BY}
        want_pairs = {by: pco2.pairs(s, cfg, by) for by in pco2.BY}
    _same(summary, want_summary)
    _same(hourly, want_hourly)
    for by in pco2.BY:
        _same(pairs[by], want_pairs[by])
    assert len(hourly)
    assert len(pairs["location"])
    return hourly, pairs["location"]


def test_day_ranges_merge_consecutive_days_and_cut_to_the_window() -> None:
    d = int((D0 - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).days)
    day = dt.timedelta(days=1)
    assert day_rollups.day_ranges([d + 2, d, d + 1, d + 5], None, None) == [
        (D0, D0 + 3 * day),
        (D0 + 5 * day, D0 + 6 * day),
    ]
    noon = D0 + dt.timedelta(hours=12)
    assert day_rollups.day_ranges([d, d + 1], noon, D0 + day + dt.timedelta(hours=1)) == [
        (noon, D0 + day + dt.timedelta(hours=1))
    ]
    assert day_rollups.ranges_clause([]) == ("1 = 0", [])


def test_day_versions_change_with_a_new_recomputed_or_deleted_flux(setup: tuple) -> None:
    url, _ = setup

    def versions() -> dict[int, Hashable]:
        with open_store(url, read_only=True) as s:
            return day_rollups.day_versions(s, None, None)

    v0 = versions()
    d = sorted(v0)
    assert len(d) == DAYS
    assert v0[d[0]][0] == 72 * len(LOCATIONS)
    # recomputed with an OLDER computed than the day's newest: the sum still changes
    _write(url, _fluxes([_cyc(1, 5)], D0 - dt.timedelta(hours=1), shift=1.0))
    v1 = versions()
    assert v1[d[1]] != v0[d[1]]
    assert {k: v for k, v in v1.items() if k != d[1]} == {k: v for k, v in v0.items() if k != d[1]}
    _delete(url, f"cyc = {_cyc(2, 3)}")
    assert versions()[d[2]][0] == v0[d[2]][0] - 1


def test_kept_per_day_equals_from_scratch_after_every_change(setup: tuple) -> None:
    url, analysis = setup
    later = D0 + dt.timedelta(days=30)
    hourly0, pairs0 = _check(url, analysis)
    # a new flux in the newest day (a control's night closure)
    _write(url, _fluxes([N], later))
    _check(url, analysis)
    # a flux recomputed in an old day: a night closure of the treatment 5.2.A, shifted
    cyc = _cyc(0, 9 * 3 + 3)  # day 0, 01:00, location 5.2.A
    _write(url, _fluxes([cyc], later + dt.timedelta(minutes=1), shift=5.0))
    hourly1, pairs1 = _check(url, analysis)
    assert not hourly1.equals(hourly0)
    assert not pairs1.equals(pairs0)
    # deleted fluxes: one, then a whole day
    _delete(url, f"cyc = {_cyc(2, 100)}")
    _check(url, analysis)
    _delete(url, f"cyc >= {_cyc(3)} AND cyc < {_cyc(4)}")
    hourly2, pairs2 = _check(url, analysis)
    last_day = (D0 + dt.timedelta(days=3)).date()
    assert last_day not in set(hourly2["hour"].dt.date)
    assert last_day not in set(pairs2["day"].dt.date)
    # a night closure turned daylight (a flag set on recomputation)
    t = _fluxes([_cyc(1, 0)], later + dt.timedelta(minutes=2))
    _write(url, t.set_column(t.schema.get_field_index("flags"), "flags", pa.array(["daylight"])))
    _check(url, analysis)
    # a time window cutting days in half
    _check(url, analysis, D0 + dt.timedelta(hours=12), D0 + dt.timedelta(days=2, hours=6))


def test_only_the_changed_days_are_computed_again(setup: tuple) -> None:
    url, _ = setup
    calls: list[list[day_rollups.Range]] = []

    def run() -> pd.DataFrame:
        with open_store(url, read_only=True) as s:

            def compute(ranges: list[day_rollups.Range]) -> pd.DataFrame:
                calls.append(ranges)
                clause, params = day_rollups.ranges_clause(ranges)
                return s.select(
                    f'SELECT "start", flux_umol_m2_s FROM fluxes WHERE {clause}', params
                ).to_pandas()

            return day_rollups.per_day(
                s, "n", (), None, None, compute, "start",
                lambda f: f.groupby(f["start"].dt.floor("D"))["flux_umol_m2_s"].count(),
            )  # fmt: skip

    first = run()
    assert calls == [[(D0, D0 + dt.timedelta(days=DAYS))]]
    assert run().equals(first)
    assert len(calls) == 1  # unchanged: kept
    _write(url, _fluxes([_cyc(2, 7)], D0 + dt.timedelta(days=9)))
    day2 = D0 + dt.timedelta(days=2)
    assert run().equals(first)  # same count, recomputed
    assert calls[1:] == [[(day2, day2 + dt.timedelta(days=1))]]
    _delete(url, f"cyc >= {_cyc(1)} AND cyc < {_cyc(2)}")
    assert run().index.tolist() == [D0, day2, D0 + dt.timedelta(days=3)]
    assert len(calls) == 2  # a day gone: nothing to compute


def test_a_new_flux_shows_on_the_next_request(setup: tuple) -> None:
    url, analysis = setup
    app = create_app(Settings(store=url, analysis=analysis))
    with TestClient(app) as c:
        before = c.get("/api/treatment/hourly").json()
        pairs_before = c.get("/api/pco2").json()
        # the control 5.1.A's flux at day 3, 01:00 recomputed much higher
        _write(url, _fluxes([_cyc(3, 27)], D0 + dt.timedelta(days=9), shift=10.0))
        after = c.get("/api/treatment/hourly").json()
        pairs_after = c.get("/api/pco2").json()
    hour = (D0 + dt.timedelta(days=3, hours=1)).isoformat().replace("+00:00", "")
    changed = [
        (a["treatment"], a["hour"])
        for a, b in zip(after, before, strict=True)
        if a["difference_umol_m2_s"] != pytest.approx(b["difference_umol_m2_s"], rel=1e-12)
    ]
    assert changed
    assert all(h.startswith(hour[:13]) for _, h in changed)
    # the day's other pots: equal to rounding (their day was computed again)
    moved = [
        a
        for a, b in zip(pairs_after, pairs_before, strict=True)
        if a["flux_umol_m2_s"] != pytest.approx(b["flux_umol_m2_s"], rel=1e-12)
    ]
    assert [(m["location"], m["day"][:10]) for m in moved] == [("5.1.A", hour[:10])]


@settings(max_examples=12)  # each example builds a store and runs the pages' analyses
@given(
    st.lists(
        st.tuples(st.sampled_from(["new", "recompute", "delete"]), st.integers(0, DAYS - 1),
                  st.integers(0, 72 * len(LOCATIONS) - 1)),
        min_size=1, max_size=6,
    )
)  # fmt: skip
def test_any_sequence_of_changes_equals_from_scratch(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]]
) -> None:
    tmp = tmp_path_factory.mktemp("ops")
    url, analysis = _small(tmp)
    _check(url, analysis)
    for i, (op, day, k) in enumerate(ops):
        t = D0 + dt.timedelta(days=20, minutes=i)
        if op == "new":
            _write(url, _fluxes([N + i], t, seed=i))
        elif op == "recompute":
            _write(url, _fluxes([_cyc(day, k)], t, seed=i, shift=2.0))
        else:
            _delete(url, f"cyc = {_cyc(day, k)}")
        _check(url, analysis)


def _small(tmp: Path) -> tuple[str, Path]:
    day_rollups.clear()
    url = f"duckdb:///{tmp}/fleet.duckdb"
    with open_store(url) as s:
        s.write_fluxes(_fluxes(list(range(N)), D0))
    (tmp / "pco2.csv").write_text(
        "Timestamp,Column Name,Value,Month,Expid,Replica\n"
        + "".join(
            f"{(D0 + dt.timedelta(days=d)).date()} 13:00:00,{loc}.Basalt.40,{1500 + 90 * i + d},"
            f"5,{loc[:4]}.,{loc}.\n"
            for d in range(DAYS)
            for i, loc in enumerate(LOCATIONS)
        )
    )
    (tmp / "analysis.toml").write_text(CONTROLS + '[pco2]\npath = "pco2.csv"\n')
    return url, tmp / "analysis.toml"


def test_fluxes_and_quality_kept_per_day_equal_a_whole_count(setup: tuple) -> None:
    url, _ = setup
    cases = [
        {"level": "variant", "bin": "hour"},
        {"level": "location", "bin": "day"},
        {"level": "variant", "bin": "day", "filtered": True, "night": True},
        {"level": "location", "bin": "hour", "start": D0 + dt.timedelta(hours=30)},
    ]

    def check() -> None:
        with open_store(url, read_only=True) as s:
            for c in cases:
                got = queries.fluxes(s, **c)  # type: ignore[arg-type]
                clause, params = flux_sql.where(
                    None, None, c.get("start"), None, bool(c.get("filtered")),
                    bool(c.get("night")),
                )  # fmt: skip
                want = flux_sql.aggregate(s, str(c["level"]), str(c["bin"]), clause, params)
                _same(got, want)
            for level in quality.LEVELS:
                got = quality.filtered_share(s, level)
                pd.testing.assert_frame_equal(got, quality._filtered_share(s, level, None, None))

    check()
    _write(url, _fluxes([N, N + 1], D0 + dt.timedelta(days=30)))
    t = _fluxes([_cyc(1, 40)], D0 + dt.timedelta(days=31), shift=3.0)
    _write(url, t.set_column(t.schema.get_field_index("flags"), "flags", pa.array(["clogged"])))
    check()
    _delete(url, f"cyc >= {_cyc(2)} AND cyc < {_cyc(2, 300)}")
    check()
