"""Produce the next item of an iterator on a second thread while the caller works on this one.

Why: ``soilflux compute`` over many files alternates reading and segmenting a file (Arrow
decoding, numpy sorts) with computing its fluxes (numpy on padded chunks).  Both release
the GIL for most of their time, so reading file i + 1 while the fluxes of file i are
computed uses the machine's second core; the order of the items, and so every output, is
unchanged.  Memory holds at most `ahead` items more than the caller's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    """An exception of the producer, handed to the consumer to raise."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[T], ahead: int = 1) -> Iterator[T]:
    """The items of `items` in order, each produced on a background thread up to `ahead`
    items before the caller asks for it.

    An exception of the producer is raised in the caller where the item would have come.
    If the caller stops early (break, exception, ``close()``), the producer is stopped
    after the item it is producing.

    Parameters
    ----------
    items : iterable
        Produced on the background thread (its iterator must not be used elsewhere).
    ahead : int
        Items produced and waiting at most, ≥ 1.
    """
    if ahead < 1:
        raise ValueError(f"ahead must be >= 1, got {ahead}")
    box: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed over, raised in the caller
            put(_Failed(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="soilflux-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
