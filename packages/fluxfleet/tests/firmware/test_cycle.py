"""Cycle timing of the controller, including the dynamic extension (fake clock, no sleeps)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from fluxfleet.firmware import protocol
from fluxfleet.firmware.controller import DEFAULT_SCHEDULE, stagger_ms
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import Rig

PERIOD = DEFAULT_SCHEDULE["period_ms"]
MOVE = 1500  # DEFAULT_CONFIG["servo_move_ms"]


def closing_ticks(rig: Any) -> list[int]:
    """Ticks at which the servo was sent to 0 deg from the open position (cycle starts)."""
    out = []
    prev = None
    for t, deg in rig.hal.servo.moves:
        if deg == 0 and prev == 90:
            out.append(t)
        prev = deg
    return out


def runs(samples: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(k, len(list(g))) for k, g in itertools.groupby(s["ph"] for s in samples)]


def test_cycles_are_aligned_to_the_wall_clock_and_last_the_default_times(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)  # rises 9 ppm in 3 min
    rig.run_until(3 * PERIOD + 10_000)
    starts = closing_ticks(rig)
    assert len(starts) == 3
    for t in starts:  # every closure starts on a 10-min boundary of the wall clock
        assert (rig.clock._wall0 + (t - rig.clock._t0)) % PERIOD == 0
    assert [b - a for a, b in itertools.pairwise(starts)] == [PERIOD, PERIOD]

    cycles = [p.decoded() for p in rig.link.of_kind("cycle")]
    assert len(cycles) == 3
    for c in cycles:
        assert c["closed_ms"] == DEFAULT_SCHEDULE["closed_ms"]
        assert c["ext_ms"] == 0
        assert c["n"] == 60  # 180 s at 3 s
        assert c["slope_ppm_s"] == pytest.approx(0.05, rel=1e-6)
        assert c["t_close"] % PERIOD == 0

    # servo: to 0 at the start, after servo_move_ms the lid is closed; at the end of the
    # closure twice through the full 270 deg, then to the open position
    t0 = starts[0]
    moves = [(t - t0, d) for t, d in rig.hal.servo.moves if t0 <= t < t0 + PERIOD]
    t_open = MOVE + DEFAULT_SCHEDULE["closed_ms"]
    assert moves == [
        (0, 0),
        (t_open, 270),
        (t_open + MOVE, 0),
        (t_open + 2 * MOVE, 270),
        (t_open + 3 * MOVE, 0),
        (t_open + 4 * MOVE, 90),
    ]


def test_fan_pulses_500_ms_while_closed_and_flushes_at_full_speed(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)
    rig.run_until(2 * PERIOD)
    t0 = closing_ticks(rig)[0]
    closed_from = t0 + MOVE
    closed_to = closed_from + DEFAULT_SCHEDULE["closed_ms"]
    duties = [(t, d) for t, d in rig.hal.fan.duties if t0 <= t < t0 + PERIOD]
    assert duties[0] == (t0, 0)  # fan off while the lid closes
    pulses = [(t, d) for t, d in duties if closed_from < t < closed_to]
    ons = [t for t, d in pulses if d == 100]
    offs = [t for t, d in pulses if d == 0]
    assert len(ons) == DEFAULT_SCHEDULE["closed_ms"] // DEFAULT_SCHEDULE["pulse_every_ms"] - 1
    assert all(b - a == DEFAULT_SCHEDULE["pulse_every_ms"] for a, b in itertools.pairwise(ons))
    assert [off - on for on, off in zip(ons, offs, strict=False)] == [500] * len(offs)
    # opening: full speed from the first servo move to the end of the flush, then open duty
    after = [(t - closed_to, d) for t, d in duties if t >= closed_to]
    flush_end = 5 * MOVE + DEFAULT_SCHEDULE["flush_ms"]
    assert (0, 100) in after
    assert (flush_end, DEFAULT_SCHEDULE["open_fan_pct"]) in after
    assert all(d == 100 for t, d in after if 0 <= t < flush_end)


def _closure_samples(rig: Any) -> list[dict[str, Any]]:
    return [s for s in rig.link.samples() if s["ph"] in ("closed", "extended")]


def test_closure_is_extended_until_the_co2_change_reaches_5_ppm(rig_factory):
    # +0.02 ppm/s: after 180 s only 3.6 ppm; 5 ppm are reached 250 s after the first sample
    rig = rig_factory(curve=lambda t: 420.0 + 0.02 * (t % PERIOD) / 1000)
    rig.run_until(PERIOD * 2)
    (c,) = [p.decoded() for p in rig.link.of_kind("cycle")][:1]
    closure = [s for s in _closure_samples(rig) if s["cyc"] == c["cyc"]]
    first = closure[0]
    # the first sample that is >= 5 ppm above the first closed sample ends the extension
    crossing = next(s for s in closure if s["co2_ppm"] - first["co2_ppm"] >= 5 - 1e-9)
    assert crossing is closure[-1]
    assert crossing["ts"] - first["ts"] == 252_000  # first 3-s grid point >= 250 s
    assert c["ext_ms"] > 0
    assert c["closed_ms"] == DEFAULT_SCHEDULE["closed_ms"] + c["ext_ms"]
    assert c["closed_ms"] < DEFAULT_SCHEDULE["closed_ms"] + DEFAULT_SCHEDULE["extend_ms"]
    assert [k for k, _ in runs(closure)] == ["closed", "extended"]


def test_flat_co2_keeps_the_lid_closed_for_the_full_two_extra_minutes(rig_factory):
    rig = rig_factory(curve=lambda t: 431.0)  # clogged pot: no change at all
    rig.run_until(PERIOD * 2)
    c = rig.link.of_kind("cycle")[0].decoded()
    assert c["ext_ms"] == DEFAULT_SCHEDULE["extend_ms"]
    assert c["closed_ms"] == DEFAULT_SCHEDULE["closed_ms"] + DEFAULT_SCHEDULE["extend_ms"]
    assert c["slope_ppm_s"] == 0.0
    # the next closure still starts on its 10-min boundary
    starts = closing_ticks(rig)
    assert starts[1] - starts[0] == PERIOD


def test_a_photosynthetic_fall_counts_as_change_and_is_not_extended(rig_factory):
    rig = rig_factory(curve=lambda t: 600.0 - 1.0 * (t % PERIOD) / 1000)  # -1 ppm/s (sunny)
    rig.run_until(PERIOD * 2)
    c = rig.link.of_kind("cycle")[0].decoded()
    assert c["ext_ms"] == 0
    assert c["slope_ppm_s"] == pytest.approx(-1.0, rel=1e-6)


def test_a_co2_dropout_does_not_extend_and_is_flagged(rig_factory):
    rig = rig_factory(curve=lambda t: None)  # sensor never ready
    rig.run_until(PERIOD * 2)
    c = rig.link.of_kind("cycle")[0].decoded()
    assert c["ext_ms"] == 0
    assert c["n"] == 0
    assert c["co2_start"] is None
    assert c["fl"] & protocol.FL_CO2_MISSING
    assert all(s["fl"] & protocol.FL_CO2_MISSING for s in rig.link.samples())


def test_samples_every_3_s_with_consecutive_seq_and_valid_payloads(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)
    rig.run_until(PERIOD)
    samples = rig.link.samples()
    assert [s["seq"] for s in samples] == list(range(1, len(samples) + 1))
    assert {b["ts"] - a["ts"] for a, b in itertools.pairwise(samples)} == {3000}
    assert len(samples) == PERIOD // 3000 + 1
    for p in rig.link.published:  # every message the controller sent passes validation
        p.decoded()


def test_first_ntp_sync_reports_the_skew_and_sets_the_clock(rig_factory):
    rig = rig_factory()
    rig.hal.ntp_offset_ms = None  # the NTP server does not answer at first
    rig.run_until(30_000)
    assert rig.link.of_kind("meta")[-1].decoded()["skew_ms"] is None
    rig.hal.ntp_offset_ms = 1234  # device clock 1.234 s behind; retried after a minute
    rig.run_until(90_000)
    metas = [p.decoded() for p in rig.link.of_kind("meta")]
    assert metas[-1]["skew_ms"] == 1234
    assert metas[-1]["ntp"] is True
    assert all(p.retain for p in rig.link.of_kind("meta"))
    samples = rig.link.samples()
    synced = [not s["fl"] & protocol.FL_NOT_SYNCED for s in samples]
    assert synced == sorted(synced)  # flagged until the sync, clean after it
    assert synced[0] is False
    assert synced[-1] is True
    t_sync = next(s["ts"] for s in samples if not s["fl"] & protocol.FL_NOT_SYNCED)
    before = [s for s in samples if s["fl"] & protocol.FL_NOT_SYNCED]
    assert t_sync - before[-1]["ts"] == 3000 + 1234  # the clock jumped by the skew


def test_ntp_runs_before_commands_so_expiry_uses_the_right_clock(rig_factory):
    rig = rig_factory()
    rig.hal.ntp_offset_ms = 3_600_000  # the device clock is an hour behind
    true_now = rig.clock.time_ms() + 3_600_000
    rig.link.send_cmd("c01", cmd_id="late", cmd="servo_test", expires=true_now - 1000)
    rig.run_until(5_000)
    assert rig.link.acks() == [("late", "expired")]  # judged by NTP time, not the stale clock


def test_hard_reboot_after_6_h_staggered_by_device_and_only_when_open(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)
    rig.run_until(7 * 3600 * 1000)
    assert len(rig.hal.reboots) == 1
    due = 6 * 3600 * 1000 + stagger_ms("c01", 30 * 60 * 1000)
    t = rig.hal.reboots[0]
    assert due <= t < due + PERIOD
    last = rig.link.samples()[-1]
    assert last["ph"] == "open"
    statuses = [p.decoded()["state"] for p in rig.link.of_kind("status")]
    assert statuses[-1] == "rebooting"
    assert rig.ctl.step() is None  # this controller instance is finished
    assert stagger_ms("c01", 1800000) != stagger_ms("c02", 1800000)


def test_firmware_confirms_itself_after_first_cycle_and_publish(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)
    rig.run_until(PERIOD // 2 - 1000)
    assert rig.hal.confirms == []  # published, but no full cycle yet
    rig.run_until(2 * PERIOD)
    assert len(rig.hal.confirms) == 1


def test_glitched_readings_become_null_and_flagged_so_the_message_stays_valid(rig_factory):
    values = iter([float("nan"), -3.0, 120_000.0, 450.0])
    rig = rig_factory(curve=lambda t: next(values, 450.0))
    rig.hal.baro.read = lambda: (0.0, 21.5)  # type: ignore[method-assign]  # a dead pressure chip
    rig.run_until(12_000)
    samples = rig.link.samples()  # decoded = validated by the protocol
    assert [s["co2_ppm"] for s in samples[:5]] == [None, None, None, 450.0, 450.0]
    assert all(s["fl"] & protocol.FL_CO2_MISSING for s in samples[:3])
    assert not samples[3]["fl"] & protocol.FL_CO2_MISSING
    assert all(s["p_hpa"] is None and s["fl"] & protocol.FL_BARO_MISSING for s in samples)


def test_a_silent_co2_sensor_raises_a_retained_alert_and_clears_it(rig_factory):
    rig = rig_factory()
    rig.run_until(10_000)
    rig.hal.co2.fail = True  # I2C errors from the SCD30
    rig.run_until(10_000 + 3000 * 12)
    statuses = [(p.decoded()["state"], p.retain) for p in rig.link.of_kind("status")]
    assert statuses[-1] == ("alert", True)
    assert "no CO2 reading" in rig.link.of_kind("status")[-1].decoded()["detail"]
    rig.hal.co2.fail = False
    rig.run_until(10_000 + 3000 * 14)
    statuses = [p.decoded()["state"] for p in rig.link.of_kind("status")]
    assert statuses == ["online", "alert", "online"]


def test_pressure_compensation_is_sent_only_within_the_scd30_range(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)
    rig.hal.baro.read = lambda: (645.0, 21.0)  # type: ignore[method-assign]  # 3600 m a.s.l.
    rig.run_until(2 * PERIOD)
    assert rig.hal.co2.pressures == []  # the SCD30 refuses < 700 mbar: not sent, no crash
    assert len(rig.link.of_kind("cycle")) == 2
    rig.hal.baro.read = lambda: (968.6, 21.0)  # type: ignore[method-assign]
    rig.run_until(3 * PERIOD)
    assert rig.hal.co2.pressures == [969]  # once per cycle, after the flush, when it changed


def test_a_driver_that_misbehaves_in_any_way_gives_a_missing_reading(rig_factory):
    rig = rig_factory()

    def bad_read() -> tuple[float, float, float]:
        raise ValueError("driver bug")

    rig.hal.co2.read = bad_read  # type: ignore[method-assign]
    rig.hal.light.read = lambda: "12 lx"  # type: ignore[assignment,method-assign,return-value]
    rig.run_until(10_000)
    samples = rig.link.samples()
    assert samples
    assert all(s["co2_ppm"] is None and s["fl"] & protocol.FL_CO2_MISSING for s in samples)
    assert all(s["lux"] is None and s["fl"] & protocol.FL_LIGHT_MISSING for s in samples)


# --- the extension decision: a least-squares line, not two single samples ------------------

CLOSED = DEFAULT_SCHEDULE["closed_ms"]
EXTEND = DEFAULT_SCHEDULE["extend_ms"]


def noisy(base: Callable[[int], float], sigma: float, seed: int) -> Callable[[int], float]:
    """``base(t)`` plus white noise of ``sigma`` ppm, one fixed draw per tick (seeded)."""
    rng = random.Random(seed)
    drawn: dict[int, float] = {}

    def curve(t: int) -> float:
        if t not in drawn:
            drawn[t] = rng.gauss(0.0, sigma)
        return base(t) + drawn[t]

    return curve


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_noisy_flat_signal_takes_the_full_extension(rig_factory, seed):
    # a clogged pot read by the SCD30 (3 ppm noise): two single samples differ by >= 5 ppm
    # in ~24 % of draws; the fitted line's change over 3 min has an SE of ~1.3 ppm
    rig = rig_factory(curve=noisy(lambda t: 431.0, 3.0, seed))
    rig.run_until(8 * PERIOD + 10_000)  # the 8th closure opens at 8 periods + 1.5 s
    cycles = [p.decoded() for p in rig.link.of_kind("cycle")]
    assert len(cycles) == 8
    assert [c["ext_ms"] for c in cycles] == [EXTEND] * 8
    assert all(c["closed_ms"] == CLOSED + EXTEND for c in cycles)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_clear_10_ppm_rise_with_noise_is_not_extended(rig_factory, seed):
    # 10 ppm in the 3 closed minutes (0.056 ppm/s, a weak night flux) under 3 ppm noise:
    # two single samples fall below 5 ppm apart in ~12 % of closures (all 24 pass with
    # p ~ 0.5 %), the fitted line in ~0.01 %
    rise = noisy(lambda t: 431.0 + 10.0 * (t % PERIOD) / CLOSED, 3.0, seed)
    rig = rig_factory(curve=rise)
    rig.run_until(24 * PERIOD)
    cycles = [p.decoded() for p in rig.link.of_kind("cycle")]
    assert len(cycles) == 24
    assert [c["ext_ms"] for c in cycles] == [0] * 24
    assert all(c["closed_ms"] == CLOSED for c in cycles)


def _first_cycle(values: list[float]) -> dict[str, Any]:
    """Run one closure whose i-th CO2 reading is ``values[i]`` (the last value repeats)."""
    it = iter(values)
    last = [values[-1]]

    def curve(t: int) -> float:
        last[0] = next(it, last[0])
        return last[0]

    rig = Rig(curve=curve)
    rig.run_until(PERIOD + 60_000)  # closes at +300 s, opens by +600 s at the latest
    c: dict[str, Any] = rig.link.of_kind("cycle")[0].decoded()
    return c


# CO2 readings on a 1/256-ppm grid (float32 values the SCD30 can report): adding an offset
# on the same grid is exact in binary floating point, so "invariant" can mean "identical"
grid = st.integers(min_value=-4 * 256, max_value=4 * 256)


@settings(max_examples=40, deadline=None)
@given(
    slope_mppm_s=st.integers(min_value=-60, max_value=60),  # milli-ppm/s: 0 to ±10.8 ppm/3 min
    noise=st.lists(grid, min_size=1, max_size=220),
    offset=st.integers(min_value=-400 * 256, max_value=5000 * 256),
)
def test_the_extension_decision_is_invariant_to_a_constant_offset(slope_mppm_s, noise, offset):
    # ~200 readings before the closure ends; the closure itself starts at reading ~100
    base = [
        round((431.0 + slope_mppm_s / 1000.0 * 3.0 * i) * 256 + noise[i % len(noise)]) / 256
        for i in range(260)
    ]
    shifted = [v + offset / 256 for v in base]
    a, b = _first_cycle(base), _first_cycle(shifted)
    assert (a["ext_ms"], a["closed_ms"], a["n"]) == (b["ext_ms"], b["closed_ms"], b["n"])
    assert b["co2_start"] - a["co2_start"] == offset / 256
