"""The data clock (fluxfleet.ops.alarm_clock): watermarks, instants, and what the store
knew at an instant, on small hand-made tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from fluxfleet.ops import alarm_clock as clock
from hypothesis import given
from hypothesis import strategies as st

T0 = pd.Timestamp("2023-09-15T20:00:00Z")


def s(x: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=x)


def samples(device: str, t_s: list[float], received_s: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": device,
            "seq": np.arange(1, len(t_s) + 1),
            "time": [s(x) for x in t_s],
            "received": [s(x) for x in received_s],
        }
    )


# --------------------------------------------------------------------------- watermarks


def test_ingest_watermark_waits_for_the_slowest_reporting_device() -> None:
    newest = pd.Series({"a": s(600), "b": s(540), "c": s(630)})
    assert clock.ingest_watermark(newest, 300.0, 30.0) == s(510)


def test_ingest_watermark_does_not_wait_for_an_offline_device() -> None:
    """A device silent for longer than offline_after_s behind the median is offline:
    its alarm is what the instants are for."""
    newest = pd.Series({"a": s(3600), "b": s(3590), "c": s(600)})
    assert clock.ingest_watermark(newest, 300.0, 0.0) == s(3590)
    assert clock.ingest_watermark(pd.Series(dtype=object), 300.0, 0.0) is None


def closures(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
    """(device, cyc, time_open [s], received [s])."""
    return pd.DataFrame(
        {
            "device": [r[0] for r in rows],
            "cyc": [r[1] for r in rows],
            "time_open": [s(r[2]) for r in rows],
            "received": [s(r[3]) for r in rows],
        }
    )


def fluxes(keys: list[tuple[str, int]]) -> pd.DataFrame:
    return pd.DataFrame({"device": [k[0] for k in keys], "cyc": [k[1] for k in keys]})


def test_flux_watermark_stops_before_an_uncomputed_closure() -> None:
    c = closures([("a", 1, 600, 601), ("b", 1, 610, 611), ("a", 2, 1200, 1201)])
    assert clock.flux_watermark(c, fluxes([("a", 1)])) == s(610) - pd.Timedelta("1ms")
    assert clock.flux_watermark(c, fluxes([("a", 1), ("b", 1), ("a", 2)])) is None


def test_a_closure_received_before_a_computed_one_is_settled() -> None:
    """The flux worker computes in the order closures were committed: b's closure, with no
    flux (soilflux found none), had its turn once a later one's flux is stored."""
    c = closures([("a", 1, 600, 601), ("b", 1, 610, 611), ("a", 2, 1200, 1201)])
    assert clock.flux_watermark(c, fluxes([("a", 2)])) is None
    # judged among the pending ones only, settled by one read before
    pending = c.iloc[1:2]
    assert clock.flux_watermark(pending, fluxes([("a", 2)]), c) is None
    assert clock.flux_watermark(pending, fluxes([("a", 1)]), c) == s(610) - pd.Timedelta("1ms")


# --------------------------------------------------------------------------- instants


def test_instants_are_multiples_of_the_step_after_the_last() -> None:
    got = clock.instants(s(60), s(250), 60.0)
    assert got == [s(120), s(180), s(240)]
    assert clock.instants(s(240), s(250), 60.0) == []
    assert clock.instants(None, s(250), 60.0) == [s(240)]  # a fresh evaluator: the newest
    with pytest.raises(ValueError, match="step_s"):
        clock.instants(None, s(250), 0.0)


@given(
    a=st.floats(0, 86_400, allow_nan=False),
    span=st.floats(0, 86_400, allow_nan=False),
    step=st.sampled_from([1.0, 30.0, 60.0, 600.0]),
)
def test_instants_in_pieces_are_the_instants_at_once(a: float, span: float, step: float) -> None:
    """However the watermark advances, every instant is judged once, in order."""
    first, mid, end = s(0), s(a), s(a + span)
    whole = clock.instants(first, end, step)
    pieces = clock.instants(first, mid, step)
    after = pieces[-1] if pieces else first
    pieces += clock.instants(after, end, step)
    assert pieces == whole
    assert all(x < y for x, y in itertools.pairwise(whole))


# --------------------------------------------------------------------------- knowledge


def test_a_backlog_is_not_known_at_the_instants_it_missed() -> None:
    """b is cut off from 300 s to 1200 s; its backlog arrives at 1205 s. At 900 s the
    store knew nothing of b after 300 s, whenever the instant is evaluated."""
    grid = list(np.arange(0.0, 1500.0, 3.0))
    a = samples("a", grid, [x + 1 for x in grid])
    c = samples("c", grid, [x + 1 for x in grid])
    b_recv = [x + 1 if x < 300 or x >= 1200 else 1205.0 for x in grid]
    b = samples("b", grid, b_recv)
    frame = pd.concat([a, b, c], ignore_index=True)
    known = clock.Knowledge(frame)
    at900 = frame[known.mask(s(900), 3600.0)]
    newest = at900.groupby("device")["time"].max()
    assert newest["a"] == newest["c"] == s(900)
    assert newest["b"] == s(297)
    at1500 = frame[known.mask(s(1497), 3600.0)]  # after the backlog: all of b
    assert (at1500["device"] == "b").sum() == len(grid)
    # the window: nothing older than the lookback, nothing after the instant
    w = frame[known.mask(s(900), 300.0)]
    assert w["time"].min() > s(600)
    assert w["time"].max() == s(900)


