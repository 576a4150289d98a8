# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Store-and-forward ring buffer of samples in flash.

Every sample is written here first and published from here, so a WiFi or broker outage
loses nothing as long as it is shorter than the ring (default 9,600 slots = 8 h at 3 s).

Layout: one fixed-size blob of ``slots`` records of :data:`RECORD_SIZE` bytes; sample
``seq`` lives in slot ``seq % slots``. Each record carries its own seq and a CRC-32, so a
record torn by a power cut is recognised and skipped. A small value ``ring.meta`` holds
``head`` (last seq written), ``sent`` (last seq the broker acknowledged) and ``lost``
(samples overwritten before they could be sent); it is saved now and then, and at boot
the ring probes forward from the saved head for records written after the last save.

Sample seqs start at 1 and are never reused on this device, across reboots.
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


class Ring:
    """Ring buffer of samples over ``store`` (see :mod:`storage`)."""

    def __init__(self, store, slots=DEFAULT_SLOTS, name="ring", feed=None):
        self.store = store
        self.feed = feed  # the watchdog, fed during the full scan of a fresh flash
        self.slots = slots
        self.name = name
        self.blob = store.blob(name + ".dat", slots * RECORD_SIZE)
        self.head = 0
        self.sent = 0
        self.lost = 0
        meta = store.get(name + ".meta")
        if meta:
            try:
                m = json.loads(meta)
                self.head = int(m["head"])
                self.sent = int(m["sent"])
                self.lost = int(m["lost"])
            except Exception:
                meta = None
        if not meta:
            self._scan()
        # records written after the last meta save
        while True:
            s = self.read(self.head + 1)
            if s is None:
                break
            self.head += 1
        if self.sent > self.head:
            self.sent = self.head

    def _scan(self):
        best = 0
        for i in range(self.slots):
            if self.feed is not None and i % 256 == 0:
                self.feed()
            s = unpack(self.blob.read(i * RECORD_SIZE, RECORD_SIZE))
            if s is not None and s["seq"] % self.slots == i and s["seq"] > best:
                best = s["seq"]
        self.head = best
        self.sent = 0
        self.lost = 0

    def append(self, s):
        """Give sample dict ``s`` the next seq, store it and return the seq."""
        seq = self.head + 1
        s["seq"] = seq
        if seq - self.slots > self.sent:  # overwriting a sample never sent
            self.lost += seq - self.slots - self.sent
            self.sent = seq - self.slots
        self.blob.write((seq % self.slots) * RECORD_SIZE, pack(s))
        self.head = seq
        return seq

    def read(self, seq):
        """The sample with ``seq``, or None if it is not (any more) in the ring."""
        if seq < 1:
            return None
        s = unpack(self.blob.read((seq % self.slots) * RECORD_SIZE, RECORD_SIZE))
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

    def save(self):
        d = {"head": self.head, "sent": self.sent, "lost": self.lost}
        self.store.put(self.name + ".meta", protocol.dumps(d).encode())
