"""SNTP parsing and the loader's streaming HTTP client, on fake transports."""

from __future__ import annotations

import pytest
from fluxfleet.firmware import http, sntp


def ntp_packet(unix_ms: int, mode: int = 4, stratum: int = 2) -> bytes:
    sec, ms = divmod(unix_ms, 1000)
    pkt = bytearray(48)
    pkt[0] = (4 << 3) | mode
    pkt[1] = stratum
    pkt[40:44] = (sec + sntp.NTP_TO_UNIX_S).to_bytes(4, "big")
    pkt[44:48] = (-(-(ms << 32) // 1000)).to_bytes(4, "big")  # round up: exact ms back
    return bytes(pkt)


def test_sntp_request_and_parse_to_the_millisecond():
    req = sntp.request()
    assert len(req) == 48
    assert req[0] == 0x23  # LI 0, version 4, client mode
    t = 1_709_287_680_123
    assert sntp.parse(ntp_packet(t)) == t
    assert sntp.parse(ntp_packet(t), rtt_ms=40) == t + 20  # half the round trip


@pytest.mark.parametrize(
    ("pkt", "why"),
    [
        (b"\x24" * 20, "shorter than 48"),
        (ntp_packet(1_700_000_000_000, mode=3), "mode 3"),
        (ntp_packet(1_700_000_000_000, stratum=0), "kiss-of-death"),
        (bytes((0x24, 2)) + bytes(46), "without a transmit timestamp"),
    ],
)
def test_sntp_rejects_bad_answers(pkt, why):
    with pytest.raises(ValueError, match=why):
        sntp.parse(pkt)


class ScriptedTransport:
    """Returns the scripted chunks; a None chunk is a wait that times out (the clock moves
    by the whole wait). After the script: end of stream, or silence forever."""

    def __init__(self, chunks: list[bytes | None], clock: list[int], silent: bool) -> None:
        self.chunks = chunks
        self.clock = clock
        self.silent = silent
        self.written = b""
        self.waits: list[int] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def read(self, n: int, timeout_ms: int) -> bytes:
        self.waits.append(timeout_ms)
        c = self.chunks.pop(0) if self.chunks else (None if self.silent else b"")
        if c is None:
            self.clock[0] += timeout_ms
            raise OSError(110, "ETIMEDOUT")
        return c

    def close(self) -> None:
        self.closed = True


class Feeds:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> None:
        self.n += 1


def get(
    chunks: list[bytes | None], timeout_ms: int = 20_000, silent: bool = False
) -> tuple[http.Response, ScriptedTransport, list[int], Feeds]:
    clock = [0]
    t = ScriptedTransport(chunks, clock, silent)
    feed = Feeds()
    url = "http://updates:8080/fleet/manifest.json"
    r = http.get(lambda host, port: t, url, timeout_ms, lambda: clock[0], feed)
    return r, t, clock, feed


def test_get_streams_the_body_honouring_content_length():
    r, t, _, _ = get([b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello", b" world", b"JUNK"])
    assert (
        t.written
        == b"GET /fleet/manifest.json HTTP/1.0\r\nHost: updates\r\nConnection: close\r\n\r\n"
    )
    assert r.status == 200
    assert (r.length, r.headers["content-length"]) == (11, "11")
    body = b""
    while chunk := r.read(4):
        body += chunk
    assert body == b"hello world"


def test_a_body_cut_short_is_an_error_not_a_short_file():
    r, _, _, _ = get([b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nonly this"])
    assert r.read(100) == b"only this"
    with pytest.raises(http.HTTPError, match="91 bytes before the end of the body"):
        r.read(100)


def test_a_silent_server_fails_at_the_deadline_and_the_watchdog_is_fed_meanwhile():
    clock = [0]
    t = ScriptedTransport([], clock, silent=True)
    feed = Feeds()
    url = "http://updates/fleet/manifest.json"
    with pytest.raises(http.HTTPError, match="ETIMEDOUT: deadline passed while reading the HTTP"):
        http.get(lambda h, p: t, url, 20_000, lambda: clock[0], feed)
    assert clock[0] == 20_000  # never longer than the budget
    assert t.waits == [5_000] * 4  # no single wait longer than a watchdog-safe slice
    assert feed.n == 4
    assert t.closed


def test_slow_bytes_within_the_deadline_are_fine_and_the_rest_of_the_budget_is_kept():
    r, t, clock, feed = get(
        [b"HTTP/1.0 200 OK\r\n\r\nab", None, None, b"cd"], timeout_ms=20_000, silent=True
    )
    assert r.read(2) == b"ab"
    assert r.read(2) == b"cd"  # after 10 s of silence
    assert (clock[0], feed.n) == (10_000, 2)
    with pytest.raises(http.HTTPError, match="deadline passed while reading the body"):
        r.read(2)
    assert clock[0] == 20_000
    assert max(t.waits) == 5_000


def test_status_line_and_url_errors():
    with pytest.raises(http.HTTPError, match="not an HTTP status line"):
        get([b"SSH-2.0-OpenSSH\r\n\r\n"])
    with pytest.raises(http.HTTPError, match="only http:// and https://"):  # one error class
        http.split_url("ftp://x/y")
    assert http.split_url("http://h/p") == ("h", 80, "/p")
    assert http.split_url("https://h/p") == ("h", 443, "/p")
    assert http.split_url("https://h:8443") == ("h", 8443, "/")
    assert http.split_url("http://h:81") == ("h", 81, "/")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (b"HTTP/1.1 OK\r\n\r\n", "not an HTTP status code"),
        (b"HTTP/1.0 2000000000000000000000 OK\r\n\r\n", "not an HTTP status code"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: lots\r\n\r\nbody", "bad Content-Length"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: -5\r\n\r\nbody", "bad Content-Length"),
        (b"HTTP/1.0 200 OK\r\nX-Portal: \xff\xfe\x80\r\n\r\n", "not UTF-8"),
        (b"\x00\x01\x02 garbage\r\n\r\n", "not an HTTP status line"),
    ],
)
def test_a_hostile_reply_is_an_http_error_never_a_value_or_unicode_error(reply, why):
    # a captive portal or a misconfigured server: the loader catches OSError, so anything
    # else escaping here would stop the boot and loop the device through the watchdog
    with pytest.raises(http.HTTPError, match=why):
        get([reply])


@pytest.mark.parametrize(
    "url", ["httpx://updates/fleet", "ftp://x/y", "http://h:99999/p", "https://h:x/"]
)
def test_an_unsupported_url_is_an_http_error(url):
    with pytest.raises(http.HTTPError):
        http.split_url(url)
