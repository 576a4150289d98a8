"""Fleet commands over MQTT: each command, its acks, expiry, exec_at and de-duplication."""

from __future__ import annotations

import json
from typing import Any

from fluxfleet.firmware import protocol
from fluxfleet.firmware.controller import DEFAULT_SCHEDULE

PERIOD = DEFAULT_SCHEDULE["period_ms"]
MIN = 60_000
# Rig's wall clock starts mid-period: the first closure starts 300 s after boot, its
# flush ends at 300 + 1.5 + 180 + 7.5 + 60 = 549 s.
FIRST_OPEN_AFTER_FLUSH = 549_000


def rising(t: int) -> float:
    """+9 ppm per 3-min closure: no extension, so the timing above holds."""
    return 420.0 + 0.05 * (t % PERIOD) / 1000


def wall(rig: Any) -> int:
    return int(rig.clock.time_ms())


def send(rig: Any, cmd_id: str, cmd: str, *, expires_in: int = 30 * MIN, **kw: Any) -> None:
    rig.link.send_cmd(rig.ctl.dev, cmd_id=cmd_id, cmd=cmd, expires=wall(rig) + expires_in, **kw)


def states(rig: Any, cmd_id: str) -> list[str]:
    return [s for c, s in rig.link.acks() if c == cmd_id]


def details(rig: Any, cmd_id: str, state: str) -> list[str]:
    out = []
    for p in rig.link.of_kind("ack"):
        d = p.decoded()
        if d["cmd_id"] == cmd_id and d["state"] == state:
            out.append(str(d.get("detail", "")))
    assert out, f"no {state} ack for {cmd_id}"
    return out


def detail(rig: Any, cmd_id: str, state: str) -> str:
    return " | ".join(details(rig, cmd_id, state))


def test_frc_waits_for_the_lid_open_after_a_flush_then_blocks_reboots_for_a_minute(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(400_000)  # inside the first closure
    assert rig.ctl.phase == "closed"
    send(rig, "cal-1", "frc", args={"ppm": 420})
    rig.run_until(FIRST_OPEN_AFTER_FLUSH - 1)
    assert rig.hal.co2.frcs == []  # never while closed, opening or flushing
    assert states(rig, "cal-1") == ["accepted"]
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 10_000)
    ((t_frc, ppm),) = rig.hal.co2.frcs
    assert ppm == 420
    assert t_frc >= FIRST_OPEN_AFTER_FLUSH
    assert states(rig, "cal-1") == ["accepted", "done"]
    # a reboot right after the recalibration waits out the 60 s (the SCD30 keeps the value)
    send(rig, "boot-1", "reboot")
    rig.run_until(t_frc + 30_000)
    assert rig.hal.reboots == []
    assert states(rig, "boot-1") == ["accepted"]
    rig.run_until(t_frc + 2 * MIN)
    assert len(rig.hal.reboots) == 1
    assert rig.hal.reboots[0] >= t_frc + 60_000
    assert states(rig, "boot-1") == ["accepted", "done"]


def test_the_6_h_reboot_also_waits_after_an_frc(rig_factory):
    rig = rig_factory(curve=rising, reboot_every_ms=FIRST_OPEN_AFTER_FLUSH + 5_000)
    rig.ctl.reboot_due = FIRST_OPEN_AFTER_FLUSH + 5_000  # no stagger, for the test
    rig.run_until(FIRST_OPEN_AFTER_FLUSH - 10_000)
    send(rig, "cal-7", "frc")
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 5 * MIN)
    ((t_frc, _),) = rig.hal.co2.frcs
    assert len(rig.hal.reboots) == 1
    assert rig.hal.reboots[0] >= t_frc + 60_000


def test_frc_at_a_synchronised_exec_at(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 1000)
    at = wall(rig) + 20_000
    send(rig, "cal-2", "frc", exec_at=at)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 10_000)
    assert rig.hal.co2.frcs == []
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 30_000)
    ((t, ppm),) = rig.hal.co2.frcs
    assert ppm == 420  # the default reference
    assert rig.clock._wall0 + (t - rig.clock._t0) == at  # ran at exec_at to the millisecond


def test_frc_failure_on_the_bus_is_acked_failed_with_the_reason(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 1000)
    rig.hal.co2.fail = True
    send(rig, "cal-3", "frc")
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 5000)
    assert states(rig, "cal-3") == ["accepted", "failed"]
    assert "forced recalibration" in detail(rig, "cal-3", "failed")


