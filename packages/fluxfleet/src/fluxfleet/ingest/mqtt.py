"""The ingestor: an MQTT v5 subscriber that commits validated batches to the store.

Delivery guarantees, and how they are kept:

* **Nothing lost across restarts** — a fixed client id, clean start off and a session
  expiry interval make a persistent session: the broker keeps the subscription and queues
  QoS 1 messages while the ingestor is down, and delivers them when it is back.
* **Acknowledged only when stored** — paho runs with ``manual_ack=True``; a message's
  PUBACK is sent after the transaction holding its rows committed. A crash before that
  leaves it unacknowledged, so the broker delivers it again.
* **Never stored twice** — samples are keyed on (device, seq), closures on (device, cyc);
  a redelivered or replayed message adds nothing.
* **Bounded in flight** — the CONNECT's *receive maximum* caps the unacknowledged QoS 1
  messages the broker sends at once (paho collides packet ids past 65,535), and the
  inbox here holds at most that many: Mosquitto 2.0.11 overruns the cap once PUBACKs
  flow, and a full inbox then stops paho reading the socket (TCP holds the broker back).
* **Pipelined** — a batch holds at most half the receive maximum, and a writer thread
  commits (and then acknowledges) batch N while this thread validates batch N+1 and the
  broker, with half its window still free, keeps sending: with a full-window batch the
  broker stopped at the cap during every commit and the drain ran serially. At most one
  batch waits for the writer (a queue of one), so in flight stays ≤ the receive maximum.
  While one waits, the batch being gathered keeps filling past its linger time: a batch
  then grows with the writer's backlog, and a store's fixed cost per commit is paid
  fewer times (DuckDB's samples, devices and commit cost a few ms a batch whatever its
  size).
* **Acknowledged after commit** — a committed batch's messages are acknowledged with
  paho's public ``ack()``, one PUBACK each (a block of PUBACKs written into paho's private
  packet queue saved a wake-up per message but depended on paho's internals; not kept).
* **Nothing malformed stops it** — each message is validated alone
  (:mod:`~fluxfleet.ingest.batch`); a rejected one is stored as a dead letter and
  acknowledged like the rest.

Several ingestors may share the load on a shared subscription (``$share/GROUP/…``), each
with its own client id.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from fluxfleet.ingest.batch import KINDS, BatchBuilder
from fluxfleet.ingest.fluxes import FluxWorker
from fluxfleet.ingest.inbox import Inbox
from fluxfleet.store.base import Batch, Store

log = logging.getLogger(__name__)

PREFIX = "fluxfleet/v1/"


def topics(group: str | None = None) -> list[str]:
    """The subscriptions: one per device message kind, shared when ``group`` is given."""
    share = f"$share/{group}/" if group else ""
    return [f"{share}{PREFIX}+/{kind}" for kind in KINDS]


@dataclass
class IngestStats:
    """Counters of a running ingestor (read them from any thread)."""

    messages: int = 0
    rejected: int = 0
    samples_stored: int = 0
    closures_stored: int = 0
    batches: int = 0
    connects: int = 0
    write_errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    """Receive-to-committed time of every message [s] (when ``keep_latencies``)."""


class _Item(NamedTuple):  # a tuple: made once per message in paho's thread, cheaply
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_ms: int
    received_s: float  # monotonic, for latency
    generation: int


class _Job(NamedTuple):
    """A validated batch for the writer: its messages, their builder, the store's batch."""

    items: list[_Item]
    builder: BatchBuilder
    batch: Batch


