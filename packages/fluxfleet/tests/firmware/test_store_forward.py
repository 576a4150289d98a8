"""Store-and-forward: outages, reboots, ring overflow and torn flash records."""

from __future__ import annotations

import itertools
from typing import Any

from fluxfleet.firmware import ring as ringmod
from fluxfleet.firmware.storage import FileStore, MemoryStore

MIN = 60_000
HOUR = 3_600_000


def seqs(samples: list[dict[str, Any]]) -> list[int]:
    return [s["seq"] for s in samples]


def outage(rig: Any, up: bool) -> None:
    rig.link.up = up
    rig.hal.wifi = up
    if not up:
        rig.link.connected = False  # the access point vanishes under the open socket


def test_a_two_hour_outage_loses_nothing_and_sends_nothing_twice(rig_factory):
    rig = rig_factory()
    rig.run_until(10 * MIN)
    before = len(rig.link.samples())
    outage(rig, False)
    in_flight = set(range(rig.ctl.ring.sent + 1, rig.ctl.ring.head + 1))  # sent, no PUBACK yet
    rig.run_until(10 * MIN + 2 * HOUR)
    assert len(rig.link.samples()) == before  # nothing got through
    assert rig.ctl.ring.pending() >= 2 * HOUR // 3000
    outage(rig, True)
    end = 10 * MIN + 2 * HOUR + 5 * MIN
    rig.run_until(end)
    got = seqs(rig.link.samples())
    n = end // 3000 + 1
    assert sorted(set(got)) == list(range(1, n + 1))  # nothing lost
    assert rig.link.resent_after_puback() == []  # nothing acknowledged was sent again
    dups = {s for s in got if got.count(s) > 1}
    assert dups == in_flight  # only what was in the air when the link died (ingest de-dups)
    assert len(in_flight) <= 1
    first_time = [s for i, s in enumerate(got) if s not in got[:i]]
    assert first_time == sorted(first_time)  # in order
    # all acknowledged but the last message, whose PUBACK comes with the next poll
    assert rig.ctl.ring.sent == max(s for s, _ in rig.link.acked)
    assert rig.ctl.ring.head == max(got)
    assert rig.ctl.ring.pending() <= 1
    # the backlog went out in batches of at most max_batch samples
    sizes = [len(p.decoded()["samples"]) for p in rig.link.of_kind("telemetry")]
    assert max(sizes) == 50
    assert rig.link.connects == 2


def test_unacknowledged_samples_are_resent_but_acknowledged_ones_never(rig_factory):
    rig = rig_factory()
    rig.run_until(1 * MIN)
    rig.link.auto_ack = False  # the broker stops acknowledging, then the link dies
    rig.run_until(2 * MIN)
    acked = {s for s, _ in rig.link.acked}
    published = set(seqs(rig.link.samples()))
    in_flight = published - acked
    assert len(in_flight) >= 8  # a full in-flight window of unacknowledged messages
    assert rig.ctl.ring.sent == max(acked)
    rig.link.close()
    rig.link.connected = False
    rig.link.auto_ack = True
    rig.run_until(4 * MIN)
    got = seqs(rig.link.samples())
    assert rig.link.resent_after_puback() == []
    assert all(got.count(s) == 1 for s in acked)  # PUBACKed once: never sent again
    assert all(got.count(s) == 2 for s in in_flight)  # no PUBACK: sent again after reconnect
    assert sorted(set(got)) == list(range(1, max(got) + 1))


def test_samples_survive_a_reboot_during_an_outage_and_seq_is_never_reused(rig_factory):
    rig = rig_factory()
    rig.run_until(5 * MIN)
    sent_before = seqs(rig.link.samples())
    outage(rig, False)
    acked = rig.ctl.ring.sent  # what the broker had acknowledged when the link died
    rig.run_until(20 * MIN)
    committed, head = rig.ctl.ring.committed, rig.ctl.ring.head
    assert 0 <= head - committed < ringmod.COMMIT_EVERY  # the rest waits in RAM
    rig.reboot()  # unplanned reset: the samples in RAM are gone, the flash has the rest
    outage(rig, True)
    rig.run_until(30 * MIN)
    after = seqs(rig.link.samples())
    # the ring pointer saved during the outage says exactly what the broker had acknowledged
    assert after[0] == acked + 1
    assert acked <= max(sent_before)
    # in order, no duplicate; the one gap is the seqs that were in RAM at the cut, and
    # the new boot's numbering starts above every seq that may have been given before
    gaps = [(a, b) for a, b in itertools.pairwise(after) if b != a + 1]
    assert gaps == [(committed, max(committed, head) + ringmod.COMMIT_EVERY)] or (
        head == committed and gaps == [(committed, committed + ringmod.COMMIT_EVERY)]
    )
    assert len(after) == len(set(after))
    assert rig.ctl.ring.sent == max(s for s, _ in rig.link.acked)
    assert rig.ctl.ring.pending() <= 1


def test_a_planned_reboot_commits_first_and_continues_without_a_gap(rig_factory):
    rig = rig_factory()
    rig.run_until(5 * MIN + 1000)
    rig.ctl.save(True)  # what _reboot does before hal.reboot()
    head = rig.ctl.ring.head
    assert rig.ctl.ring.committed == head
    before = seqs(rig.link.samples())
    rig.reboot()
    rig.run_until(10 * MIN)
    got = before + seqs(rig.link.samples())
    assert len(got) == len(set(got))
    assert sorted(set(got)) == list(range(1, max(got) + 1))  # no gap at all
    assert head + 1 in got


