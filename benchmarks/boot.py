"""Boot-path cost on the MicroPython VM: Ed25519 verify, a cached boot, an update install.

Runs the firmware's own ``ed25519`` and ``loader`` inside MicroPython 1.27's WebAssembly
port under Node (the VM of ``tests/firmware/test_micropython_vm.py``), on the real
firmware bundle signed here with CPython, and prints a table of VM milliseconds
(``time.ticks_ms`` inside the VM):

* one ``ed25519.verify`` of the signed manifest (pure-Python SHA-512 where the port has
  no ``hashlib.sha512``);
* ``Loader.boot()`` when the installed version is up to date (fetch + verify the manifest,
  re-verify every file of the slot);
* ``Loader.boot()`` installing the bundle (streamed download, hashing, verify, switch).

The WebAssembly VM on a x86 core is not a 240 MHz ESP32: read the figures as relative
costs; on the device they are several times longer (not measured here).

    python3 -m uv run --frozen python benchmarks/boot.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fluxfleet import keys
from fluxfleet.keys import FIRMWARE_DIR

REPO = Path(__file__).resolve().parents[1]
MJS = REPO / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
RUN = REPO / "packages/fluxfleet/tests/firmware/micropython/run.mjs"

SCRIPT = """
import gc, time, json
from app import ed25519, loader
FILES = {files}
KEY = {key}
ENV = FILES["manifest.json"]
class Resp:
    def __init__(self, data):
        self.status = 200 if data is not None else 404
        self.data = data or b""
    def read(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out
    def close(self):
        pass
def fetch(url, timeout_ms):
    return Resp(FILES.get(url[len("http://u/"):]))
env = json.loads(ENV)
body = env["body"].encode()
sig = bytes.fromhex(env["sig"])
rows = []
for run in range({runs}):
    t = time.ticks_ms()
    ok = ed25519.verify(KEY, body, sig)
    v = time.ticks_diff(time.ticks_ms(), t)
    assert ok
    root = "/flash/r%d" % run
    import os
    os.mkdir(root)
    gc.collect()
    t = time.ticks_ms()
    d = loader.Loader(root, KEY, "http://u", fetch, time.ticks_ms).boot()
    inst = time.ticks_diff(time.ticks_ms(), t)
    assert d["updated"] and d["slot"] == "a", d
    gc.collect()
    t = time.ticks_ms()
    d = loader.Loader(root, KEY, "http://u", fetch, time.ticks_ms).boot()
    cached = time.ticks_diff(time.ticks_ms(), t)
    assert d["reason"] == "up to date", d
    gc.collect()
    rows.append((v, cached, inst))
for r in rows:
    print("ROW", *r)
print("ALL OK")
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    node = shutil.which("node")
    if node is None or not MJS.is_file():
        print("needs node and the MicroPython WebAssembly port (make setup)", file=sys.stderr)
        return 2
    key = keys.generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        www = Path(tmp) / "www"
        keys.write_bundle(www, "9.9.9", key)
        files = {
            p.relative_to(www).as_posix(): p.read_bytes() for p in www.rglob("*") if p.is_file()
        }
        script = Path(tmp) / "bench.py"
        script.write_text(SCRIPT.format(files=repr(files), key=repr(key.public_bytes), runs=a.runs))
        size = sum(len(v) for k, v in files.items() if k != "manifest.json")
        proc = subprocess.run(
            [node, str(RUN), str(MJS), str(FIRMWARE_DIR), str(script)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        return 1
    rows = [list(map(int, ln.split()[1:])) for ln in proc.stdout.splitlines() if ln[:4] == "ROW "]
    print(f"MicroPython 1.27 WebAssembly VM (Node), firmware bundle {size:,} B in {len(files) - 1}")
    print("files; VM ms by time.ticks_ms\n")
    print("| run | ed25519.verify | boot, up to date (verify slot) | boot, install update |")
    print("|---:|---:|---:|---:|")
    for i, (v, cached, inst) in enumerate(rows, 1):
        print(f"| {i} | {v} ms | {cached} ms | {inst} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
