"""Flash wear of the chamber firmware on littlefs: per sample (the ring) and per update.

Runs the firmware's own ``ring.Ring`` and ``loader.Loader`` on a real littlefs image
(``fluxfleet.sim.flash``: the C littlefs with the ESP32 port's configuration, 4,096-byte
blocks, a 2 MB partition of 512 blocks, NOR-flash semantics) holding what a chamber's flash
holds (the golden firmware copy and two A/B slots of the real bundle), and counts block
erases and bytes programmed:

* per sample, in steady state (the ring full and rotating), with the pointer save every
  30 s as the controller does: the old in-place ring (one 50-B record rewritten in the
  480-kB ``ring.dat`` and flushed per sample), and the append-only segment ring committing
  every sample (``commit_every=1``) and every 4 samples (the default);
* per update: ``Loader.boot`` installing a new version of the real firmware bundle into
  the other slot and switching the pointer.

Years to wear-out: littlefs levels wear dynamically over the blocks not held by static
files (the firmware copies; the ring's own blocks are rotated, so they count), so
``levelled blocks x 100,000 erase cycles / (erases per sample x samples per year)``
at one sample per 3 s (10.5 million samples a year); updates (one a month) add little.

    python3 -m uv run --frozen python benchmarks/ring_flash.py [--samples N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fluxfleet import keys
from fluxfleet.firmware import loader, ring
from fluxfleet.firmware.storage import FileBlob, FileStore
from fluxfleet.sim.flash import PARTITION_BLOCKS, LfsFs, NorFlash

CYCLES = 100_000  # erase cycles per sector (ESP32 SPI NOR flash datasheets)
SAMPLES_PER_YEAR = 365.25 * 86400 / 3
FW = Path(keys.__file__).parent / "firmware"


def sample(i: int) -> dict[str, object]:
    return {
        "ts": 1_700_000_000_000 + 3000 * i,
        "cyc": i // 200,
        "ph": "open",
        "co2_ppm": 420.0 + i % 50,
        "rh_pct": 60.0,
        "t_c": 21.0,
        "ta_c": 21.0,
        "p_hpa": 970.0,
        "lux": 0.0,
        "lid_deg": 90,
        "fan_pct": 40,
        "fl": 0,
    }


def provisioned_flash() -> tuple[NorFlash, LfsFs]:
    """A formatted partition with the golden firmware and two slots of the bundle."""
    flash = NorFlash()
    fs = LfsFs(flash, format=True)
    files = [(rel.as_posix(), (FW / rel).read_bytes()) for rel in keys.bundle_files(FW)]
    for root in ("/firmware", "/slot_a/app", "/slot_b/app"):
        for rel, data in files:
            path = root + "/" + rel
            parts = path.split("/")
            for k in range(2, len(parts)):
                d = "/".join(parts[:k])
                try:
                    fs.stat(d)
                except OSError:
                    fs.mkdir(d)
            with fs.open(path, "wb") as f:
                f.write(data)
    fs.mkdir("/data")
    return flash, fs


def per_sample_segments(commit_every: int, n: int) -> tuple[float, float, int]:
    flash, fs = provisioned_flash()
    static = fs.used_blocks()
    r = ring.Ring(FileStore("/data", fs), ring.DEFAULT_SLOTS, commit_every=commit_every)
    i = 0
    while i < ring.DEFAULT_SLOTS + 2 * ring.SEG_RECORDS:  # fill: the ring rotates from now on
        r.append(sample(i))
        i += 1
        if i % 10 == 0:
            r.save()
    e0, _, b0 = flash.counters()
    for _ in range(n):
        r.append(sample(i))
        i += 1
        if i % 10 == 0:  # the controller saves the pointers every 30 s
            r.mark_sent(r.committed)
            r.save()
    e1, _, b1 = flash.counters()
    return (e1 - e0) / n, (b1 - b0) / n, PARTITION_BLOCKS - static


def per_sample_in_place(n: int) -> tuple[float, float, int]:
    """The old ring: a 480-kB blob, one record rewritten in the middle and flushed."""
    flash, fs = provisioned_flash()
    static = fs.used_blocks()
    blob = FileBlob("/data/ring.dat", 9600 * 50, fs)
    rec = bytes(50)
    for i in range(20):
        blob.write((i * 50) % (9600 * 50), rec)
    e0, _, b0 = flash.counters()
    for i in range(20, 20 + n):
        blob.write((i * 4801) % 9600 * 50, rec)  # spread over the file like a full ring
    e1, _, b1 = flash.counters()
    blob.close()
    return (e1 - e0) / n, (b1 - b0) / n, PARTITION_BLOCKS - static


def per_update() -> tuple[int, int]:
    """Loader.boot installing version 2 of the real bundle over version 1, on littlefs."""
    import tempfile

    flash = NorFlash()
    fs = LfsFs(flash, format=True)
    key = keys.generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        www = Path(tmp)
        served: dict[str, bytes] = {}

        def publish(version: str) -> None:
            keys.write_bundle(www, version, key)
            for p in www.rglob("*"):
                if p.is_file():
                    served[p.relative_to(www).as_posix()] = p.read_bytes()

        class Resp:
            def __init__(self, data: bytes | None) -> None:
                self.status = 200 if data is not None else 404
                self.data = data or b""

            def read(self, n: int) -> bytes:
                out, self.data = self.data[:n], self.data[n:]
                return out

            def close(self) -> None:
                pass

        def fetch(url: str, timeout_ms: int) -> Resp:
            return Resp(served.get(url[len("http://u/") :]))

        def boot() -> dict[str, object]:
            ld = loader.Loader("/", key.public_bytes, "http://u", fetch, lambda: 0, fs=fs)
            d = ld.boot()
            ld.confirm()
            return d

        publish("1.0.0")
        assert boot()["version"] == "1.0.0"
        publish("1.0.1")
        e0, _, b0 = flash.counters()
        d = boot()
        e1, _, b1 = flash.counters()
        assert d["version"] == "1.0.1", d
    return e1 - e0, b1 - b0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1200, help="samples measured (1 h at 3 s)")
    ap.add_argument("--in-place-samples", type=int, default=30)
    a = ap.parse_args(argv)
    rows = [
        ("old in-place ring (ring.dat)", *per_sample_in_place(a.in_place_samples)),
        ("segments, commit every sample", *per_sample_segments(1, a.samples)),
        ("segments, commit every 4 (default)", *per_sample_segments(4, a.samples)),
    ]
    print(f"littlefs {PARTITION_BLOCKS} x 4096 B (2 MB), one sample per 3 s, {CYCLES:,} cycles")
    print()
    print(
        "| ring | erases/sample | bytes programmed/sample | blocks levelled | years to wear-out |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, e, b, free in rows:
        years = free * CYCLES / (e * SAMPLES_PER_YEAR) if e > 0 else float("inf")
        print(f"| {name} | {e:.3f} | {b:,.0f} | {free} | {years:.2f} |")
    ue, ub = per_update()
    print()
    print("| update (real bundle, Loader.boot) | erases | bytes programmed |")
    print("|---|---:|---:|")
    print(f"| install into the other slot + pointer switch | {ue} | {ub:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
