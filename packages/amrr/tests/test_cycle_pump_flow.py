"""The pump in the loop (issue 15): the cycle run with the pump's flow over each blow."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from amrr.cli import app
from amrr.cycle.from_design import cycle_from_design, design_cooling
from amrr.cycle.magnetic import MagneticRegenerator, MixtureTable
from amrr.cycle.steady import cyclic_steady_state
from amrr.design import DesignFileError, default_design, evaluate, parse_design, pump_flow_of
from amrr.pump import PumpSpec, linear_ramp_flow
from typer.testing import CliRunner

GRID = {"cells": 12, "steps_per_blow": 24, "steps_per_hold": 3}


def with_profile(profile: str):
    design = default_design()
    design["pump"] = {**design["pump"], "flow_profile": profile}
    return design


@pytest.fixture(scope="module")
def paper():
    design = default_design()
    return cycle_from_design(design, result=evaluate(design, sensitivities=False), **GRID)


@pytest.fixture(scope="module")
def table(paper):
    return MixtureTable.build(paper.spec.x3)


def steady(paper, table, flow=None):
    m = MagneticRegenerator(paper.spec, paper.point, paper.schedule, table, flow_of_blow_time=flow)
    css = cyclic_steady_state(m, m.initial_state(), method="anderson", tol_K=1e-9)
    assert css.converged
    return m, css


def test_a_constant_profile_is_the_constant_flow_to_the_bit(paper, table):
    _, css0 = steady(paper, table)
    _, css1 = steady(paper, table, lambda t: 3.0)  # any constant φ: normalised to 1
    np.testing.assert_array_equal(css0.state_K, css1.state_K)


@pytest.mark.parametrize("profile", ["magnetising_bed", "demagnetising_bed"])
def test_a_varying_flow_keeps_the_first_law_and_the_second(paper, table, profile):
    # 40 x 80: on the 12 x 24 grid the engine-mode cycle (demagnetising bed) needs linear
    # fallback steps at its reversals, and those are not conservative (S_gen −4.5 % of
    # Q_H/T_H there; +0.8 % at 40 x 80, +2.5 % at 80 x 160)
    finer = replace(
        paper,
        spec=replace(paper.spec, cells=40),
        schedule=replace(paper.schedule, steps_per_blow=80, steps_per_hold=10),
    )
    flow = pump_flow_of(with_profile(profile))
    m, css = steady(finer, table, flow.flow_at)
    r = m.performance(css)
    # every step's ṅ enters the inflow, outflow and Jacobian alike: the cycle still closes
    assert abs(r.energy_residual_fraction) < 1e-5
    assert r.entropy_generation_W_K > 0.0
    # the same moles per blow: Σ_k φ_k h = P
    assert np.mean(m.flow_scale) == pytest.approx(1.0, rel=1e-12)
    assert m.flow_scale.max() > 1.3


def test_flow_late_in_the_blow_cools_more_flow_early_runs_an_engine(paper, table):
    # the regenerator's field moves during the blows (f = 1/9 in the holds): flow that comes
    # after the field change (the magnetising bed's rising ṅ) is closer to a Brayton cycle;
    # flow before it (the demagnetising bed's falling ṅ) reverses the cycle
    q = {}
    for profile in ("constant", "magnetising_bed", "demagnetising_bed"):
        dc = replace(paper, pump_flow=pump_flow_of(with_profile(profile)))
        point, _ = design_cooling(dc, table=table, tol_K=1e-9)
        assert point.converged
        q[profile] = point.cycle
    assert q["magnetising_bed"].cooling_power_W > 2 * q["constant"].cooling_power_W > 0.0
    engine = q["demagnetising_bed"]
    assert engine.cooling_power_W < 0.0
    assert engine.magnetic_work_W < 0.0  # work out: a magnetic heat engine between the ends
    assert np.isnan(engine.cop)  # no COP for a cycle that is not a refrigerator
    # its efficiency W/Q_H stays below Carnot's 1 − T_C/T_H
    assert -engine.magnetic_work_W / -engine.heat_rejected_W < 1 - engine.cold_K / engine.hot_K


def test_the_demagnetising_bed_is_the_magnetising_bed_mirrored_in_time():
    spec = PumpSpec(0.1, 1.6, 0.0, 1.5, 0.10)
    up = linear_ramp_flow(spec, 80.0, bed="magnetising")
    down = linear_ramp_flow(spec, 80.0, bed="demagnetising")
    np.testing.assert_allclose(down.molar_flow_mol_s, up.molar_flow_mol_s[::-1], rtol=1e-12)
    assert down.moles_per_blow_mol == pytest.approx(up.moles_per_blow_mol, rel=1e-12)
    with pytest.raises(ValueError, match="bed"):
        linear_ramp_flow(spec, 80.0, bed="both")


@pytest.mark.parametrize("phi", [lambda t: -1.0, lambda t: 0.0, lambda t: float("nan")])
def test_a_bad_flow_profile_is_refused(paper, table, phi):
    with pytest.raises(ValueError, match="flow_of_blow_time"):
        MagneticRegenerator(paper.spec, paper.point, paper.schedule, table, flow_of_blow_time=phi)


def test_flow_profile_key():
    assert pump_flow_of(default_design()) is None
    flow = pump_flow_of(with_profile("magnetising_bed"))
    assert flow is not None
    assert flow.molar_flow_mol_s[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(DesignFileError, match="flow_profile"):
        parse_design('[pump]\nflow_profile = "sinusoidal"\n', "bad.toml")


def test_cli_prints_the_pump_flow(tmp_path):
    f = tmp_path / "d.toml"
    f.write_text('[pump]\nflow_profile = "magnetising_bed"\n')
    run = CliRunner().invoke(
        app, ["cycle", "--design", str(f), "--cells", "8", "--steps", "16", "--workers", "1"]
    )
    assert run.exit_code == 0, run.output
    assert "pump flow over a blow: magnetising_bed (peak/mean 1.67" in run.output
    # the pump's displaced moles, the design tool's (amrr.pump): printed and in --json
    moles = evaluate(with_profile("magnetising_bed"), sensitivities=False).pump.moles_per_blow_mol
    assert f"{moles:.4f} mol displaced per blow" in run.output
    js = CliRunner().invoke(
        app,
        ["cycle", "--design", str(f), "--cells", "8", "--steps", "16", "--workers", "1", "--json"],
    )
    assert js.exit_code == 0, js.output
    assert json.loads(js.output)[0]["pump_moles_per_blow_mol"] == pytest.approx(moles, rel=1e-12)
