# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""A minimal streaming HTTP/1.0 GET for the loader, over an injected transport.

The transport factory ``connect(host, port)`` (``connect(host, port, True)`` for an
``https://`` URL: a TLS transport pinned to the fleet CA, see ``tls.py``) returns an
object with ``write(bytes)``, ``read(n, timeout_ms) -> bytes`` (b"" at end of stream,
``OSError`` on timeout) and ``close()``. The whole request has one deadline
(``timeout_ms``): a silent server costs at most that, never more. Waits are cut into
slices of at most ``slice_ms`` (5 s) with ``feed()`` - the watchdog - called between
them, so a slow server can never starve the 30-s hardware watchdog.
"""

ETIMEDOUT = 110
SLICE_MS = 5000


class HTTPError(OSError):
    """Anything wrong with the exchange: no answer, or a reply that is not HTTP we can read.

    Every failure of :func:`get` is this one class (an ``OSError``), never a ``ValueError``
    or ``UnicodeError`` from a hostile reply, so the loader's one fallback catches it.
    """


def split_url(url):
    """(host, port, path) of an ``http://`` or ``https://`` URL (ports 80 and 443)."""
    if not isinstance(url, str):
        raise HTTPError("only http:// and https:// URLs are supported, got %r" % (url,))
    if url.startswith("http://"):
        rest, port = url[7:], 80
    elif url.startswith("https://"):
        rest, port = url[8:], 443
    else:
        raise HTTPError("only http:// and https:// URLs are supported, got %r" % (url,))
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise HTTPError("bad port in %r" % (url,))
        return host, int(p), path
    return hostport, port, path


def _timed_out(e):
    return bool(e.args) and e.args[0] == ETIMEDOUT


def _read(t, n, deadline, ticks_ms, feed, slice_ms, what):
    """Read up to ``n`` bytes before ``deadline``, feeding the watchdog every slice."""
    while True:
        left = deadline - ticks_ms()
        if left <= 0:
            raise HTTPError(ETIMEDOUT, "ETIMEDOUT: deadline passed while reading " + what)
        try:
            return t.read(n, left if left < slice_ms else slice_ms)
        except OSError as e:
            if not _timed_out(e):
                raise
            if feed is not None:
                feed()


class Response:
    def __init__(self, t, status, headers, body_start, deadline, ticks_ms, feed, slice_ms):
        self.t = t
        self.status = status
        self.headers = headers
        self._buf = body_start
        self._deadline = deadline
        self._ticks = ticks_ms
        self._feed = feed
        self._slice = slice_ms
        cl = headers.get("content-length")
        if cl is not None and not (cl.isdigit() and len(cl) <= 9):
            raise HTTPError("bad Content-Length %r" % (cl,))
        self.length = int(cl) if cl is not None else None
        self._left = self.length

    def read(self, n):
        """Up to ``n`` body bytes; b"" at the end of the body."""
        if self._left == 0:
            return b""
        if not self._buf:
            self._buf = _read(
                self.t,
                max(n, 512),
                self._deadline,
                self._ticks,
                self._feed,
                self._slice,
                "the body",
            )
            if not self._buf:
                if self._left is not None and self._left > 0:
                    raise HTTPError(
                        "connection closed %d bytes before the end of the body" % self._left
                    )
                return b""
        out, self._buf = self._buf[:n], self._buf[n:]
        if self._left is not None:
            if len(out) > self._left:
                out = out[: self._left]
            self._left -= len(out)
        return out

    def close(self):
        try:
            self.t.close()
        except OSError:
            pass


def get(connect, url, timeout_ms, ticks_ms, feed=None, slice_ms=SLICE_MS):
    """GET ``url``; headers and body must all arrive within ``timeout_ms``."""
    deadline = ticks_ms() + timeout_ms
    host, port, path = split_url(url)
    # https: the transport does the TLS handshake with the fleet's pinned CA (hal, tls.py)
    t = connect(host, port, True) if url.startswith("https://") else connect(host, port)
    try:
        req = "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)
        t.write(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = _read(t, 512, deadline, ticks_ms, feed, slice_ms, "the HTTP header")
            if not chunk:
                raise HTTPError("connection closed before the end of the HTTP header")
            buf += chunk
            if len(buf) > 8192:
                raise HTTPError("HTTP header longer than 8 kB")
        head, body = buf.split(b"\r\n\r\n", 1)
        try:
            text = head.decode()
        except Exception:  # UnicodeError: a captive portal's or a hostile server's bytes
            raise HTTPError("the HTTP header is not UTF-8 text")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HTTPError("not an HTTP status line: %r" % (lines[0][:80],))
        if not (parts[1].isdigit() and len(parts[1]) == 3):
            raise HTTPError("not an HTTP status code: %r" % (parts[1][:16],))
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return Response(t, status, headers, body, deadline, ticks_ms, feed, slice_ms)
    except Exception:
        t.close()
        raise
