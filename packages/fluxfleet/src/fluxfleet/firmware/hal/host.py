"""CPython pieces of the HAL: a TCP transport for ``mqtt.MqttLink`` and ``http.get``.

Used by the host integration tests (against a real Mosquitto) and usable by the
simulator. Not for the device (``hal/core2.py`` has the MicroPython equivalent).
"""

import select
import socket
import ssl

from .. import tls as tlsmod

# a TLS socket with nothing decrypted to read yet (CPython raises these, not BlockingIOError)
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class TcpTransport:
    """Non-blocking reads, blocking writes, over a TCP socket; over TLS when ``tls`` (a
    :func:`fluxfleet.firmware.tls.parse_config` result) is given - the firmware's own
    ``tls.wrap``, with CPython's ``ssl``."""

    def __init__(self, host, port, timeout_ms=5000, tls=None):
        sock = socket.create_connection((host, port), timeout_ms / 1000)
        if tls is not None:
            try:
                sock = tlsmod.wrap(ssl, sock, tls, host, port)
            except OSError:
                sock.close()
                raise
        self.sock = sock
        self.sock.setblocking(False)

    def write(self, data):
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def read_available(self):
        chunks = []
        while True:
            try:
                b = self.sock.recv(4096)
            except _WOULD_BLOCK:
                break
            if not b:
                if chunks:
                    break
                raise OSError("connection closed by peer")
            chunks.append(b)
        return b"".join(chunks)

    def wait_readable(self, timeout_ms):
        pending = getattr(self.sock, "pending", None)  # TLS: decrypted bytes already here
        if pending is not None and pending():
            return True
        r, _, _ = select.select([self.sock], [], [], timeout_ms / 1000)
        return bool(r)

    def read(self, n, timeout_ms):
        """Blocking read of up to ``n`` bytes (b"" at end of stream) - for http.get."""
        if not self.wait_readable(timeout_ms):
            raise OSError(110, "ETIMEDOUT")
        try:
            return self.sock.recv(n)
        except _WOULD_BLOCK:  # TLS: a record not complete yet
            return self.read(n, timeout_ms)

    def close(self):
        self.sock.close()


def tcp_transport(host, port):
    return TcpTransport(host, port)


def tls_transport_factory(tls):
    """``connect(host, port[, secure])`` for ``mqtt.MqttLink`` and ``http.get`` on a device
    whose ``config.json`` has the ``tls`` section ``tls`` (parsed): always TLS."""

    def connect(host, port, secure=True):
        return TcpTransport(host, port, tls=tls)

    return connect
