"""Subscribe to a broker and gather what a simulated fleet publishes.

:class:`Collector` decodes every telemetry and cycle message with the firmware's own
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

SAMPLE_KEYS = ("seq", "ts", "cyc", "ph", "co2_ppm", "rh_pct", "t_c", "ta_c", "p_hpa", "lux")


class Collector:
    """A subscriber that keeps every decoded telemetry sample and cycle summary.

    Use as a context manager; :meth:`samples` and :meth:`cycles` return tables.
    Messages that fail :func:`protocol.decode` are counted in :attr:`rejected`.
    """

    def __init__(self, host: str, port: int, client_id: str = "fluxfleet-sim-collector") -> None:
        self.host = host
        self.port = port
        self._rows: list[tuple[Any, ...]] = []
        self._cycles: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}
        self.messages = 0
        self.rejected = 0
        self._lock = threading.Lock()
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
        self.messages += 1
        try:
            dev, kind = protocol.parse_topic(msg.topic)
            if kind == "telemetry":
                d = protocol.decode("telemetry", msg.payload)
                loc = d["loc"]
                with self._lock:
                    for s in d["samples"]:
                        self._rows.append((dev, loc, *(s[k] for k in SAMPLE_KEYS)))
            elif kind == "cycle":
                d = protocol.decode("cycle", msg.payload)
                with self._lock:
                    self._cycles.append({"chamber": dev, **d})
            elif kind == "status":
                d = protocol.decode("status", msg.payload)
                self.status[dev] = d["state"]
        except protocol.ProtocolError:
            self.rejected += 1

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

    def samples(self) -> pd.DataFrame:
        """Every sample received, de-duplicated on (chamber, seq), sorted by time."""
        with self._lock:
            rows = list(self._rows)
        df = pd.DataFrame(rows, columns=["chamber", "location", *SAMPLE_KEYS])
        df = df.drop_duplicates(["chamber", "seq"]).sort_values(["chamber", "seq"])
        df["time"] = pd.to_datetime(df["ts"], unit="ms", utc=True)
        return df.reset_index(drop=True)

    def cycles(self) -> pd.DataFrame:
        """Every cycle summary received."""
        with self._lock:
            return pd.DataFrame(list(self._cycles))


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
