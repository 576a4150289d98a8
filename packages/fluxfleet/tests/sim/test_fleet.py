"""Virtual devices running the real firmware controller, in-process (no broker).

One 4-hour night run of 8 chambers with one fault of each kind at known times; the
assertions check what the devices published (decoded with the firmware's protocol), the
ground truth, and the quality flags soilflux raises on each fault's closures.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fluxfleet.firmware import protocol, ring
from fluxfleet.sim.collect import Gather
from fluxfleet.sim.compare import Comparison, compare
from fluxfleet.sim.faults import Fault
from fluxfleet.sim.fleet import Fleet, FleetConfig
from fluxfleet.sim.truth import read_truth, write_truth

H = 3600.0
START = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC).timestamp()
# Closures start on the 10-min marks of the device clock and last 3-5 min.
FAULTS = [
    Fault("clock_skew", 1, 1 * H + 60, 2 * H + 30, 90_000),  # jumps mid-closure
    Fault("servo_stuck_open", 2, 0.5 * H, 2 * H),
    Fault("servo_stuck_closed", 3, 0.5 * H, 2 * H),
    Fault("clogged", 4, 0.5 * H, 2.5 * H),
    Fault("sensor_dropout", 5, 1 * H, 1.3 * H),
    Fault("i2c_error", 6, 1 * H, 1.3 * H),
    Fault("wifi_outage", 7, 1 * H, 2 * H),
    Fault("reboot", 0, 1.5 * H + 90, 1.5 * H + 90),  # mid-closure
]


class Run:
    def __init__(self) -> None:
        self.gather = Gather()
        cfg = FleetConfig(chambers=8, start_s=START, duration_s=4 * H, seed=2)
        self.fleet = Fleet(cfg, FAULTS, None, self.gather)
        self.fleet.run()
        self.samples = self.gather.samples()
        self.cycles = self.gather.cycles()
        self.truth = self.fleet.truth.closures()
        self.cmp: Comparison = compare(self.samples, self.cycles, self.truth)


@pytest.fixture(scope="module")
def run() -> Run:
    return Run()


def _chamber(df: pd.DataFrame, i: int) -> pd.DataFrame:
    return df[df["chamber"] == f"ch{i:03d}"]


def test_every_sample_is_published_once_and_decodes(run: Run) -> None:
    assert run.gather.rejected == 0
    for i in range(1, 8):
        seq = _chamber(run.samples, i)["seq"].to_numpy()
        assert seq[0] == 1
        np.testing.assert_array_equal(np.diff(seq), 1)  # no gap, no repeat
    # ch000's unplanned reset: the samples still in RAM (< ring.COMMIT_EVERY) are lost and
    # their seqs are never given again - one gap, never a repeat
    seq = _chamber(run.samples, 0)["seq"].to_numpy()
    d = np.diff(seq)
    assert seq[0] == 1
    assert (d >= 1).all()
    assert (d > 1).sum() <= 1
    assert d.max() <= ring.COMMIT_EVERY
    # 4 h × 1,200 samples per hour, less the reboot's few seconds on ch000
    assert len(_chamber(run.samples, 1)) == 4800
    assert 4790 <= len(_chamber(run.samples, 0)) < 4800
    # taken but lost: only what ch000 still had in RAM (not on flash, not PUBACKed) at its
    # unplanned reset - at most ring.COMMIT_EVERY - 1 samples (ring.py: the price of
    # committing 4 samples per flash erase)
    assert 0 <= run.fleet.samples - len(run.samples) < ring.COMMIT_EVERY


def test_cycle_timing_and_truth(run: Run) -> None:
    clean = _chamber(run.cycles, 1)
    clean = clean[clean["t_close"] < (START + 1 * H) * 1000]  # before its clock skew
    assert (np.diff(clean["t_close"]) // 1000 == 600).all()  # every 10 min
    assert clean["closed_ms"].between(180_000, 303_000).all()
    t = run.truth
    assert len(t) == 8 * 24  # 24 closures per chamber in 4 h (the last cut by the end)
    assert (~t["complete"]).sum() == 8 + 1  # the end of the run, and the reboot
    assert t["night"].all()
    ok = t[(t["faults"] == "") & t["complete"]]
    assert ok["flux_true_umol_m2_s"].between(0.3, 7.5).all()


def test_wifi_outage_loses_nothing_and_raises_no_flag(run: Run) -> None:
    c = _chamber(run.cmp.table, 7)
    hit = c[c["faults"] == "wifi_outage"]
    assert len(hit) == 6
    assert (hit["flags"] == "").all()


def test_stuck_open_lid_flags_stuck_chamber(run: Run) -> None:
    c = _chamber(run.cmp.table, 2)
    hit = c[c["faults"] == "servo_stuck_open"]
    assert len(hit) >= 8
    assert hit["flags"].str.contains("stuck_chamber").all()
    assert not hit["valid"].any()
    # the firmware saw no 5-ppm rise: it extended some of these closures
    cyc = _chamber(run.cycles, 2).set_index("cyc").loc[hit["cyc"]]
    assert (cyc["ext_ms"] > 0).any()


def test_stuck_closed_lid_keeps_co2_high_and_is_flagged_once_saturated(run: Run) -> None:
    s = _chamber(run.samples, 3)
    t_ms = s["ts"].to_numpy()
    open_rows = s["ph"].isin(["open"]).to_numpy()
    during = (t_ms > (START + 1.0 * H) * 1000) & (t_ms < (START + 2 * H) * 1000)
    before = t_ms < (START + 0.5 * H) * 1000
    # no flush reaches the pot: the open-phase CO2 stays far above its ambient level
    assert s["co2_ppm"][open_rows & during].min() > s["co2_ppm"][open_rows & before].max() + 100
    c = _chamber(run.cmp.table, 3)
    late = c[
        (c["faults"] == "servo_stuck_closed")
        & (c["start"] > pd.Timestamp(START + H, unit="s", tz="UTC"))
    ]
    assert len(late) >= 5
    assert late["flags"].str.contains("stuck_chamber").mean() >= 0.5


def test_clogged_pot_is_dropped_as_stuck_or_clogged(run: Run) -> None:
    c = _chamber(run.cmp.table, 4)
    hit = c[c["faults"] == "clogged"]
    assert len(hit) >= 10
    assert hit["flags"].str.contains("stuck_chamber|clogged").all()
    assert not hit["valid"].any()
    assert (hit["flux_true_umol_m2_s"] < 0.1).all()
    assert (hit["soil_pco2_ppm"] > 20_000).all()


@pytest.mark.parametrize(("chamber", "kind"), [(5, "sensor_dropout"), (6, "i2c_error")])
def test_sensor_faults_leave_missing_values_and_fail_the_fit(
    run: Run, chamber: int, kind: str
) -> None:
    s = _chamber(run.samples, chamber)
    bit = protocol.FL_I2C_ERROR if kind == "i2c_error" else protocol.FL_CO2_MISSING
    t = s["ts"].to_numpy()
    during = (t >= (START + H) * 1000) & (t < (START + 1.3 * H) * 1000)
    assert ((s["fl"].to_numpy()[during] & bit) != 0).all()
    assert s["co2_ppm"][during].isna().all()
    c = _chamber(run.cmp.table, chamber)
    hit = c[c["faults"] == kind]
    assert len(hit) >= 1
    assert hit["flags"].str.contains("missing_values").all()
    assert not hit["valid"].any()


def test_clock_skew_jumps_the_timestamps_and_is_flagged_inside_a_closure(run: Run) -> None:
    steps = np.diff(_chamber(run.samples, 1)["ts"].to_numpy())
    assert (steps == 93_000).sum() == 1  # the clock jumps 90 s ahead
    assert ((steps < -80_000) & (steps > -90_000)).sum() == 1  # and NTP pulls it back
    c = _chamber(run.cmp.table, 1)
    hit = c[c["faults"] == "clock_skew"]
    assert hit["flags"].str.contains("clock_jump|gap").sum() >= 1


def test_unplanned_reboot(run: Run) -> None:
    assert run.gather.meta["ch000"]["boot"] == 2
    assert run.gather.meta["ch000"]["reset"] == "power_on"
    t = _chamber(run.truth, 0)
    cut = t[~t["complete"] & (t["faults"] == "reboot")]
    assert len(cut) == 1


def test_truth_parquet_round_trip(run: Run, tmp_path: Path) -> None:
    path, faults_path = write_truth(tmp_path / "truth.parquet", run.truth, run.fleet.truth.faults())
    closures, faults = read_truth(path)
    assert len(closures) == len(run.truth)
    assert set(faults["kind"]) == {f.kind for f in FAULTS}
    assert pd.read_parquet(faults_path).shape[0] == len(FAULTS)
    assert closures["start"].dt.tz is not None
    assert json.loads(faults.to_json(date_format="iso"))  # plain data


def test_scheduled_reboot_after_six_hours_and_frc_command() -> None:
    gather = Gather()
    fleet = Fleet(
        FleetConfig(chambers=1, start_s=START, duration_s=6.6 * H, seed=9), [], None, gather
    )
    fleet.start()
    before = fleet.sensors.co2_offset_ppm[0]
    # after 1 h, the fleet command: forced recalibration to 420 ppm (lid open after a flush)
    while fleet.now_ms < (START + H) * 1000:
        fleet.step()
    cmd = protocol.make_cmd("frc-1", "frc", int((START + 2 * H) * 1000), {"ppm": 420})
    fleet.devices[0].link.deliver("fluxfleet/v1/all/cmd", protocol.encode("cmd", cmd))
    fleet.run()
    acks = pd.DataFrame(gather.acks)
    assert acks[acks["cmd_id"] == "frc-1"]["state"].tolist() == ["accepted", "done"]
    assert fleet.sensors.calibrated[0]
    assert fleet.sensors.co2_offset_ppm[0] != before
    # the firmware's own 6-h reboot (staggered) happened once
    assert gather.meta["ch000"]["boot"] == 2
    assert gather.meta["ch000"]["reset"] == "hard"


def test_daytime_closures_show_photosynthesis_and_are_flagged_daylight() -> None:
    """Late-summer midday: photosynthesis lowers the net flux; soilflux flags ``daylight``."""
    gather = Gather()
    start = dt.datetime(2023, 8, 15, 10, tzinfo=dt.UTC).timestamp()
    fleet = Fleet(
        FleetConfig(chambers=4, start_s=start, duration_s=1.5 * H, seed=12), [], None, gather
    )
    fleet.run()
    truth = fleet.truth.closures()
    assert not truth["night"].any()
    assert (truth["gpp_umol_m2_s"] > 1.0).all()
    cmp = compare(gather.samples(), gather.cycles(), truth)
    done = cmp.table[cmp.table["complete"]]
    assert done["flags"].str.contains("daylight").all()
    assert not done["valid"].any()
    # the plants take up CO2 in the closed chamber: soilflux sees less than the soil efflux
    assert (done["flux_umol_m2_s"] < done["flux_true_umol_m2_s"]).mean() > 0.8


def test_retained_command_is_refused_by_the_firmware() -> None:
    gather = Gather()
    fleet = Fleet(
        FleetConfig(chambers=1, start_s=START, duration_s=0.2 * H, seed=3), [], None, gather
    )
    fleet.start()
    for _ in range(20):
        fleet.step()
    cmd = protocol.make_cmd("rb-1", "reboot", int((START + H) * 1000))
    fleet.devices[0].link.deliver("fluxfleet/v1/ch000/cmd", protocol.encode("cmd", cmd), True)
    fleet.run()
    acks = pd.DataFrame(gather.acks)
    assert acks[acks["cmd_id"] == "rb-1"]["state"].tolist() == ["failed"]
    assert gather.meta["ch000"]["boot"] == 1  # not rebooted
