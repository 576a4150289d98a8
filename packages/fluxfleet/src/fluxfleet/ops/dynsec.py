"""A client of Mosquitto's dynamic-security control API (``$CONTROL/dynamic-security/v1``).

Why the control API over MQTT rather than ``mosquitto_ctrl``: passwords travel inside the
MQTT payload to a broker on localhost instead of on a command line that every local user
can read in ``ps``; one connection serves all commands of a run; and the answers are JSON
with an ``error`` field per command, so a failure is named, not parsed from text.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"


class DynsecError(RuntimeError):
    """The broker refused a command or could not be reached; the message says which."""


class Dynsec:
    """One admin connection; :meth:`call` sends commands and waits for their answers."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self._answers: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._refused: str | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fluxfleet-admin-{uuid.uuid4().hex[:8]}"
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise DynsecError(f"cannot reach the broker at {host}:{port}: {exc}") from None
        self.client.loop_start()
        if not self._ready.wait(10.0) or self._refused:
            self.close()
            raise DynsecError(
                f"the broker at {host}:{port} refused the admin account "
                f"({self._refused or 'no answer'})"
            )

    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._refused = str(rc)
            self._ready.set()
            return
        c.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_message(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._cond:
            for r in responses:
                corr = r.get("correlationData")
                if isinstance(corr, str):
                    self._answers[corr] = r
            self._cond.notify_all()

    def call(self, command: str, **fields: Any) -> dict[str, Any]:
        """Run one command; return its answer's ``data`` (``{}`` if none).

        Raises :class:`DynsecError` with the broker's own error text.
        """
        timeout_s = 10.0
        corr = uuid.uuid4().hex
        body = {"commands": [{"command": command, "correlationData": corr, **fields}]}
        self.client.publish(CONTROL_TOPIC, json.dumps(body), qos=1)
        with self._cond:
            if not self._cond.wait_for(lambda: corr in self._answers, timeout_s):
                raise DynsecError(f"{command}: no answer from the broker in {timeout_s:g} s")
            answer = self._answers.pop(corr)
        if answer.get("error"):
            raise DynsecError(f"{command}: {answer['error']}")
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    def exists(self, kind: str, name: str) -> bool:
        """Whether the client or role ``name`` exists (``kind``: ``Client`` or ``Role``)."""
        key = "username" if kind == "Client" else "rolename"
        try:
            self.call(f"get{kind}", **{key: name})
        except DynsecError as exc:
            if "not found" in str(exc).lower():
                return False
            raise
        return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Dynsec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
