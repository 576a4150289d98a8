"""The ring on a real littlefs image (the ESP32 port's), with a power cut at every block op.

``fluxfleet.sim.flash`` gives the C littlefs (``littlefs-python``) the port's 4-KB blocks
and the 2 MB partition's 512 blocks, on a NOR-flash block device that counts wear and can
lose power at any program or erase. Each test first runs a workload once to count its
block operations, then replays it from the same image with the power cut at each one of
them in turn, boots again and checks the ring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fluxfleet.firmware import ring as ringmod
from fluxfleet.firmware.storage import FileStore
from fluxfleet.sim.flash import PARTITION_BLOCKS, LfsFs, NorFlash, PowerCut

SLOTS = 60  # small rings for speed; the layout and the code are the device's
SEG = 20
EVERY = 4


def sample(i: int) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000_000 + 3000 * i,
        "cyc": 7,
        "ph": "open",
        "co2_ppm": float(400 + i % 1000),
        "rh_pct": 60.0,
        "t_c": 21.0,
        "ta_c": 21.0,
        "p_hpa": 970.25,
        "lux": 0.0,
        "lid_deg": 90,
        "fan_pct": 40,
        "fl": 0,
    }


def new_ring(flash: NorFlash, fmt: bool = False) -> ringmod.Ring:
    fs = LfsFs(flash, format=fmt)
    return ringmod.Ring(FileStore("/data", fs), SLOTS, commit_every=EVERY, seg_records=SEG)


class Trace:
    """What the device had done when the power went: the contract's evidence."""

    def __init__(self) -> None:
        self.committed = 0  # last seq on flash, as the ring reported after a call returned
        self.given = 0  # highest seq given to a sample (maybe published from RAM)
        self.sent_saved = 0  # ``sent`` in the last ring.meta whose save returned
        self.co2: dict[int, float] = {}
        self.this_boot: list[int] = []  # seqs given since the last boot
        self.acked: set[int] = set()  # samples the ring reported on flash

    def boot(self, r: ringmod.Ring) -> None:
        self.this_boot = []
        self.committed = r.committed
        self.given = max(self.given, r.head)
        self.sent_saved = r.sent

    def update(self, r: ringmod.Ring) -> None:
        self.committed = r.committed
        self.acked |= {q for q in self.this_boot if q <= r.committed}


def workload(r: ringmod.Ring, t: Trace, n: int, start: int) -> None:
    """n samples at 3 s; the broker acks every 10th, the pointers are saved every 10."""
    for k in range(n):
        s = sample(start + k)
        seq = r.append(s)
        t.given = max(t.given, seq)
        t.co2[seq] = s["co2_ppm"]
        t.this_boot.append(seq)
        t.update(r)
        if k % 10 == 9:
            r.mark_sent(r.committed - 3)
            r.save()
            t.sent_saved = r.sent
            t.update(r)


@pytest.fixture(scope="module")
def steady_image() -> tuple[bytes, Trace]:
    """A formatted 2 MB partition whose ring is full and rotating (steady state)."""
    flash = NorFlash()
    r = new_ring(flash, fmt=True)
    t = Trace()
    workload(r, t, SLOTS + 3 * SEG, 0)
    return flash.snapshot(), t


def check_after_cut(flash: NorFlash, before: Trace, during: Trace) -> None:
    flash.revive()
    r = new_ring(flash)  # the boot: must mount and find its ring
    # every acknowledged (committed) sample still in the ring's window is there, intact
    assert r.committed >= during.committed
    lo = max(1, r.committed - SLOTS + 1)  # the newest SLOTS are kept, older rotate out
    for seq in sorted(before.acked | during.acked):
        if seq >= lo:
            s = r.read(seq)
            assert s is not None, f"committed sample {seq} lost"
            assert s["co2_ppm"] == during.co2.get(seq, before.co2.get(seq))
    known = {**before.co2, **during.co2}  # every seq ever given, and its reading
    # order and no duplicates: what the ring holds is increasing, each record its own seq
    present = [q for q in range(max(1, lo - SEG), r.head + 1) if r.read(q) is not None]
    assert present == sorted(set(present))
    assert all(seq in known for seq in present)  # nothing made up
    # the broker's acknowledgement is never forgotten past the last saved pointer
    assert r.sent >= min(during.sent_saved, r.committed - SLOTS)
    # a seq that may have been published is never given to another sample
    assert r.append(sample(10**5)) > during.given


