"""Fixtures of the operations tests: ``fluxfleet broker``'s Mosquitto with dynamic security."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fluxfleet.ops.broker import PLUGIN, Broker, load_accounts
from fluxfleet.sim.broker import find_mosquitto, free_port
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from testsupport.services import missing_service


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """A ``fluxfleet broker`` on a free port, its data directory afresh."""
    exe = find_mosquitto()
    if exe is None or not PLUGIN.is_file():
        missing_service("mosquitto with its dynamic-security plugin is not installed")
    data = Path(tempfile.mkdtemp(prefix="fluxfleet-ops-"))
    b = Broker(data, port=free_port(), exe=exe)
    with b:
        yield b
    shutil.rmtree(data, ignore_errors=True)


def account(b: Broker, name: str) -> tuple[str, str]:
    acc = load_accounts(b.data_dir)["accounts"][name]
    return acc["username"], acc["password"]


class Peer:
    """An MQTT v5 client that records what it receives and the broker's answers."""

    def __init__(self, b: Broker, username: str | None, password: str | None, name: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.connack: ReasonCode | None = None
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.disconnected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.connect(b.host, b.port)
        self.client.loop_start()
        with self.cond:
            assert self.cond.wait_for(lambda: self.connack is not None, 10.0), "no CONNACK"

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        with self.cond:
            self.connack = rc
            self.cond.notify_all()
        if rc.is_failure:
            c.disconnect()  # do not retry with the refused credentials

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def _on_subscribe(self, c: Any, u: Any, mid: int, rcs: list[ReasonCode], props: Any) -> None:
        with self.cond:
            self.subacks[mid] = rcs
            self.cond.notify_all()

    @property
    def refused(self) -> bool:
        return self.connack is not None and self.connack.is_failure

    def subscribe(self, topic_filter: str) -> bool:
        """Subscribe (QoS 1); True if the broker granted it."""
        rc, mid = self.client.subscribe(topic_filter, qos=1)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"SUBSCRIBE not sent: {rc}"
        assert mid is not None
        with self.cond:
            assert self.cond.wait_for(lambda: mid in self.subacks, 10.0), "no SUBACK"
            return not self.subacks[mid][0].is_failure

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish (QoS 1) and wait for the broker's PUBACK: it has then routed it."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10.0)
        assert info.is_published(), f"no PUBACK for {topic}"

    def wait_for(self, payload: bytes) -> list[tuple[str, bytes]]:
        """Wait until ``payload`` arrives; return everything received before it (then clear)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: any(p == payload for _, p in self.messages), 10.0)
            assert ok, f"{payload!r} never arrived; got {self.messages}"
            i = next(i for i, (_, p) in enumerate(self.messages) if p == payload)
            before = self.messages[:i]
            del self.messages[: i + 1]
            return before

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
