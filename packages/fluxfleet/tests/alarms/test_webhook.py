"""The alarm webhook against a real local HTTP server (testsupport.webhook.Receiver)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fluxfleet.ops.webhook import WebhookSender, check_url

from testsupport.webhook import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


def test_retries_until_the_receiver_accepts(receiver: Receiver) -> None:
    sender = WebhookSender(receiver.url, backoff_s=0.01)
    assert sender.submit({"event": "raise", "id": 1, "kind": "device_offline"})
    sender.close()
    assert [a["id"] for a in receiver.attempts] == [1, 1, 1]  # two 500s, then 200
    assert receiver.accepted == [{"event": "raise", "id": 1, "kind": "device_offline"}]
    s = sender.stats
    assert (s.submitted, s.delivered, s.failed, s.dropped, s.attempts) == (1, 1, 0, 0, 3)


def test_gives_up_after_its_attempts() -> None:
    r = Receiver(fail_first=10)
    try:
        sender = WebhookSender(r.url, attempts=3, backoff_s=0.01)
        sender.submit({"id": 7})
        sender.close()
    finally:
        r.close()
    assert len(r.attempts) == 3
    assert r.accepted == []
    assert (sender.stats.delivered, sender.stats.failed) == (0, 1)


def test_a_dead_receiver_is_retried_then_given_up() -> None:
    r = Receiver()
    url = r.url
    r.close()  # nothing listens there any more: connection refused
    sender = WebhookSender(url, attempts=2, backoff_s=0.01)
    sender.submit({"id": 1})
    sender.close()
    assert (sender.stats.attempts, sender.stats.failed) == (2, 1)


def test_submit_never_blocks_on_a_hanging_receiver() -> None:
    """The receiver holds every request: the sender's one thread is stuck in a POST, the
    queue fills, and every submit still returns at once (a full queue drops, counted).
    (Were submit to block, this test would hang rather than pass.)"""
    r = Receiver()
    r.release.clear()
    try:
        sender = WebhookSender(r.url, maxsize=5, timeout_s=60.0)
        results = [sender.submit({"id": 0})]
        assert r.entered.wait(30)  # the first is in flight, held by the receiver
        results += [sender.submit({"id": i}) for i in range(1, 21)]
        assert results == [True] * 6 + [False] * 15  # 5 queued, 15 dropped
        assert sender.stats.dropped == 15
        r.release.set()
        sender.close()
    finally:
        r.close()
    assert sorted(a["id"] for a in r.accepted) == [0, 1, 2, 3, 4, 5]
    assert sender.stats.delivered == 6


@pytest.mark.parametrize("url", ["ftp://x/y", "localhost:80", "http://", "file:///etc/passwd"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        check_url(url)
