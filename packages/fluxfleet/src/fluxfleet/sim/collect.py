"""Subscribe to a broker and gather what a simulated fleet publishes.

:class:`Gather` (in-process) and :class:`Collector` (subscribed to a broker) decode
every telemetry, cycle, status, meta and ack message with the firmware's own
:mod:`~fluxfleet.firmware.protocol` and turns them into tables (one row per sample, one
row per cycle summary). It is the simulator's test and demo harness, not the server's
ingest (which is its own component). :class:`SampleCounter` only counts samples, cheaply,
for the benchmark.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion

from fluxfleet.firmware import protocol as _protocol

protocol: Any = _protocol  # MicroPython module without annotations

SAMPLE_KEYS = (
    "seq", "ts", "cyc", "ph", "co2_ppm", "rh_pct", "t_c", "ta_c", "p_hpa", "lux", "lid_deg",
    "fan_pct", "fl",
)  # fmt: skip


class Gather:
    """Decodes fleet messages into tables; :meth:`handle` takes one (topic, payload).

    Used directly as the in-process ``sink`` of a fleet without a broker, and by
    :class:`Collector` behind a real subscription.
    """

    def __init__(self, devices: set[str] | None = None) -> None:
        self.devices = devices
        """Only these device ids are gathered (None: all); others are ignored."""
        self.rejects: list[tuple[str, str]] = []
        """(topic, reason) of the payloads that failed the protocol."""
        self._rows: list[tuple[Any, ...]] = []
        self._cycles: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.acks: list[dict[str, Any]] = []
        self.messages = 0
        self.rejected = 0
        self._lock = threading.Lock()

    def handle(self, topic: str, payload: bytes) -> None:
        """Decode one message; a payload failing the protocol is counted as rejected."""
        try:
            dev, kind = protocol.parse_topic(topic)
            if self.devices is not None and dev not in self.devices:
                return
            self.messages += 1
            if kind == "telemetry":
                d = protocol.decode("telemetry", payload)
                loc = d["loc"]
                with self._lock:
                    for s in d["samples"]:
                        self._rows.append((dev, loc, *(s[k] for k in SAMPLE_KEYS)))
            elif kind == "cycle":
                d = protocol.decode("cycle", payload)
                with self._lock:
                    self._cycles.append({"chamber": dev, **d})
            elif kind == "status":
                self.status[dev] = protocol.decode("status", payload)["state"]
            elif kind == "meta":
                self.meta[dev] = protocol.decode("meta", payload)
            elif kind == "ack":
                with self._lock:
                    self.acks.append({"chamber": dev, **protocol.decode("ack", payload)})
        except protocol.ProtocolError as exc:
            self.rejected += 1
            self.rejects.append((topic, str(exc)))

    __call__ = handle

    def samples(self) -> pd.DataFrame:
        """Every sample received, de-duplicated on (chamber, seq), sorted by (chamber, seq).

        Columns: ``chamber``, ``location``, the sample keys of the protocol
        (``seq``, ``ts`` [ms], ``cyc``, ``ph``, ``co2_ppm``, ``rh_pct``, ``t_c`` (SCD30),
        ``ta_c`` (QMP6988), ``p_hpa``, ``lux``, ``lid_deg``, ``fan_pct``, ``fl``) and
        ``time`` (UTC).
        """
        with self._lock:
            rows = list(self._rows)
        df = pd.DataFrame(rows, columns=["chamber", "location", *SAMPLE_KEYS])
        df = df.drop_duplicates(["chamber", "seq"]).sort_values(["chamber", "seq"])
        df["time"] = pd.to_datetime(df["ts"], unit="ms", utc=True)
        return df.reset_index(drop=True)

    def cycles(self) -> pd.DataFrame:
        """Every cycle summary received (one row per message)."""
        with self._lock:
            return pd.DataFrame(list(self._cycles))


class Collector(Gather):
    """A subscriber on a real broker that gathers everything the fleet publishes.

    Messages the broker had retained before the subscription (earlier runs' status and
    meta) are skipped; ``devices`` limits the gathering to one fleet's device ids.

    Use as a context manager; :meth:`samples` and :meth:`cycles` return tables.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str = "fluxfleet-sim-collector",
        devices: set[str] | None = None,
    ) -> None:
        super().__init__(devices)
        self.host = host
        self.port = port
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe(protocol.PREFIX + "+/+", qos=1)

    def _on_subscribe(self, c: mqtt.Client, u: Any, mid: int, rcs: Any, props: Any) -> None:
        self._subscribed.set()

    def _on_message(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        # A retained flag here means "stored before we subscribed" (MQTT 3.1.1 §3.3.1.3):
        # old state of some earlier run, not what this fleet is publishing now.
        if msg.retain:
            return
        self.handle(msg.topic, bytes(msg.payload))

    def __enter__(self) -> Collector:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self._subscribed.wait(10.0):
            self.client.loop_stop()
            raise TimeoutError(f"could not subscribe at {self.host}:{self.port}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_quiet(self, quiet_s: float = 0.5, timeout_s: float = 30.0) -> None:
        """Wait until no message has arrived for ``quiet_s`` (or ``timeout_s`` passed)."""
        deadline = time.monotonic() + timeout_s
        last = -1
        while time.monotonic() < deadline:
            n = self.messages
            if n == last:
                return
            last = n
            time.sleep(quiet_s)


class SampleCounter:
    """Counts the samples in telemetry messages without decoding them (benchmark)."""

    def __init__(self, host: str, port: int) -> None:
        self.samples = 0
        self.messages = 0
        self.bytes = 0
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fluxfleet-counter")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            protocol.PREFIX + "+/telemetry", qos=1
        )
        self.client.on_subscribe = lambda c, u, m, r, p: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._ready.wait(10.0):
            raise TimeoutError("counter could not subscribe")

    def _on_message(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages += 1
        self.bytes += len(msg.payload)
        self.samples += msg.payload.count(b'"co2_ppm"')

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
