"""Segmentation of continuous records into closures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from soilflux.segment import combine, open_tail, segment

T0 = pd.Timestamp("2023-10-01T00:00:00Z")
STEP_S = 3.0


def fleet_records(
    chambers: tuple[str, ...] = ("A", "B"),
    closed_s: tuple[float, ...] = (180.0, 300.0, 240.0),
    rate_ppm_s: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """Fleet-like records: 3-s samples, each cycle closing → closed → opening → flush/open."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, chamber in enumerate(chambers):
        t = T0 + pd.Timedelta(seconds=c)  # chambers not in step
        for closed in closed_s:
            phases = (
                ["open"] * 20
                + ["closing"]
                + ["closed"] * int(closed / STEP_S)
                + ["opening"]
                + ["flush"] * 10
            )
            k_closed = 0
            for phase in phases:
                if phase == "closed":
                    co2 = 420.0 + rate_ppm_s * STEP_S * k_closed
                    k_closed += 1
                else:
                    co2 = 420.0
                rows.append(
                    {
                        "time": t,
                        "chamber": chamber,
                        "co2_ppm": co2 + rng.normal(0, 0.01),
                        "temperature_c": 20.0,
                        "pressure_kpa": 100.0,
                        "h2o_mmol_mol": 15.0,
                        "lux": 0.0,
                        "phase": phase,
                    }
                )
                t += pd.Timedelta(seconds=STEP_S)
    return pd.DataFrame(rows)


GEOMETRY = {"volume_cm3": 5000.0, "area_cm2": 300.0}


def test_closures_from_phase_runs_of_variable_length() -> None:
    samples, closures, report = segment(fleet_records(), **GEOMETRY)
    assert len(closures) == 6
    assert report.closures == 6
    # Two chambers × closures of 180, 300, 240 s → 60, 100, 80 samples each.
    per = closures.groupby("chamber")["n_samples"].apply(list).to_dict()
    assert per == {"A": [60, 100, 80], "B": [60, 100, 80]}
    assert closures.index.name == "closure"
    assert closures.index.dtype == np.int64
    assert str(closures["start"].dtype) == "datetime64[ns, UTC]"
    assert (closures["segment_flags"] == "").all()
    assert closures["start"].is_monotonic_increasing
    # elapsed time starts at the first closed sample, samples sorted by (closure, elapsed)
    first = samples.groupby("closure")["elapsed_s"].min()
    assert (first == 0.0).all()
    assert samples["closure"].dtype == np.int64
    assert samples.equals(samples.sort_values(["closure", "elapsed_s"]).reset_index(drop=True))
    # closure length follows the record: last elapsed = (n − 1) · step
    last = samples.groupby("closure")["elapsed_s"].max().to_numpy()
    np.testing.assert_allclose(last, (closures["n_samples"].to_numpy() - 1) * STEP_S)
    assert report.rows_outside == len(fleet_records()) - len(samples)


def test_rows_from_interleaved_chambers_give_the_same_closures() -> None:
    records = fleet_records()
    by_time = records.sort_values("time", kind="stable").reset_index(drop=True)
    a = segment(records, **GEOMETRY)
    b = segment(by_time, **GEOMETRY)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])


