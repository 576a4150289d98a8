"""Each alarm rule on small hand-made tables (the store's schema, as pandas frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fluxfleet.firmware import protocol
from fluxfleet.ops import alarm_rules as rules
from fluxfleet.ops.alarm_rules import AlarmConfig
from hypothesis import example, given
from hypothesis import strategies as st

T0 = pd.Timestamp("2023-09-15T20:00:00Z")
CFG = AlarmConfig()


def samples(
    device: str = "d1",
    n: int = 200,
    *,
    start: pd.Timestamp = T0,
    every_s: float = 3.0,
    seq0: int = 1,
    boot: int = 1,
    co2: float = 430.0,
    pressure: float = 990.0,
    rh: float = 70.0,
    lux: float = 0.0,
    flags: int = 0,
    phase: str = "open",
) -> pd.DataFrame:
    """``n`` samples of one device every ``every_s`` seconds (store column names)."""
    return pd.DataFrame(
        {
            "device": device,
            "seq": np.arange(seq0, seq0 + n, dtype=np.int64),
            "time": start + pd.to_timedelta(np.arange(n) * every_s, unit="s"),
            "boot": boot,
            "phase": phase,
            "co2_ppm": co2,
            "pressure_hpa": pressure,
            "rh_percent": rh,
            "lux": lux,
            "flags": flags,
        }
    )


def one(frame: pd.DataFrame, device: str = "d1") -> dict[str, object]:
    rows = frame[frame["device"] == device].to_dict("records")
    assert len(rows) == 1, frame
    return rows[0]


# --------------------------------------------------------------------------- offline


def test_offline_by_sample_age_and_by_last_will() -> None:
    devices = pd.DataFrame({"device": ["a", "b", "c"], "state": ["online", "offline", "online"]})
    last = pd.DataFrame(
        {"device": ["a", "b", "c"], "time": [T0 - pd.Timedelta(s) for s in ("60s", "10s", "301s")]}
    )
    out = rules.device_offline(devices, last, T0, CFG)
    assert set(out["kind"]) == {"device_offline"}
    assert not one(out, "a")["active"]
    assert one(out, "a")["value"] == pytest.approx(60.0)
    assert one(out, "b")["active"]
    assert "last will" in str(one(out, "b")["detail"])
    assert one(out, "c")["active"]
    assert one(out, "c")["value"] == pytest.approx(301.0)


def test_offline_device_known_only_from_status() -> None:
    devices = pd.DataFrame({"device": ["z"], "state": ["offline"]})
    out = rules.device_offline(devices, pd.DataFrame({"device": [], "time": []}), T0, CFG)
    assert one(out, "z")["active"]


# --------------------------------------------------------------------------- closures


def fluxes(device: str, flags: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": device,
            "cyc": np.arange(len(flags)),
            "start": [T0 + pd.Timedelta(minutes=10 * i) for i in range(len(flags))],
            "flags": flags,
        }
    )


def test_stuck_needs_the_latest_closures_flagged() -> None:
    f = pd.concat(
        [
            fluxes("stuck", ["", "daylight", "stuck_chamber", "not_flushed,stuck_chamber"]),
            fluxes("ok", ["stuck_chamber", "stuck_chamber", ""]),
            fluxes("clean", ["", "daylight"]),
        ]
    )
    out = rules.stuck_chamber(f, CFG)
    assert one(out, "stuck")["active"]
    assert one(out, "stuck")["value"] == 2
    assert not one(out, "ok")["active"]  # the latest closure is clean: cleared
    assert not one(out, "clean")["active"]
    # a flag must be a whole name: "not_stuck_chamber" is not "stuck_chamber"
    assert not one(rules.stuck_chamber(fluxes("x", ["not_stuck_chamber"]), CFG), "x")["active"]


def test_flagged_closures_in_a_row_before_raising() -> None:
    cfg = AlarmConfig(flagged_closures=3)
    f = fluxes("d", ["", "stuck_chamber", "stuck_chamber"])
    assert rules.stuck_chamber(f, cfg).empty  # two of three: undecided, no row
    f = fluxes("d", ["stuck_chamber"] * 3)
    assert one(rules.stuck_chamber(f, cfg), "d")["active"]


def test_clogged_judges_night_closures_only() -> None:
    f = fluxes("c", ["clogged", "daylight,clogged", "daylight"])
    r = one(rules.clogged_pot(f, CFG), "c")  # the night closure decides
    assert r["active"]
    assert rules.clogged_pot(fluxes("d", ["daylight,clogged"]), CFG).empty


def test_clogged_from_the_clogged_flag_only() -> None:
    f = pd.concat([fluxes("c", ["", "clogged"]), fluxes("s", ["stuck_chamber"])])
    out = rules.clogged_pot(f, CFG)
    assert one(out, "c")["active"]
    assert one(out, "c")["kind"] == "clogged_pot"
    assert not one(out, "s")["active"]


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("column", "value", "active"),
    [
        ("co2", 349.0, True),
        ("co2", 350.0, False),
        ("co2", 10_000.0, False),
        ("co2", 10_001.0, True),
        ("pressure", 899.9, True),
        ("pressure", 900.0, False),
        ("pressure", 1100.0, False),
        ("pressure", 1100.5, True),
        ("rh", 98.9, False),
        ("rh", 99.0, True),
    ],
)
def test_implausible_ranges(column: str, value: float, active: bool) -> None:
    out = rules.implausible_value(samples(**{column: value}), CFG)
    assert one(out)["active"] is active


def test_implausible_judges_the_newest_window_by_fraction() -> None:
    # 100 bad samples, then 100 good ones (300 s): the window holds only good ones
    s = pd.concat(
        [samples(n=100, co2=20_000.0), samples(n=100, start=T0 + pd.Timedelta("300s"), seq0=101)]
    )
    assert not one(rules.implausible_value(s, CFG))["active"]
    # missing readings are not implausible values
    assert not one(rules.implausible_value(samples(co2=np.nan), CFG))["active"]
    # 40 % bad is below bad_fraction
    s = samples(n=100)
    s.loc[s.index[-40:], "co2_ppm"] = 100.0
    r = one(rules.implausible_value(s, CFG))
    assert not r["active"]
    assert r["value"] == pytest.approx(0.4)


def test_low_co2_in_a_closed_chamber_by_day_is_plausible() -> None:
    """Photosynthesis draws a closed chamber's air below 350 ppm by day (a healthy
    simulated chamber at midday); the same reading in the open, or at night, is not."""
    for phase in ("closed", "flush"):
        day = samples(co2=330.0, lux=39_000.0, phase=phase)
        assert not one(rules.implausible_value(day, CFG))["active"]
    assert one(rules.implausible_value(samples(co2=330.0, lux=39_000.0), CFG))["active"]
    assert one(rules.implausible_value(samples(co2=330.0, phase="closed"), CFG))["active"]
    high = samples(co2=20_000.0, lux=39_000.0, phase="closed")
    assert one(rules.implausible_value(high, CFG))["active"]


@pytest.mark.parametrize(
    "flag",
    [
        protocol.FL_CO2_MISSING,
        protocol.FL_BARO_MISSING,
        protocol.FL_LIGHT_MISSING,
        protocol.FL_CO2_MISSING | protocol.FL_I2C_ERROR,
    ],
)
def test_sensor_error_flags(flag: int) -> None:
    out = rules.sensor_error(samples(flags=flag), CFG)
    assert one(out)["active"]
    assert one(out)["value"] == 1.0


def test_not_synced_is_no_sensor_error() -> None:
    assert not one(rules.sensor_error(samples(flags=protocol.FL_NOT_SYNCED), CFG))["active"]


# --------------------------------------------------------------------------- clock


def stepped(step_s: float, at: int, back_at: int | None = None, n: int = 300) -> pd.DataFrame:
    s = samples(n=n)
    s.loc[s.index[at:], "time"] += pd.Timedelta(seconds=step_s)
    if back_at is not None:
        s.loc[s.index[back_at:], "time"] -= pd.Timedelta(seconds=step_s)
    return s


def test_clock_step_raises_and_the_step_back_clears() -> None:
    assert one(rules.clock_skew(stepped(90.0, 150), CFG))["value"] == pytest.approx(90.0)
    assert one(rules.clock_skew(stepped(90.0, 150), CFG))["active"]
    assert not one(rules.clock_skew(stepped(90.0, 150, back_at=250), CFG))["active"]
    assert not one(rules.clock_skew(stepped(4.9, 150), CFG))["active"]
    assert one(rules.clock_skew(stepped(-6.0, 150), CFG))["active"]


def test_clock_skew_ignores_the_first_sync_but_carries_across_reboots() -> None:
    # the first NTP sync steps the clock by its RTC error: not counted
    s = stepped(30.0, 150)
    s.loc[s.index[:150], "flags"] = protocol.FL_NOT_SYNCED
    assert not one(rules.clock_skew(s, CFG))["active"]
    # a clock still 90 s off after a reboot is still off (the pause, 12 s, is not a step)
    old = stepped(90.0, 150)
    new = samples(n=150, boot=2, seq0=301, start=old["time"].iloc[-1] + pd.Timedelta("12s"))
    assert one(rules.clock_skew(pd.concat([old, new]), CFG))["value"] == pytest.approx(90.0)
    # and set right by NTP in the new boot, it clears
    new.loc[new.index[120:], "time"] -= pd.Timedelta("90s")
    assert not one(rules.clock_skew(pd.concat([old, new]), CFG))["active"]
    # never synced: not judged
    assert rules.clock_skew(samples(flags=protocol.FL_NOT_SYNCED), CFG).empty


def test_the_reboot_pause_at_a_boot_start_is_not_a_step() -> None:
    """The first messages of a boot carry the old boot's last samples, then the pause of
    the reboot (9 s with seq + 1): within boot_settle_samples of the new boot, not judged."""
    old = samples(n=100)
    new = samples(n=150, boot=2, seq0=101, start=old["time"].iloc[-1] + pd.Timedelta("12s"))
    new.loc[new.index[:20], "time"] -= pd.Timedelta("9s")  # the old boot's, sent after it
    s = pd.concat([old, new])
    assert one(rules.clock_skew(s, CFG))["value"] == 0.0
    assert one(rules.clock_skew(s, AlarmConfig(boot_settle_samples=0)))["active"]


def test_clock_step_across_lost_samples_is_not_a_step() -> None:
    s = samples(n=300).drop(index=range(150, 160))  # 10 samples lost (30 s), seq says so
    assert one(rules.clock_skew(s, CFG))["value"] == pytest.approx(0.0)


@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=20),
    st.integers(1, 10),
)
def test_clock_steps_sum_to_the_net_offset(steps: list[float], gap: int) -> None:
    """Σ steps = (t_last − t_first) − (seq_last − seq_first) · sample_ms, whatever the steps."""
    n = len(steps) + 1
    seq = np.arange(n) * gap
    t = seq * 3000.0 + np.concatenate([[0.0], np.cumsum(np.asarray(steps) * 1000.0)])
    out = rules.clock_steps_s(t, seq, 3000.0)
    assert out.sum() == pytest.approx(sum(steps), abs=1e-6)
    np.testing.assert_allclose(out, steps, atol=1e-6)


@given(st.integers(1, 598), st.integers(1, 598))
@example(1, 301)
def test_clock_skew_is_the_same_read_in_pieces(cut1: int, cut2: int) -> None:
    """Evaluated over a table at once or over its pieces (overlapping, as the evaluator's
    windows are), the net step is the same: +90 s, a reboot, -90 s."""
    old = stepped(90.0, 150)
    new = samples(n=300, boot=2, seq0=301, start=old["time"].iloc[-1] + pd.Timedelta("12s"))
    new.loc[new.index[:20], "time"] -= pd.Timedelta("9s")
    new.loc[new.index[200:], "time"] -= pd.Timedelta("90s")
    s = pd.concat([old, new], ignore_index=True)
    whole = rules.clock_skew_update({}, s, CFG)[0]
    a, b = sorted((cut1, cut2))
    tracks, _ = rules.clock_skew_update({}, s.iloc[:a], CFG)
    tracks, _ = rules.clock_skew_update(tracks, s.iloc[max(0, a - 50) : b], CFG)
    tracks, end = rules.clock_skew_update(tracks, s.iloc[b:], CFG)
    assert tracks["d1"].skew_s == pytest.approx(whole["d1"].skew_s)
    assert whole["d1"].skew_s == pytest.approx(0.0)
    assert one(end)["active"] is False


def test_clock_skew_carries_a_step_out_of_the_window() -> None:
    """A step judged once stays counted when its samples leave the window."""
    s = stepped(90.0, 150)
    tracks, _ = rules.clock_skew_update({}, s, CFG)
    later = samples(n=100, seq0=301, start=s["time"].iloc[-1] + pd.Timedelta("3s"))
    tracks, out = rules.clock_skew_update(tracks, later, CFG)
    assert one(out)["value"] == pytest.approx(90.0)


def test_clock_steps_refuse_a_bad_interval() -> None:
    with pytest.raises(ValueError, match="sample_ms"):
        rules.clock_steps_s(np.zeros(3), np.arange(3), 0.0)


# --------------------------------------------------------------------------- reboots


def booted(boots: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": "d1",
            "boot": [b for b, _ in boots],
            "first": [pd.Timestamp(t) for _, t in boots],
        }
    )


def test_reboot_storm_counts_unplanned_boots_in_the_window() -> None:
    now = pd.Timestamp("2023-09-15T12:00:00Z")
    b = booted([(1, "2023-09-15T06:00Z"), (2, "2023-09-15T11:30Z"), (3, "2023-09-15T11:50Z")])
    # boot 2 planned (hard), boot 3 a crash (power_on)
    causes = {("d1", 2): "hard", ("d1", 3): "power_on"}
    r = one(rules.reboot_storm(b, causes, now, CFG))
    assert r["active"]
    assert r["value"] == 1
    assert not one(rules.reboot_storm(b, causes, now, AlarmConfig(max_unplanned_boots=1)))["active"]
    # an hour later it is history
    later = now + pd.Timedelta("61min")
    assert not one(rules.reboot_storm(b, causes, later, CFG))["active"]
    # a cause never reported counts as unplanned; the first boot seen is the baseline
    r = one(rules.reboot_storm(b, {}, now, AlarmConfig(max_unplanned_boots=1)))
    assert r["active"]
    assert r["value"] == 2
    assert not one(rules.reboot_storm(booted([(7, "2023-09-15T11:59Z")]), {}, now, CFG))["active"]


def test_boots_from_samples() -> None:
    s = pd.concat([samples(n=10), samples(n=10, boot=2, seq0=20, start=T0 + pd.Timedelta("1h"))])
    b = rules.boots(s)
    assert b["boot"].tolist() == [1, 2]
    assert b["first"].tolist() == [T0, T0 + pd.Timedelta("1h")]


# --------------------------------------------------------------------------- calibration


def test_calibration_drift_from_the_fleet_median_at_night() -> None:
    fleet = [samples(device=f"d{i}", co2=430.0 + i) for i in range(5)]
    fleet.append(samples(device="off", co2=560.0))
    fleet.append(samples(device="day", co2=900.0, lux=5000.0))  # daylight: not judged
    fleet.append(samples(device="closed", co2=900.0, phase="closed"))  # not ambient
    out = rules.calibration_drift(pd.concat(fleet), CFG)
    assert one(out, "off")["active"]
    assert one(out, "off")["value"] == pytest.approx(560 - 432.5)
    assert not one(out, "d0")["active"]
    assert set(out["device"]) == {"d0", "d1", "d2", "d3", "d4", "off"}


def test_calibration_drift_needs_enough_devices() -> None:
    two = pd.concat([samples(device="a"), samples(device="b", co2=900.0)])
    assert rules.calibration_drift(two, CFG).empty


# --------------------------------------------------------------------------- completeness


def test_completeness_of_the_last_hour() -> None:
    now = T0 + pd.Timedelta("2h")
    full = samples(n=2 * 1200 + 100)  # 2 h of samples every 3 s, and a bit
    r = one(rules.incomplete_data(full, now, CFG))
    assert not r["active"]
    assert r["value"] == pytest.approx(1.0, abs=0.01)
    gap = full[
        (full["time"] < now - pd.Timedelta("40min")) | (full["time"] > now - pd.Timedelta("30min"))
    ]
    r = one(rules.incomplete_data(gap, now, CFG))  # 10 of 60 minutes missing: 83 %
    assert r["active"]
    assert r["value"] == pytest.approx(50 / 60, abs=0.01)
    # a device whose data stopped 30 min ago (offline) is judged on what it delivered
    stopped = full[full["time"] < now - pd.Timedelta("30min")]
    assert not one(rules.incomplete_data(stopped, now, CFG))["active"]
    # a device that joined 20 min ago is not judged
    assert rules.incomplete_data(full[full["time"] > now - pd.Timedelta("20min")], now, CFG).empty


@given(st.integers(0, 1300))
def test_completeness_is_the_fraction_of_expected_samples(n: int) -> None:
    now = T0 + pd.Timedelta("2h")
    lag = pd.Timedelta(seconds=CFG.completeness_lag_s)
    early = samples(n=1, start=now - pd.Timedelta("3h"))
    hour = samples(n=n, start=now - lag - pd.Timedelta("1h"), every_s=3600 / max(n, 1), seq0=2)
    newest = samples(n=1, start=now, seq0=5000)
    r = one(rules.incomplete_data(pd.concat([early, hour, newest]), now, CFG))
    assert r["value"] == pytest.approx(n / 1200)
    assert r["active"] is (n / 1200 < 0.9)
