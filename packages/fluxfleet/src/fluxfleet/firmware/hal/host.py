"""CPython pieces of the HAL: a TCP transport for ``mqtt.MqttLink`` and ``http.get``.

Used by the host integration tests (against a real Mosquitto) and usable by the
simulator. Not for the device (``hal/core2.py`` has the MicroPython equivalent).
"""

import select
import socket


class TcpTransport:
    """Non-blocking reads, blocking writes, over a TCP socket."""

    def __init__(self, host, port, timeout_ms=5000):
        self.sock = socket.create_connection((host, port), timeout_ms / 1000)
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
            except BlockingIOError:
                break
            if not b:
                if chunks:
                    break
                raise OSError("connection closed by peer")
            chunks.append(b)
        return b"".join(chunks)

    def wait_readable(self, timeout_ms):
        r, _, _ = select.select([self.sock], [], [], timeout_ms / 1000)
        return bool(r)

    def read(self, n, timeout_ms):
        """Blocking read of up to ``n`` bytes (b"" at end of stream) - for http.get."""
        if not self.wait_readable(timeout_ms):
            raise OSError(110, "ETIMEDOUT")
        try:
            return self.sock.recv(n)
        except BlockingIOError:
            return self.read(n, timeout_ms)

    def close(self):
        self.sock.close()


def tcp_transport(host, port):
    return TcpTransport(host, port)
