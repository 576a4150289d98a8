"""amrr.design (the design file and orchestration) and the `amrr design`/`sweep` commands."""

from __future__ import annotations

import json
import math

import pytest
from amrr.cli import app
from amrr.design import (
    PARAMS,
    SCHEMA,
    DesignFileError,
    assumptions,
    coerce,
    default_design,
    evaluate,
    paper_design_text,
    parse_design,
    with_overrides,
)
from amrr.magnet import MU0
from amrr.pump import PumpSpec, pump_displacement
from amrr.sweep import grid, parse_vary, run_local, write_table
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture(scope="module")
def paper():
    return evaluate(default_design())


def test_shipped_file_gives_every_key_and_documents_each():
    design = parse_design(paper_design_text(), "paper", base={})
    assert {p.name for p in SCHEMA} == {f"{s}.{k}" for s, t in design.items() for k in t}
    for line in paper_design_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "[paper]" in line or "[assumption]" in line, line


def test_paper_numbers_are_in_the_default(paper):
    d = paper.design
    assert d["magnet"]["centre_field_T"] == 1.5
    assert d["magnet"]["current_A"] == 4.7
    assert d["magnet"]["wire_insulated_diameter_m"] == pytest.approx(0.127e-3)
    assert d["regenerator"]["porosity"] == 0.38
    assert paper.regenerator.fill_fraction == pytest.approx(0.62)
    assert paper.magnet.centre_field_T >= 1.5
    # The regenerator swing is at most half the magnet's design field ("more than twice").
    assert d["regenerator"]["high_field_T"] <= d["magnet"]["centre_field_T"] / 2


def test_orchestration_passes_the_pump_displacement_to_the_regenerator(paper):
    d = paper.design
    pump = pump_displacement(
        PumpSpec(
            d["pump"]["ggg_mass_kg"],
            d["pump"]["temperature_K"],
            d["pump"]["low_field_T"],
            d["pump"]["high_field_T"],
            d["cycle"]["x3"],
        )
    )
    assert paper.regenerator.spec.moles_per_blow_mol == pytest.approx(pump.moles_per_blow_mol)
    b = paper.budget
    assert b.net_cooling_W == pytest.approx(
        b.gross_cooling_W - b.suspension_heat_W - b.radiation_heat_W - b.other_parasitics_W
    )
    summary = paper.summary()
    assert all(isinstance(v, int | float | str) for v in summary.values())
    assert summary["magnet_turns"] == paper.magnet.winding.turns


def test_magnet_turns_per_metre_near_the_long_solenoid_estimate(paper):
    # 1.5 T / (μ0 · 4.7 A) = 2.54e5 turns/m; the finite, thick coil needs somewhat more.
    n = paper.magnet.turns_per_m
    assert 1.5 / (MU0 * 4.7) < n < 1.25 * 1.5 / (MU0 * 4.7)


def test_out_of_range_value_names_file_line_key_and_range():
    text = "[cycle]\nx3 = 0.1\n\n[regenerator]\nporosity = 0.95\n"
    with pytest.raises(DesignFileError) as err:
        parse_design(text, "mine.toml")
    msg = str(err.value)
    assert "mine.toml:5" in msg
    assert "regenerator.porosity" in msg
    assert "[0.2, 0.8]" in msg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[cycle\n", "not valid TOML"),
        ("[nozzle]\na = 1\n", "unknown section"),
        ("[magnet]\ncurent_A = 4\n", "unknown key magnet.curent_A"),
        ("[magnet]\nfilaments = 5.5\n", "an integer"),
        ('[refrigerant]\nmodel = "quantum"\n', "one of"),
        ("[magnet]\ncurrent_A = true\n", "magnet.current_A"),
        ("[cycle]\nload_temperature_K = 0.7\n", "load_temperature_K"),
        ("[magnet]\nmandrel_radius_m = 0.005\n", "must fit inside the mandrel"),
    ],
)
def test_bad_files_are_refused(text, match):
    with pytest.raises(DesignFileError, match=match):
        parse_design(text, "bad.toml")


@given(
    key=st.sampled_from([p.name for p in SCHEMA if p.kind is not str]),
    x=st.one_of(st.floats(), st.integers(-(10**6), 10**6)),
)
def test_any_numeric_value_is_accepted_only_inside_its_range(key, x):
    param = PARAMS[key]
    inside = math.isfinite(x) and param.low <= x <= param.high
    if param.kind is int:
        inside = inside and float(x).is_integer()
    if inside:
        assert coerce(param, x, "f.toml:1") == x
    else:
        with pytest.raises(DesignFileError) as err:
            coerce(param, x, "f.toml:1")
        assert key in str(err.value)
        assert param.describe_range() in str(err.value)


def test_overrides_are_validated():
    d = with_overrides(default_design(), {"regenerator.inner_diameter_m": 0.03})
    assert d["regenerator"]["inner_diameter_m"] == 0.03
    with pytest.raises(DesignFileError, match="unknown design key"):
        with_overrides(default_design(), {"regenerator.diameter": 0.03})


def test_assumptions_are_listed():
    listed = assumptions()
    assert any(a.startswith("pump.ggg_mass_kg") for a in listed)
    assert not any(a.startswith("magnet.current_A") for a in listed)  # from the paper


