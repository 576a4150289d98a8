"""Who may do what on ``fluxfleet broker``: the ACLs, against the real Mosquitto with its
dynamic-security plugin.

"Delivers nothing to anyone" is checked without waiting on a clock: the forbidden message
is published at QoS 1 and its PUBACK awaited (the broker has routed it, or refused it, by
then), then an allowed sentinel follows to the same watchers. Mosquitto delivers one
subscriber's messages in order, so a watcher that receives the sentinel and nothing before
it never received the forbidden message.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fluxfleet.firmware.protocol import DEVICE_KINDS, topic
from fluxfleet.ops.broker import Broker
from fluxfleet.ops.devices import add_device, retire_device
from fluxfleet.store import open_store

from .conftest import Peer, account

_ids = itertools.count()


@pytest.fixture(scope="module")
def creds(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Devices c01, c02 and c03 registered (credentials as ``devices add --json`` prints)."""
    store = open_store("duckdb:///" + str(tmp_path_factory.mktemp("reg") / "s.duckdb"))
    out = {}
    with broker.admin() as ds:
        for dev in ("c01", "c02", "c03"):
            out[dev] = add_device(ds, store, dev, "T1.V1.R1", f"mqtt://{broker.host}:{broker.port}")
    store.close()
    return out


@pytest.fixture
def peers(broker: Broker, creds: dict[str, Any]) -> Iterator[Any]:
    made: list[Peer] = []

    def make(who: str, password: str | None = None) -> Peer:
        if who in ("ingest", "operator", "admin"):
            user, pw = account(broker, who)
        else:
            user, pw = creds[who]["username"], creds[who]["password"]
        p = Peer(broker, user, pw if password is None else password, f"{who}-{next(_ids)}")
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def _watchers(peers: Any) -> tuple[Peer, Peer]:
    """An operator on everything of the fleet and device c02 on its own and all/cmd."""
    op = peers("operator")
    assert op.subscribe("fluxfleet/v1/#")
    c02 = peers("c02")
    assert c02.subscribe(topic("c02", "cmd"))
    assert c02.subscribe(topic("all", "cmd"))
    return op, c02


def test_device_cannot_publish_as_another_device(peers: Any) -> None:
    op, _ = _watchers(peers)
    c01 = peers("c01")
    for kind in DEVICE_KINDS:
        c01.publish(topic("c02", kind), b"forged-" + kind.encode())
    c01.publish(topic("c01", "telemetry"), b"sentinel-1")
    assert op.wait_for(b"sentinel-1") == []


def test_device_cannot_publish_any_command(peers: Any) -> None:
    op, c02 = _watchers(peers)
    c01 = peers("c01")
    assert c01.subscribe(topic("c01", "cmd"))
    assert c01.subscribe(topic("all", "cmd"))
    for dev in ("c01", "c02", "all"):
        c01.publish(topic(dev, "cmd"), b"forged-cmd-" + dev.encode())
    c01.publish(topic("c01", "status"), b"sentinel-2")
    assert op.wait_for(b"sentinel-2") == []
    # the devices' own queues: the operator's command comes after the forged ones, if any
    op.publish(topic("all", "cmd"), b"sentinel-3")
    assert c02.wait_for(b"sentinel-3") == []
    assert c01.wait_for(b"sentinel-3") == []


def test_device_cannot_subscribe_to_another_devices_commands(peers: Any) -> None:
    op, c02 = _watchers(peers)
    c01 = peers("c01")
    assert not c01.subscribe(topic("c02", "cmd"))
    assert c01.subscribe(topic("all", "cmd"))
    op.publish(topic("c02", "cmd"), b"for-c02-only")
    op.publish(topic("all", "cmd"), b"sentinel-4")
    assert c02.wait_for(b"for-c02-only") == []  # it did go out, to c02
    assert c01.wait_for(b"sentinel-4") == []