class Ingestor:
    """Subscribe, batch, commit, acknowledge (module docstring).

    Parameters
    ----------
    host, port : str, int
        The broker.
    store : Store
        Where the batches go (this thread's handle).
    client_id : str
        Fixed id of the persistent session.
    group : str, optional
        Shared-subscription group (several ingestors split the messages).
    receive_maximum : int
        Unacknowledged QoS 1 messages the broker may send at once, 1–65,535 [-].
    linger_s : float
        Longest a message waits for its batch to fill [s].
    session_expiry_s : int
        How long the broker keeps the session while the ingestor is away [s].
    fluxes : FluxWorker, optional
        Receives what each committed batch changed.
    keep_latencies : bool
        Keep each message's receive-to-commit time in :attr:`stats`.
    on_commit : callable(payloads), optional
        Called with the payloads of each committed batch (benchmarks).
    switch_interval_s : float, None or "auto"
        The interpreter's thread switch interval while the ingestor runs (from
        :meth:`start` to :meth:`close`; None leaves it; "auto": 0.5 ms for a store whose
        writes wait on a socket, :attr:`Store.writes_over_network`, else None — DuckDB's
        drain measured no better and ≈ 0.1 s a drain slower with it) [s]. Three threads
        share the GIL: paho's, this one's Python validation (stretches of several ms)
        and the writer's, which takes the GIL back after each of its ≈ 10 waits on the
        database a batch; at Python's 5 ms each such return could wait up to 5 ms while
        the batch's server work waited on it (benchmarks/RESULTS.md, "PostgreSQL
        ingest: the writer's waits"). Process-wide: the ingestor owns its process in
        ``fluxfleet ingest``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        store: Store,
        *,
        client_id: str = "fluxfleet-ingest",
        group: str | None = None,
        receive_maximum: int = 1000,
        linger_s: float = 0.2,
        session_expiry_s: int = 7 * 24 * 3600,
        fluxes: FluxWorker | None = None,
        keep_latencies: bool = False,
        on_commit: Callable[[list[bytes]], None] | None = None,
        username: str | None = None,
        password: str | None = None,
        switch_interval_s: float | str | None = "auto",
    ) -> None:
        if not 1 <= receive_maximum <= 65535:
            raise ValueError(f"receive_maximum must be 1..65535, got {receive_maximum}")
        self.host = host
        self.port = port
        self.store = store
        self.group = group
        self.receive_maximum = receive_maximum
        self.linger_s = linger_s
        self.fluxes = fluxes
        self.keep_latencies = keep_latencies
        self.on_commit = on_commit
        if switch_interval_s == "auto":
            switch_interval_s = 0.0005 if store.writes_over_network else None
        elif isinstance(switch_interval_s, str):
            raise ValueError(
                f'switch_interval_s must be seconds, None or "auto", got {switch_interval_s!r}'
            )
        self.switch_interval_s: float | None = switch_interval_s
        self._switch_was: float | None = None
        self._switch_set: float | None = None  # as the interpreter reads it back (µs)
        self.stats = IngestStats()
        self.subscribed = threading.Event()
        # Bounded here too: Mosquitto 2.0.11 sends past the receive maximum once PUBACKs
        # flow (eclipse-mosquitto/mosquitto#2301; tests/server/test_pipeline.py shows it).
        # A full inbox stops paho's network thread, so TCP holds the broker back.
        self._inbox: Inbox[_Item] = Inbox(receive_maximum)
        self._closing = threading.Event()
        self._generation = 0
        self._stop = threading.Event()
        self._locations = store.last_locations()
        store.tune_for_ingest()
        # half the window: the broker keeps sending the next batch during a commit
        self.batch_max = max(1, receive_maximum // 2)
        self._to_writer: queue.Queue[_Job | None] = queue.Queue(1)
        self._taken = threading.Condition()  # notified when the writer takes a batch
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        # paho's own outgoing queue is irrelevant here (we publish nothing); its incoming
        # window is the broker's, set by receive maximum below.
        if username is not None:  # the broker's ingest account (fluxfleet broker)
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(1, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._props = Properties(PacketTypes.CONNECT)
        self._props.SessionExpiryInterval = int(session_expiry_s)
        self._props.ReceiveMaximum = int(receive_maximum)

    # paho callbacks (its network thread) ---------------------------------------------------
    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("broker refused the connection: %s", rc)
            return
        self.stats.connects += 1
        # retained status/meta only on a new subscription, not on every reconnect
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        c.subscribe([(t, opts) for t in topics(self.group)])

    def _on_subscribe(self, c: mqtt.Client, u: Any, mid: int, rcs: Any, props: Any) -> None:
        if any(rc.is_failure for rc in rcs):
            log.error("broker refused a subscription: %s", rcs)
            return
        self.subscribed.set()

    def _on_disconnect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        # packet ids of this connection mean nothing on the next: never ack them there
        self._generation += 1
        self.subscribed.clear()

    def _on_message(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = bytes(msg._topic).decode("utf-8", "replace")
        item = _Item(
            topic,
            bytes(msg.payload),
            msg.mid,
            msg.qos,
            int(time.time() * 1000),
            time.monotonic(),
            self._generation,
        )
        while not self._closing.is_set():  # closing: left unacknowledged, delivered again
            if self._inbox.put(item, 0.2):
                return

    # the writer ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (clean start off) and start the network thread."""
        self.client.connect(
            self.host, self.port, keepalive=30, clean_start=False, properties=self._props
        )
        self.client.loop_start()
        if self.switch_interval_s is not None and self._switch_was is None:
            self._switch_was = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval_s)
            self._switch_set = sys.getswitchinterval()

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Commit batches until :meth:`stop` (or ``until()`` returns True)."""
        while not self._stop.is_set() and not (until is not None and until()):
            self.step(timeout_s=0.2)

    def step(self, timeout_s: float = 0.2) -> int:
        """Wait up to ``timeout_s`` for messages, validate a batch, hand it to the writer.

        The writer thread commits it and then acknowledges its messages; this returns once
        the writer has taken the batch before (at most one batch waits for it). Returns
        the number of messages handed over.
        """
        items = self._inbox.take(self.batch_max, timeout_s)
        if not items:
            return 0
        deadline = time.monotonic() + self.linger_s
        while len(items) < self.batch_max:
            wait = deadline - time.monotonic()
            if wait > 0:
                items += self._inbox.take(self.batch_max - len(items), wait)
                continue
            self._raise_writer_error()  # a dead writer never takes the waiting batch
            with self._taken:
                if not self._to_writer.full():
                    break  # the writer takes this batch as soon as it is validated
                # a batch waits for the writer: this one can go no sooner, so it fills on
                self._taken.wait(0.02)
            items += self._inbox.take(self.batch_max - len(items), 0.0)
        # validated here, against the locations of the batches before it (committed or not)
        builder = BatchBuilder(dict(self._locations))
        builder.add_many([(it.topic, it.payload, it.received_ms) for it in items])
        self._locations = builder.locations
        # the batch's tables (and the store's own preparation) made here, not in the
        # writer: the writer's turn is then the database's alone (PostgreSQL's drain was
        # bound by it; benchmarks/RESULTS.md, "PostgreSQL ingest")
        self._hand_over(_Job(items, builder, self.store.prepare(builder.build())))
        return len(items)

    def _hand_over(self, job: _Job | None) -> None:
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="ingest-writer", daemon=True
            )
            self._writer.start()
        while True:
            self._raise_writer_error()
            try:
                self._to_writer.put(job, timeout=0.5)
                return
            except queue.Full:
                continue

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            raise RuntimeError("the ingest writer thread failed") from self._writer_error

    def _write_loop(self) -> None:
        try:
            while (job := self._to_writer.get()) is not None:
                with self._taken:
                    self._taken.notify()
                self._commit(*job)
        except BaseException as exc:  # handed to the receiving thread, which raises it
            self._writer_error = exc
            log.exception("the ingest writer thread failed")

    def _commit(self, items: list[_Item], builder: BatchBuilder, batch: Batch) -> None:
        """Write one validated batch (retrying), then acknowledge its messages."""
        delay_s = 0.1
        while True:
            try:
                result = self.store.write(batch)
                break
            except Exception:
                # nothing acknowledged yet: keep the batch and try again (a deadlock, a
                # database restarting); the messages stay unacknowledged meanwhile
                self.stats.write_errors += 1
                log.exception("store write failed; retrying in %.1f s", delay_s)
                if self._stop.wait(delay_s):
                    return  # stopping: unacknowledged, so the broker delivers them again
                delay_s = min(2 * delay_s, 5.0)
        generation = self._generation
        # QoS 0 needs no PUBACK; 2 never comes (every subscription is QoS 1)
        self._ack([it.mid for it in items if it.qos == 1 and it.generation == generation])
        now = time.monotonic()
        s = self.stats
        s.messages += builder.messages
        s.rejected += builder.rejected
        s.samples_stored += result.samples
        s.closures_stored += result.closures
        s.batches += 1
        if self.keep_latencies:
            s.latencies_s.extend(now - it.received_s for it in items)
        if self.on_commit is not None:
            self.on_commit([it.payload for it in items])
        if self.fluxes is not None:
            self.fluxes.submit(builder.dirty)

    def _ack(self, mids: list[int]) -> None:
        """PUBACK the QoS 1 messages ``mids`` of this connection (a committed batch's)."""
        for mid in mids:
            self.client.ack(mid, 1)

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand."""
        self._stop.set()

    def close(self) -> None:
        """Commit what is queued, then disconnect (the session stays at the broker)."""
        try:
            while self.step(timeout_s=0.0):
                pass
        finally:
            self._closing.set()  # a message still arriving is left to the next session
            if self._writer is not None:
                if self._writer.is_alive():
                    self._to_writer.put(None)  # after the batches before it
                self._writer.join()
                self._writer = None
            self.client.disconnect()
            self.client.loop_stop()
            self._restore_switch_interval()
        self._raise_writer_error()

    def _restore_switch_interval(self) -> None:
        """The interpreter's switch interval as :meth:`start` found it (unless someone
        changed it since)."""
        if self._switch_was is not None:
            if sys.getswitchinterval() == self._switch_set:
                sys.setswitchinterval(self._switch_was)
            self._switch_was = None
