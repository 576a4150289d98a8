"""The firmware's MQTT client: exact packet bytes on a fake socket, then a real Mosquitto."""

from __future__ import annotations

from typing import Any

import pytest
from fluxfleet.firmware import mqtt, protocol
from fluxfleet.firmware.hal.host import tcp_transport

from testsupport.mqtt import MqttWatcher


class FakeSocket:
    """A transport that records what the client writes and returns scripted bytes."""

    def __init__(self, incoming: bytes = b"") -> None:
        self.incoming = bytearray(incoming)
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            raise OSError(9, "EBADF")
        self.written += data

    def read_available(self) -> bytes:
        if self.closed:
            raise OSError(9, "EBADF")
        out = bytes(self.incoming)
        self.incoming.clear()
        return out

    def wait_readable(self, timeout_ms: int) -> bool:
        return bool(self.incoming)

    def close(self) -> None:
        self.closed = True


CONNACK_OK = bytes((0x20, 2, 0, 0))


def link_with(sock: FakeSocket) -> mqtt.MqttLink:
    return mqtt.MqttLink(lambda host, port: sock, "broker", 1883, timeout_ms=300)


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16383, "ff7f"),
        (16384, "808001"),
        (268435455, "ffffff7f"),
    ],
)
def test_remaining_length_encoding_matches_the_mqtt_spec_examples(n, encoded):
    assert mqtt.encode_length(n) == bytes.fromhex(encoded)  # MQTT 3.1.1 table 2.4
    first, body, rest = mqtt.parse(b"\x30" + bytes.fromhex(encoded) + bytes(n) + b"xy")
    assert (first, len(body), rest) == (0x30, n, b"xy")


def test_connect_packet_with_retained_qos1_will_and_keepalive():
    sock = FakeSocket(CONNACK_OK)
    link_with(sock).connect("c01", "fluxfleet/v1/c01/status", b"offline", 30)
    expected = (
        b"\x10"
        + bytes((2 + 4 + 1 + 1 + 2 + 5 + 25 + 9,))
        + b"\x00\x04MQTT\x04"
        + bytes((0x02 | 0x04 | 0x08 | 0x20,))  # clean session, will, will QoS 1, will retain
        + b"\x00\x1e"  # keepalive 30 s
        + b"\x00\x03c01"
        + b"\x00\x17fluxfleet/v1/c01/status"
        + b"\x00\x07offline"
    )
    assert bytes(sock.written) == expected


def test_refused_connection_names_the_reason_and_closes():
    sock = FakeSocket(bytes((0x20, 2, 0, 5)))
    link = link_with(sock)
    with pytest.raises(OSError, match="not authorised"):
        link.connect("c01", "t", b"x", 30)
    assert sock.closed


def test_no_connack_is_a_timeout_error():
    sock = FakeSocket()
    with pytest.raises(OSError, match="no CONNACK"):
        link_with(sock).connect("c01", "t", b"x", 30)


def test_publish_qos1_carries_a_packet_id_and_the_puback_comes_back_as_an_event():
    sock = FakeSocket(CONNACK_OK)
    link = link_with(sock)
    link.connect("c01", "t", b"x", 30)
    sock.written.clear()
    pid = link.publish("a/b", b"hi", 1, True)
    assert pid == 1
    assert bytes(sock.written) == b"\x33\x09\x00\x03a/b\x00\x01hi"  # QoS 1 + retain
    assert link.publish("a/b", b"", 0, False) == 0
    sock.incoming += b"\x40\x02\x00\x01" + b"\xd0\x00"
    assert link.poll() == [("puback", 1), ("pingresp",)]


def test_incoming_qos1_publish_is_acknowledged_and_split_across_reads():
    sock = FakeSocket(CONNACK_OK)
    link = link_with(sock)
    link.connect("c01", "t", b"x", 30)
    sock.written.clear()
    pkt = mqtt.publish_packet("fluxfleet/v1/all/cmd", b'{"a":1}', qos=1, pid=0x1234)
    sock.incoming += pkt[:5]
    assert link.poll() == []  # incomplete packet waits
    sock.incoming += pkt[5:]
    assert link.poll() == [("msg", "fluxfleet/v1/all/cmd", b'{"a":1}', False)]
    assert bytes(sock.written) == b"\x40\x02\x12\x34"  # our PUBACK


