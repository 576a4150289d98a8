"""Fleet commands without a fleet: payloads, the server's refusals, the audit trail in
each store backend, and the command line's bad usage (exit 2 naming the option)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from fluxfleet.cli import app
from fluxfleet.firmware import protocol
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.ops import commands as ops
from fluxfleet.sim.broker import free_port
from fluxfleet.store import Store, open_store
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

NOW_MS = 1_765_000_000_000


def _ack(dev: str, cmd_id: str, state: str, ts: int, detail: str | None = None) -> bytes:
    d = {"v": 1, "ts": ts, "dev": dev, "boot": 1, "seq": 5, "cmd_id": cmd_id, "state": state}
    if detail:
        d["detail"] = detail
    return protocol.encode("ack", d)


def test_build_uses_the_protocol_and_checks_times() -> None:
    c = ops.build("frc", {"ppm": 420}, None, "ana", NOW_MS, NOW_MS + 600_000, NOW_MS + 60_000,
                  ["ch002", "ch001", "ch002"])  # fmt: skip
    d = protocol.decode("cmd", c.payload)
    assert d["cmd_id"] == c.cmd_id
    assert d["expires"] == NOW_MS + 600_000
    assert d["exec_at"] == NOW_MS + 60_000
    assert d["args"] == {"ppm": 420}
    assert c.devices == ("ch001", "ch002")
    assert c.topics() == ["fluxfleet/v1/all/cmd"]
    one = ops.build("reboot", None, ["ch003"], "ana", NOW_MS, NOW_MS + 1000)
    assert one.topics() == ["fluxfleet/v1/ch003/cmd"]
    assert "args" not in json.loads(one.payload)
    assert one.cmd_id != ops.build("reboot", None, ["ch003"], "ana", NOW_MS, NOW_MS + 1000).cmd_id
    for kwargs, option in [
        ({"expires_ms": NOW_MS}, "--expires"),
        ({"exec_at_ms": NOW_MS - 1}, "--at"),
        ({"exec_at_ms": NOW_MS + 700_000}, "--at"),  # after the expiry
    ]:
        args = {"expires_ms": NOW_MS + 600_000, "exec_at_ms": None} | kwargs
        with pytest.raises(ops.CommandError) as e:
            ops.build("frc", None, ["ch001"], "ana", NOW_MS, **args)  # type: ignore[arg-type]
        assert e.value.option == option
    with pytest.raises(ops.CommandError, match="--ppm"):
        ops.build("frc", {"ppm": 5000}, ["ch001"], "ana", NOW_MS, NOW_MS + 1000)
    with pytest.raises(ops.CommandError, match="DEV"):
        ops.build("frc", None, ["Ch 1"], "ana", NOW_MS, NOW_MS + 1000)
    with pytest.raises(ops.CommandError, match="--operator"):
        ops.build("frc", None, ["ch001"], "", NOW_MS, NOW_MS + 1000)


@given(
    key=st.sampled_from(sorted(protocol.SCHEDULE_LIMITS)),
    value=st.integers(-(10**7), 10**7),
)
@example(key="period_ms", value=59_999)
@example(key="open_fan_pct", value=101)
def test_schedule_values_outside_the_protocol_limits_are_refused_by_key(
    key: str, value: int
) -> None:
    lo, hi = protocol.SCHEDULE_LIMITS[key]
    if lo <= value <= hi:
        assert ops.schedule_args([f"{key}={value}"]) == {key: value}
    else:
        with pytest.raises(ops.CommandError) as e:
            ops.schedule_args([f"{key}={value}"])
        assert e.value.option == key


def test_schedule_args_refuse_bad_pairs() -> None:
    for pairs, option in [
        (["period_ms"], "KEY=VALUE"),
        (["speed=3"], "speed"),
        (["sample_ms=fast"], "sample_ms"),
        ([], "KEY=VALUE"),
        (["period_ms=60000", "closed_ms=60000"], "period_ms"),  # does not fit the period
    ]:
        with pytest.raises(ops.CommandError) as e:
            ops.schedule_args(pairs)
        assert e.value.option == option


@given(n=st.integers(1, 10**6), unit=st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_durations(n: int, unit: str) -> None:
    factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]
    assert ops.parse_duration_ms(f"{n}{unit}", "--wait") == n * factor


def test_expires_takes_a_duration_or_a_future_time() -> None:
    assert ops.parse_expires_ms("10m", NOW_MS) == NOW_MS + 600_000
    later = dt.datetime.fromtimestamp(NOW_MS / 1000 + 3600, dt.UTC).isoformat()
    assert ops.parse_expires_ms(later, NOW_MS) == NOW_MS + 3_600_000
    for bad in ["0s", "-5m", "soon", "2000-01-01T00:00:00Z"]:
        with pytest.raises(ops.CommandError, match="--expires"):
            ops.parse_expires_ms(bad, NOW_MS)


def test_the_audit_trail_is_stored_once(store: Store) -> None:
    c = ops.build("frc", {"ppm": 420}, None, "ana", NOW_MS, NOW_MS + 600_000, None,
                  ["ch001", "ch002", "ch003", "ch004"])  # fmt: skip
    ops.record(store, c)
    ops.record(store, c)  # recorded twice: still one command
    msgs = [
        ("ch001", "accepted", 1), ("ch001", "done", 2), ("ch001", "done", 3),  # duplicate
        ("ch002", "accepted", 1), ("ch002", "failed", 2), ("ch003", "accepted", 1),
        ("ch009", "accepted", 1),  # answered without being a target
        ("ch003", "accepted", 9),  # QoS 1 redelivery
    ]  # fmt: skip
    for i in range(2):  # the whole batch delivered twice
        b = BatchBuilder({})
        for dev, state, k in msgs:
            b.add(protocol.topic(dev, "ack"), _ack(dev, c.cmd_id, state, NOW_MS + k * 1000,
                                                   f"try {i}"), NOW_MS)  # fmt: skip
        b.add(protocol.topic("ch001", "ack"), _ack("ch001", "other", "done", NOW_MS), NOW_MS)
        result = store.write(b.build())
        assert result.command_acks == (7 if i == 0 else 0)
    assert store.counts()["commands"] == 1
    assert store.counts()["command_targets"] == 4
    acks = store.read("command_acks").to_pylist()
    assert len(acks) == 7
    mine = [a for a in acks if a["cmd_id"] == c.cmd_id]
    assert len(mine) == 6
    assert {a["detail"] for a in mine} == {"try 0"}  # the first one received is kept
    s = ops.command_status(store, c.cmd_id)
    assert s is not None
    assert s["operator"] == "ana"
    assert s["target"] == "all"
    assert s["args"] == {"ppm": 420}
    assert s["summary"] == {
        "done": ["ch001"],
        "failed": ["ch002"],
        "expired": [],
        "accepted": ["ch003", "ch009"],
        "no_answer": ["ch004"],
    }
    assert [a["state"] for a in s["devices"]["ch001"]] == ["accepted", "done"]
    assert s["devices"]["ch004"] == []
    assert ops.command_status(store, "nope") is None


def test_migration_0003_is_applied(store: Store) -> None:
    assert 3 in store.migrations()
    assert store.read("command_targets").schema.names == ["cmd_id", "device"]
    assert isinstance(store.read("commands"), pa.Table)


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["frc"], "DEV"),
        (["frc", "--all", "ch001"], "--all"),
        (["frc", "--ppm", "100", "ch001"], "--ppm"),
        (["frc", "--expires", "5x", "ch001"], "--expires"),
        (["frc", "--expires", "2000-01-01T00:00Z", "ch001"], "--expires"),
        (["frc", "--at", "tomorrow", "ch001"], "--at"),
        (["frc", "--at", "2999-01-01T00:00Z", "ch001"], "--at"),  # after the expiry
        (["frc", "--wait", "forever", "ch001"], "--wait"),
        (["reboot", "CH-1"], "DEV"),
        (["reboot", "all"], "DEV"),
        (["servo-test", "--sweeps", "11", "ch001"], "--sweeps"),
        (["set-location", "ch001", "nowhere"], "LOCATION"),
        (["set-schedule", "ch001", "period_ms=10"], "period_ms"),
        (["set-schedule", "ch001", "pulse_ms=9000"], "pulse_ms"),
        (["set-schedule", "ch001", "warp=9"], "warp"),
        (["set-schedule", "ch001", "sample_ms"], "KEY=VALUE"),
    ],
)
def test_bad_usage_exits_2_naming_the_option(args: list[str], names: str, tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/s.duckdb"
    r = CliRunner().invoke(app, ["cmd", *args, "--store", store, "--broker", "mqtt://127.0.0.1:9"])
    assert r.exit_code == 2, r.output
    assert names in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "s.duckdb").exists()  # refused before the store is touched


def test_unreachable_broker_exits_1_and_records_nothing(tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/s.duckdb"
    port = free_port()
    r = CliRunner().invoke(
        app, ["cmd", "reboot", "ch001", "--store", store, "--broker", f"mqtt://127.0.0.1:{port}"]
    )
    assert r.exit_code == 1, r.output
    assert "cannot reach the broker" in r.output
    with open_store(store) as st:
        assert st.counts()["commands"] == 0


def test_status_of_an_unknown_command_exits_1(tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/s.duckdb"
    r = CliRunner().invoke(app, ["cmd", "status", "frc-x", "--store", store])
    assert r.exit_code == 1
    assert "no command 'frc-x'" in r.output
