"""The alarm webhook against a real local HTTP server (http.server on a free port)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fluxfleet.ops.webhook import WebhookSender, check_url


class Receiver:
    """An HTTP server that answers 500 to the first ``fail_first`` POSTs, then 200; it can
    be held (every request waits on ``release``) to play a receiver that hangs."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.entered.set()
                receiver.release.wait(30)
                with receiver.lock:
                    receiver.attempts.append(body)
                    ok = len(receiver.attempts) > receiver.fail_first
                    if ok:
                        receiver.accepted.append(body)
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


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
