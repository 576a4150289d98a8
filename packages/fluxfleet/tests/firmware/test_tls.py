"""Firmware TLS (issue 12 #12): the ``tls`` section of config.json, MQTT over TLS to
``fluxfleet broker``'s Mosquitto TLS listener and HTTPS updates, the fleet CA pinned.

The firmware's own code (``tls.py``, ``mqtt.py``, ``http.py``, ``loader.py``, ``main.run``
and the controller) runs here under CPython's ``ssl``; ``test_tls_micropython.py`` runs
the device's transport (``hal/core2.py``) with MicroPython's ``ssl`` (mbedTLS).
Certificates are made by openssl at test time; the wrong ones are an impostor's CA and
a server name the certificate does not carry.
"""

from __future__ import annotations

import json
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fluxfleet import keys
from fluxfleet.firmware import http as fw_http
from fluxfleet.firmware import loader, main, protocol, tls
from fluxfleet.firmware.hal.host import TcpTransport, tls_transport_factory
from hypothesis import given
from hypothesis import strategies as st

from .test_device import FakeBoard
from .test_loader import publish
from .tls_rig import DEV, SERVER_NAME, Certs, Watcher, https_server, make_certs, tls_broker

# --- the config section ------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs() -> Iterator[Certs]:
    with tempfile.TemporaryDirectory(prefix="fluxfleet-fw-tls-") as d:
        yield make_certs(Path(d))


def test_the_pem_ca_becomes_the_der_that_both_ssl_modules_take(certs: Certs) -> None:
    pem = certs.ca.read_text()
    assert tls.pem_to_der(pem) == ssl.PEM_cert_to_DER_cert(pem)
    parsed = tls.parse_config({"tls": certs.device_tls()})
    assert parsed == {"ca_der": ssl.PEM_cert_to_DER_cert(pem), "server_hostname": SERVER_NAME}
    assert tls.parse_config({}) is None  # off unless configured


@pytest.mark.parametrize(
    ("section", "names"),
    [
        ("pem text", "config.json tls: must be an object"),
        ({}, "config.json tls.ca: must be a PEM"),
        ({"ca": "hello"}, "config.json tls.ca: no PEM certificate"),
        ({"ca": "x", "cert_sha256": "ab"}, "config.json tls.cert_sha256: unknown field"),
        ({"ca": tls.BEGIN + "\nAAAAA\n" + tls.END}, "config.json tls.ca: the certificate is not"),
        ({"ca": tls.BEGIN + "\nAAAA\n" + tls.END}, "config.json tls.ca: not a DER certificate"),
        ({"ca": "PEM", "server_hostname": ""}, "config.json tls.server_hostname"),
    ],
)
def test_an_unusable_tls_section_is_a_tls_error_naming_the_field(section, names) -> None:
    with pytest.raises(tls.TlsError, match=names.replace(".", r"\.")):
        tls.parse_config({"tls": section})


def test_two_certificates_are_refused(certs: Certs) -> None:
    both = certs.ca.read_text() + certs.rogue_ca.read_text()
    with pytest.raises(tls.TlsError, match="one certificate only"):
        tls.parse_config({"tls": {"ca": both}})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@given(section=JSON | st.fixed_dictionaries({"ca": JSON}, optional={"server_hostname": JSON}))
def test_any_tls_section_is_parsed_or_refused_with_a_tls_error(section: Any) -> None:
    # a config.json damaged in any way must never raise anything the boot does not expect
    if section is None:
        assert tls.parse_config({"tls": section}) is None
        return
    with pytest.raises(tls.TlsError, match=r"^config\.json tls") as e:
        tls.parse_config({"tls": section})
    assert isinstance(e.value, OSError)


def test_a_plain_update_url_is_refused_when_tls_is_configured() -> None:
    with pytest.raises(tls.TlsError, match="not fetching updates in plaintext"):
        tls.refuse_plaintext("http://updates/fleet/manifest.json", True)
    tls.refuse_plaintext("https://updates/fleet/manifest.json", True)
    tls.refuse_plaintext("http://updates/fleet/manifest.json", False)


