"""Field defects of the controller (issue 12), each reproduced on the unforgiving rig.

``HardReset`` is what ``machine.reset()`` is on the device: it never returns. The fake
HAL raises it from ``reboot()``; it is a ``BaseException`` so no ``except Exception`` in
the firmware can swallow it, and only the test's top level catches it - then the rig
boots a new controller on the same flash.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fluxfleet import keys
from fluxfleet.firmware import ed25519, mqtt
from fluxfleet.firmware.controller import DEFAULT_SCHEDULE

from .conftest import Rig

PERIOD = DEFAULT_SCHEDULE["period_ms"]
MIN = 60_000


class HardReset(BaseException):
    pass


def hard_reset_hal(rig: Rig) -> None:
    """Make the rig's reboot() behave like machine.reset(): record, then never return."""

    def reboot() -> None:
        rig.hal.reboots.append(rig.clock.ticks)
        raise HardReset

    rig.hal.reboot = reboot  # type: ignore[method-assign]


def run_with_resets(rig: Rig, until: int) -> int:
    """Run to ``until``, booting again after every hard reset; the number of resets."""
    resets = 0
    while rig.clock.ticks < until and resets < 20:  # 20: a reboot loop, stop counting
        try:
            rig.run_until(until)
        except HardReset:
            resets += 1
            rig.clock.advance(5000)  # the boot itself takes a few seconds
            rig.reboot()
            hard_reset_hal(rig)
    return resets


def rising(t: int) -> float:
    return 420.0 + 0.05 * (t % PERIOD) / 1000


# --- 1: confirm on local health -------------------------------------------------------------


def test_the_firmware_confirms_itself_on_a_healthy_cycle_without_any_network(rig_factory):
    # a broker outage (or no WiFi at all) for the first 3 boots must not revert good firmware
    rig = rig_factory(curve=rising)
    rig.link.up = False
    rig.hal.wifi = False
    rig.run_until(2 * PERIOD)
    assert len(rig.hal.confirms) == 1
    assert rig.link.published == []


def test_a_cycle_without_a_single_co2_reading_does_not_confirm(rig_factory):
    rig = rig_factory(curve=lambda t: None)
    rig.run_until(3 * PERIOD)
    assert rig.hal.confirms == []


def test_an_unlabelled_device_confirms_too(rig_factory):
    rig = rig_factory(curve=rising, loc=None)
    rig.run_until(2 * PERIOD)
    assert len(rig.hal.confirms) == 1


# --- 3: a reboot command runs once, although reboot() never returns --------------------------


def test_one_reboot_command_reboots_once_when_reboot_never_returns(rig_factory):
    rig = rig_factory(curve=rising)
    hard_reset_hal(rig)
    rig.run_until(10_000)
    cmd: dict[str, Any] = {"expires": rig.clock.time_ms() + 30 * MIN}
    rig.link.send_cmd("c01", cmd_id="r-1", cmd="reboot", **cmd)
    resets = run_with_resets(rig, 10 * MIN)
    assert resets == 1
    assert len(rig.hal.reboots) == 1
    assert rig.ctl.pending == []


def test_a_pending_reboot_behind_an_frc_quiet_time_also_runs_once(rig_factory):
    rig = rig_factory(curve=rising)
    hard_reset_hal(rig)
    rig.run_until(10_000)
    exp = rig.clock.time_ms() + 60 * MIN
    rig.link.send_cmd("c01", cmd_id="cal", cmd="frc", expires=exp)
    rig.link.send_cmd("c01", cmd_id="r-2", cmd="reboot", expires=exp)
    resets = run_with_resets(rig, 40 * MIN)
    assert resets == 1


# --- 8: the first closure after a cold boot is on the fleet's grid --------------------------


def first_closing_wall(rig: Rig) -> int:
    prev = None
    for t, deg in rig.hal.servo.moves:
        if deg == 0 and prev == 90:
            return t + (rig.clock.time_ms() - rig.clock.ticks)  # on the synced clock
        prev = deg
    raise AssertionError("never closed")


@pytest.mark.parametrize("skew_ms", [-170_000, 250_000, 3_600_000 + 7_000])
@pytest.mark.parametrize("ntp_after_ms", [0, 90_000])
def test_the_cycle_is_replanned_when_ntp_steps_the_clock_with_the_lid_open(
    rig_factory, skew_ms, ntp_after_ms
):
    rig = rig_factory(curve=rising)
    rig.hal.ntp_offset_ms = None if ntp_after_ms else skew_ms  # NTP answers late, or at once
    rig.run_until(ntp_after_ms)
    rig.hal.ntp_offset_ms = skew_ms
    rig.run_until(2 * PERIOD)
    assert first_closing_wall(rig) % PERIOD == 0
    assert rig.ctl.skew_ms == skew_ms


