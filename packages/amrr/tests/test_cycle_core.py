"""amrr.cycle: the two-temperature bed, its balances and the cyclic steady state."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from amrr.cli import app
from amrr.cycle import (
    BedCoefficients,
    CycleModel,
    CycleSchedule,
    cyclic_steady_state,
    passive_effectiveness,
    small_utilisation_limit,
)
from amrr.cycle.passive import passive_model
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner


def _bed(
    cells: int, solid: float, fluid: float, g: float, k: float, rng: np.random.Generator
) -> BedCoefficients:
    vary = lambda: rng.uniform(0.5, 1.5, cells)  # noqa: E731  non-uniform beds on purpose
    return BedCoefficients(
        solid_capacity_J_K=solid * vary(),
        fluid_capacity_J_K=fluid * vary(),
        conductance_W_K=g * vary(),
        solid_conduction_W_K=k * vary(),
    )


@settings(max_examples=25, deadline=None)
@given(
    cells=st.integers(2, 30),
    ntu=st.floats(0.5, 50.0),
    utilisation=st.floats(0.05, 5.0),
    fluid_ratio=st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
    k=st.sampled_from([0.0, 0.01, 1.0]),
    rate=st.floats(0.01, 5.0),
    hold=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_energy_closes_every_cycle_and_entropy_generation_is_not_negative(
    cells, ntu, utilisation, fluid_ratio, k, rate, hold, seed
):
    # NTU and U bounded so that the steady state is reached in a few hundred cycles at most;
    # the grid resolves the exchange (NTU per cell <= 2, where the box scheme's cell factor
    # (1 - N_c/2)/(1 + N_c/2) stays >= 0: below, an unresolved grid breaks the second law)
    assume(ntu / cells <= 2.0)
    rng = np.random.default_rng(seed)
    solid = rate / utilisation / cells
    bed = _bed(cells, solid, fluid_ratio * solid, ntu * rate / cells, k * rate, rng)
    schedule = CycleSchedule(blow_s=1.0, hold_s=hold, steps_per_blow=20, steps_per_hold=5)
    model = CycleModel(bed, schedule, rate, hot_inlet_K=1.6, cold_inlet_K=0.9)
    y = model.initial_state() + rng.normal(0.0, 0.05, model.size)
    scale = rate * schedule.blow_s * 1.6  # enthalpy carried in per blow [J]
    for _ in range(3):  # far from steady state too: the balance closes in every cycle
        y, bal, _ = model.cycle_with_balance(y)
        assert abs(bal.energy_residual_J) <= 1e-9 * scale
    css = cyclic_steady_state(model, y, method="anderson", tol_K=1e-11, max_cycles=5000)
    assert css.converged
    _, bal, _ = model.cycle_with_balance(css.state_K)
    assert abs(bal.stored_change_J) <= 1e-8 * scale
    assert bal.entropy_generation_J_K >= 0.0


def _steady_balance(cells: int, ntu: float, utilisation: float, seed: int):
    rng = np.random.default_rng(seed)
    solid = 1.0 / utilisation / cells
    bed = _bed(cells, solid, 0.0, ntu / cells, 0.0, rng)
    schedule = CycleSchedule(blow_s=1.0, hold_s=0.0, steps_per_blow=20, steps_per_hold=5)
    model = CycleModel(bed, schedule, 1.0, hot_inlet_K=1.6, cold_inlet_K=0.9)
    css = cyclic_steady_state(model, model.initial_state(), tol_K=1e-11, max_cycles=5000)
    assert css.converged
    return model.cycle_with_balance(css.state_K)[1]


def test_an_unresolved_grid_can_break_the_second_law_and_a_resolved_one_does_not():
    # A fuzz find (make fuzz): 2 cells for NTU 21 (10.5 per cell) at U = 5 generate
    # -8.6e-5 J/K of entropy per cycle. With NTU per cell > 2 the box scheme's cell factor
    # (1 - N_c/2)/(1 + N_c/2) is negative: the discrete profile oscillates from node to
    # node and nothing keeps the second law (the first still closes). The same bed on a
    # grid that resolves it (11 cells, 1.9 per cell) generates entropy. The passive
    # solver's default grid (cycle.passive.default_resolution) has NTU per cell 1.0 at
    # NTU 100 and 2.5 at NTU 500, its largest.
    unresolved = _steady_balance(2, 21.0, 5.0, 800)
    assert abs(unresolved.energy_residual_J) < 1e-12
    assert unresolved.entropy_generation_J_K < 0.0
    assert _steady_balance(11, 21.0, 5.0, 800).entropy_generation_J_K > 0.0


@pytest.mark.parametrize("method", ["march", "anderson", "newton-krylov"])
def test_steady_state_methods_reach_the_same_state(method):
    model = passive_model(20.0, 0.3, cells=40, steps_per_blow=40)
    ref = cyclic_steady_state(model, model.initial_state(), method="march", tol_K=1e-12)
    got = cyclic_steady_state(model, model.initial_state(), method=method, tol_K=1e-10)
    assert got.converged
    assert np.max(np.abs(got.state_K - ref.state_K)) < 1e-8
    if method != "march":
        assert got.cycles < ref.cycles


def test_steady_state_does_not_depend_on_the_start():
    model = passive_model(50.0, 0.2, cells=40, steps_per_blow=40)
    a = cyclic_steady_state(model, model.initial_state(), tol_K=1e-11)
    b = cyclic_steady_state(model, np.full(model.size, 1.25), tol_K=1e-11)
    assert np.max(np.abs(a.state_K - b.state_K)) < 1e-9


@pytest.mark.parametrize("ntu", [1.0, 10.0, 100.0, 500.0])
def test_small_utilisation_gives_the_counterflow_limit(ntu):
    # U -> 0: the two blows act as a counterflow exchanger of conductance hA/2; at
    # U = 1e-3 the departure from NTU/(2 + NTU) is below 1e-4 for these NTU
    r = passive_effectiveness(ntu, 1e-3)
    assert r.effectiveness == pytest.approx(small_utilisation_limit(ntu), rel=1e-4)


def test_hot_and_cold_blows_are_symmetric_and_energy_closes():
    r = passive_effectiveness(30.0, 0.7)
    assert r.effectiveness == pytest.approx(r.effectiveness_cold_blow, rel=1e-10)
    assert abs(r.energy_residual_fraction) < 1e-10
    assert r.entropy_generation_J_K > 0.0


def test_effectiveness_falls_with_utilisation_and_rises_with_ntu():
    e = [passive_effectiveness(20.0, u).effectiveness for u in (0.01, 0.3, 1.0, 2.0)]
    assert all(a > b for a, b in itertools.pairwise(e))
    e = [passive_effectiveness(n, 0.5).effectiveness for n in (1.0, 5.0, 50.0, 500.0)]
    assert all(a < b for a, b in itertools.pairwise(e))


def _observed_order(values: list[float]) -> float:
    d1, d2 = values[0] - values[1], values[1] - values[2]
    return float(np.log2(abs(d1 / d2)))


def test_second_order_in_space_and_time():
    # refine cells and steps together by 2: the error of a second-order scheme falls 4x
    eps = [
        passive_effectiveness(50.0, 0.5, cells=n, steps_per_blow=n, tol_K=1e-13).effectiveness
        for n in (20, 40, 80)
    ]
    assert 1.8 < _observed_order(eps) < 2.3


def test_second_order_in_time_alone():
    eps = [
        passive_effectiveness(20.0, 1.0, cells=200, steps_per_blow=n, tol_K=1e-13).effectiveness
        for n in (10, 20, 40)
    ]
    assert 1.8 < _observed_order(eps) < 2.3


def test_bed_rejects_bad_coefficients():
    ok = np.ones(4)
    with pytest.raises(ValueError, match="fluid_capacity_J_K"):
        BedCoefficients(ok, np.ones(3), ok, ok)
    with pytest.raises(ValueError, match="conductance_W_K"):
        BedCoefficients(ok, ok, -ok, ok)
    with pytest.raises(ValueError, match="blow_s"):
        CycleSchedule(blow_s=0.0)
    with pytest.raises(ValueError, match="ntu"):
        passive_effectiveness(0.0, 0.5)
    with pytest.raises(ValueError, match="method"):
        cyclic_steady_state(passive_model(1.0, 0.5, 10, 10), np.zeros(22), method="x")  # type: ignore[arg-type]


runner = CliRunner()


def test_cli_regenerator_test_json():
    result = runner.invoke(
        app, ["regenerator-test", "--ntu", "10", "--utilisation", "0.5", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["effectiveness"] == pytest.approx(passive_effectiveness(10.0, 0.5).effectiveness)
    assert out["small_utilisation_limit"] == pytest.approx(10.0 / 12.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ntu", "-1", "--utilisation", "0.5"], "--ntu"),
        (["--ntu", "10", "--utilisation", "nan"], "--utilisation"),
        (["--ntu", "10", "--utilisation", "0.5", "--method", "x"], "--method"),
        (["--ntu", "10", "--utilisation", "0.5", "--cells", "1"], "--cells"),
    ],
)
def test_cli_regenerator_test_bad_input(args, message):
    result = runner.invoke(app, ["regenerator-test", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("direction", [-1, 0, 1])
def test_band_storage_and_matvec_match_the_sparse_assembly(direction):
    from amrr.cycle.bed import BANDWIDTH, assemble_system, assemble_triplets, banded, matvec

    rng = np.random.default_rng(7)
    n = 9
    args = (
        rng.uniform(0.0, 2.0, n),
        rng.uniform(0.5, 2.0, n + 1),
        rng.uniform(0.5, 2.0, n),
        rng.uniform(0.0, 1.0, n),
        rng.uniform(0.5, 2.0, n),
        direction,
        1.3,
        rng.uniform(-1.0, 1.0, n + 1),
        rng.uniform(0.0, 1.0, n + 1),
    )
    mass, op, b, alg = assemble_system(*args)
    mass_t, op_t, b_t, alg_t = assemble_triplets(*args)
    size = 2 * (n + 1)
    y = rng.uniform(0.5, 1.5, size)
    assert np.allclose(matvec(op_t, y), op @ y, rtol=1e-14, atol=1e-14)
    assert np.allclose(matvec(mass_t, y), mass @ y, rtol=1e-14, atol=1e-14)
    assert np.array_equal(b, b_t)
    assert np.array_equal(alg, alg_t)
    dense = (mass - 0.3 * op).toarray()
    band = banded(mass_t, size) + banded(op_t, size, -0.3)
    rebuilt = np.zeros((size, size))
    for k in range(2 * BANDWIDTH + 1):
        for j in range(size):
            i = k - BANDWIDTH + j
            if 0 <= i < size:
                rebuilt[i, j] = band[k, j]
    assert np.allclose(rebuilt, dense, rtol=1e-14, atol=1e-14)