@pytest.mark.parametrize("topic_filter", ["#", "fluxfleet/v1/#", "fluxfleet/v1/+/telemetry"])
def test_device_cannot_subscribe_to_everything(peers: Any, topic_filter: str) -> None:
    op, c02 = _watchers(peers)
    c01 = peers("c01")
    assert not c01.subscribe(topic_filter)
    assert c01.subscribe(topic("all", "cmd"))
    c02.publish(topic("c02", "telemetry"), b"c02-data")
    assert op.wait_for(b"c02-data") == []  # published and routed
    op.publish(topic("all", "cmd"), b"sentinel-5")
    assert c01.wait_for(b"sentinel-5") == []


@pytest.mark.parametrize("who", ["c01", "ingest", "operator", "admin"])
def test_wrong_password_is_refused(peers: Any, who: str) -> None:
    p = peers(who, password="not-the-password")
    assert p.refused
    assert p.connack is not None
    assert p.connack.getName() in (
        "Bad user name or password",
        "Not authorized",
    )


def test_unknown_and_anonymous_clients_are_refused(broker: Broker) -> None:
    for user in ("c99", None):
        p = Peer(broker, user, "x" if user else None, f"stranger-{next(_ids)}")
        try:
            assert p.refused
        finally:
            p.close()


def test_ingest_reads_every_device_topic_and_publishes_nothing(peers: Any) -> None:
    op, c02 = _watchers(peers)
    ing = peers("ingest")
    for kind in DEVICE_KINDS:
        assert ing.subscribe(f"fluxfleet/v1/+/{kind}")
    assert ing.subscribe("$share/g/fluxfleet/v1/+/telemetry")
    assert not ing.subscribe("#")
    for t in (topic("c01", "telemetry"), topic("c02", "cmd"), topic("all", "cmd"), "other/x"):
        ing.publish(t, b"from-ingest")
    c01 = peers("c01")
    c01.publish(topic("c01", "ack"), b"sentinel-6")
    assert op.wait_for(b"sentinel-6") == []
    assert ing.wait_for(b"sentinel-6") == []
    op.publish(topic("all", "cmd"), b"sentinel-7")
    assert c02.wait_for(b"sentinel-7") == []


def test_device_publishes_its_own_topics_and_receives_its_commands(peers: Any) -> None:
    op, _ = _watchers(peers)
    ing = peers("ingest")
    for kind in DEVICE_KINDS:
        assert ing.subscribe(f"fluxfleet/v1/+/{kind}")
    c01 = peers("c01")
    assert c01.subscribe(topic("c01", "cmd"))
    assert c01.subscribe(topic("all", "cmd"))
    for kind in DEVICE_KINDS:
        c01.publish(topic("c01", kind), b"own-" + kind.encode())
    c01.publish(topic("c01", "telemetry"), b"sentinel-8")
    want = [(topic("c01", k), b"own-" + k.encode()) for k in DEVICE_KINDS]
    # retained status/meta of earlier tests may come first on a fresh subscription
    assert [m for m in op.wait_for(b"sentinel-8") if m in want] == want
    assert [m for m in ing.wait_for(b"sentinel-8") if m in want] == want
    op.publish(topic("c01", "cmd"), b"cmd-c01")
    op.publish(topic("all", "cmd"), b"cmd-all")
    assert c01.wait_for(b"cmd-all") == [(topic("c01", "cmd"), b"cmd-c01")]


def test_retired_device_is_disconnected_and_refused(
    broker: Broker, peers: Any, creds: dict[str, Any], tmp_path: Path
) -> None:
    c03 = peers("c03")
    assert not c03.refused
    store = open_store("duckdb:///" + str(tmp_path / "s.duckdb"))
    with broker.admin() as ds:
        assert retire_device(ds, store, "c03")
    store.close()
    assert c03.disconnected.wait(10.0)
    again = peers("c03")
    assert again.refused


def test_operator_cannot_forge_device_messages(peers: Any) -> None:
    op, _ = _watchers(peers)
    op2 = peers("operator")
    for kind in DEVICE_KINDS:
        op2.publish(topic("c01", kind), b"forged-by-operator")
    peers("c01").publish(topic("c01", "telemetry"), b"sentinel-9")
    assert op.wait_for(b"sentinel-9") == []