def test_a_small_forward_step_just_past_the_planned_start_closes_at_once_not_a_period_later(
    rig_factory,
):
    rig = rig_factory(curve=rising)
    rig.run_until(2 * PERIOD)  # synced, cycling on the grid
    start = (rig.clock.time_ms() // PERIOD + 1) * PERIOD
    rig.run_until(rig.clock.ticks + (start - rig.clock.time_ms()) - 500)  # 0.5 s before
    closings = len([m for m in rig.hal.servo.moves if m[1] == 0])
    rig.hal.ntp_offset_ms = 2000  # the next sync steps the clock 2 s forward
    rig.ctl.next_ntp = rig.clock.ticks
    rig.run_until(rig.clock.ticks + 10_000)
    assert len([m for m in rig.hal.servo.moves if m[1] == 0]) > closings


# --- 11: SUBACK refusal, schedule limits, weak fleet keys -----------------------------------


def test_a_refused_subscription_is_reported_in_the_retained_status(rig_factory):
    rig = rig_factory(curve=rising)
    link = rig.link
    real_subscribe = link.subscribe
    pids = iter(range(100, 200))
    refused: list[tuple[Any, ...]] = []

    def subscribe(topic: str, qos: int) -> int:
        real_subscribe(topic, qos)
        pid = next(pids)
        code = 0x80 if topic.endswith("/c01/cmd") else 1  # the ACL forgot this device
        refused.append(("suback", pid, code))
        return pid

    real_poll = link.poll

    def poll() -> list[tuple[Any, ...]]:
        ev = real_poll() + refused
        refused.clear()
        return ev

    link.subscribe = subscribe  # type: ignore[method-assign]
    link.poll = poll  # type: ignore[method-assign]
    rig.run_until(10_000)
    st = [p for p in link.of_kind("status")]
    assert st[-1].retain
    last = st[-1].decoded()
    assert last["state"] == "alert"
    assert "fluxfleet/v1/c01/cmd refused" in last["detail"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"sample_ms": 2000}, "sample_ms"),  # 9,600 x 2 s = 5.3 h < 6 h
        ({"pulse_ms": 5000}, "pulse_ms"),  # the pulse every 4,000 ms stays
    ],
)
def test_a_schedule_that_breaks_the_ring_or_the_fan_is_refused(rig_factory, args, field):
    rig = rig_factory(curve=rising)
    rig.run_until(5_000)
    exp = rig.clock.time_ms() + 30 * MIN
    rig.link.send_cmd("c01", cmd_id="s-1", cmd="set_schedule", expires=exp, args=args)
    rig.run_until(15_000)
    acks = [p.decoded() for p in rig.link.of_kind("ack")]
    assert [a["state"] for a in acks] == ["accepted", "failed"]
    assert field in acks[-1]["detail"]
    assert rig.ctl.sched["sample_ms"] == 3000


def test_the_ring_may_sample_faster_if_it_still_holds_6_h(rig_factory):
    rig = rig_factory(curve=rising, ring_slots=12_000)
    rig.run_until(5_000)
    exp = rig.clock.time_ms() + 30 * MIN
    rig.link.send_cmd(
        "c01", cmd_id="s-2", cmd="set_schedule", expires=exp, args={"sample_ms": 2000}
    )
    rig.run_until(15_000)
    assert rig.link.acks()[-1] == ("s-2", "done")


SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
]


@pytest.mark.parametrize("key_hex", SMALL_ORDER)
def test_a_small_order_public_key_verifies_nothing(key_hex):
    pk = bytes.fromhex(key_hex)
    # with a small-order key, R = identity and S = 0 is a valid "signature" of anything
    forged = bytes.fromhex(SMALL_ORDER[0]) + bytes(32)
    assert not ed25519.verify(pk, b"any manifest at all", forged)
    assert ed25519.check_public_key(pk) is not None


def test_a_real_fleet_key_is_accepted():
    assert ed25519.check_public_key(keys.generate_key().public_bytes) is None


class ScriptedTransport:
    def __init__(self, incoming: bytes) -> None:
        self.incoming = incoming
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += bytes(data)

    def read_available(self) -> bytes:
        out, self.incoming = self.incoming, b""
        return out

    def close(self) -> None:
        pass


def test_the_mqtt_client_reports_a_suback_refusal_with_its_pid():
    link = mqtt.MqttLink(lambda h, p: None, "broker", 1883)
    t = ScriptedTransport(bytes((mqtt.SUBACK, 3, 0, 7, 0x80)))
    link.t = t
    assert link.subscribe("fluxfleet/v1/c01/cmd", 1) == 1
    assert t.written[0] == 0x82  # SUBSCRIBE
    assert link.poll() == [("suback", 7, 0x80)]


