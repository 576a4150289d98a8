"""Fault schedules: the default, files (JSON/CSV) with clear errors, and the live state."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fluxfleet.sim.faults import (
    KINDS,
    Fault,
    FaultFileError,
    FaultState,
    default_schedule,
    read_schedule,
    resolve_schedule,
)


def test_default_schedule_has_every_kind_and_spares_reference_chambers() -> None:
    faults = default_schedule(50, 24 * 3600.0, seed=1)
    assert sorted(f.kind for f in faults) == sorted(KINDS)
    assert all(f.chamber >= 2 for f in faults)
    assert all(0 <= f.start_s <= f.end_s <= 24 * 3600.0 for f in faults)
    assert len({f.chamber for f in faults}) == len(faults)
    assert default_schedule(50, 24 * 3600.0, seed=1) == faults  # deterministic


def test_schedule_from_json_and_csv(tmp_path: Path) -> None:
    j = tmp_path / "f.json"
    j.write_text(json.dumps([{"kind": "clogged", "chamber": 3, "start_h": 1, "end_h": 2.5}]))
    assert read_schedule(j) == [Fault("clogged", 3, 3600.0, 9000.0)]
    c = tmp_path / "f.csv"
    c.write_text("kind,chamber,start_h,end_h,skew_ms\nclock_skew,1,0.5,1,90000\n")
    assert read_schedule(c) == [Fault("clock_skew", 1, 1800.0, 3600.0, 90000)]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.csv",
            "kind,chamber,start_h,end_h\nclogged,1,1,2\nmelted,2,1,2\n",
            r"bad.csv:3: .*melted",
        ),
        ("bad2.csv", "kind,chamber,end_h\nclogged,1,2\n", r"bad2.csv:2: missing field 'start_h'"),
        ("bad.json", '[{"kind": "reboot", "chamber": 1, "start_h": 1}, 7]', r"bad.json: item 1"),
        ("bad2.json", "[{", r"bad2.json:1: not JSON"),
        ("bad3.csv", "kind,chamber,start_h,end_h\nclogged,1,3,2\n", r"bad3.csv:2: .*before"),
    ],
)
def test_bad_schedule_files_name_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(FaultFileError, match=message):
        read_schedule(p)


def test_resolve_refuses_faults_on_absent_chambers(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    p.write_text("kind,chamber,start_h,end_h\nclogged,9,1,2\n")
    with pytest.raises(FaultFileError, match="chamber 9"):
        resolve_schedule(str(p), 4, 7200.0, 0)
    assert resolve_schedule("none", 4, 7200.0, 0) == []


def test_fault_state_switches_on_and_off_and_queues_reboots() -> None:
    st = FaultState(
        [
            Fault("servo_stuck_open", 1, 100.0, 200.0),
            Fault("clock_skew", 2, 50.0, 150.0, 90_000),
            Fault("reboot", 0, 120.0, 120.0),
        ],
        3,
    )
    assert not st.advance(10.0)
    assert st.advance(60.0)
    assert st.skew_ms.tolist() == [0, 0, 90_000]
    st.advance(130.0)
    assert st.active["servo_stuck_open"].tolist() == [False, True, False]
    assert st.due_reboots == [0]
    st.advance(250.0)
    assert not st.active["servo_stuck_open"].any()
    assert st.skew_ms.tolist() == [0, 0, 0]


def test_fault_signatures_in_soilflux_flags() -> None:
    """The real firmware in the simulated greenhouse (in-process, 5 chambers, a 2-h night),
    computed by soilflux: a lid stuck closed is ``not_flushed`` (and ``stuck_chamber``) from
    its second closure on, before it saturates; a lid stuck open and a clogged pot are
    ``stuck_chamber`` without ``not_flushed`` (at night neither changes CO2 or humidity, so the
    records cannot tell them apart); fault-free closures carry none of these flags."""
    import datetime as dt

    from fluxfleet.sim.collect import Gather
    from fluxfleet.sim.compare import compare
    from fluxfleet.sim.fleet import Fleet, FleetConfig

    h = 3600.0
    start = dt.datetime(2023, 9, 15, 21, tzinfo=dt.UTC).timestamp()
    faults = [
        Fault("servo_stuck_closed", 1, 0.5 * h + 200, 2 * h),  # from inside a closure
        Fault("servo_stuck_open", 2, 0.5 * h, 2 * h),
        Fault("clogged", 3, 0.5 * h, 2 * h),
    ]
    gather = Gather()
    fleet = Fleet(
        FleetConfig(chambers=5, start_s=start, duration_s=2 * h, seed=4), faults, None, gather
    )
    fleet.run()
    table = compare(gather.samples(), gather.cycles(), fleet.truth.closures()).table
    table = table[table["complete"]].sort_values(["chamber", "start"])
    flags = table["flags"].fillna("").str.split(",")

    def has(name: str) -> pd.Series:
        return flags.apply(lambda f: name in f)

    def after_first(kind: str) -> pd.Series:
        """The fault's closures after the one it began in (that one is a transition)."""
        hit = table["faults"] == kind
        assert hit.sum() >= 8
        return hit & (table["start"] > table.loc[hit, "start"].min())

    closed = after_first("servo_stuck_closed")
    assert has("not_flushed")[closed].all()
    assert has("stuck_chamber")[closed].all()
    assert not has("clogged")[table["faults"] == "servo_stuck_closed"].any()
    for kind in ("servo_stuck_open", "clogged"):
        assert has("stuck_chamber")[after_first(kind)].all()
        assert not has("not_flushed")[table["faults"] == kind].any()
    clean = table["faults"] == ""
    assert clean.sum() >= 20
    for name in ("stuck_chamber", "not_flushed", "clogged"):
        assert not has(name)[clean].any()