# --- MQTT over TLS to the real broker -------------------------------------------------------


@pytest.fixture(scope="module")
def broker(certs: Certs) -> Iterator[Any]:
    with (
        tempfile.TemporaryDirectory(prefix="fluxfleet-fw-tls-broker-") as d,
        tls_broker(Path(d), certs) as (b, account),
    ):
        yield b, account


class BrokerPaced:
    """A transport that waits (in real time) for the broker's answer to CONNECT.

    The board's clock is virtual and runs far ahead of real time; without this the
    controller's 5-s CONNACK deadline could pass before a loaded machine's broker answers,
    and the test would depend on the machine's speed.
    """

    def __init__(self, t: TcpTransport) -> None:
        self.t = t
        self.early = b""

    def write(self, data: bytes) -> None:
        self.t.write(data)
        deadline = time.monotonic() + 10
        # CONNECT: wait for the answer's bytes (a TLS 1.3 session ticket may come first)
        while data[:1] == b"\x10" and not self.early and time.monotonic() < deadline:
            self.t.wait_readable(100)
            self.early = bytes(self.t.read_available())

    def read_available(self) -> bytes:
        out, self.early = self.early + bytes(self.t.read_available()), b""
        return out

    def wait_readable(self, timeout_ms: int) -> bool:
        return bool(self.t.wait_readable(timeout_ms))

    def close(self) -> None:
        self.t.close()