def test_knowledge_without_receipts_after_the_instant_is_the_time_window() -> None:
    frame = samples("a", [0.0, 3.0, 6.0], [1.0, 4.0, 7.0])
    known = clock.Knowledge(frame)
    assert known.mask(s(10), 3600.0).tolist() == [True, True, True]  # no sample after 10 s
    assert known.mask(s(3), 3600.0).tolist() == [True, True, False]
    assert clock.Knowledge(frame.iloc[0:0]).mask(s(3), 60.0).tolist() == []


def test_fluxes_at_are_those_of_closures_ended_by_then() -> None:
    c = closures([("a", 1, 600, 601), ("a", 2, 1200, 1201)])
    f = fluxes([("a", 1), ("a", 2)])
    assert clock.fluxes_at(f, c, s(900))["cyc"].tolist() == [1]
    assert clock.fluxes_at(f, c, s(1200))["cyc"].tolist() == [1, 2]
    assert clock.fluxes_at(f, c, s(599)).empty


def test_a_last_will_counts_from_its_own_time() -> None:
    d = pd.DataFrame(
        {"device": ["a", "b"], "state": ["offline", "offline"], "state_time": [s(600), None]}
    )
    assert clock.devices_at(d, s(900))["state"].eq("offline").tolist() == [True, False]
    assert clock.devices_at(d, s(300))["state"].eq("offline").tolist() == [False, False]


def test_a_last_will_counts_only_once_received_by_the_fleets_data() -> None:
    """The will's own time is its device's connection (set then: 600 s); the broker sends
    it when the link dies, received at 5000 s (``last_seen``). An instant judged late, at
    which the fleet's data had reached only 3000 s (receipt), must not see it."""
    d = pd.DataFrame(
        {"device": ["a"], "state": ["offline"], "state_time": [s(600)], "last_seen": [s(5000)]}
    )
    assert clock.devices_at(d, s(3000), s(3001).value)["state"].isna().all()
    assert clock.devices_at(d, s(5100), s(5101).value)["state"].eq("offline").all()
    assert clock.devices_at(d, s(3000))["state"].eq("offline").all()  # no receipt: as before


def test_a_flux_without_its_closure_never_counts_as_ended() -> None:
    c = closures([("a", 1, 600, 601)])
    f = fluxes([("a", 1), ("b", 7)])
    ends = clock.closure_ends(f, c)
    assert ends[0] == s(600).value
    assert ends[1] == np.iinfo(np.int64).max
    assert clock.fluxes_at(f, c.iloc[0:0], s(10**6)).empty


def test_newest_window_per_device_is_the_rules_newest_window() -> None:
    """Knowledge.newest keeps what alarm_rules.newest_window keeps, for the known rows."""
    from fluxfleet.ops.alarm_rules import newest_window

    grid = list(np.arange(0.0, 1200.0, 3.0))
    a = samples("a", grid, [x + 1 for x in grid])
    b = samples("b", grid[:100], [x + 1 for x in grid[:100]])  # stops at 297 s
    known = clock.Knowledge(pd.concat([b, a], ignore_index=True))
    mask = known.mask(s(900), 3600.0)
    got = known.samples[known.newest(mask, 300.0)]
    want = newest_window(known.samples[mask], 300.0)
    assert got.equals(want)
    assert got.groupby("device")["time"].min().to_dict() == {"a": s(603), "b": s(0)}


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--step", "0s", "--clock", "data"], "--step"),
        (["--idle-exit", "30s"], "--idle-exit"),  # the wall clock never idles
        (["--from", "2023-09-15T20:00:00Z"], "--from"),  # a start is a data time
        (["--clock", "data", "--from", "yesterday"], "--from"),
    ],
)
def test_watch_refuses_bad_data_clock_options(tmp_path: object, args: list[str], hint: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    fluxfleet = str(Path(sys.executable).parent / "fluxfleet")
    store = f"duckdb:///{tmp_path}/fleet.duckdb"
    done = subprocess.run(
        [fluxfleet, "alarms", "watch", "--store", store, *args], capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert hint in done.stderr
    assert "Traceback" not in done.stderr


def test_a_device_replaying_its_backlog_is_delivering_a_silent_one_is_not() -> None:
    """b is cut off from 300 s to 1200 s, then replays its backlog slower than real time
    (received from 1200 s on, 0.6 s of receipt per 1 s of data); d falls silent at 300 s.
    At 1500 s
    b's newest known sample is old in data time, but b was heard from within the last
    300 s of the fleet's receipts: on the air. d was not."""
    grid = list(np.arange(0.0, 1800.0, 3.0))
    a = samples("a", grid, [x + 1 for x in grid])
    b = samples("b", grid, [x + 1 if x < 300 else 1200.0 + 0.6 * (x - 300) for x in grid])
    c = samples("c", grid, [x + 1 for x in grid])
    d = samples("d", grid[:100], [x + 1 for x in grid[:100]])
    known = clock.Knowledge(pd.concat([a, b, c, d], ignore_index=True))
    mask = known.mask(s(1500), 3600.0)
    newest = known.samples[mask].groupby("device")["time"].max()
    assert newest["b"] < s(1500 - 300)  # stale in data time...
    assert known.delivering(mask, s(1500), 300.0) == {"a", "b", "c"}  # ...but on the air
    during = known.mask(s(900), 3600.0)  # inside b's outage: nothing from b yet
    assert known.delivering(during, s(900), 300.0) == {"a", "c"}
