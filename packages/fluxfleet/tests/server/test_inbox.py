"""The ingestor's hand-over between paho's thread and the batching thread (``Inbox``), and
the PUBACKs it writes for a committed batch (``puback_bytes``)."""

from __future__ import annotations

import struct
import threading
import time

import pytest
from fluxfleet.ingest.inbox import Inbox
from fluxfleet.ingest.mqtt import puback_bytes
from hypothesis import given
from hypothesis import strategies as st


@given(st.lists(st.integers(1, 65535), max_size=300))
def test_puback_bytes_are_pahos_packets_back_to_back(mids: list[int]) -> None:
    # paho's _send_command_with_mid: struct.pack('!BBH', PUBACK, 2, mid)
    assert puback_bytes(mids) == b"".join(struct.pack("!BBH", 0x40, 2, m) for m in mids)


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
