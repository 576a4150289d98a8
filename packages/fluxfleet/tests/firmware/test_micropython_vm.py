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


@pytest.mark.service
def test_boot_py_on_the_vm_rejects_a_new_loader_that_raises(tmp_path: Path) -> None:
    """Defect #10 on the real VM: ``boot.py`` runs a confirmed slot's own loader, which
    raises; the golden loader rejects that version and starts the verified previous one.

    The flash is prepared under CPython by the real loader (6.0.0, then 6.1.0 - the real
    firmware with a ``loader.py`` whose boot raises - both confirmed) and copied into the
    VM together with the golden ``/firmware``, ``/boot.py`` and the update server's files.
    """
    node = shutil.which("node")
    mjs = _micropython_mjs()
    if node is None or mjs is None:
        missing_service(
            "MicroPython WebAssembly port not installed (needs node and "
            "@micropython/micropython-webassembly-pyscript: `make setup` runs npm ci)"
        )
        return
    from fluxfleet import keys
    from fluxfleet.firmware import http as fw_http
    from fluxfleet.firmware import loader

    from .test_boot import APP, BASE, Transport
    from .test_boot_update_path import publish

    key = keys.generate_key()
    data = tmp_path / "data"
    www, root = data / "www", data / "root"
    root.mkdir(parents=True)
    src = tmp_path / "src60"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "main.py").write_text(APP)
    keys.write_bundle(www, "6.0.0", key, src=src)

    def fetch(url: str, timeout_ms: int) -> fw_http.Response:
        body = (www / url[len(BASE) + 1 :]).read_bytes()
        return fw_http.Response(Transport(b""), 200, {}, body, 10**9, lambda: 0, None, 5000)

    for version in ("6.0.0", "6.1.0"):
        if version == "6.1.0":
            publish(tmp_path, www, key, "6.1.0", "raises")
        ld = loader.Loader(str(root), key.public_bytes, BASE, fetch, lambda: 0)
        assert ld.boot()["version"] == version
        ld.confirm()
    shutil.copytree(
        FIRMWARE_DIR, root / "firmware", ignore=shutil.ignore_patterns("__pycache__", "boot.py")
    )
    shutil.copy(FIRMWARE_DIR / "boot.py", root / "boot.py")
    (data / "key.txt").write_text(key.public_hex)
    proc = subprocess.run(
        [
            node,
            str(HERE / "run.mjs"),
            str(mjs),
            str(FIRMWARE_DIR),
            str(HERE / "boot_harness.py"),
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ALL OK")


@pytest.mark.service
def test_rollback_and_replay_refusal_on_the_vm(tmp_path: Path) -> None:
    """``fluxfleet rollout``'s device side on the real VM: an unconfirmed version goes back
    to the previous slot at once when the server names that version; a chamber whose
    floor is 6.2.0 refuses the older, validly signed 6.1.0 (flashes prepared by CPython's
    loader, the decisions taken by the firmware's loader and HTTP client inside the VM)."""
    node = shutil.which("node")
    mjs = _micropython_mjs()
    if node is None or mjs is None:
        missing_service(
            "MicroPython WebAssembly port not installed (needs node and "
            "@micropython/micropython-webassembly-pyscript: `make setup` runs npm ci)"
        )
        return
    from fluxfleet import keys
    from fluxfleet.firmware import http as fw_http
    from fluxfleet.firmware import loader

    from .test_boot import APP, BASE, Transport

    key = keys.generate_key()
    data = tmp_path / "data"
    src = tmp_path / "src"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "main.py").write_text(APP)

    def prepare(name: str, steps: list[tuple[str, str | None, bool]]) -> None:
        www, root = data / f"www-{name}", data / name
        root.mkdir(parents=True)

        def fetch(url: str, timeout_ms: int) -> fw_http.Response:
            body = (www / url[len(BASE) + 1 :]).read_bytes()
            return fw_http.Response(Transport(b""), 200, {}, body, 10**9, lambda: 0, None, 5000)

        for version, min_version, confirm in steps:
            keys.write_bundle(www, version, key, src=src, min_version=min_version)
            ld = loader.Loader(str(root), key.public_bytes, BASE, fetch, lambda: 0)
            assert ld.boot()["version"] == version
            if confirm:
                ld.confirm()

    prepare("rollback", [("6.0.0", None, True), ("6.1.0", None, False)])
    www = data / "www-rollback"
    (www / "manifest.json").write_bytes((www / "manifests" / "6.0.0.json").read_bytes())
    prepare("replay", [("6.1.0", None, True), ("6.2.0", "6.2.0", True)])
    www = data / "www-replay"
    (www / "manifest.json").write_bytes((www / "manifests" / "6.1.0.json").read_bytes())
    (data / "key.txt").write_text(key.public_hex)
    proc = subprocess.run(
        [node, str(HERE / "run.mjs"), str(mjs), str(FIRMWARE_DIR),
         str(HERE / "rollback_harness.py"), str(data)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ALL OK")
