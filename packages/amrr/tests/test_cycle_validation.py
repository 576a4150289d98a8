"""amrr.cycle against an independent reference: the passive regenerator's effectiveness
within 0.5 % over NTU 1–500 and U 0.01–1 (issue 15)."""

from __future__ import annotations

import pytest
from amrr.cycle import passive_effectiveness, small_utilisation_limit
from amrr.cycle.reference import reference_effectiveness, reference_first_order

GRID = [(n, u) for n in (1.0, 10.0, 100.0, 500.0) for u in (0.01, 0.1, 1.0)]


@pytest.mark.parametrize(("ntu", "utilisation"), GRID)
def test_effectiveness_matches_the_independent_reference(ntu, utilisation):
    ref = reference_effectiveness(ntu, utilisation)
    got = passive_effectiveness(ntu, utilisation).effectiveness
    assert got == pytest.approx(ref, rel=5e-3)


@pytest.mark.parametrize("ntu", [1.0, 20.0, 300.0])
def test_reference_reaches_the_small_utilisation_limit(ntu):
    # the reference on its own: checks it before it is used to check the solver
    assert reference_effectiveness(ntu, 1e-3) == pytest.approx(
        small_utilisation_limit(ntu), rel=2e-4
    )


def test_reference_is_first_order_and_converging():
    e = [reference_first_order(5.0, 0.5, n) for n in (50, 100, 200)]
    d1, d2 = e[0] - e[1], e[1] - e[2]
    assert 1.7 < abs(d1 / d2) < 2.3