def run_with_cuts(image: bytes, before: Trace, step: Callable[[ringmod.Ring, Trace], None]) -> int:
    flash = NorFlash()
    flash.restore(image)
    r = new_ring(flash)
    t = Trace()
    t.boot(r)
    ops0 = flash.ops
    step(r, t)
    total = flash.ops - ops0
    assert total > 0
    for k in range(1, total + 1):
        flash = NorFlash()
        flash.restore(image)
        r = new_ring(flash)
        t = Trace()
        t.boot(r)
        flash.cut_at = flash.ops + k
        with pytest.raises(PowerCut):
            step(r, t)
        check_after_cut(flash, before, t)
    return total


def test_a_power_cut_at_every_block_op_of_appends_a_rotation_and_pointer_saves(steady_image):
    image, before = steady_image
    # 1.5 segments' worth: commits, a rotation (a segment deleted whole) and meta saves
    ops = run_with_cuts(image, before, lambda r, t: workload(r, t, 30, 10**4))
    assert ops > 50  # the cuts really were at many different places


def test_a_power_cut_during_the_boot_after_a_cut_is_survived_too(steady_image):
    image, before = steady_image

    def twice(r: ringmod.Ring, t: Trace) -> None:
        workload(r, t, 6, 10**4)  # a cut with samples in RAM ...
        r2 = new_ring(r.store.fs.flash)  # type: ignore[attr-defined]
        t.boot(r2)
        workload(r2, t, 10, 2 * 10**4)  # ... then the boot's own writes and more samples

    run_with_cuts(image, before, twice)


def test_the_ring_on_littlefs_wears_a_fraction_of_a_block_per_sample():
    flash = NorFlash()
    r = ringmod.Ring(FileStore("/data", LfsFs(flash, format=True)), 9600)
    t = Trace()
    workload(r, t, 200, 0)
    e0, _, b0 = flash.counters()
    workload(r, t, 400, 200)
    e1, _, b1 = flash.counters()
    per_sample = (e1 - e0) / 400
    # one erase per commit of 4 samples plus the pointer saves' share of metadata compaction
    assert per_sample < 0.45
    assert (b1 - b0) / 400 < 1500
    assert flash.block_count == PARTITION_BLOCKS


# --- the loader's update and pointer switch on littlefs, with a power cut at every op -------


class Resp:
    def __init__(self, data: bytes | None) -> None:
        self.status = 200 if data is not None else 404
        self.data = data or b""

    def read(self, n: int) -> bytes:
        out, self.data = self.data[:n], self.data[n:]
        return out

    def close(self) -> None:
        pass


def test_a_power_cut_at_every_block_op_of_an_update_still_boots_a_verified_version(tmp_path):
    from fluxfleet import keys
    from fluxfleet.firmware import loader
    from fluxfleet.sim.flash import LfsFs as Fs

    key = keys.generate_key()
    served: dict[str, bytes] = {}
    www = tmp_path / "www"

    def publish(version: str) -> None:
        src = tmp_path / ("src-" + version)
        src.mkdir()
        (src / "__init__.py").write_text("")
        (src / "main.py").write_text(f"VERSION = {version!r}\n" + "# pad\n" * 400)
        (src / "x.py").write_text("X = 1\n" * 300)
        keys.write_bundle(www, version, key, src=src)
        for p in www.rglob("*"):
            if p.is_file():
                served[p.relative_to(www).as_posix()] = p.read_bytes()

    def fetch(url: str, timeout_ms: int) -> Resp:
        return Resp(served.get(url[len("http://u/") :]))

    def boot(fs: Fs, update: bool = True) -> dict[str, Any]:
        ld = loader.Loader("/", key.public_bytes, "http://u", fetch, lambda: 0, fs=fs)
        return ld.boot(update)

    flash = NorFlash(block_count=128)
    fs = Fs(flash, format=True)
    publish("1.0.0")
    assert boot(fs)["version"] == "1.0.0"
    loader.Loader("/", key.public_bytes, "http://u", fetch, lambda: 0, fs=fs).confirm()
    publish("1.0.1")
    image = flash.snapshot()
    e0, ops0 = flash.erases, flash.ops
    assert boot(fs)["version"] == "1.0.1"
    total = flash.ops - ops0
    assert flash.erases - e0 > 0
    seen = set()
    for k in range(1, total + 1):
        flash = NorFlash(block_count=128)
        flash.restore(image)
        fs = Fs(flash)
        flash.cut_at = flash.ops + k
        with pytest.raises(PowerCut):
            boot(fs)
        flash.revive()
        d = boot(Fs(flash), update=False)  # the next boot, server gone: never safe mode
        assert d["slot"] is not None, (k, d)
        assert d["version"] in ("1.0.0", "1.0.1")
        seen.add(d["version"])
    # the pointer switch (loader.json's rename) is the update's last block op: any cut
    # before it completes leaves the old version; the uncut run above switched to the new
    assert seen == {"1.0.0"}
