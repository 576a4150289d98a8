"""Fault schedules: the default, files (JSON/CSV) with clear errors, and the live state."""

from __future__ import annotations

import json
from pathlib import Path

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
