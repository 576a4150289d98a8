"""Alarms in the store (both backends): one open alarm per (device, kind), repeats,
clears, acks, the ``alarms`` table through the read API, and the evaluator on top."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fluxfleet.ops.alarm_runner import AlarmEvaluator
from fluxfleet.store import Store, open_store, schema
from fluxfleet.store.base import Batch

from .conftest import FLUXFLEET

T0 = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC)


def at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def test_one_open_alarm_per_device_and_kind(store: Store) -> None:
    a, new = store.raise_alarm("d1", "device_offline", "critical", at(0), 310.0, "no sample")
    assert new
    b, new = store.raise_alarm("d1", "device_offline", "critical", at(60), 370.0, "still none")
    assert (b, new) == (a, False)  # a repeat updates the open alarm
    c, new = store.raise_alarm("d1", "sensor_error", "major", at(60), 1.0, "CO2 missing")
    d, _ = store.raise_alarm("d2", "device_offline", "critical", at(60), 400.0, "")
    assert len({a, c, d}) == 3
    assert new
    assert store.clear_alarm("d1", "device_offline", at(120)) == a
    assert store.clear_alarm("d1", "device_offline", at(130)) is None  # nothing open
    e, new = store.raise_alarm("d1", "device_offline", "critical", at(200), 301.0, "again")
    assert new
    assert e != a

    rows = {r["id"]: r for r in store.read("alarms").to_pylist()}
    assert rows[a]["repeats"] == 2
    assert rows[a]["value"] == 370.0
    assert rows[a]["raised"] == at(0)
    assert rows[a]["last_seen"] == at(60)
    assert rows[a]["cleared"] == at(120)
    assert rows[a]["detail"] == "still none"
    assert rows[e]["cleared"] is None
    assert rows[e]["repeats"] == 1
    assert store.counts()["alarms"] == 4
    # the read API selects on raised
    assert {r["id"] for r in store.read("alarms", start=at(100)).to_pylist()} == {e}
    assert store.read("alarms").schema == schema.ALARMS


def test_times_in_microseconds_are_stored_to_the_millisecond(store: Store) -> None:
    """The wall clock has microseconds; the store keeps milliseconds (and reads back)."""
    t = dt.datetime(2026, 12, 7, 2, 0, 0, 123456, tzinfo=dt.UTC)
    a, _ = store.raise_alarm("d1", "device_offline", "critical", t, 1.0, "")
    store.clear_alarm("d1", "device_offline", t)
    store.ack_alarm(a, t, "ana")
    row = store.read("alarms").to_pylist()[0]
    want = t.replace(microsecond=123000)
    assert (row["raised"], row["cleared"], row["acked"]) == (want, want, want)


def test_ack_keeps_the_first(store: Store) -> None:
    a, _ = store.raise_alarm("d1", "clock_skew", "minor", at(0), 90.0, "")
    assert store.ack_alarm(a, at(10), "ana") == "acked"
    assert store.ack_alarm(a, at(20), "bob") == "already"
    assert store.ack_alarm(a + 1000, at(20), "bob") == "unknown"
    row = store.read("alarms").to_pylist()[0]
    assert (row["acked"], row["acked_by"], row["cleared"]) == (at(10), "ana", None)
    assert 4 in store.migrations()


def _samples(device: str, start: dt.datetime, n: int, flags: int = 0) -> pa.Table:
    t = pd.Timestamp(start) + pd.to_timedelta(np.arange(n) * 3, unit="s")
    frame = pd.DataFrame(
        {
            "device": device,
            "seq": np.arange(1, n + 1),
            "time": t,
            "location": "5.1.A",
            "boot": 1,
            "cyc": 0,
            "phase": "open",
            "co2_ppm": 430.0,
            "rh_percent": 70.0,
            "scd30_temperature_c": 22.0,
            "temperature_c": 21.0,
            "pressure_hpa": 990.0,
            "lux": 0.0,
            "lid_deg": 90,
            "fan_pct": 0,
            "flags": flags,
            "received": t,
        }
    )
    return pa.Table.from_pandas(frame, preserve_index=False).cast(schema.SAMPLES)


def test_evaluator_raises_repeats_and_clears_in_the_store(store_url: str) -> None:
    """Two devices, one whose CO2 sensor stops: the evaluator (data clock, an instant every
    60 s of data time) raises sensor_error after its hold, repeats it, and clears it when
    the sensor is back, at the instants the data say, however the data arrive; a restarted
    evaluator goes on with the open alarm; ``alarms list``/``ack`` show it."""

    def changes(events: list[Any]) -> list[tuple[str, str, str, float]]:
        return [(e.action, e.device, e.kind, e.time_s - T0.timestamp())
                for e in events if e.action != "repeat"]  # fmt: skip

    with open_store(store_url) as st:
        st.write(
            Batch(samples=pa.concat_tables([_samples("ok", T0, 400), _samples("bad", T0, 400)]))
        )
        ev = AlarmEvaluator(st, clock="data", lookback_s=7200.0)
        assert ev.evaluate() == []  # all fine
        # a fresh evaluator judges the newest instant the data cover: 1197 s − 30 s settle
        assert ev.evaluated_to == pd.Timestamp(at(1140))
        # from seq 401 (1200 s) to 640 (1917 s): CO2 missing
        bad = _samples("bad", T0, 640, flags=1).slice(400)
        st.write(Batch(samples=pa.concat_tables([_samples("ok", T0, 640).slice(400), bad])))
        # the 300-s window is half bad from 1350 s (first instant 1380 s), held 60 s
        events = ev.evaluate()
        assert changes(events) == [("raise", "bad", "sensor_error", 1440.0)]
        assert [e.action for e in events if e.time_s > at(1440).timestamp()] == ["repeat"] * 7
        assert ev.evaluate() == []  # no new data, no new instant
        ev2 = AlarmEvaluator(st, clock="data", lookback_s=7200.0)  # a restart
        st.write(
            Batch(
                samples=pa.concat_tables([_samples(d, T0, 660).slice(640) for d in ("ok", "bad")])
            )
        )
        # "bad" is good again from seq 641: the window still holds its bad samples
        assert [e.action for e in ev2.evaluate()] == ["repeat"]
        st.write(
            Batch(
                samples=pa.concat_tables([_samples(d, T0, 900).slice(660) for d in ("ok", "bad")])
            )
        )
        # under half bad from 2067 s (instant 2100 s), clear held 120 s
        assert changes(ev2.evaluate()) == [("clear", "bad", "sensor_error", 2220.0)]
        st.write(
            Batch(
                samples=pa.concat_tables([_samples(d, T0, 960).slice(900) for d in ("ok", "bad")])
            )
        )
        assert changes(ev2.evaluate()) == []
        rows = st.read("alarms").to_pylist()
    assert len(rows) == 1
    assert rows[0]["repeats"] == 11  # the instants 1440 s to 2040 s
    assert (rows[0]["raised"], rows[0]["cleared"]) == (at(1440), at(2220))
    if store_url.startswith("duckdb"):
        return  # the CLI below opens the store from another process: PostgreSQL shows it
    out = subprocess.run([FLUXFLEET, "alarms", "list", "--json", "--store", store_url],
                         capture_output=True, text=True, check=True)  # fmt: skip
    listed = json.loads(out.stdout)
    assert [(r["device"], r["kind"]) for r in listed] == [("bad", "sensor_error")]
    assert listed[0]["cleared"].endswith("Z")
    ack = [FLUXFLEET, "alarms", "ack", str(listed[0]["id"]), "--by", "ana", "--store", store_url]
    assert subprocess.run(ack, capture_output=True, text=True).returncode == 0
    out = subprocess.run([FLUXFLEET, "alarms", "list", "--open", "--store", store_url],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout == ""
    assert "0 alarm(s)" in out.stderr


def test_sample_window_reads_incrementally_and_fully(store: Store) -> None:
    """Between full reads the window re-reads only the recent span: a backlog timed
    earlier (a device back from an outage) appears at the next full read."""
    import math

    from fluxfleet.ops.alarm_runner import SampleWindow

    store.write(Batch(samples=_samples("a", T0, 1200)))  # 1 h
    lazy = SampleWindow(store, lookback_s=7200.0, recent_s=600.0, full_every_s=math.inf)
    eager = SampleWindow(store, lookback_s=7200.0, recent_s=600.0, full_every_s=0.0)
    now = at(3600)
    assert len(lazy.update(now)) == len(eager.update(now)) == 1200
    late = _samples("b", T0, 1200)  # b's hour arrives late, all of it
    store.write(Batch(samples=late))
    assert (lazy.update(now)["device"] == "b").sum() == 200  # the recent 600 s only
    assert (eager.update(now)["device"] == "b").sum() == 1200
    got = lazy.update(at(3600))
    assert not got.duplicated(["device", "seq"]).any()
    assert lazy.full_reads == 1
    assert eager.full_reads == 2


def test_evaluator_from_a_start_judges_a_backlog_as_it_came(store_url: str) -> None:
    """``alarms watch --from``: an evaluator started after the data arrived, told to start at
    T0, judges every instant from T0 on and raises at the same data time as one that watched
    the data come in (1440 s, the test above); a fresh one without a start judges only the
    newest instant: one instant cannot pass the alarm's 60-s hold, so it raises nothing yet."""
    bad = _samples("bad", T0, 640, flags=1).slice(400)
    data = pa.concat_tables([_samples("ok", T0, 640), _samples("bad", T0, 400), bad])
    with open_store(store_url) as st:
        st.write(Batch(samples=data))
        fresh = AlarmEvaluator(st, clock="data", lookback_s=7200.0)
        raised = [e.time_s for e in fresh.evaluate() if e.action == "raise"]
        assert raised == []
        ev = AlarmEvaluator(st, clock="data", lookback_s=7200.0, start=pd.Timestamp(T0))
        events = ev.evaluate()
        assert [(e.action, e.device, e.time_s - T0.timestamp()) for e in events
                if e.action == "raise"] == [("raise", "bad", 1440.0)]  # fmt: skip
        assert ev.evaluations >= 1
    with pytest.raises(ValueError, match="data clock"):
        AlarmEvaluator(None, clock="wall", start=pd.Timestamp(T0))  # type: ignore[arg-type]
