"""amrr.cycle.curve: the cooling curve's operating points in parallel processes."""

from __future__ import annotations

import numpy as np
import pytest
from amrr.cycle.curve import CurveJob, cooling_curve, default_workers
from amrr.cycle.from_design import cycle_from_design
from amrr.design import default_design, evaluate

GRID = {"cells": 6, "steps_per_blow": 12, "steps_per_hold": 2}


@pytest.fixture(scope="module")
def job():
    design = default_design()
    return CurveJob(cycle_from_design(design, result=evaluate(design, sensitivities=False), **GRID))


def test_parallel_points_equal_the_serial_ones_in_the_order_given(job):
    temps = [0.95, 0.8, 0.9]
    done: list[float] = []
    serial = cooling_curve(job, temps, workers=1)
    parallel = cooling_curve(job, temps, workers=2, progress=lambda p: done.append(p.cold_K))
    assert [p.cold_K for p in parallel] == temps
    assert sorted(done) == sorted(temps)  # progress once per point, in completion order
    for a, b in zip(serial, parallel, strict=True):
        # every point starts from the same linear profile: same answer to the last bit
        assert a.record["net_cooling_W"] == b.record["net_cooling_W"]
        assert np.array_equal(a.state_K, b.state_K)
    # and the curve is a curve: a warmer cold end lifts more
    net = {p.cold_K: p.record["net_cooling_W"] for p in serial}
    assert net[0.8] < net[0.9] < net[0.95]


def test_a_failing_point_names_its_temperature(job):
    with pytest.raises(ValueError, match=r"T_C 1\.7 K: need 0 < cold_K < hot_K"):
        cooling_curve(job, [1.7], workers=1)


def test_workers_below_one_are_refused(job):
    with pytest.raises(ValueError, match="workers"):
        cooling_curve(job, [0.9], workers=0)


@pytest.mark.parametrize("points", [1, 2, 10, 100])
def test_default_workers_is_one_per_core_at_most_one_per_point(points):
    assert 1 <= default_workers(points) <= points
