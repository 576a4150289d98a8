# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""A small MQTT 3.1.1 client (QoS 0/1) for the controller, over an injected transport.

Why not ``umqtt.simple``/``umqtt.robust``: simple never pings on its own and blocks in
``wait_msg``; robust retries forever inside ``publish`` (stalling the measurement loop) and
does not resubscribe. This client never blocks (the controller sends CONNECT with
:meth:`MqttLink.start` and polls :meth:`MqttLink.connack`; only :meth:`MqttLink.connect`
waits for the CONNACK, for other users), reports
PUBACKs as events (so the ring buffer advances only on real acknowledgements) and leaves
keepalive pings and reconnects to the controller's main loop.

The transport (``hal.host.TcpTransport`` under CPython, ``hal.core2`` on the device)::

    t.write(data)                 # send all bytes or raise OSError
    t.read_available() -> bytes   # what has arrived, b"" if nothing; OSError when closed
    t.wait_readable(timeout_ms) -> bool
    t.close()

``MqttLink`` implements the controller's link contract (see README.md).
"""

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

_CONNACK_ERRORS = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def encode_length(n):
    """MQTT variable-length 'remaining length' (1-4 bytes)."""
    if n < 0 or n > 268435455:
        raise ValueError("remaining length out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return bytes(((len(s) >> 8) & 0xFF, len(s) & 0xFF)) + s


def packet(first, body):
    return bytes((first,)) + encode_length(len(body)) + body


def connect_packet(client_id, keepalive_s, will=None, user=None, password=None, clean=True):
    """CONNECT; ``will`` = (topic, payload, qos, retain)."""
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will is not None:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += _str(topic) + _str(msg)
    if user is not None:
        flags |= 0x80
        payload += _str(user)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    body = _str("MQTT") + bytes((4, flags, (keepalive_s >> 8) & 0xFF, keepalive_s & 0xFF))
    return packet(CONNECT, body + payload)


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    first = PUBLISH | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = _str(topic)
    if qos:
        body += bytes(((pid >> 8) & 0xFF, pid & 0xFF))
    return packet(first, body + bytes(payload))


def subscribe_packet(pid, topic, qos):
    return packet(SUBSCRIBE, bytes(((pid >> 8) & 0xFF, pid & 0xFF)) + _str(topic) + bytes((qos,)))


def parse(buf):
    """Split one packet off the front of ``buf``: (first_byte, body, rest) or None if incomplete."""
    if len(buf) < 2:
        return None
    n = 0
    mult = 1
    i = 1
    while True:
        if i >= len(buf):
            return None
        b = buf[i]
        n += (b & 0x7F) * mult
        i += 1
        if not b & 0x80:
            break
        mult *= 128
        if i > 4:
            raise OSError("malformed MQTT remaining length")
    if len(buf) < i + n:
        return None
    return buf[0], bytes(buf[i : i + n]), buf[i + n :]


class MqttLink:
    """The controller's MQTT link over ``transport_factory(host, port)``."""

    def __init__(
        self, transport_factory, host, port=1883, user=None, password=None, timeout_ms=5000
    ):
        self.factory = transport_factory
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.timeout_ms = timeout_ms
        self.t = None
        self.buf = b""
        self.pid = 0

    def _next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    def _write(self, data):
        if self.t is None:
            raise OSError("MQTT link is not connected")
        try:
            self.t.write(data)
        except OSError:
            self.close()
            raise

    def start(self, client_id, will_topic, will_payload, keepalive_s):
        """Open the transport and send CONNECT; :meth:`connack` says when it is accepted."""
        self.close()
        self.buf = b""
        self.t = self.factory(self.host, self.port)
        will = (will_topic, will_payload, 1, True) if will_topic else None
        self._write(
            connect_packet(client_id, keepalive_s, will, self.user, self.password, clean=True)
        )

    def connack(self):
        """Never waits: True once the broker accepted the session, False while its CONNACK
        has not arrived; ``OSError`` for a refusal, another packet or a closed link."""
        if self.t is None:
            raise OSError("MQTT link is not connected")
        self.buf += self._read()
        p = parse(self.buf)
        if p is None:
            return False
        first, body, self.buf = p
        if first & 0xF0 != CONNACK or len(body) != 2:
            self.close()
            raise OSError("expected CONNACK, got packet 0x%02x" % first)
        if body[1] != 0:
            self.close()
            raise OSError("broker refused: " + _CONNACK_ERRORS.get(body[1], str(body[1])))
        return True

    def connect(self, client_id, will_topic, will_payload, keepalive_s):
        """:meth:`start`, then wait for the CONNACK (at most ``timeout_ms``; blocks)."""
        self.start(client_id, will_topic, will_payload, keepalive_s)
        waited = 0
        while not self.connack():
            if waited >= self.timeout_ms:
                self.close()
                raise OSError("no CONNACK within %d ms" % self.timeout_ms)
            if not self.t.wait_readable(100):
                waited += 100

    def _read(self):
        try:
            return self.t.read_available()
        except OSError:
            self.close()
            raise

    def subscribe(self, topic, qos):
        """Send SUBSCRIBE; returns its pid (the SUBACK comes as a ``("suback", pid, code)``
        event: code 0x80 is a refusal, e.g. by the broker's ACL)."""
        pid = self._next_pid()
        self._write(subscribe_packet(pid, topic, qos))
        return pid

    def publish(self, topic, payload, qos, retain):
        pid = self._next_pid() if qos else 0
        self._write(publish_packet(topic, payload, qos, retain, pid))
        return pid

    def poll(self):
        """Events: ("puback", pid), ("pingresp",), ("suback", pid, code),
        ("msg", topic, payload, retained)."""
        if self.t is None:
            raise OSError("MQTT link is not connected")
        self.buf += self._read()
        events = []
        while True:
            p = parse(self.buf)
            if p is None:
                return events
            first, body, self.buf = p
            kind = first & 0xF0
            if kind == PUBACK and len(body) >= 2:
                events.append(("puback", (body[0] << 8) | body[1]))
            elif kind == PINGRESP:
                events.append(("pingresp",))
            elif kind == SUBACK and len(body) >= 3:
                events.append(("suback", (body[0] << 8) | body[1], body[2]))
            elif kind == PUBLISH:
                qos = (first >> 1) & 3
                tl = (body[0] << 8) | body[1]
                topic = body[2 : 2 + tl].decode()
                i = 2 + tl
                if qos:
                    mid = body[i : i + 2]
                    i += 2
                    self._write(packet(PUBACK, mid))
                events.append(("msg", topic, body[i:], bool(first & 1)))
            # anything else: nothing to report

    def ping(self):
        self._write(bytes((PINGREQ, 0)))

    def disconnect(self):
        if self.t is not None:
            try:
                self.t.write(bytes((DISCONNECT, 0)))
            except OSError:
                pass
        self.close()

    def close(self):
        if self.t is not None:
            try:
                self.t.close()
            except OSError:
                pass
        self.t = None
