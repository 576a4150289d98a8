"""Property test of the ring over random histories of samples, acks, saves and resets.

Whatever the order of appends, broker acknowledgements, pointer saves, planned reboots and
unclean resets (RAM lost), on the real ring code over a RAM store:

* a seq given to a sample is never given to another one, and seqs only grow;
* every committed sample within the ring's window reads back with its own contents;
* ``sent`` never goes back behind what the last save recorded (nothing acknowledged is
  sent again beyond the 30-s save window), and never passes what was given.
"""

from __future__ import annotations

from typing import Any

from fluxfleet.firmware import ring as ringmod
from fluxfleet.firmware.storage import MemoryStore
from hypothesis import example, given
from hypothesis import strategies as st

SLOTS = 40
SEG = 8


def sample(i: int) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000_000 + 3000 * i,
        "cyc": 1,
        "ph": "open",
        "co2_ppm": float(400 + i),
        "rh_pct": None,
        "t_c": None,
        "ta_c": None,
        "p_hpa": None,
        "lux": None,
        "lid_deg": 90,
        "fan_pct": 40,
        "fl": 0,
    }


ops = st.lists(
    st.sampled_from(["append", "append", "append", "ack", "save", "reboot", "cut"]),
    max_size=200,
)


@given(ops, st.integers(1, 5))
@example(["append", "cut", "append"], 2)  # a cut before the very first commit: seq 1 reused
def test_no_seq_is_reused_and_committed_samples_survive_any_history(history, every):
    store = MemoryStore()

    def boot() -> ringmod.Ring:
        return ringmod.Ring(store, SLOTS, commit_every=every, seg_records=SEG)

    r = boot()
    given_seqs: dict[int, float] = {}
    acked: set[int] = set()  # committed samples of the current and earlier boots
    this_boot: list[int] = []
    saved_sent = 0
    i = 0
    for op in history:
        if op == "append":
            seq = r.append(sample(i))
            assert seq not in given_seqs
            assert all(seq > q for q in given_seqs)
            given_seqs[seq] = 400.0 + i
            this_boot.append(seq)
            i += 1
        elif op == "ack":
            r.mark_sent(r.head)
        elif op == "save":
            r.save()
            saved_sent = r.sent
        elif op in ("reboot", "cut"):
            if op == "reboot":
                r.save(True)
                saved_sent = r.sent
            acked |= {q for q in this_boot if q <= r.committed}
            r = boot()
            this_boot = []
            assert r.sent >= min(saved_sent, r.committed - SLOTS - SEG)
        acked |= {q for q in this_boot if q <= r.committed}
        lo = r.committed - SLOTS + 1
        for q in acked:
            if q >= lo:
                s = r.read(q)
                assert s is not None, q
                assert s["co2_ppm"] == given_seqs[q]
        assert r.sent <= max(r.head, 0)
