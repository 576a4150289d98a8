"""The firmware on the real MicroPython VM, not just through mpy-cross.

mpy-cross proves the files parse as MicroPython; it cannot see a runtime difference (an
exception class that cannot be initialised the CPython way, a missing ``hashlib.sha512``,
a ``struct`` format the port lacks). ``micropython/harness.py`` runs protocol, ring
buffer (RAM and file system), drivers, MQTT packets, SNTP, Ed25519 with the pure-Python
SHA-512, the loader (install and rollback of a bundle signed by CPython's
``cryptography``) and an hour of the controller inside MicroPython 1.27's official
WebAssembly port, under Node.

Needs ``node`` and the npm package ``@micropython/micropython-webassembly-pyscript``
(``npm install @micropython/micropython-webassembly-pyscript@1.27.0``); point
``FLUXFLEET_MICROPYTHON_MJS`` at its ``micropython.mjs`` or install it under the
repository's ``node_modules``. Without them the test is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fluxfleet.keys import FIRMWARE_DIR

from testsupport.services import missing_service

HERE = Path(__file__).resolve().parent / "micropython"
REPO = Path(__file__).resolve().parents[4]
PACKAGE = "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"


def _micropython_mjs() -> Path | None:
    env = os.environ.get("FLUXFLEET_MICROPYTHON_MJS")
    for candidate in ([Path(env)] if env else []) + [REPO / PACKAGE]:
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.service
def test_the_firmware_runs_on_the_micropython_vm():
    node = shutil.which("node")
    mjs = _micropython_mjs()
    if node is None or mjs is None:
        missing_service(
            "MicroPython WebAssembly port not installed (needs node and "
            "@micropython/micropython-webassembly-pyscript: `make setup` runs npm ci)"
        )
        return
    proc = subprocess.run(
        [node, str(HERE / "run.mjs"), str(mjs), str(FIRMWARE_DIR), str(HERE / "harness.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ALL OK")
