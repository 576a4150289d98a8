"""Hand-over of received messages from paho's network thread to the batching thread.

A bounded FIFO like :class:`queue.Queue`, but the consumer takes everything waiting in
one call (:meth:`Inbox.take`): a drain moves thousands of messages a second, and
``Queue.get`` per message cost the batching thread a lock round and a condition wait
each (benchmarks/RESULTS.md, "ingest: the receiving path's CPU"). The producer is woken
only when the inbox is empty or has room again, not on every message.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """A bounded FIFO: one producer :meth:`put` s, one consumer :meth:`take` s in bulk.

    Parameters
    ----------
    maxsize : int
        Most items held; :meth:`put` blocks while it is full [-].
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T, timeout_s: float) -> bool:
        """Append ``item``, waiting up to ``timeout_s`` [s] for room; False if none came."""
        with self._lock:
            if len(self._items) >= self.maxsize:
                deadline = time.monotonic() + timeout_s
                while len(self._items) >= self.maxsize:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._not_full.wait(left)
            self._items.append(item)
            if len(self._items) == 1:  # the consumer may be waiting for the first one
                self._not_empty.notify()
            return True

    def take(self, n: int, timeout_s: float) -> list[T]:
        """Up to ``n`` items, oldest first, waiting up to ``timeout_s`` [s] for at least
        one; an empty list if none came."""
        with self._lock:
            if not self._items and timeout_s > 0:
                deadline = time.monotonic() + timeout_s
                while not self._items:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._not_empty.wait(left)
            k = min(n, len(self._items))
            if k == 0:
                return []
            was_full = len(self._items) >= self.maxsize
            pop = self._items.popleft
            out = [pop() for _ in range(k)]
            if was_full:
                self._not_full.notify()
            return out
