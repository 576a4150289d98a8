"""The debounce / raise / repeat / clear state machine (fluxfleet.ops.alarm_state)."""

from __future__ import annotations

import pandas as pd
import pytest
from fluxfleet.ops.alarm_state import Hold, Track, advance, step
from hypothesis import example, given
from hypothesis import strategies as st

H = Hold(raise_after_s=60.0, clear_after_s=120.0)


def run(observations: list[tuple[float, bool]], hold: Hold = H) -> list[tuple[float, str]]:
    """The actions of one (device, kind) fed ``(time, active)`` observations."""
    track, out = Track(), []
    for t, active in observations:
        track, action = step(track, active, t, hold)
        if action is not None:
            out.append((t, action))
    return out


def test_raise_after_the_hold_then_repeat_then_clear_after_the_hold() -> None:
    obs = [(0, True), (30, True), (60, True), (90, True), (100, False), (200, False), (220, False)]
    assert run(obs) == [(60, "raise"), (90, "repeat"), (220, "clear")]


def test_a_flicker_shorter_than_the_hold_raises_nothing() -> None:
    assert run([(0, True), (30, True), (40, False), (50, True), (100, True)]) == []
    # the hold restarts at 50: 50 + 60 = 110
    assert run([(0, True), (40, False), (50, True), (110, True)]) == [(110, "raise")]


def test_a_short_recovery_does_not_clear() -> None:
    obs = [(0, True), (60, True), (70, False), (150, True), (160, False), (300, False)]
    assert run(obs) == [(60, "raise"), (150, "repeat"), (300, "clear")]


def test_zero_hold_follows_the_condition() -> None:
    obs = [(0, False), (1, True), (2, True), (3, False), (4, True)]
    assert run(obs, Hold()) == [(1, "raise"), (2, "repeat"), (3, "clear"), (4, "raise")]


def test_hold_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="raise_after_s"):
        Hold(raise_after_s=-1.0)
    with pytest.raises(ValueError, match="clear_after_s"):
        Hold(clear_after_s=float("nan"))


def conditions(rows: list[tuple[str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "active": [r[2] for r in rows],
            "value": 1.0,
            "detail": "d",
        }
    )


def test_advance_keeps_devices_and_kinds_apart_and_unjudged_tracks_unchanged() -> None:
    holds = {"device_offline": Hold(), "sensor_error": Hold()}
    tracks, ev = advance({}, conditions([("a", "device_offline", True),
                                         ("b", "device_offline", False),
                                         ("a", "sensor_error", True)]), 100.0, holds)  # fmt: skip
    assert [(e.action, e.device, e.kind) for e in ev] == [
        ("raise", "a", "device_offline"),
        ("raise", "a", "sensor_error"),
    ]
    # nothing judged: nothing changes, no event (an open alarm stays open)
    again, ev = advance(tracks, conditions([]), 200.0, holds)
    assert again == tracks
    assert ev == []
    _, ev = advance(tracks, conditions([("a", "sensor_error", False)]), 300.0, holds)
    assert [(e.action, e.device, e.kind, e.time_s) for e in ev] == [
        ("clear", "a", "sensor_error", 300.0)
    ]


observations = st.lists(st.tuples(st.floats(0, 1000), st.booleans()), max_size=40).map(
    lambda xs: sorted(xs, key=lambda x: x[0])
)
holds = st.builds(Hold, st.floats(0, 300), st.floats(0, 300))


@given(observations, holds)
def test_raise_and_clear_alternate(obs: list[tuple[float, bool]], hold: Hold) -> None:
    """One open alarm at a time: raise, (repeat…), clear, raise, … never two raises."""
    open_ = False
    for _, action in run(obs, hold):
        if action == "raise":
            assert not open_
            open_ = True
        elif action == "repeat":
            assert open_
        else:
            assert action == "clear"
            assert open_
            open_ = False


@given(observations, holds)
@example([(0.0, False), (0.0, True), (1.0, True)], Hold(1.0, 0.0))
@example([(0.0, False), (0.0, True)], Hold(0.0, 0.0))
def test_raise_only_after_the_condition_held_for_the_hold(
    obs: list[tuple[float, bool]], hold: Hold
) -> None:
    """A raise comes only once the run of active observations ending there has lasted
    raise_after_s; a clear only on an inactive observation."""
    track = Track()
    run_start: float | None = None
    for t, active in obs:
        run_start = (t if run_start is None else run_start) if active else None
        track, action = step(track, active, t, hold)
        if action == "raise":
            assert run_start is not None
            assert t - run_start >= hold.raise_after_s
        if action == "clear":
            assert not active


@given(observations)
def test_without_holds_the_alarm_is_the_last_observation(obs: list[tuple[float, bool]]) -> None:
    track = Track()
    for t, active in obs:
        track, _ = step(track, active, t, Hold())
        assert track.open is active
