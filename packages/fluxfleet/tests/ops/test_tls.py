"""``fluxfleet broker``'s TLS listener: accounts apply there too, the certificate verifies."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fluxfleet.ops.broker import PLUGIN, Broker, Tls
from fluxfleet.sim.broker import find_mosquitto, free_port
from paho.mqtt.enums import CallbackAPIVersion

from .conftest import account


def _certs(d: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-days", "2", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=t")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "ext",
    )  # fmt: skip


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[Broker]:
    exe = find_mosquitto()
    if exe is None or not PLUGIN.is_file() or shutil.which("openssl") is None:
        from testsupport.services import missing_service

        missing_service("mosquitto with its dynamic-security plugin, or openssl, is missing")
    top = Path(tempfile.mkdtemp(prefix="fluxfleet-ops-tls-"))
    top.chmod(0o711)
    certs = top / "certs"
    certs.mkdir()
    _certs(certs)
    if os.geteuid() == 0:  # the key must be readable by the account Mosquitto runs as
        pw = pwd.getpwnam("mosquitto")
        for p in (certs, *certs.iterdir()):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    tls = Tls(free_port(), certs / "server.crt", certs / "server.key", certs / "ca.crt")
    with Broker(top / "var", port=free_port(), exe=exe, tls=tls) as b:
        yield b
    shutil.rmtree(top, ignore_errors=True)


def _connect_tls(b: Broker, user: str, password: str) -> Any:
    assert b.tls is not None
    result: dict[str, Any] = {}
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-{user}", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=str(b.tls.cafile), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.username_pw_set(user, password)

    def on_connect(cl: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        result["rc"] = rc
        done.set()

    c.on_connect = on_connect
    c.connect(b.host, b.tls.port)
    c.loop_start()
    assert done.wait(10.0), "no CONNACK over TLS"
    c.disconnect()
    c.loop_stop()
    return result["rc"]


def test_tls_listener_verifies_and_authenticates(tls_broker: Broker) -> None:
    user, password = account(tls_broker, "operator")
    assert not _connect_tls(tls_broker, user, password).is_failure
    assert _connect_tls(tls_broker, user, "wrong").is_failure


def test_tls_listener_refuses_a_client_that_does_not_trust_the_server(tls_broker: Broker) -> None:
    assert tls_broker.tls is not None
    ctx = ssl.create_default_context()  # the system CAs: not the fleet's
    with (
        socket.create_connection((tls_broker.host, tls_broker.tls.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ctx.wrap_socket(raw, server_hostname=tls_broker.host).close()
