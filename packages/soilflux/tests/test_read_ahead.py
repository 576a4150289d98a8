"""read_ahead: the items in order, the producer's errors where they happen, a clean stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from soilflux.read_ahead import read_ahead


@given(st.lists(st.integers()), st.integers(1, 4))
def test_items_come_in_order(items: list[int], ahead: int) -> None:
    assert list(read_ahead(items, ahead=ahead)) == items


def test_items_are_produced_on_another_thread() -> None:
    where: list[str] = []

    def produce() -> Iterator[int]:
        for i in range(3):
            where.append(threading.current_thread().name)
            yield i

    assert list(read_ahead(produce())) == [0, 1, 2]
    assert where == ["soilflux-read-ahead"] * 3


def test_an_error_of_the_producer_is_raised_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("file 3, line 7: bad value")

    it = read_ahead(produce())
    assert [next(it), next(it)] == [1, 2]
    with pytest.raises(ValueError, match="file 3, line 7"):
        next(it)


def test_the_producer_stops_when_the_caller_stops() -> None:
    made: list[int] = []

    def produce() -> Iterator[int]:
        for i in range(1000):
            made.append(i)
            yield i

    it = read_ahead(produce(), ahead=1)
    assert next(it) == 0
    it.close()  # joins the producer
    # the caller took one item; the producer made at most that, one waiting, one in hand
    assert len(made) <= 3


def test_ahead_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ahead"):
        list(read_ahead([1], ahead=0))