def test_reboot_acks_done_publishes_rebooting_then_resets(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    send(rig, "r-1", "reboot")
    rig.run_until(20_000)
    assert len(rig.hal.reboots) == 1
    kinds = [(p.kind, p.decoded().get("state")) for p in rig.link.published[-3:]]
    assert kinds[-2:] == [("ack", "done"), ("status", "rebooting")]
    assert rig.link.published[-1].retain
    assert not rig.link.connected  # graceful DISCONNECT: the will "offline" is not needed
    assert rig.ctl.step() is None


def test_a_repeated_reboot_command_after_the_reboot_is_not_run_again(rig_factory):
    # what a (wrongly) retained reboot command would do: arrive again after every connect
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    cmd = protocol.make_cmd("r-2", "reboot", expires=wall(rig) + 30 * MIN)
    rig.link.inbox.append((protocol.topic("c01", "cmd"), json.dumps(cmd).encode()))
    rig.run_until(20_000)
    assert len(rig.hal.reboots) == 1
    rig.reboot()
    rig.link.inbox.append((protocol.topic("c01", "cmd"), json.dumps(cmd).encode()))
    rig.run_until(40_000)
    assert len(rig.hal.reboots) == 1  # the de-dup memory is in flash
    assert rig.link.acks() == [("r-2", "done")]
    assert "duplicate" in detail(rig, "r-2", "done")


def test_duplicate_delivery_runs_once(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 1000)
    send(rig, "st-1", "servo_test", args={"sweeps": 1})
    send(rig, "st-1", "servo_test", args={"sweeps": 1})  # QoS 1 re-delivery
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 20_000)
    moves = [d for t, d in rig.hal.servo.moves if t > FIRST_OPEN_AFTER_FLUSH]
    assert moves == [270, 0, 90]  # one sweep, once
    assert states(rig, "st-1") == ["accepted", "accepted", "done"]
    assert "duplicate" in detail(rig, "st-1", "accepted")