class TlsBoard(FakeBoard):
    """The test_device board (fake I2C chips, virtual clock), its network over real TCP;
    records every transport it was asked for."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.opened: list[tuple[str, int, bool]] = []

    def tcp(self, host: str, port: int, tls_on: bool = False) -> Any:
        self.opened.append((host, port, tls_on))
        if not tls_on:
            return BrokerPaced(TcpTransport(host, port))
        return BrokerPaced(TcpTransport(host, port, tls=tls.parse_config(self.config)))


def device_config(b: Any, account: tuple[str, str], tmp: Path, tls_section: Any) -> dict[str, Any]:
    (tmp / "data").mkdir()
    (tmp / "data" / "location").write_text("5.3.A")
    return {
        "device_id": DEV,
        "broker_host": b.host,
        "broker_port": b.tls.port,
        "mqtt_user": account[0],
        "mqtt_password": account[1],
        "data_dir": str(tmp / "data"),
        "tls": tls_section,
    }


@pytest.mark.service
def test_with_the_pinned_fleet_ca_the_device_connects_over_tls_and_samples_arrive(
    broker: Any, certs: Certs, tmp_path: Path
) -> None:
    b, account = broker
    board = TlsBoard(device_config(b, account, tmp_path, certs.device_tls()))
    watcher = Watcher(b)
    try:
        ctl = main.run(board, {"version": "6.2.0", "slot": "a", "boots": 1}, max_steps=400)
        ctl.link.disconnect()
        telemetry = watcher.wait("telemetry", 3)
        status = [json.loads(p) for p in watcher.of_kind("status")]
    finally:
        watcher.stop()
    assert board.opened
    assert all(t for _, _, t in board.opened)
    assert {p for _, p, _ in board.opened} == {b.tls.port}
    samples = [s for p in telemetry for s in protocol.decode("telemetry", p)["samples"]]
    assert [s["seq"] for s in samples][:3] == [1, 2, 3]
    assert samples[0]["p_hpa"] is not None
    assert status[0]["state"] == "online"
    assert not [m for m in board.logged if "failed" in m]


@pytest.mark.service
@pytest.mark.parametrize(
    ("wrong", "reason"),
    [
        ("rogue_ca", "not correctly signed|certificate verify failed"),
        ("other_name", "does not match|certificate verify failed"),
    ],
)
def test_a_wrong_certificate_is_refused_reported_once_and_never_retried_in_plaintext(
    broker: Any, certs: Certs, tmp_path: Path, wrong: str, reason: str
) -> None:
    b, account = broker
    section = (
        certs.device_tls(ca=certs.rogue_ca)
        if wrong == "rogue_ca"
        else certs.device_tls(name="other.fleet.test")
    )
    board = TlsBoard(device_config(b, account, tmp_path, section))
    watcher = Watcher(b)
    try:
        # ~3 virtual minutes: the reconnect back-off tries again and again
        ctl = main.run(board, {"version": "6.2.0", "slot": "a", "boots": 1}, max_steps=1500)
        ctl.link.close()
    finally:
        watcher.stop()
    assert len(board.opened) >= 3  # retried (back-off), no crash loop: the loop ran on
    assert all(t and p == b.tls.port for _, p, t in board.opened)  # every one of them TLS
    assert board.reboots == 0
    assert ctl.ring.head > 50
    failures = [m for m in board.logged if m.startswith("MQTT connect failed")]
    assert len(failures) == 1, board.logged  # one clear line, not one per retry
    assert f"TLS handshake with 127.0.0.1:{b.tls.port}" in failures[0]
    assert "not connecting in plaintext" in failures[0]
    import re

    assert re.search(reason, failures[0]), failures[0]
    assert not [m for m in board.logged if m.startswith("controller error")]
    assert ctl.link_error == failures[0][len("MQTT connect failed: ") :].split(" (retrying")[0]
    assert watcher.messages == []  # nothing of this device reached the broker


# --- HTTPS updates ------------------------------------------------------------------------


def _loader(flash: Path, key: keys.FleetKey, port: int, section: dict[str, Any]) -> loader.Loader:
    connect = tls_transport_factory(tls.parse_config({"tls": section}))

    def fetch(url: str, timeout_ms: int) -> fw_http.Response:
        return fw_http.get(connect, url, timeout_ms, lambda: int(time.monotonic() * 1000))

    return loader.Loader(
        str(flash), key.public_bytes, f"https://127.0.0.1:{port}", fetch, lambda: 0
    )


@pytest.mark.service
def test_the_loader_installs_over_https_with_the_pinned_ca_and_refuses_an_impostor(
    tmp_path: Path, certs: Certs
) -> None:
    key = keys.generate_key()
    www = tmp_path / "www"
    www.mkdir()
    publish(tmp_path, www, key, "7.0.0")
    flash = tmp_path / "flash"
    flash.mkdir()
    # server_hostname unset: the certificate must name the host connected to (127.0.0.1)
    with https_server(www, certs.server_crt, certs.server_key) as port:
        d = _loader(flash, key, port, certs.device_tls(name=None)).boot()
        assert (d["slot"], d["version"], d["updated"]) == ("a", "7.0.0", True)
        # a newer release, but the device pins another CA: refused, the cached version runs
        publish(tmp_path, www, key, "7.1.0")
        d = _loader(flash, key, port, certs.device_tls(ca=certs.rogue_ca)).boot()
        assert (d["slot"], d["version"], d["updated"]) == ("a", "7.0.0", False)
        assert "update server unavailable (TLS handshake with 127.0.0.1" in d["reason"]
        assert "running the cached version" in d["reason"]
    # an impostor serving the same bundles with its own certificate for the same names
    with https_server(www, certs.rogue_crt, certs.rogue_key) as port:
        d = _loader(flash, key, port, certs.device_tls()).boot()
        assert (d["slot"], d["version"], d["updated"]) == ("a", "7.0.0", False)
        assert "TLS handshake" in d["reason"]
        assert "not connecting in plaintext" in d["reason"]
    with https_server(www, certs.server_crt, certs.server_key) as port:
        d = _loader(flash, key, port, certs.device_tls()).boot()
        assert (d["slot"], d["version"], d["updated"]) == ("b", "7.1.0", True)
