"""The GLF design toward 0.35 K (issue 15): the design file, its rules, and its cycle."""

from __future__ import annotations

from importlib import resources

import pytest
from amrr.cli import app
from amrr.cycle.from_design import cycle_from_design, design_cooling, model_band
from amrr.cycle.magnetic import MixtureTable, single_phase_floor_K
from amrr.design import (
    DesignFileError,
    band_models,
    default_design,
    evaluate,
    parse_design,
    pump_refrigerant_of,
    refrigerant_of,
)
from amrr.properties.paramagnet import exchange_internal_field_T
from amrr.properties.phase_diagram import superfluid_boundary_x3
from typer.testing import CliRunner

GRID = {"cells": 12, "steps_per_blow": 24, "steps_per_hold": 3}


def glf_text() -> str:
    return (resources.files("amrr") / "data" / "glf_design.toml").read_text("utf-8")


@pytest.fixture(scope="module")
def glf():
    return parse_design(glf_text(), "glf_design.toml")


@pytest.fixture(scope="module")
def glf_cycle(glf):
    return cycle_from_design(glf, result=evaluate(glf, sensitivities=False), **GRID)


def test_paper_design_internal_field_is_ggg_exchange_field():
    # the design file's b for GGG is the value derived from θ = −2.3 K, z = 4
    b = default_design()["refrigerant"]["internal_field_T"]
    assert b == pytest.approx(exchange_internal_field_T("GGG"), abs=5e-4)


def test_glf_file_documents_every_key_it_sets(glf):
    for line in glf_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "[paper]" in line or "[assumption]" in line, line
    assert glf["refrigerant"]["material"] == "GLF"
    assert glf["cycle"]["cold_outlet_temperature_K"] == 0.35


def test_glf_regenerators_but_the_pump_stays_ggg(glf):
    paper = evaluate(default_design(), sensitivities=False)
    result = evaluate(glf, sensitivities=False)
    assert refrigerant_of(glf).name == "GLF (internal_field)"
    assert pump_refrigerant_of(glf).name.startswith("GGG")
    # same pump section, same GGG: the same moles per blow as the paper's design
    assert result.pump.moles_per_blow_mol == pytest.approx(paper.pump.moles_per_blow_mol)
    # the bed is long and thin (axial conduction) and fits in its magnet
    assert result.regenerator.length_m < glf["magnet"]["winding_length_m"]
    assert not any("winding" in w for w in result.warnings)


def test_band_models_leave_out_mean_field_without_a_curie_weiss_temperature(glf):
    assert band_models(default_design()) == ("ideal", "mean_field", "internal_field")
    assert band_models(glf) == ("ideal", "internal_field")


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ('[refrigerant]\nmaterial = "GLF"\nmodel = "mean_field"\n', "no verified Curie–Weiss"),
        # GGG's spin models hold down to 0.4 K only
        ("[cycle]\ncold_outlet_temperature_K = 0.35\nload_temperature_K = 0.5\n", "0.4 K"),
        # at 0.5 K the dilute phase holds at most x3 = 0.224: 0.3 phase-separates
        ("[cycle]\nx3 = 0.3\ncold_outlet_temperature_K = 0.5\nload_temperature_K = 0.6\n",
         "phase-separates"),
        ('[refrigerant]\nmaterial = "Gd"\n', "one of 'GGG', 'GLF'"),
        ("[refrigerant]\ninternal_field_T = -0.1\n", r"\[0, 2\]"),
    ],
)  # fmt: skip
def test_inconsistent_refrigerant_keys_are_refused_by_name(override, match):
    with pytest.raises(DesignFileError, match=match):
        parse_design(override, "bad.toml")


def test_mixture_table_reaches_down_to_phase_separation():
    # x3 = 0.10 meets the dilute line at 0.231 K: the table starts on the next 5-mK knot
    assert single_phase_floor_K(0.10) == pytest.approx(0.235)
    assert float(superfluid_boundary_x3(0.235)) >= 0.10 > float(superfluid_boundary_x3(0.23))
    assert single_phase_floor_K(0.02) == pytest.approx(0.15)  # the mixture model's floor
    table = MixtureTable.build(0.10)
    assert table.low_K == pytest.approx(0.235)
    assert table.max_relative_error < 1e-3


def test_glf_cycle_cools_at_350_mK_and_the_internal_field_sets_how_much(glf, glf_cycle):
    tab = MixtureTable.build(glf_cycle.spec.x3)
    point, _ = design_cooling(glf_cycle, 0.35, table=tab)
    assert point.converged
    assert point.cycle.cooling_power_W > 0.0
    assert point.net_cooling_W > 0.0
    # the regenerator delivers mixture colder than the load: the cold end is not the limit
    assert point.cycle.cold_outlet_mean_K < 0.35
    # a larger internal field leaves less zero-field entropy below 1 K: less cooling
    stronger = {**glf, "refrigerant": {**glf["refrigerant"], "internal_field_T": 0.3}}
    dc3 = cycle_from_design(stronger, result=evaluate(stronger, sensitivities=False), **GRID)
    p3, _ = design_cooling(dc3, 0.35, table=tab)
    assert p3.converged
    assert p3.cycle.cooling_power_W < point.cycle.cooling_power_W


def test_glf_band_runs_the_two_models_glf_has(glf_cycle):
    band = model_band(glf_cycle, 0.4)
    assert set(band.points) == {"ideal", "internal_field"}
    lo, hi = band.net_cooling_range_W
    assert lo <= hi


def test_cli_cold_end_below_the_refrigerants_range_exits_2(tmp_path):
    glf_file = tmp_path / "glf.toml"
    glf_file.write_text(glf_text())
    run = CliRunner().invoke(app, ["cycle", "--design", str(glf_file), "--t-cold-K", "0.25"])
    assert run.exit_code == 2
    assert "GLF's spin models hold down to 0.3 K" in run.output
    run = CliRunner().invoke(app, ["cycle", "--default", "--t-cold-K", "0.35"])
    assert run.exit_code == 2
    assert "0.4 K" in run.output