def test_servo_test_sweeps_the_full_range_and_acks_done_when_finished(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(30_000)
    send(rig, "st-2", "servo_test")
    rig.run_until(31_000)
    assert states(rig, "st-2") == ["accepted"]  # not done while the servo still moves
    rig.run_until(60_000)
    moves = [d for t, d in rig.hal.servo.moves if t >= 30_000]
    assert moves == [270, 0, 270, 0, 90]
    assert states(rig, "st-2") == ["accepted", "done"]


def test_set_location_is_stored_published_and_survives_a_reboot(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    send(rig, "loc-1", "set_location", args={"loc": "7.1.C"})
    rig.run_until(20_000)
    assert states(rig, "loc-1") == ["accepted", "done"]
    meta = rig.link.of_kind("meta")[-1]
    assert meta.retain
    assert meta.decoded()["loc"] == "7.1.C"
    assert rig.link.of_kind("telemetry")[-1].decoded()["loc"] == "7.1.C"
    rig.reboot()
    rig.run_until(30_000)
    assert rig.link.of_kind("meta")[0].decoded()["loc"] == "7.1.C"


def test_bad_arguments_are_acked_failed_naming_the_field(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    bad = {"v": 1, "ts": 0, "cmd_id": "loc-2", "cmd": "set_location", "expires": wall(rig) + MIN}
    bad["args"] = {"loc": "nine.two.B"}
    rig.link.inbox.append((protocol.topic("c01", "cmd"), json.dumps(bad).encode()))
    rig.link.inbox.append((protocol.topic("c01", "cmd"), b"{not json"))  # no cmd_id: dropped
    rig.run_until(20_000)
    assert states(rig, "loc-2") == ["failed"]
    assert detail(rig, "loc-2", "failed").startswith("rejected: args.loc:")
    assert rig.ctl.loc == "9.2.B"


def test_set_schedule_applies_from_the_next_closure_and_rejects_an_impossible_one(rig_factory):
    rig = rig_factory(curve=lambda t: 420.0 + 0.05 * (t % PERIOD) / 1000)
    rig.run_until(10_000)
    send(rig, "s-1", "set_schedule", args={"closed_ms": 240_000, "extend_ms": 0})
    send(rig, "s-2", "set_schedule", args={"period_ms": 120_000})
    rig.run_until(PERIOD)
    assert states(rig, "s-1") == ["accepted", "done"]
    assert states(rig, "s-2") == ["accepted", "failed"]
    assert detail(rig, "s-2", "failed").startswith("args.period_ms:")
    c = rig.link.of_kind("cycle")[0].decoded()
    assert c["closed_ms"] == 240_000
    assert rig.link.of_kind("meta")[-1].decoded()["sched"]["closed_ms"] == 240_000


def test_an_expired_command_is_acked_expired_and_not_run(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    send(rig, "old", "reboot", expires_in=-1)
    rig.run_until(20_000)
    assert rig.hal.reboots == []
    assert states(rig, "old") == ["expired"]


def test_a_command_whose_conditions_never_come_expires(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(400_000)  # closed; the lid opens only after ~549 s
    send(rig, "cal-4", "frc", expires_in=60_000)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 10_000)
    assert rig.hal.co2.frcs == []
    assert states(rig, "cal-4") == ["accepted", "expired"]


def test_broadcast_commands_reach_every_device(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(30_000)
    cmd = protocol.make_cmd("all-1", "servo_test", expires=wall(rig) + MIN)
    rig.link.inbox.append(("fluxfleet/v1/all/cmd", json.dumps(cmd).encode()))
    other = protocol.make_cmd("not-me", "reboot", expires=wall(rig) + MIN)
    rig.link.inbox.append((protocol.topic("c02", "cmd"), json.dumps(other).encode()))
    rig.run_until(60_000)
    assert states(rig, "all-1") == ["accepted", "done"]
    assert states(rig, "not-me") == []
    assert rig.hal.reboots == []
    assert "fluxfleet/v1/all/cmd" in rig.link.subscriptions
    assert "fluxfleet/v1/c01/cmd" in rig.link.subscriptions


def test_acks_while_offline_are_delivered_after_reconnect(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 1000)
    send(rig, "cal-5", "frc", exec_at=wall(rig) + 30_000)
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 2000)
    rig.link.up = False
    rig.link.connected = False
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 40_000)
    assert len(rig.hal.co2.frcs) == 1  # runs on time without the network
    rig.link.up = True
    rig.run_until(FIRST_OPEN_AFTER_FLUSH + 2 * MIN)
    assert states(rig, "cal-5") == ["accepted", "done"]


def test_keepalive_pings_from_the_main_loop_and_a_dead_broker_is_noticed(rig_factory):
    rig = rig_factory(curve=rising, loc=None)  # no location yet: samples wait, nothing else is sent
    rig.run_until(40_000)
    assert rig.link.pings >= 2  # every keepalive/2 = 15 s of silence
    rig.link.answer_pings = False
    connects = rig.link.connects
    rig.run_until(200_000)
    assert rig.link.connects > connects  # no PINGRESP within keepalive: reconnect


def test_pending_commands_survive_a_reboot(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(30_000)
    send(rig, "cal-6", "frc", exec_at=wall(rig) + 10 * MIN)
    rig.run_until(40_000)
    rig.reboot()
    rig.run_until(30 * MIN)
    assert len(rig.hal.co2.frcs) == 1
    assert states(rig, "cal-6") == ["done"]  # acked done by the new boot


def test_a_retained_command_is_refused_once_and_never_run(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    cmd = protocol.make_cmd("r-ret", "reboot", expires=wall(rig) + 30 * MIN)
    msg = (protocol.topic("c01", "cmd"), json.dumps(cmd).encode(), True)  # retain flag set
    rig.link.inbox.append(msg)
    rig.run_until(20_000)
    rig.link.inbox.append(msg)  # re-delivered at the next connect
    rig.run_until(30_000)
    assert rig.hal.reboots == []
    assert rig.link.acks() == [("r-ret", "failed")]
    assert "retained commands are refused" in detail(rig, "r-ret", "failed")


def test_a_commanded_schedule_survives_a_reboot_over_the_provisioned_one(rig_factory):
    rig = rig_factory(curve=rising, sched={"flush_ms": 90_000})
    rig.run_until(10_000)
    send(rig, "s-9", "set_schedule", args={"closed_ms": 200_000})
    rig.run_until(20_000)
    rig.reboot()
    assert rig.ctl.sched["closed_ms"] == 200_000  # the command, stored on flash
    assert rig.ctl.sched["flush_ms"] == 90_000  # the provisioning, not overridden


def test_corrupt_flash_values_do_not_stop_the_chamber(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(10_000)
    for name in ("cmds", "pending", "schedule", "location", "ring.meta"):
        rig.hal.store.put(name, b"\xff{garbage")
    rig.reboot()
    rig.run_until(PERIOD)
    assert rig.ctl.loc == "9.2.B"  # from the config
    assert rig.ctl.sched == DEFAULT_SCHEDULE
    assert rig.link.samples()
