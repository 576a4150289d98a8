"""amrr.cycle.magnetic: the GGG / 3He-4He active magnetic regenerator at cyclic steady state."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from amrr.cli import app
from amrr.cycle.magnetic import (
    MagneticRegenerator,
    MixtureTable,
    OperatingPoint,
    RegeneratorSpec,
    solve_cycle,
)
from amrr.cycle.march import CycleSchedule
from amrr.cycle.steady import cyclic_steady_state
from amrr.properties import mixture_properties
from typer.testing import CliRunner

COARSE = RegeneratorSpec(cells=20)
COARSE_SCHEDULE = CycleSchedule(80.0, 10.0, 40, 5)


@pytest.fixture(scope="module")
def table() -> MixtureTable:
    return MixtureTable.build(0.10)


@pytest.fixture(scope="module")
def default_point(table):
    return solve_cycle(COARSE, OperatingPoint(), COARSE_SCHEDULE, table=table, tol_K=1e-8)


def test_mixture_table_reproduces_the_property_model(table):
    assert table.max_relative_error < 1e-5
    t = np.array([0.55, 0.93, 1.41, 1.77])
    p = mixture_properties(t, 0.10)
    assert np.allclose(table.heat_capacity(t), p.heat_capacity_J_molK, rtol=1e-5)
    assert np.allclose(table.entropy(t), p.entropy_J_molK, rtol=1e-5)


def test_field_schedule_follows_the_flow_schedule(table):
    m = MagneticRegenerator(COARSE, OperatingPoint(field_T=(1.2, 0.0, 0.3, 1.5)), table=table)
    b = m.field_at(np.array([0.0, 40.0, 80.0, 90.0, 170.0, 175.0, 180.0]))
    assert np.allclose(b, [1.2, 0.6, 0.0, 0.3, 1.5, 1.35, 1.2])


def test_default_design_cools_at_900_mK_below_carnot(default_point):
    r, css = default_point
    assert css.converged
    assert r.carnot_cop == pytest.approx(0.9 / 0.7)
    assert r.cooling_power_W > 0.0
    assert 0.0 < r.cop < r.carnot_cop
    assert 0.0 < r.second_law_efficiency < 1.0
    assert r.entropy_generation_W_K > 0.0
    # second law in the form of the cycle: Q_H/T_H − Q_C/T_C = generated entropy rate ≥ 0
    assert r.heat_rejected_W / r.hot_K - r.cooling_power_W / r.cold_K > 0.0


def test_first_law_closes_to_two_percent_on_a_coarse_grid(default_point):
    # Q_H − Q_C against the magnetic work −∮ m M dB computed independently from M(T, B);
    # 20 cells x 40 steps per blow (measured -1.25 %); finer grids in the xfail below
    r, _ = default_point
    assert abs(r.energy_residual_fraction) < 2e-2


@pytest.mark.xfail(
    strict=True,
    reason="issue 15 asks 0.1 % per cycle; the magnetic model closes to 0.06–1.3 % "
    "(measured -1.25e-2 at 20 cells x 40 steps, 3.7e-3 at 30 x 40, -6.4e-4 at 60 x 80, "
    "-3.6e-3 at 60 x 160, -2.4e-3 at 120 x 160). Re-evaluating the frozen coefficients at "
    "the step's midpoint (coefficient_iterations) gives +1.04e-3 (1 pass) and -3.2e-3 "
    "(2 passes) at 20 x 40: the residual does not go to zero with the iterations, so the "
    "bound is the temperature-form storage terms (c dT instead of dh, C_B dT + T dS/dB dB "
    "instead of T dS), not the lag; docs/amrr/cycle.md §7",
)
def test_first_law_closes_to_a_tenth_of_a_percent(default_point):
    r, _ = default_point
    assert abs(r.energy_residual_fraction) < 1e-3


def test_coefficient_iterations_cut_the_first_law_residual(table, default_point):
    # frozen coefficients re-evaluated once at the step's midpoint: measured -1.25e-2 ->
    # +1.04e-3 on this grid (warm start from the linearly implicit steady state)
    r0, css0 = default_point
    m = MagneticRegenerator(
        COARSE, OperatingPoint(), COARSE_SCHEDULE, table, coefficient_iterations=1
    )
    css = cyclic_steady_state(m, css0.state_K, method="anderson", tol_K=1e-8)
    r = m.performance(css)
    assert css.converged
    assert abs(r.energy_residual_fraction) < abs(r0.energy_residual_fraction) / 5
    assert r.cooling_power_W == pytest.approx(r0.cooling_power_W, rel=1e-2)
    with pytest.raises(ValueError, match="coefficient_iterations"):
        MagneticRegenerator(COARSE, OperatingPoint(), table=table, coefficient_iterations=-1)


def test_no_field_change_means_no_cooling(table):
    # a passive regenerator between 1.6 K and 0.9 K only leaks heat to the cold end
    point = OperatingPoint(field_T=(0.5, 0.5, 0.5, 0.5))
    r, css = solve_cycle(COARSE, point, COARSE_SCHEDULE, table=table, tol_K=1e-8)
    assert css.converged
    assert r.cooling_power_W < 0.0
    assert r.magnetic_work_W == pytest.approx(0.0, abs=1e-12)


def test_cooling_power_falls_as_the_cold_end_gets_colder(table):
    q = [
        solve_cycle(COARSE, OperatingPoint(cold_K=t), COARSE_SCHEDULE, table=table)[
            0
        ].cooling_power_W
        for t in (0.8, 0.9, 1.0)
    ]
    assert q[0] < q[1] < q[2]


def test_anderson_and_marching_agree_on_the_magnetic_cycle(table):
    m = MagneticRegenerator(
        replace(COARSE, cells=10), OperatingPoint(), CycleSchedule(80.0, 10.0, 20, 4), table
    )
    fast = cyclic_steady_state(m, m.initial_state(), method="anderson", tol_K=1e-9)
    slow = cyclic_steady_state(m, m.initial_state(), method="march", tol_K=1e-9)
    assert fast.converged
    assert slow.converged
    assert np.max(np.abs(fast.state_K - slow.state_K)) < 1e-6
    assert fast.cycles < slow.cycles


def test_spec_validation():
    with pytest.raises(ValueError, match="porosity"):
        RegeneratorSpec(porosity=1.2)
    with pytest.raises(ValueError, match="cold_K"):
        OperatingPoint(cold_K=1.7)
    with pytest.raises(ValueError, match="field_T"):
        OperatingPoint(field_T=(1.0, -1.0, 0.0, 1.0))


runner = CliRunner()

SMALL_TOML = """
[regenerator]
cells = 12
[operating]
molar_flow_mol_s = 4e-3
field_T = [1.2, 0.0, 0.3, 1.5]
[schedule]
blow_s = 80.0
hold_s = 10.0
steps_per_blow = 24
steps_per_hold = 4
"""


def test_cli_cycle_json_from_a_spec_file(tmp_path):
    spec = tmp_path / "cycle.toml"
    spec.write_text(SMALL_TOML, encoding="utf-8")
    result = runner.invoke(app, ["cycle", str(spec), "--t-cold-K", "0.9", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["cold_K"] == 0.9
    assert out["carnot_cop"] == pytest.approx(0.9 / 0.7)
    assert out["cooling_power_W"] > 0.0
    assert out["converged"] is True


@pytest.mark.parametrize(
    ("toml", "args", "code", "message"),
    [
        ("[regenerator]\nporosty = 0.4\n", [], 1, "porosty"),
        ("[regenerator]\nporosity = 2.0\n", [], 1, "porosity"),
        ("[magnet]\nx = 1\n", [], 1, "[magnet]"),
        ("not toml ===", [], 1, "TOML"),
        (SMALL_TOML, ["--default"], 2, "--default"),
        (SMALL_TOML, ["--cooling-curve", "0.7:1.2"], 2, "--cooling-curve"),
        (SMALL_TOML, ["--t-cold-K", "1.7"], 2, "T_C"),
    ],
)
def test_cli_cycle_bad_input(tmp_path, toml, args, code, message):
    spec = tmp_path / "cycle.toml"
    spec.write_text(toml, encoding="utf-8")
    result = runner.invoke(app, ["cycle", str(spec), *args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