def test_ring_overflow_keeps_the_newest_samples_and_counts_the_lost(rig_factory):
    rig = rig_factory(ring_slots=200)
    rig.run_until(MIN)
    outage(rig, False)
    unconfirmed = set(range(rig.ctl.ring.sent + 1, rig.ctl.ring.head + 1))
    rig.run_until(MIN + 30 * MIN)  # 600 samples > 200 slots
    head = rig.ctl.ring.head
    outage(rig, True)
    rig.run_until(MIN + 35 * MIN)
    got = seqs(rig.link.samples())
    lost = rig.ctl.ring.lost
    assert lost > 0
    assert len(got) == len(set(got))
    assert set(range(head - 199, head + 1)) <= set(got)  # the newest 200 made it
    # "lost" counts what the device could not confirm: samples that never got out, plus
    # any that were in the air without a PUBACK when the link died
    missing = set(range(1, max(got) + 1)) - set(got)
    assert len(missing) + len(unconfirmed & set(got)) == lost
    meta = [p.decoded() for p in rig.link.of_kind("meta")][-1]
    assert meta["lost"] == lost


def sample(i: int) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000_000 + 3000 * i,
        "cyc": 7,
        "ph": "closed",
        "co2_ppm": 500.0 + i,
        "rh_pct": 60.0,
        "t_c": None,
        "ta_c": 21.0,
        "p_hpa": 970.25,
        "lux": 0.0,
        "lid_deg": 0,
        "fan_pct": 100,
        "fl": 1,
    }


def test_file_ring_recovers_unsaved_records_after_a_power_cut(tmp_path):
    store = FileStore(str(tmp_path / "flash"))
    r = ringmod.Ring(store, slots=64, commit_every=4)
    for i in range(10):
        r.append(sample(i))
    r.mark_sent(4)
    r.save()
    for i in range(10, 15):  # after the last save: 1-12 committed (4 at a time), 13-15 in RAM
        r.append(sample(i))
    assert (r.head, r.committed) == (15, 12)

    r2 = ringmod.Ring(FileStore(str(tmp_path / "flash")), slots=64, commit_every=4)
    assert (r2.committed, r2.sent) == (12, 4)
    assert r2.head == 12 + 3  # above every seq that can have been given before the cut
    got = r2.read(12)
    assert got is not None
    assert got["co2_ppm"] == 511.0
    assert got["t_c"] is None  # a missing reading stays missing
    assert r2.read(13) is None  # it was in RAM: gone, and its seq is never given again
    assert r2.append(sample(99)) == 16


def test_a_torn_tail_is_cut_off_and_never_sent(tmp_path):
    store = FileStore(str(tmp_path / "flash"))
    r = ringmod.Ring(store, slots=64, commit_every=1)
    for i in range(5):
        r.append(sample(i))
    (seg,) = store.names("ring.0")
    data = bytearray(store.read(seg, 0, 5 * ringmod.RECORD_SIZE))
    data[4 * ringmod.RECORD_SIZE + 10] ^= 0xFF  # FAT: power cut while appending seq 5
    store.put(seg, bytes(data[:-7]))  # ... and the record is short too
    r2 = ringmod.Ring(store, slots=64, commit_every=1)
    assert r2.committed == 4
    assert r2.read(5) is None
    assert store.size(seg) == 4 * ringmod.RECORD_SIZE  # appends stay aligned
    assert r2.append(sample(7)) == 5  # never published: committed before it is sent
    assert [r2.read(s)["seq"] for s in (1, 2, 3, 4)] == [1, 2, 3, 4]  # type: ignore[index]


def test_a_fresh_flash_starts_at_seq_1():
    r = ringmod.Ring(MemoryStore(), slots=16)
    assert (r.head, r.sent, r.pending()) == (0, 0, 0)
    assert r.append(sample(0)) == 1


def test_rotation_deletes_whole_segments_keeps_the_newest_slots_and_counts_the_lost():
    store = MemoryStore()
    r = ringmod.Ring(store, slots=200, commit_every=4, seg_records=40)
    for i in range(1000):
        r.append(sample(i))
    r.commit()
    names = sorted(store.names("ring.0"))
    assert len(names) == 200 // 40 + 1
    assert all(store.size(n) == 40 * ringmod.RECORD_SIZE for n in names)
    kept = [s for s in range(1, 1001) if r.read(s) is not None]
    assert kept == list(range(1000 - len(kept) + 1, 1001))
    assert len(kept) >= 200
    assert r.lost == 1000 - len(kept)
    assert r.sent == 1000 - len(kept)


def test_the_boot_check_of_a_full_ring_feeds_the_watchdog():
    store = MemoryStore()
    r = ringmod.Ring(store, slots=9600)
    for i in range(9700):
        r.append(sample(i))
    r.save(True)
    feeds: list[int] = []
    r2 = ringmod.Ring(store, slots=9600, feed=lambda: feeds.append(1))
    assert r2.head == 9700
    assert len(feeds) == len(store.names("ring.0")) // 16 + 1
    assert r2.read(9700 - 9599) is not None
