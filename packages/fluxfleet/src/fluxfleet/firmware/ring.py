# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Store-and-forward log of samples in flash: append-only segment files rotated whole.

Every sample is written here first and published from here, so a WiFi or broker outage
loses nothing as long as it is shorter than the ring (default 9,600 samples = 8 h at 3 s).

Layout, made for littlefs (the ESP32 port's file system, 4 KB blocks, copy-on-write):
segment files ``ring.<first seq, 10 digits>``, each holding up to :data:`SEG_RECORDS` (80)
consecutive records of :data:`RECORD_SIZE` (50) bytes - 4,000 bytes, one flash block.
Samples are only ever appended, in groups of ``commit_every`` (4 = 12 s at 3 s), and a
segment is deleted whole when the ring is full (rotation): no byte is ever rewritten in
place. On littlefs one append (file closed = committed atomically) costs one block erase
plus the copy of the segment's partial last block; a group of 4 spreads that over 4
samples (``benchmarks/ring_flash.py``: erases and bytes per sample, years to wear-out).

Durability: :attr:`Ring.committed` is the last seq on flash; the at most
``commit_every - 1`` newer samples wait in RAM. They are published at once all the same
(no added latency), so after a power cut a sample is either on flash, or PUBACKed (on the
server), or lost - at most ``commit_every - 1`` samples taken in the seconds before the
cut. So that a seq that may have gone out is never given to another sample, a boot after
an unclean stop starts at ``committed + commit_every`` (a gap of at most 3 seqs); a
planned reboot commits first and marks ``ring.meta`` clean (no gap). Committed samples
survive any power cut: littlefs commits an append or a removal atomically, and each
record carries its own seq and CRC-32, so a record torn on another file system (FAT) is
recognised and cut off.

``ring.meta`` (small, written atomically every 30 s and before a planned reboot) holds
``sent`` (last seq the broker acknowledged), ``lost`` (samples rotated out unsent),
``head`` and ``clean``; the samples themselves are found from the segments at boot.
Skipped seqs are written as *void* records (phase 255, valid CRC), so segment
``ring.<first>`` always holds seq ``first + i`` at record ``i``. A
lost meta makes the ring re-send what is on flash (the ingest de-duplicates on
``(dev, seq)``).

Sample seqs start at 1 and are never reused on this device for a published sample.
"""

import binascii
import json
import struct

from . import protocol


def _crc32_py(data, crc=0):
    crc = crc ^ 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# MicroPython ports without binascii.crc32 get the (slow) pure-Python CRC-32.
crc32 = getattr(binascii, "crc32", _crc32_py)

_FMT = "<IqIBBHBBffffff"  # explicit pad byte (B), not "x": portable to every struct
_BODY = struct.calcsize(_FMT)
RECORD_SIZE = _BODY + 4
DEFAULT_SLOTS = 9600
SEG_RECORDS = 80  # 80 x 50 B = 4,000 B: one 4-KB littlefs block per segment
COMMIT_EVERY = 4  # samples per flash commit (12 s at 3 s)
_NAN = float("nan")


def _f(x):
    return _NAN if x is None else x


def _v(x):
    return None if x != x else x


def pack(s):
    """Pack sample dict ``s`` into a record (bytes of RECORD_SIZE)."""
    body = struct.pack(
        _FMT,
        s["seq"],
        s["ts"],
        s["cyc"],
        protocol.PHASES.index(s["ph"]),
        s["fl"],
        s["lid_deg"],
        s["fan_pct"],
        0,
        _f(s["co2_ppm"]),
        _f(s["rh_pct"]),
        _f(s["t_c"]),
        _f(s["ta_c"]),
        _f(s["p_hpa"]),
        _f(s["lux"]),
    )
    return body + struct.pack("<I", crc32(body) & 0xFFFFFFFF)


def void(seq):
    """A record that holds ``seq`` but no sample (phase 255): the seqs skipped after an
    unclean boot, so that every segment keeps one record per seq."""
    body = struct.pack(_FMT, seq, 0, 0, 255, 0, 0, 0, 0, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN)
    return body + struct.pack("<I", crc32(body) & 0xFFFFFFFF)


def record_seq(rec):
    """The seq of an intact record (a sample or a void), None if torn or empty."""
    if len(rec) != RECORD_SIZE:
        return None
    body = rec[:_BODY]
    if struct.unpack("<I", rec[_BODY:])[0] != crc32(body) & 0xFFFFFFFF:
        return None
    return struct.unpack("<I", body[:4])[0] or None


def _r(x, nd):
    if x != x:
        return None
    return round(x, nd)


def unpack(rec):
    """Sample dict of a record, or None if its CRC does not match (torn or empty slot)."""
    if len(rec) != RECORD_SIZE:
        return None
    body = rec[:_BODY]
    if struct.unpack("<I", rec[_BODY:])[0] != crc32(body) & 0xFFFFFFFF:
        return None
    f = struct.unpack(_FMT, body)
    if f[0] == 0 or f[3] >= len(protocol.PHASES):
        return None
    return {
        "seq": f[0],
        "ts": f[1],
        "cyc": f[2],
        "ph": protocol.PHASES[f[3]],
        "fl": f[4],
        "lid_deg": f[5],
        "fan_pct": f[6],
        "co2_ppm": _r(f[8], 1),
        "rh_pct": _r(f[9], 2),
        "t_c": _r(f[10], 2),
        "ta_c": _r(f[11], 2),
        "p_hpa": _r(f[12], 2),
        "lux": _r(f[13], 1),
    }


def _seg_name(name, first):
    return "%s.%010d" % (name, first)


class Ring:
    """Append-only log of samples over ``store`` (see :mod:`storage`).

    ``head``: last seq given to a sample; ``committed``: last seq on flash; ``sent``: last
    seq the broker acknowledged; ``lost``: samples rotated out before they were sent.
    """

    def __init__(
        self,
        store,
        slots=DEFAULT_SLOTS,
        name="ring",
        feed=None,
        commit_every=COMMIT_EVERY,
        seg_records=SEG_RECORDS,
    ):
        self.store = store
        self.feed = feed  # the watchdog, fed while the segments are checked at boot
        self.slots = slots
        self.name = name
        self.commit_every = commit_every
        self.seg_records = seg_records
        # keep at least ``slots`` samples: full segments plus the one being filled
        self.max_segs = (slots + seg_records - 1) // seg_records + 1
        self.segs = []  # [first seq, records] per segment on flash, oldest first
        self.buf = []  # packed records not yet on flash (seqs committed+1 .. head)
        self.sent = 0
        self.lost = 0
        if store.size(name + ".dat") is not None:
            # the old in-place ring (before issue 12): its unsent samples count as lost
            store.remove(name + ".dat")
        self._load()
        self.committed = self.segs[-1][0] + self.segs[-1][1] - 1 if self.segs else 0
        clean = False
        given = 0  # the highest seq ever given, as far as ring.meta knows
        meta = store.get(name + ".meta")
        if meta:
            try:
                m = json.loads(meta)
                sent = int(m["sent"])
                lost = int(m["lost"])
                given = int(m.get("head", 0))
                clean = m.get("clean") is True and given == self.committed
                self.sent, self.lost = sent, lost
            except Exception:
                self.sent = 0
        self.head = self.committed if self.committed > given else given
        first = self.segs[0][0] if self.segs else self.head + 1
        if self.sent < first - 1:  # rotated out after the last meta save
            self.lost += first - 1 - self.sent
            self.sent = first - 1
        if clean or (not meta and self.head == 0):
            # not clean any more: a cut from now on must leave the gap (a factory-fresh
            # flash too - a cut before its first commit may follow samples sent from RAM)
            self.save()
        else:
            # the samples in RAM at the cut (<= commit_every - 1, all above this) may have
            # gone out: their seqs are never given again; saved at once, so a second cut
            # before the next commit cannot give them either. The skipped seqs go to
            # flash as void records with the next commit: segments stay one record per seq
            self.head += commit_every - 1
            self.buf = [void(q) for q in range(self.committed + 1, self.head + 1)]
            self.save()
        if self.sent > self.head:
            self.sent = self.head

    # --- boot ---------------------------------------------------------------------------

    def _load(self):
        pre = self.name + "."
        firsts = []
        for n in self.store.names(pre):
            tail = n[len(pre) :]
            if len(tail) == 10 and tail.isdigit():
                firsts.append(int(tail))
        firsts.sort()
        for i in range(len(firsts)):
            if self.feed is not None and i % 16 == 0:
                self.feed()
            first = firsts[i]
            seg = _seg_name(self.name, first)
            size = self.store.size(seg) or 0
            n = size // RECORD_SIZE
            if i == len(firsts) - 1:
                n = self._valid_prefix(seg, first, n, size)
            if n > 0:
                self.segs.append([first, n])
            else:
                self.store.remove(seg)

    def _valid_prefix(self, seg, first, n, size):
        """Records of the newest segment up to the first bad one; a torn tail is cut off."""
        good = n
        while good > 0:
            q = record_seq(self.store.read(seg, (good - 1) * RECORD_SIZE, RECORD_SIZE))
            if q == first + good - 1:
                break
            good -= 1
        if good * RECORD_SIZE != size and good > 0:
            # FAT or bit rot: rewrite the good prefix (atomic), so appends stay aligned
            data = self.store.read(seg, 0, good * RECORD_SIZE)
            self.store.put(seg, data)
        return good

    # --- writing -------------------------------------------------------------------------

    def append(self, s):
        """Give sample dict ``s`` the next seq, queue it for flash and return the seq.

        It is on flash (``committed``) after every ``commit_every`` samples and at
        :meth:`commit` / :meth:`save`.
        """
        seq = self.head + 1
        s["seq"] = seq
        self.buf.append(pack(s))
        self.head = seq
        if len(self.buf) >= self.commit_every:
            self.commit()
        return seq

    def commit(self):
        """Write the buffered samples to flash (one append; a new segment if needed)."""
        while self.buf:
            last = self.segs[-1] if self.segs else None
            seq0 = self.head - len(self.buf) + 1
            if last is None or last[1] >= self.seg_records or last[0] + last[1] != seq0:
                self._rotate()
                last = [seq0, 0]
                new = True
            else:
                new = False
            k = self.seg_records - last[1]
            part = self.buf[:k]
            self.store.append(_seg_name(self.name, last[0]), b"".join(part))
            if new:
                self.segs.append(last)
            last[1] += len(part)
            self.committed = seq0 + len(part) - 1
            self.buf = self.buf[len(part) :]

    def _rotate(self):
        """Make room for one more segment: delete the oldest whole (counting unsent ones)."""
        while len(self.segs) >= self.max_segs:
            first, n = self.segs[0]
            end = first + n - 1
            if self.sent < end:
                self.lost += end - (self.sent if self.sent >= first else first - 1)
                self.sent = end
            self.store.remove(_seg_name(self.name, first))
            self.segs.pop(0)

    # --- reading ------------------------------------------------------------------------

    def _find(self, seq):
        lo, hi = 0, len(self.segs) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            first, n = self.segs[mid]
            if seq < first:
                hi = mid - 1
            elif seq >= first + n:
                lo = mid + 1
            else:
                return self.segs[mid]
        return None

    def read(self, seq):
        """The sample with ``seq``, or None if it is not (any more) in the ring."""
        if seq < 1 or seq > self.head:
            return None
        i = seq - (self.head - len(self.buf) + 1)
        if i >= 0:
            s = unpack(self.buf[i])
        else:
            seg = self._find(seq)
            if seg is None:
                return None
            try:
                rec = self.store.read(
                    _seg_name(self.name, seg[0]), (seq - seg[0]) * RECORD_SIZE, RECORD_SIZE
                )
            except OSError:
                return None
            s = unpack(rec)
        if s is None or s["seq"] != seq:
            return None
        return s

    def first_unsent(self):
        return self.sent + 1

    def pending(self):
        """Number of samples stored but not yet acknowledged by the broker."""
        return self.head - self.sent

    def mark_sent(self, seq):
        """The broker acknowledged every sample up to ``seq``."""
        if seq > self.sent:
            self.sent = seq if seq <= self.head else self.head

    def save(self, clean=False):
        """Save the pointers (every 30 s). ``clean`` (before a planned reboot) commits the
        samples in RAM first, and the next boot continues without a gap. A periodic save
        does not commit: a commit every ``commit_every`` samples and no other keeps the
        erases at one per ``commit_every`` samples."""
        if clean:
            self.commit()
        d = {"head": self.head, "sent": self.sent, "lost": self.lost, "clean": clean}
        self.store.put(self.name + ".meta", protocol.dumps(d).encode())
