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
    """Returns the scripted chunks, then end of stream; a None chunk is a silent server."""

    def __init__(self, chunks: list[bytes | None], clock: list[int]) -> None:
        self.chunks = chunks
        self.clock = clock
        self.written = b""
        self.timeouts: list[int] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def read(self, n: int, timeout_ms: int) -> bytes:
        self.timeouts.append(timeout_ms)
        if not self.chunks:
            return b""
        c = self.chunks.pop(0)
        if c is None:
            self.clock[0] += timeout_ms
            raise OSError(110, "ETIMEDOUT")
        return c

    def close(self) -> None:
        self.closed = True


def get(
    chunks: list[bytes | None], timeout_ms: int = 20_000
) -> tuple[http.Response, ScriptedTransport]:
    clock = [0]
    t = ScriptedTransport(chunks, clock)
    r = http.get(
        lambda host, port: t,
        "http://updates:8080/fleet/manifest.json",
        timeout_ms,
        lambda: clock[0],
    )
    return r, t


def test_get_streams_the_body_honouring_content_length():
    r, t = get([b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello", b" world", b"JUNK"])
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
    r, _ = get([b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nonly this"])
    assert r.read(100) == b"only this"
    with pytest.raises(http.HTTPError, match="91 bytes before the end of the body"):
        r.read(100)


def test_a_silent_server_fails_within_the_deadline():
    with pytest.raises(OSError, match="ETIMEDOUT"):
        get([None], timeout_ms=20_000)


def test_every_read_gets_only_what_is_left_of_the_deadline():
    r, t = get([b"HTTP/1.0 200 OK\r\n", b"\r\nab", None, b"cd"], timeout_ms=20_000)
    assert t.timeouts == [20_000, 20_000]
    assert r.read(2) == b"ab"
    with pytest.raises(OSError, match="ETIMEDOUT"):
        r.read(2)  # the silence used up the rest of the 20 s
    assert t.timeouts[-1] == 20_000
    with pytest.raises(http.HTTPError, match="deadline passed"):
        r.read(2)


def test_status_line_and_url_errors():
    with pytest.raises(http.HTTPError, match="not an HTTP status line"):
        get([b"SSH-2.0-OpenSSH\r\n\r\n"])
    with pytest.raises(ValueError, match="only http://"):
        http.split_url("https://x/y")
    assert http.split_url("http://h/p") == ("h", 80, "/p")
    assert http.split_url("http://h:81") == ("h", 81, "/")