def test_ping_subscribe_disconnect_bytes():
    sock = FakeSocket(CONNACK_OK)
    link = link_with(sock)
    link.connect("c01", "t", b"x", 30)
    sock.written.clear()
    link.subscribe("fluxfleet/v1/c01/cmd", 1)
    link.ping()
    link.disconnect()
    assert bytes(sock.written) == (
        b"\x82\x19\x00\x01\x00\x14fluxfleet/v1/c01/cmd\x01" + b"\xc0\x00" + b"\xe0\x00"
    )
    assert sock.closed
    with pytest.raises(OSError, match="not connected"):
        link.publish("x", b"", 0, False)


def test_a_dead_socket_surfaces_as_oserror_from_poll():
    sock = FakeSocket(CONNACK_OK)
    link = link_with(sock)
    link.connect("c01", "t", b"x", 30)
    sock.closed = True
    with pytest.raises(OSError):  # noqa: PT011 - any socket error is the contract
        link.poll()


# --- against a real broker -------------------------------------------------------------------


@pytest.mark.service
def test_real_broker_puback_commands_and_last_will(mosquitto):
    dev = "c42"
    status = protocol.topic(dev, "status")
    link = mqtt.MqttLink(tcp_transport, mosquitto.host, mosquitto.port)
    link.connect(dev, status, b'{"state":"offline"}', 30)
    link.subscribe(protocol.topic(dev, "cmd"), 1)
    watcher = MqttWatcher(mosquitto.host, mosquitto.port, "fluxfleet/v1/#")
    try:
        pid = link.publish(protocol.topic(dev, "telemetry"), b"sample-1", 1, False)
        link.ping()
        events: list[tuple[Any, ...]] = []
        sock = link.t
        assert sock is not None
        while ("puback", pid) not in events or ("pingresp",) not in events:
            assert sock.wait_readable(10_000), f"broker went quiet; events so far {events}"
            events += link.poll()
        watcher.wait_for(lambda m: m[1] == b"sample-1")

        # a command published by the server reaches the device (QoS 1, acknowledged)
        watcher.client.publish(protocol.topic(dev, "cmd"), b'{"cmd":"x"}', qos=1)
        got: list[tuple[Any, ...]] = []
        while not any(e[0] == "msg" for e in got):
            assert sock.wait_readable(10_000), "command never arrived"
            got += link.poll()
        assert ("msg", protocol.topic(dev, "cmd"), b'{"cmd":"x"}', False) in got

        # a retained message is delivered with the retain flag at subscribe time
        watcher.client.publish("fluxfleet/v1/all/cmd", b'{"cmd":"r"}', qos=1, retain=True)
        watcher.wait_for(lambda m: m[1] == b'{"cmd":"r"}')
        link.subscribe("fluxfleet/v1/all/cmd", 1)
        got = []
        while not any(e[0] == "msg" for e in got):
            assert sock.wait_readable(10_000), "retained message never arrived"
            got += link.poll()
        assert ("msg", "fluxfleet/v1/all/cmd", b'{"cmd":"r"}', True) in got
        watcher.client.publish("fluxfleet/v1/all/cmd", b"", qos=1, retain=True)  # clear it

        # dropping the TCP connection without DISCONNECT fires the retained last will
        link.close()
        (will,) = watcher.wait_for(lambda m: m[0] == status)
        assert will[1] == b'{"state":"offline"}'
    finally:
        link.close()  # idempotent; closes the socket when an assertion fired first
        watcher.stop()
    # the will is retained: a new subscriber sees it at once
    late = MqttWatcher(mosquitto.host, mosquitto.port, status)
    try:
        (m,) = late.wait_for(lambda m: m[0] == status)
        assert m[2] is True
        late.client.publish(status, b"", qos=1, retain=True).wait_for_publish(5)  # leave no trace
    finally:
        late.stop()
