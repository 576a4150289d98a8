"""What the console reads beyond ``Store.read``, on each backend: each device's newest
sample, and the read-only open."""

from __future__ import annotations

from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.store import Store, open_store


def test_last_samples_is_each_devices_highest_seq(
    store: Store, fleet_messages: list[tuple[str, bytes]]
) -> None:
    b = BatchBuilder({})
    for topic, payload in fleet_messages:
        b.add(topic, payload, 1_800_000_000_000)
    store.write(b.build())
    newest: dict[str, dict] = {}
    for s in store.read("samples").to_pylist():
        if s["device"] not in newest or s["seq"] > newest[s["device"]]["seq"]:
            newest[s["device"]] = s
    got = store.last_samples()
    assert set(got) == set(newest)
    for dev, s in newest.items():
        assert got[dev] == (s["time"], s["phase"], s["cyc"])


def test_read_only_open_reads_what_was_written(
    store_url: str, fleet_messages: list[tuple[str, bytes]]
) -> None:
    with open_store(store_url) as st:
        b = BatchBuilder({})
        for topic, payload in fleet_messages[:50]:
            b.add(topic, payload, 1_800_000_000_000)
        st.write(b.build())
        counts = st.counts()
    with open_store(store_url, read_only=True) as ro:
        assert ro.counts() == counts
