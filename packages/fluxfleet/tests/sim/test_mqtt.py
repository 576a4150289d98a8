"""The simulated fleet through a real Mosquitto (the ``mosquitto`` fixture)."""

from __future__ import annotations

import datetime as dt
import json
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from fluxfleet.firmware import protocol, ring
from fluxfleet.sim.collect import Collector
from fluxfleet.sim.faults import Fault
from fluxfleet.sim.fleet import Fleet, FleetConfig
from fluxfleet.sim.runner import run_fleet
from paho.mqtt.enums import CallbackAPIVersion

from testsupport.services import Broker

H = 3600.0
START = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC).timestamp()


def test_fleet_over_mosquitto_delivers_every_sample(mosquitto: Broker) -> None:
    cfg = FleetConfig(chambers=6, start_s=START, duration_s=1.5 * H, seed=3)
    faults = [
        Fault("wifi_outage", 2, 0.25 * H, 0.75 * H),
        Fault("reboot", 3, 0.5 * H + 400, 0.5 * H + 400),  # in an open phase
    ]
    devices = {f"ch{i:03d}" for i in range(6)}
    with Collector(mosquitto.host, mosquitto.port, "t-collect-1", devices) as col:
        result = run_fleet(cfg, faults, (mosquitto.host, mosquitto.port), workers=2)
        col.wait_quiet()
    samples = col.samples()
    assert col.rejected == 0, col.rejects[:3]
    # ch003's unplanned reset loses what it had in RAM only: < ring.COMMIT_EVERY samples,
    # whose seqs are never given again (one gap, never a repeat)
    assert 0 <= result.samples - len(samples) < ring.COMMIT_EVERY
    for name, s in samples.groupby("chamber"):
        seq = s["seq"].to_numpy()
        if name != "ch003":
            np.testing.assert_array_equal(seq, np.arange(1, len(s) + 1))
        else:
            assert seq[0] == 1
            assert (np.diff(seq) >= 1).all()
            assert (np.diff(seq) > 1).sum() <= 1
            assert np.diff(seq).max() <= ring.COMMIT_EVERY
    # store-and-forward across the 30-min outage: nothing lost
    assert len(samples[samples["chamber"] == "ch002"]) == 1800
    assert set(col.meta) == {f"ch{i:03d}" for i in range(6)}
    assert col.meta["ch003"]["boot"] == 2
    assert len(result.closures) == 6 * 9
    assert set(result.faults["kind"]) == {"wifi_outage", "reboot"}


def test_last_will_and_retained_status(mosquitto: Broker) -> None:
    """A crash (unplanned reboot) makes the broker publish the device's will: offline."""
    seen: list[tuple[str, str, bool]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-status")

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if not msg.retain:  # retained: stored by an earlier test, not this run
            state = json.loads(msg.payload)["state"]
            seen.append((msg.topic, state, bool(msg.retain)))

    sub.on_message = on_message
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe("fluxfleet/v1/+/status", 1)
    sub.loop_start()
    try:
        cfg = FleetConfig(chambers=2, start_s=START, duration_s=0.2 * H, seed=5)
        fleet = Fleet(cfg, [Fault("reboot", 1, 300.0, 300.0)], (mosquitto.host, mosquitto.port))
        fleet.run()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ("offline" not in [s for _, s, _ in seen]):
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    states = [(t.split("/")[2], s) for t, s, _ in seen]
    assert ("ch001", "offline") in states
    assert states.count(("ch001", "online")) >= 2  # before and after the crash


def test_broadcast_command_reaches_every_device(mosquitto: Broker) -> None:
    cfg = FleetConfig(chambers=3, start_s=START, duration_s=0.5 * H, seed=6)
    fleet = Fleet(cfg, [], (mosquitto.host, mosquitto.port))
    devices = {f"ch{i:03d}" for i in range(3)}
    with Collector(mosquitto.host, mosquitto.port, "t-collect-3", devices) as col:
        fleet.start()
        for _ in range(40):  # two minutes: everyone online and subscribed
            fleet.step()
        cmd = protocol.make_cmd("st-1", "servo_test", int((START + H) * 1000))
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-cmd")
        pub.connect(mosquitto.host, mosquitto.port)
        pub.loop_start()
        pub.publish("fluxfleet/v1/all/cmd", protocol.encode("cmd", cmd), qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        time.sleep(0.3)  # the broker forwards it; the next steps read it
        fleet.run()
        col.wait_quiet()
    acks = {(a["chamber"], a["state"]) for a in col.acks if a["cmd_id"] == "st-1"}
    for i in range(3):
        assert (f"ch{i:03d}", "accepted") in acks
        assert (f"ch{i:03d}", "done") in acks


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue 4 target not met at the datasheet noise: with the SCD30 model (tau 20 s, "
        "3 ppm white noise per 3-s reading, 3-min closures) the fleet's flux (soilflux "
        "chamber-shared HM) puts 69 % of valid night closures within +-5 % (the per-closure "
        "kappa.max rule 33 %); an ideal straight-line fit of one closure could reach only "
        "~81 %. At 1 ppm: 97 % (test_validation.py). See benchmarks/RESULTS.md."
    ),
)
def test_validation_fleet_flux_against_truth(mosquitto: Broker) -> None:
    """Issue 4: soilflux's fluxes from the fleet's samples vs the simulator's truth.

    24 chambers × 8 night hours in September through Mosquitto, the datasheet sensor
    model. The target — within ±5 % for ≥ 95 % of the valid night-time closures — is
    checked as stated.
    """
    from fluxfleet.sim.compare import compare

    cfg = FleetConfig(chambers=24, start_s=START, duration_s=8 * H, seed=7)
    devices = {f"ch{i:03d}" for i in range(24)}
    with Collector(mosquitto.host, mosquitto.port, "t-collect-v", devices) as col:
        result = run_fleet(cfg, [], (mosquitto.host, mosquitto.port), workers=2)
        col.wait_quiet()
    cmp = compare(col.samples(), col.cycles(), result.closures)
    night = cmp.night_valid()
    assert len(night) > 0.8 * 24 * 47
    assert cmp.within(0.05) >= 0.95
