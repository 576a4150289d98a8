"""What the firmware TLS tests share: a fleet CA and an impostor's, made by openssl at test
time; ``fluxfleet broker`` (Mosquitto with dynamic security) with its TLS listener and a
device account; an HTTPS update server. Nothing is downloaded, nothing is mocked.
"""

from __future__ import annotations

import functools
import http.server
import os
import pwd
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from fluxfleet.ops import roles
from fluxfleet.ops.broker import PLUGIN, Broker, Tls, load_accounts
from fluxfleet.sim.broker import find_mosquitto, free_port
from paho.mqtt.enums import CallbackAPIVersion

from testsupport.services import missing_service

SERVER_NAME = "broker.fleet.test"  # the name in the server certificates (and 127.0.0.1)
DEV = "tls-c01"
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certs:
    """PEM files: the fleet CA and a server certificate it signed, and an impostor's pair
    (its own CA, a server certificate with the same names)."""

    ca: Path
    server_crt: Path
    server_key: Path
    rogue_ca: Path
    rogue_crt: Path
    rogue_key: Path

    def device_tls(self, ca: Path | None = None, name: str | None = SERVER_NAME) -> dict[str, Any]:
        """The ``tls`` section of a device's config.json pinning ``ca`` (the fleet CA)."""
        out: dict[str, Any] = {"ca": (ca or self.ca).read_text()}
        if name is not None:
            out["server_hostname"] = name
        return out


def make_certs(d: Path) -> Certs:
    if shutil.which("openssl") is None:
        missing_service("openssl is not installed (it makes the test certificates)")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    (d / "ext").write_text(f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1\n")
    for who in ("fleet", "rogue"):
        run("req", "-x509", *EC, "-days", "2", "-keyout", f"{who}-ca.key",
            "-out", f"{who}-ca.crt", "-subj", f"/CN={who} chamber CA")  # fmt: skip
        run("req", *EC, "-keyout", f"{who}-server.key", "-out", f"{who}-server.csr",
            "-subj", f"/CN={SERVER_NAME}")  # fmt: skip
        run("x509", "-req", "-in", f"{who}-server.csr", "-CA", f"{who}-ca.crt",
            "-CAkey", f"{who}-ca.key", "-CAcreateserial", "-days", "2",
            "-out", f"{who}-server.crt", "-extfile", "ext")  # fmt: skip
    return Certs(
        d / "fleet-ca.crt",
        d / "fleet-server.crt",
        d / "fleet-server.key",
        d / "rogue-ca.crt",
        d / "rogue-server.crt",
        d / "rogue-server.key",
    )


@contextmanager
def tls_broker(top: Path, certs: Certs) -> Iterator[tuple[Broker, tuple[str, str]]]:
    """``fluxfleet broker`` with a TLS listener on the fleet's server certificate, and the
    device account of :data:`DEV` (its own role, as ``fluxfleet devices add`` makes).
    ``top`` must be a directory Mosquitto's account can enter (e.g. a ``tempfile`` one)."""
    exe = find_mosquitto()
    if exe is None or not PLUGIN.is_file():
        missing_service("mosquitto with its dynamic-security plugin is not installed")
    top.chmod(0o711)
    if os.geteuid() == 0:  # the key must be readable by the account Mosquitto runs as
        pw = pwd.getpwnam("mosquitto")
        for p in (certs.ca.parent, certs.server_crt, certs.server_key, certs.ca):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    tls = Tls(free_port(), certs.server_crt, certs.server_key)
    with Broker(top / "var", port=free_port(), exe=exe, tls=tls) as b:
        password = "device-secret-1"
        with b.admin() as ds:
            ds.call("createRole", rolename=roles.device_role(DEV), acls=roles.device_acls(DEV))
            ds.call(
                "createClient",
                username=DEV,
                password=password,
                roles=[{"rolename": roles.device_role(DEV), "priority": 0}],
            )
        yield b, (DEV, password)


class Watcher:
    """The ingest account on the plain listener: every message :data:`DEV` publishes from
    now on."""

    def __init__(self, b: Broker) -> None:
        acc = load_accounts(b.data_dir)["accounts"][roles.INGEST]
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="tls-watcher")
        self.client.username_pw_set(acc["username"], acc["password"])
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect(b.host, b.port)
        self.client.loop_start()
        for kind in ("telemetry", "status", "meta"):
            self.client.subscribe(f"fluxfleet/v1/+/{kind}", qos=1)
        assert subscribed.wait(10), "the broker did not acknowledge the watcher"

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        # retain set: an earlier test's retained status/meta, sent on subscribing
        if msg.topic.split("/")[2] != DEV or msg.retain:
            return
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def of_kind(self, kind: str) -> list[bytes]:
        with self.cond:
            return [p for t, p in self.messages if t.endswith("/" + kind)]

    def wait(self, kind: str, n: int) -> list[bytes]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.of_kind(kind)) >= n, 15)
        assert ok, f"fewer than {n} {kind} messages arrived: {self.messages}"
        return self.of_kind(kind)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def https_server(root: Path, crt: Path | None, key: Path | None) -> Iterator[int]:
    """A local HTTPS file server on ``root`` with certificate ``crt`` (plain HTTP when
    ``crt`` is None); yields its port."""
    handler = functools.partial(_Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if crt is not None and key is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
