"""The ``amrr props`` commands and ``amrr demo``."""

from __future__ import annotations

import json

import pytest
from amrr.cli import app
from amrr.properties import helium4_svp, mixture_properties, paramagnet_properties
from typer.testing import CliRunner

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("amrr ")


def test_props_ggg_json_matches_library():
    out = run_json("props", "ggg", "--temperature-K", "1.0", "--field-T", "1.0")
    lib = paramagnet_properties(1.0, 1.0, "GGG")
    assert out["model"] == "mean_field"
    assert out["entropy_J_kgK"] == pytest.approx(float(lib.entropy_J_kgK))
    assert out["dS_dB_J_molKT"] == pytest.approx(float(lib.dS_dB_J_molKT))
    assert {"temperature_K", "field_T", "heat_capacity_J_kgK", "magnetisation_Am2_mol"} <= set(out)


def test_props_glf_model_options():
    out = run_json("props", "glf", "--temperature-K", "1.0", "--field-T", "0.5")
    assert out["model"] == "ideal"
    out = run_json(
        "props", "glf", "--temperature-K", "1.0", "--field-T", "0.5",
        "--model", "mean_field", "--curie-weiss-K", "-0.5",
    )  # fmt: skip
    assert out["model"] == "mean_field"
    result = runner.invoke(app, ["props", "glf", "--temperature-K", "1", "--model", "mean_field"])
    assert result.exit_code == 2
    assert "curie_weiss_K" in result.output


def test_props_he4_and_mixture():
    he = run_json("props", "he4", "--temperature-K", "1.2")
    assert he["superfluid_fraction"] == pytest.approx(float(helium4_svp(1.2).superfluid_fraction))
    mix = run_json("props", "mixture", "--temperature-K", "0.75", "--x3", "0.1")
    lib = mixture_properties(0.75, 0.1)
    assert mix["enthalpy_J_mol"] == pytest.approx(float(lib.enthalpy_J_mol))
    assert mix["mu4_J_mol"] == pytest.approx(float(lib.mu4_J_mol))


def test_props_mixture_reports_the_phase_and_covers_the_3he_rich_side():
    from amrr.properties import concentrated_properties

    dil = run_json("props", "mixture", "--temperature-K", "0.75", "--x3", "0.1")
    assert dil["phase"] == "dilute"
    con = run_json("props", "mixture", "--temperature-K", "0.5", "--x3", "0.95")
    assert con["phase"] == "concentrated"
    lib = concentrated_properties(0.5, 0.95)
    assert con["entropy_J_molK"] == pytest.approx(float(lib.entropy_J_molK))
    assert con["mu4_J_mol"] == pytest.approx(float(lib.mu4_J_mol))
    pure = run_json("props", "mixture", "--temperature-K", "0.5", "--x3", "1")
    assert pure["phase"] == "concentrated"
    assert pure["mu4_J_mol"] is None  # −∞ in pure 3He, JSON null
    assert pure["osmotic_pressure_Pa"] == 0.0
    two = runner.invoke(app, ["props", "mixture", "--temperature-K", "0.5", "--x3", "0.5"])
    assert two.exit_code == 2
    assert "two-phase" in two.output
    assert "x_con=0.9081" in two.output


