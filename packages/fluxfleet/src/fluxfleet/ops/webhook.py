"""Alarm notifications to a webhook: a bounded queue and one sender thread.

:meth:`WebhookSender.submit` never blocks (the evaluator, and the ingestor it may run
in, must not wait for a slow or dead receiver): it puts the notification in a bounded
queue and returns; when the queue is full the notification is dropped, counted and
logged. The sender thread POSTs each one as JSON and retries a failure (connection
refused, timeout, HTTP status ≥ 400) with exponential backoff, up to ``attempts`` times.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class WebhookStats:
    """What the sender did (read them after :meth:`WebhookSender.close`)."""

    submitted: int = 0
    delivered: int = 0
    failed: int = 0  # gave up after every attempt
    dropped: int = 0  # the queue was full
    attempts: int = 0


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL, else a ValueError saying so."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    return url


class WebhookSender:
    """POST notifications (JSON objects) to ``url`` from a thread.

    Parameters
    ----------
    url : str
        http(s) URL of the receiver.
    maxsize : int
        Notifications waiting at most; more are dropped [-].
    attempts : int
        Tries per notification, the first included [-].
    backoff_s : float
        Wait before the first retry; doubles each retry, at most ``max_backoff_s`` [s].
    timeout_s : float
        Timeout of one request [s].
    """

    def __init__(
        self,
        url: str,
        *,
        maxsize: int = 1000,
        attempts: int = 6,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = check_url(url)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.stats = WebhookStats()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="alarm-webhook", daemon=True)
        self._thread.start()

    def submit(self, notification: dict[str, Any]) -> bool:
        """Queue ``notification``; False (dropped, logged) if the queue is full. Never blocks."""
        with self._lock:
            self.stats.submitted += 1
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1
            log.warning("alarm webhook queue full: notification dropped (%s)", notification)
            return False
        return True

    def _post(self, body: bytes) -> None:
        req = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            resp.read()

    def _send(self, notification: dict[str, Any]) -> None:
        body = json.dumps(notification).encode()
        wait = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            with self._lock:
                self.stats.attempts += 1
            try:
                self._post(body)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if attempt == self.attempts or self._stop.is_set():
                    with self._lock:
                        self.stats.failed += 1
                    log.error("alarm webhook %s: gave up after %d attempts: %s",
                              self.url, attempt, exc)  # fmt: skip
                    return
                log.warning("alarm webhook %s: attempt %d failed (%s); retrying in %.1f s",
                            self.url, attempt, exc, wait)  # fmt: skip
                if self._stop.wait(wait):
                    wait = 0.0  # closing: the remaining attempts go at once
                wait = min(wait * 2, self.max_backoff_s)
                continue
            with self._lock:
                self.stats.delivered += 1
            return

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._send(item)

    def close(self, timeout_s: float = 30.0) -> None:
        """Send what is queued (retries without waiting once ``timeout_s`` is near), stop."""
        done = threading.Timer(timeout_s, self._stop.set)
        done.daemon = True
        done.start()
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            self._stop.set()
        self._thread.join(timeout_s)
        done.cancel()