@settings(max_examples=30, deadline=None)
@given(swaps=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_local_reordering_changes_nothing_but_the_flag(swaps: list[int]) -> None:
    """Rows that arrive a little out of order are sorted back; the closure says so."""
    records = fleet_records(chambers=("A",))
    reference_samples, reference_closures, _ = segment(records, **GEOMETRY)
    order = np.arange(len(records))
    for s in swaps:
        i = s % (len(records) - 1)
        order[i], order[i + 1] = order[i + 1], order[i]
    shuffled = records.iloc[order].reset_index(drop=True)
    samples, closures, report = segment(shuffled, **GEOMETRY)
    pd.testing.assert_frame_equal(samples, reference_samples)
    cols = [c for c in closures.columns if c != "segment_flags"]
    pd.testing.assert_frame_equal(closures[cols], reference_closures[cols])
    assert closures["segment_flags"].isin(["", "out_of_order"]).all()
    if report.out_of_order == 0:
        assert (closures["segment_flags"] == "").all()


def test_late_sample_inside_a_closure_is_flagged() -> None:
    records = fleet_records(chambers=("A",))
    closed = records.index[records["phase"] == "closed"]
    order = records.index.to_numpy().copy()
    i, j = closed[10], closed[11]
    order[i], order[j] = order[j], order[i]
    samples, closures, report = segment(records.loc[order], **GEOMETRY)
    assert report.out_of_order == 1
    assert closures["segment_flags"].tolist() == ["out_of_order", "", ""]
    pd.testing.assert_frame_equal(samples, segment(records, **GEOMETRY)[0])


def test_replayed_old_samples_are_not_a_clock_jump() -> None:
    records = fleet_records(chambers=("A",))
    first_closure = records.iloc[:100]
    replay = pd.concat([records.iloc[100:], first_closure]).reset_index(drop=True)
    _, closures, report = segment(replay, **GEOMETRY)
    assert report.clock_jumps == 0
    pd.testing.assert_frame_equal(
        closures.drop(columns="segment_flags"),
        segment(records, **GEOMETRY)[1].drop(columns="segment_flags"),
    )


def test_duplicates_dropped_and_conflicts_flagged() -> None:
    records = fleet_records(chambers=("A",))
    closed = records.index[records["phase"] == "closed"]
    exact = records.loc[[closed[5]]]
    conflicting = records.loc[[closed[70]]].assign(co2_ppm=999.0)
    doubled = pd.concat([records, exact, conflicting]).reset_index(drop=True)
    samples, closures, report = segment(doubled, **GEOMETRY)
    assert report.duplicates_dropped == 2
    assert len(samples) == len(segment(records, **GEOMETRY)[0])
    assert 999.0 not in samples["co2_ppm"].to_numpy()  # first arrival kept
    flags = closures["segment_flags"].tolist()
    assert flags == ["", "duplicate_time", ""]


def test_gap_is_flagged_not_split() -> None:
    records = fleet_records(chambers=("A",))
    closed = records.index[records["phase"] == "closed"]
    holed = records.drop(closed[20:25]).reset_index(drop=True)
    _, closures, report = segment(holed, **GEOMETRY)
    assert len(closures) == 3
    assert closures["segment_flags"].tolist() == ["gap", "", ""]
    assert closures["n_samples"].iloc[0] == 55
    assert report.gaps == 1


def test_backward_clock_jump_is_repaired_and_flagged() -> None:
    records = fleet_records(chambers=("A",))
    closed = records.index[records["phase"] == "closed"]
    jumped = records.copy()
    after = jumped.index >= closed[130]  # inside the second closure
    back = pd.Timedelta(minutes=5)  # lands on times the chamber already reported
    jumped.loc[after, "time"] = jumped.loc[after, "time"] - back
    samples, closures, report = segment(jumped, **GEOMETRY)
    reference_samples, reference_closures, _ = segment(records, **GEOMETRY)
    assert report.clock_jumps == 1
    assert closures["segment_flags"].tolist() == ["", "clock_jump", ""]
    # The closures and their samples are whole again, on the corrected (new) clock:
    pd.testing.assert_frame_equal(samples, reference_samples)
    assert closures["n_samples"].tolist() == reference_closures["n_samples"].tolist()
    assert (closures["start"] == reference_closures["start"] - back).all()


def test_late_delivery_inside_a_closure_is_not_a_clock_jump() -> None:
    """A store-and-forward buffer replayed between two live samples of a closure."""
    records = fleet_records(chambers=("A",))
    closed = records.index[records["phase"] == "closed"]
    order = list(records.index)
    late = order[closed[0] : closed[0] + 40]  # first closure's samples arrive late ...
    rest = [i for i in order if i not in set(late)]
    k = rest.index(closed[120])  # ... in the middle of the second closure
    replayed = records.loc[[*rest[:k], *late, *rest[k:]]]
    samples, closures, report = segment(replayed, **GEOMETRY)
    assert report.clock_jumps == 0
    reference_samples, reference_closures, _ = segment(records, **GEOMETRY)
    pd.testing.assert_frame_equal(samples, reference_samples)
    assert closures["n_samples"].tolist() == reference_closures["n_samples"].tolist()
    assert "out_of_order" in closures["segment_flags"].iloc[0]


def test_closure_id_mode_and_geometry_precedence() -> None:
    records = fleet_records(chambers=("A", "B"), closed_s=(180.0,))
    records = records[records["phase"] == "closed"].drop(columns="phase")
    records["closure_id"] = records["chamber"] + "-1"
    records["volume_cm3"] = 4000.0
    records["area_cm2"] = 250.0
    _, own, _ = segment(records)
    assert own["volume_cm3"].tolist() == [4000.0, 4000.0]
    table = pd.DataFrame(
        {"volume_cm3": [6000.0], "area_cm2": [320.0], "location": ["9.2.B"]},
        index=pd.Index(["A"], name="chamber"),
    )
    _, tabled, _ = segment(records, chambers=table)
    assert tabled.set_index("chamber").loc["A", "volume_cm3"] == 6000.0
    assert tabled.set_index("chamber").loc["B", "volume_cm3"] == 4000.0
    assert tabled.set_index("chamber").loc["A", "location"] == "9.2.B"
    # A chamber moved to another pot: the samples' own label wins over the table.
    _, labelled, _ = segment(records.assign(location="7.1.C"), chambers=table)
    assert labelled["location"].tolist() == ["7.1.C", "7.1.C"]
    _, explicit, _ = segment(records, chambers=table, volume_cm3=7000.0, area_cm2=100.0)
    assert explicit["volume_cm3"].tolist() == [7000.0, 7000.0]
    with pytest.raises(ValueError, match="'A'"):
        segment(records.drop(columns=["volume_cm3", "area_cm2"]))


def test_short_long_and_missing_values() -> None:
    records = fleet_records(chambers=("A",), closed_s=(12.0, 180.0, 1200.0))
    closed = records.index[records["phase"] == "closed"]
    records.loc[closed[10], "co2_ppm"] = np.nan
    records.loc[closed[11], "temperature_c"] = np.nan
    samples, closures, report = segment(records, **GEOMETRY)
    assert closures["segment_flags"].tolist() == ["short", "missing_values", "long"]
    assert report.missing_gas == 1
    assert samples["co2_ppm"].notna().all()
    assert samples["temperature_c"].notna().all()  # interpolated, not dropped
    assert report.flag_counts == {"short": 1, "missing_values": 1, "long": 1}


def test_opening_drop_ends_the_window() -> None:
    t = np.arange(0.0, 210.0, 1.0)
    rng = np.random.default_rng(3)
    rising = 440.0 + 0.5 * t + rng.normal(0, 0.3, t.size)
    rising[t >= 185] = 425.0 + rng.normal(0, 0.3, (t >= 185).sum())  # the lid re-opened
    steady = 440.0 + 0.3 * t + rng.normal(0, 0.3, t.size)
    uptake = 600.0 - 150.0 * (1 - np.exp(-t / 60.0)) + rng.normal(0, 0.3, t.size)
    frames = []
    for name, co2 in (("rise-fall", rising), ("steady", steady), ("uptake", uptake)):
        frames.append(
            pd.DataFrame(
                {
                    "time": T0 + pd.to_timedelta(t, unit="s"),
                    "chamber": name,
                    "closure_id": "1",
                    "co2_ppm": co2,
                    "temperature_c": 20.0,
                    "pressure_kpa": 100.0,
                }
            )
        )
    data = pd.concat(frames, ignore_index=True)
    _, closures, _ = segment(data, **GEOMETRY, trim_opening=True)
    by = closures.set_index("chamber")
    assert by.loc["rise-fall", "obs_length_s"] == 184.0
    assert by.loc["rise-fall", "segment_flags"] == "trimmed"
    assert np.isnan(by.loc["steady", "obs_length_s"])
    assert np.isnan(by.loc["uptake", "obs_length_s"])
    _, untrimmed, _ = segment(data, **GEOMETRY)
    assert untrimmed["obs_length_s"].isna().all()


def test_combine_renumbers() -> None:
    a = segment(fleet_records(chambers=("A",)), **GEOMETRY)
    b = segment(fleet_records(chambers=("B",)), **GEOMETRY)
    samples, closures = combine([a[:2], b[:2]])
    assert closures.index.tolist() == list(range(6))
    assert sorted(samples["closure"].unique().tolist()) == list(range(6))
    assert closures.loc[3:, "chamber"].eq("B").all()


def test_missing_phase_and_id_refused() -> None:
    records = fleet_records(chambers=("A",)).drop(columns="phase")
    with pytest.raises(ValueError, match="phase"):
        segment(records, **GEOMETRY)


@settings(max_examples=40, deadline=None)
@given(
    drop=st.lists(st.integers(0, 10_000), max_size=15),
    duplicate=st.lists(st.integers(0, 10_000), max_size=10),
    blank=st.lists(st.integers(0, 10_000), max_size=5),
    seed=st.integers(0, 2**16),
)
def test_every_sample_is_accounted_for(
    drop: list[int], duplicate: list[int], blank: list[int], seed: int
) -> None:
    """Whatever the defects, input rows = in closures + outside + duplicates + no gas."""
    records = fleet_records(seed=seed)
    n = len(records)
    records = records.drop(index=sorted({d % n for d in drop}))
    extra = records.iloc[[d % len(records) for d in duplicate]]
    records = pd.concat([records, extra], ignore_index=True)
    records.loc[[b % len(records) for b in blank], "co2_ppm"] = np.nan
    samples, closures, report = segment(records, **GEOMETRY)
    accounted = report.rows_in_closures + report.rows_outside
    accounted += report.duplicates_dropped + report.missing_gas
    assert accounted == len(records)
    assert (
        len(samples) == report.rows_in_closures == closures["n_samples"].sum() - report.missing_gas
    )
    assert samples["co2_ppm"].notna().all()


@pytest.mark.parametrize("cut", [0, 50, 130, 200, 260, 10_000])
def test_open_tail_carries_the_closure_a_next_file_continues(cut: int) -> None:
    records = fleet_records(chambers=("A", "B"))
    by_time = records.sort_values("time", kind="stable").reset_index(drop=True)
    whole_samples, whole_closures, _ = segment(by_time, **GEOMETRY)
    first, second = by_time.iloc[:cut], by_time.iloc[cut:]
    done, tail = open_tail(first)
    parts = []
    if not done.empty:
        parts.append(segment(done, **GEOMETRY)[:2])
    parts.append(segment(pd.concat([tail, second], ignore_index=True), **GEOMETRY)[:2])
    samples, closures = combine(parts)
    # The same closures, cut or not (order by start restored for the comparison).
    order = np.argsort(closures["start"].to_numpy(), kind="stable")
    pd.testing.assert_frame_equal(
        closures.iloc[order].reset_index(drop=True),
        whole_closures.reset_index(drop=True),
    )
    assert len(samples) == len(whole_samples)


def test_open_tail_by_closure_id_and_long_closures() -> None:
    records = fleet_records(chambers=("A",), closed_s=(180.0, 240.0))
    records = records.assign(closure_id=(records["phase"] == "open").cumsum().astype(str))
    done, tail = open_tail(records)
    assert tail["closure_id"].nunique() == 1
    assert tail["closure_id"].iloc[0] == records["closure_id"].iloc[-1]
    stuck = fleet_records(chambers=("A",), closed_s=(1200.0,))
    stuck = stuck[stuck["phase"] == "closed"]
    done, tail = open_tail(stuck)  # closed for 1200 s: complete ('long'), not carried
    assert tail.empty
    assert len(done) == len(stuck)
