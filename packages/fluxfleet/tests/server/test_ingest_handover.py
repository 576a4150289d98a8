"""The ingestor's hand-overs: paho's thread to the batching thread (``Inbox``), the
batching thread to the writer (a batch filling while the one before waits), and the
PUBACKs of a committed batch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fluxfleet.ingest.inbox import Inbox
from fluxfleet.ingest.mqtt import Ingestor, _Item
from fluxfleet.store import Batch, WriteResult
from fluxfleet.store.duckdb_store import DuckDBStore
from hypothesis import given
from hypothesis import strategies as st


@given(st.lists(st.one_of(st.integers(0, 9), st.just(-1)), max_size=200), st.integers(1, 7))
def test_inbox_is_a_fifo_taken_in_bulk(ops: list[int], maxsize: int) -> None:
    """A schedule of puts (-1) and takes of n (0-9) against a list: same order, never more
    than ``maxsize`` held, a put into a full inbox refused after its timeout."""
    box: Inbox[int] = Inbox(maxsize)
    model: list[int] = []
    k = 0
    for op in ops:
        if op < 0:
            ok = box.put(k, 0.0)
            assert ok == (len(model) < maxsize)
            if ok:
                model.append(k)
            k += 1
        else:
            got = box.take(op, 0.0)
            assert got == model[:op]
            del model[:op]
        assert len(box) == len(model) <= maxsize


def test_take_waits_for_the_first_item_and_put_for_room() -> None:
    box: Inbox[int] = Inbox(2)
    assert box.take(5, 0.01) == []
    threading.Timer(0.05, box.put, (1, 1.0)).start()
    assert box.take(5, 10.0) == [1]  # woken by the put
    assert box.put(2, 0.0)
    assert box.put(3, 0.0)
    threading.Timer(0.05, box.take, (1, 0.0)).start()
    assert box.put(4, 10.0)  # woken by the take that made room
    assert box.take(5, 0.0) == [3, 4]


def test_a_producer_and_a_consumer_lose_and_reorder_nothing() -> None:
    box: Inbox[int] = Inbox(16)
    n = 20_000

    def produce() -> None:
        for i in range(n):
            while not box.put(i, 0.1):
                pass

    t = threading.Thread(target=produce)
    t.start()
    got: list[int] = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        got += box.take(7, 0.1)
    t.join(10)
    assert got == list(range(n))


def test_inbox_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Inbox(0)


class _GatedStore(DuckDBStore):
    """An in-memory store whose first write waits for the test's gate."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.gate = threading.Event()
        self.writing = threading.Event()

    def write(self, batch: Batch) -> WriteResult:
        self.writing.set()
        assert self.gate.wait(60)
        return super().write(batch)


def _item(i: int) -> _Item:  # QoS 0: nothing to acknowledge on this unconnected client
    return _Item("fluxfleet/v1/ch001/status", b"{}", i, 0, 1_700_000_000_000, 0.0, 0)


def test_a_batch_filling_behind_a_dead_writer_raises_instead_of_waiting() -> None:
    """While a batch waits for the writer, the next one fills on past its linger time; if
    the writer thread died meanwhile, ``step`` must raise, not wait for it forever."""
    store = _GatedStore()

    def fail(payloads: list[bytes]) -> None:
        raise KeyboardInterrupt  # not an Exception: not retried, ends the writer thread

    ing = Ingestor("127.0.0.1", 1, store, receive_maximum=4, linger_s=0.01, on_commit=fail)
    for i in range(2):
        assert ing._inbox.put(_item(i), 0.0)
    assert ing.step(0.0) == 2  # batch 1: the writer takes it and waits at the gate
    assert store.writing.wait(30)
    for i in range(2, 4):
        assert ing._inbox.put(_item(i), 0.0)
    assert ing.step(0.0) == 2  # batch 2 waits in the hand-over queue
    store.gate.set()  # batch 1 commits, then on_commit ends the writer
    assert ing._writer is not None
    ing._writer.join(30)
    assert not ing._writer.is_alive()
    assert ing._to_writer.full()  # batch 2 is never taken
    assert ing._inbox.put(_item(4), 0.0)
    outcome: list[BaseException] = []

    def third() -> None:
        try:
            ing.step(0.0)
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=third, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "step waited for a writer that had died"
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "writer thread failed" in str(outcome[0])
    store.close()


def test_the_ingestor_runs_duckdb_on_one_thread() -> None:
    store = DuckDBStore(":memory:")
    store.con.execute("SET threads = 2")
    Ingestor("127.0.0.1", 1, store)
    assert store.con.execute("SELECT current_setting('threads')").fetchone() == (1,)
    store.close()


def test_a_batch_is_acknowledged_per_message_through_pahos_public_ack() -> None:
    store = DuckDBStore(":memory:")
    ing = Ingestor("127.0.0.1", 1, store)
    acked: list[tuple[int, int]] = []

    class Acking:
        def ack(self, mid: int, qos: int) -> None:
            acked.append((mid, qos))

    ing.client = Acking()  # type: ignore[assignment]
    ing._ack([7, 65535, 1])
    ing._ack([])
    assert acked == [(7, 1), (65535, 1), (1, 1)]
    store.close()


@pytest.mark.parametrize("switch_s", [0.0005, 0.002, 3.3333e-4, None])
def test_the_ingestor_sets_the_switch_interval_while_it_runs(broker: Any, switch_s: Any) -> None:
    """From ``start`` to ``close`` the interpreter switches threads every
    ``switch_interval_s`` (None: left alone); ``close`` gives back the one it found."""
    import sys

    before = sys.getswitchinterval()
    store = DuckDBStore(":memory:")
    ing = Ingestor(broker.host, broker.port, store, client_id="switch", switch_interval_s=switch_s)
    assert sys.getswitchinterval() == before  # not on construction
    ing.start()
    try:
        want = before if switch_s is None else switch_s
        assert sys.getswitchinterval() == pytest.approx(want, abs=1e-6)  # whole µs
    finally:
        ing.close()
    assert sys.getswitchinterval() == before
    store.close()


def test_the_switch_interval_is_left_alone_for_an_in_process_store(broker: Any) -> None:
    """By default ("auto") only a store written over a socket (PostgreSQL) gets the short
    interval; DuckDB's drain keeps Python's own."""
    import sys

    from fluxfleet.store.postgres_store import PostgresStore

    assert PostgresStore.writes_over_network
    assert not DuckDBStore.writes_over_network
    before = sys.getswitchinterval()
    store = DuckDBStore(":memory:")
    ing = Ingestor(broker.host, broker.port, store, client_id="switch-auto")
    assert ing.switch_interval_s is None
    ing.start()
    try:
        assert sys.getswitchinterval() == before
    finally:
        ing.close()
    store.close()
    with pytest.raises(ValueError, match="switch_interval_s"):
        Ingestor(broker.host, broker.port, store, switch_interval_s="fast")
