"""A paho subscriber for tests: collects what the broker delivers, to assert on it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

Message = tuple[str, bytes, bool]  # topic, payload, retained


class MqttWatcher:
    """Subscribe to ``topic`` and keep every message; ready once the broker has SUBACKed.

    Waiting for the SUBACK matters: a message published before the subscription is active
    at the broker is never delivered, which made tests flaky under load.
    """

    def __init__(self, host: str, port: int, topic: str, timeout_s: float = 10.0) -> None:
        self.messages: list[Message] = []
        self.cond = threading.Condition()
        subscribed = threading.Event()
        # A unique client id: the broker disconnects an older client that reuses one.
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        if not subscribed.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"broker did not acknowledge the subscription to {topic}")

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self.cond.notify_all()

    def wait_for(self, pred: Callable[[Message], bool], timeout_s: float = 10.0) -> list[Message]:
        """The messages matching ``pred``, once at least one has arrived."""
        with self.cond:
            arrived = self.cond.wait_for(lambda: any(pred(m) for m in self.messages), timeout_s)
            assert arrived, f"not received; got {self.messages}"
            return [m for m in self.messages if pred(m)]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