# --- 11: a reconnect never blocks the loop while the lid is closed -------------------------


def test_no_reconnect_attempt_while_the_lid_is_closed(rig_factory):
    rig = rig_factory(curve=rising)
    rig.run_until(PERIOD)  # connected, cycling
    # find the next closure and drop the link just after the lid closed
    while rig.ctl.phase != "closed":
        rig.run_until(rig.clock.ticks + 1000)
    rig.link.up = False
    rig.link.connected = False
    rig.run_until(rig.clock.ticks + 10_000)
    connects = rig.link.connects
    rig.link.up = True  # the broker is back, but the lid is still closed
    steps = 0
    while rig.ctl.phase in ("closed", "extended"):
        assert rig.link.connects == connects  # waits for the lid to open
        rig.run_until(rig.clock.ticks + 1000)
        steps += 1
    assert steps > 30  # the broker was back for most of the closure
    rig.run_until(rig.clock.ticks + 60_000)
    assert rig.link.connects == connects + 1
    got = sorted(s["seq"] for s in rig.link.samples())
    assert got == list(range(1, got[-1] + 1))  # nothing lost in between


class SlowBroker:
    """The TCP side of a broker whose CONNACK comes ``delay_ms`` after each CONNECT.

    A wait for data (``wait_readable``) blocks like ``select.poll``: it advances the fake
    clock until data arrives or the wait is over. SUBSCRIBE and QoS-1 PUBLISH are
    acknowledged at once. ``broken`` makes the connection fail like a reset TCP link.
    """

    def __init__(self, clock: Any, delay_ms: int) -> None:
        self.clock = clock
        self.delay_ms = delay_ms
        self.connack_at: int | None = None
        self.out = b""
        self.broken = False
        self.connects = 0

    def write(self, data: bytes) -> None:
        if self.broken:
            raise OSError(104, "ECONNRESET")
        data = bytes(data)
        kind = data[0] & 0xF0
        if kind == mqtt.CONNECT:  # a new TCP connection: nothing of the old one arrives
            self.connects += 1
            self.out = b""
            self.connack_at = self.clock.ticks + self.delay_ms
        elif kind == 0x80:  # SUBSCRIBE: pid at bytes 2-3 (remaining length < 128)
            self.out += bytes((mqtt.SUBACK, 3, data[2], data[3], 1))
        elif kind == mqtt.PUBLISH and (data[0] >> 1) & 3:
            n, mult, i = 0, 1, 1
            while True:  # remaining length, then topic, then the pid
                b = data[i]
                n += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            tl = (data[i] << 8) | data[i + 1]
            pid = data[i + 2 + tl : i + 4 + tl]
            self.out += bytes((mqtt.PUBACK, 2)) + pid

    def _due(self) -> None:
        if self.connack_at is not None and self.clock.ticks >= self.connack_at:
            self.out = bytes((mqtt.CONNACK, 2, 0, 0)) + self.out
            self.connack_at = None

    def read_available(self) -> bytes:
        if self.broken:
            raise OSError(104, "ECONNRESET")
        self._due()
        out, self.out = self.out, b""
        return out

    def wait_readable(self, timeout_ms: int) -> bool:
        self._due()
        if self.out:
            return True
        until = self.clock.ticks + timeout_ms
        if self.connack_at is not None and self.connack_at < until:
            until = self.connack_at
        self.clock.set_ticks(until)  # the wait blocks the loop for this long
        self._due()
        return bool(self.out)

    def close(self) -> None:
        pass


def test_a_slow_connack_never_delays_a_sample(rig_factory):
    """A broker answering CONNECT 4 s late (a busy or distant broker) while the lid is open:
    the samples stay on their 3-s grid, at the first connect and at a reconnect."""
    rig = rig_factory()
    broker = SlowBroker(rig.clock, 4000)
    link = mqtt.MqttLink(lambda host, port: broker, "broker", 1883)
    rig.link = rig.ctl.link = link
    taken: list[int] = []
    read = rig.hal.co2.read

    def timed_read() -> Any:
        taken.append(rig.clock.ticks)
        return read()

    rig.hal.co2.read = timed_read  # type: ignore[method-assign]
    rig.run_until(60_000)
    assert rig.ctl.connected
    assert broker.connects == 1
    broker.broken = True  # the TCP link resets: dropped, then a reconnect with a slow CONNACK
    rig.run_until(65_000)
    assert not rig.ctl.connected
    broker.broken = False
    rig.run_until(120_000)
    assert rig.ctl.connected
    assert broker.connects == 2
    assert rig.ctl.phase == "open"  # all of it while the lid was open
    steps = [b - a for a, b in itertools.pairwise(taken)]
    assert len(taken) >= 39
    assert set(steps) == {3000}, steps