def test_table_output_has_units():
    result = runner.invoke(app, ["props", "he4", "--temperature-K", "1.2", "--table"])
    assert result.exit_code == 0
    assert "entropy_J_kgK" in result.stdout
    assert "J/(kg K)" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["props", "ggg", "--temperature-K", "0.1", "--field-T", "1"], "temperature_K=0.1"),
        (["props", "he4", "--temperature-K", "2.5"], "temperature_K=2.5"),
        (["props", "mixture", "--temperature-K", "0.5", "--x3", "0.5"], "single-phase"),
        (["props", "ggg", "--temperature-K", "1", "--model", "ising"], "--model"),
    ],
)
def test_out_of_range_is_a_clear_error(args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_extrapolate_flag():
    out = run_json("props", "mixture", "--temperature-K", "0.5", "--x3", "0.5", "--extrapolate")
    assert out["x3"] == 0.5


@pytest.mark.parametrize(
    "args",
    [
        ["props", "ggg", "--temperature-K", "1", "--field-T", "1", "--plot-fields-T", "0,1"],
        ["props", "he4", "--temperature-K", "1.2"],
        ["props", "mixture", "--temperature-K", "0.9", "--x3", "0.1"],
    ],
)
def test_plot_writes_png(tmp_path, args):
    png = tmp_path / "chart.png"
    out = run_json(*args, "--plot", str(png))
    assert out["plot"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_prints_design_point_and_writes_charts(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "GGG" in result.stdout
    assert "He II" in result.stdout
    for name in ("ggg_ts_chart.png", "mixture_ts_chart.png"):
        assert (tmp_path / name).stat().st_size > 10_000
        assert str(tmp_path / name) in result.stdout


def test_temperature_ranges_give_one_record_per_point():
    out = json.loads(runner.invoke(app, ["props", "he4", "--temperature-K", "0.8:1.6:9"]).stdout)
    assert [r["temperature_K"] for r in out] == pytest.approx([0.8 + 0.1 * i for i in range(9)])
    lib = helium4_svp([0.8 + 0.1 * i for i in range(9)])
    assert [r["entropy_J_kgK"] for r in out] == pytest.approx(list(lib.entropy_J_kgK))
    out = run_json("props", "ggg", "--temperature-K", "1.0,1.2", "--field-T", "1", "--json")
    assert len(out) == 2
    out = run_json("props", "mixture", "--temperature-K", "0.75:0.9:4", "--x3", "0.1")
    assert [r["phase"] for r in out] == ["dilute"] * 4
    table = runner.invoke(app, ["props", "he4", "--temperature-K", "1:1.2:3", "--table"])
    assert table.exit_code == 0
    assert table.stdout.count("entropy_J_kgK") == 3


def test_he4_inverse_lookup_from_entropy_or_enthalpy():
    s = float(helium4_svp(1.234).entropy_J_kgK)
    out = run_json("props", "he4", "--entropy-J-kgK", repr(s))
    assert out["temperature_K"] == pytest.approx(1.234, rel=1e-9)
    h = float(helium4_svp(0.9).enthalpy_J_mol)
    out = run_json("props", "he4", "--enthalpy-J-mol", repr(h))
    assert out["temperature_K"] == pytest.approx(0.9, rel=1e-9)
    m = mixture_properties(0.9, 0.1)
    out = run_json(
        "props", "mixture", "--x3", "0.1", "--enthalpy-J-mol", repr(float(m.enthalpy_J_mol))
    )
    assert out["temperature_K"] == pytest.approx(0.9, rel=1e-9)
    out = run_json(
        "props", "mixture", "--x3", "0.1", "--entropy-J-molK", repr(float(m.entropy_J_molK))
    )
    assert out["temperature_K"] == pytest.approx(0.9, rel=1e-9)
    bad = runner.invoke(app, ["props", "mixture", "--x3", "0.1", "--entropy-J-molK", "100"])
    assert bad.exit_code == 2
    assert "entropy_J_molK=100" in bad.output
    both = runner.invoke(app, ["props", "he4", "--temperature-K", "1", "--entropy-J-kgK", "3"])
    assert both.exit_code == 2
    assert "exactly one" in both.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["props", "he4", "--temperature-K", "nan"], "temperature_K=nan"),
        (["props", "ggg", "--temperature-K", "1", "--field-T", "nan"], "field_T=nan"),
        (["props", "ggg", "--temperature-K", "1", "--field-T", "-1"], "field_T=-1"),
        (["props", "he4", "--temperature-K", "-1", "--extrapolate"], "temperature_K=-1"),
        (["props", "he4", "--temperature-K", "2.5", "--extrapolate"], "does not lift"),
        (["props", "mixture", "--temperature-K", "0.8", "--x3", "nan"], "x3=nan"),
        (["props", "he4", "--temperature-K", "1:2"], "--temperature-K"),
        (["props", "he4", "--temperature-K", "1:2:x"], "--temperature-K"),
        (["props", "he4", "--temperature-K", "1", "--json", "--table"], "--json"),
    ],
)
def test_bad_values_exit_2_with_a_message_never_nan(args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "NaN" not in result.stdout
    assert "Traceback" not in result.output