def test_cli_design_json_and_report(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text("[cycle]\nx3 = 0.12\n")
    result = runner.invoke(app, ["design", str(path), "--json", "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["results"]["regenerator_length_m"] > 0
    assert out["results"]["net_cooling_W"] < out["results"]["gross_cooling_W"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    assert "http" not in html.replace("http-equiv", "")  # no external assets


def test_cli_design_table_prints_the_key_numbers(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text("")
    result = runner.invoke(app, ["design", str(path)])
    assert result.exit_code == 0, result.output
    for label in (
        "regenerator length",
        "magnet layers",
        "inductance",
        "pump displacement",
        "net cooling (first estimate) at 900 mK",
        "assumptions",
    ):
        assert label in result.stdout


def test_cli_bad_file_exit_1_bad_usage_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[regenerator]\nporosity = 2\n")
    result = runner.invoke(app, ["design", str(bad)])
    assert result.exit_code == 1
    assert "regenerator.porosity" in result.stderr
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["design", str(tmp_path / "missing.toml")]).exit_code == 2
    result = runner.invoke(app, ["sweep", str(bad.with_name("x.toml")), "--vary", "a=1:2:3"])
    assert result.exit_code == 2


def test_parse_vary_and_grid():
    v = parse_vary("regenerator.inner_diameter_m=0.02:0.03:3")
    assert v.values == pytest.approx((0.02, 0.025, 0.03))
    g = grid([v, parse_vary("cycle.x3=0.05:0.1:2")])
    assert len(g) == 6
    assert g[0] == {"regenerator.inner_diameter_m": 0.02, "cycle.x3": 0.05}
    for bad in ("nokey=1:2:3", "cycle.x3=1:2", "cycle.x3=0.1:0.2:x", "cycle.x3=0.1:0.9:3"):
        with pytest.raises(ValueError, match="--vary"):
            parse_vary(bad)


def test_sweep_rows_match_single_evaluations_and_table_round_trips(tmp_path):
    import pyarrow.parquet as pq

    design = default_design()
    points = grid([parse_vary("regenerator.inner_diameter_m=0.02:0.03:2")])
    rows = run_local(design, points, workers=2)
    for p, row in zip(points, rows, strict=True):
        result = evaluate(with_overrides(design, p), sensitivities=False)
        single = result.summary()
        assert row["regenerator_length_m"] == pytest.approx(single["regenerator_length_m"])
        assert row["error"] == ""
        assert row["warnings"] == "; ".join(result.warnings)
    narrow = run_local(design, [{"regenerator.inner_diameter_m": 0.012}], workers=1)[0]
    assert "exceeds the winding length" in str(narrow["warnings"])
    table = pq.read_table(write_table(rows, tmp_path / "s.parquet")).to_pylist()
    assert table[1]["regenerator_length_m"] == pytest.approx(rows[1]["regenerator_length_m"])
    text = write_table(rows, tmp_path / "s.csv").read_text()
    assert text.splitlines()[0].startswith("regenerator.inner_diameter_m,")


def test_sweep_point_refused_by_a_model_is_recorded():
    from amrr.sweep import evaluate_point

    # A 0.75 T regenerator swing with a 0.5 T magnet: inconsistent keys.
    row = evaluate_point(default_design(), {"magnet.centre_field_T": 0.5})
    assert "centre_field_T" in str(row["error"])


def test_cli_sweep_writes_table_and_plot(tmp_path):
    d = tmp_path / "d.toml"
    d.write_text("")
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    result = runner.invoke(
        app,
        [
            "sweep",
            str(d),
            "--vary",
            "cycle.x3=0.05:0.15:2",
            "--out",
            str(out),
            "--plot",
            str(png),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_outputs_checked_before_any_work(tmp_path):
    d = tmp_path / "d.toml"
    d.write_text("")
    cases = [
        ["design", str(d), "--report", str(tmp_path / "no" / "such" / "dir")],
        ["sweep", str(d), "--vary", "cycle.x3=0.05:0.1:2", "--out", str(tmp_path / "s.txt")],
        ["sweep", str(d), "--vary", "cycle.x3=0.05:0.1:2", "--out", str(tmp_path / "x" / "s.csv")],
        [
            "sweep",
            str(d),
            "--vary",
            "cycle.x3=0.05:0.1:2",
            "--out",
            str(tmp_path / "s.csv"),
            "--plot",
            str(tmp_path / "s.jpg"),
        ],
        ["sweep", str(d), "--out", str(tmp_path / "s.csv")],
        [
            "sweep",
            str(d),
            "--vary",
            "cycle.x3=0.05:0.1:2",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "s.csv"),
        ],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.toml"]  # nothing written


def test_cli_design_the_models_refuse_exits_1_naming_the_quantity(tmp_path):
    # x3 = 0.4 at 1.8 K lies above the mixture's lambda line: no He II there.
    bad = tmp_path / "hot.toml"
    bad.write_text("[cycle]\nhot_temperature_K = 1.8\nx3 = 0.4\n")
    result = runner.invoke(app, ["design", str(bad)])
    assert result.exit_code == 1
    assert "cannot be evaluated" in result.stderr
    assert "x3" in result.stderr
    assert "Traceback" not in result.output


def test_design_help_lists_every_key_and_range():
    result = runner.invoke(app, ["design", "--help"])
    assert result.exit_code == 0
    for param in SCHEMA:
        assert f"{param.name}: {param.describe_range()}" in result.stdout
