"""The default fault schedule on small fleets (issue 16): with fewer spare chambers than
fault kinds the faults of a chamber follow each other, never overlap; every kind once."""

from __future__ import annotations

import itertools

from fluxfleet.sim.faults import KINDS, default_schedule
from hypothesis import example, given
from hypothesis import strategies as st


@given(
    n_chambers=st.integers(3, 60),
    duration_s=st.floats(1800.0, 7 * 86400.0),
    seed=st.integers(0, 2**16),
)
@example(n_chambers=4, duration_s=24 * 3600.0, seed=0)  # issue 16: piled on two chambers
@example(n_chambers=3, duration_s=1800.0, seed=0)
def test_no_two_faults_of_a_chamber_overlap(n_chambers: int, duration_s: float, seed: int) -> None:
    faults = default_schedule(n_chambers, duration_s, seed)
    assert sorted(f.kind for f in faults) == sorted(KINDS)
    assert all(2 <= f.chamber < n_chambers for f in faults)
    assert all(0 <= f.start_s <= f.end_s <= duration_s for f in faults)
    for chamber in {f.chamber for f in faults}:
        spans = sorted((f.start_s, f.end_s) for f in faults if f.chamber == chamber)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, (chamber, spans)
    spare = n_chambers - 2
    # as many chambers as there are kinds, or every spare one
    assert len({f.chamber for f in faults}) == min(spare, len(KINDS))


def test_a_fleet_of_two_keeps_both_reference_chambers_fault_free() -> None:
    assert default_schedule(2, 3 * 3600.0, 1) == []
