"""Column maps, delimiters, constants and other units: --columns, TOML, the goflux preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from soilflux.cli import app
from soilflux.io import InputError, parse_columns_option, read
from soilflux.io.columns import ColumnMap, sniff_delimiter
from soilflux.io.presets import PRESETS
from typer.testing import CliRunner

runner = CliRunner()
T0 = pd.Timestamp("2024-05-01T08:00:00Z")


def peer_table(n: int = 61, *, step_s: float = 3.0, slope: float = 0.2) -> pd.DataFrame:
    """One closure, linear dry CO2 rise, in someone else's names."""
    t = np.arange(n) * step_s
    return pd.DataFrame(
        {
            "Zeit": [(T0 + pd.Timedelta(seconds=s)).isoformat() for s in t],
            "Kammer": "K1",
            "CO2": 420.0 + slope * t,
            "Tair": 18.0,
            "Messung": "m1",
        }
    )


def test_column_map_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "peer.csv"
    peer_table().to_csv(path, index=False, sep=";")
    out = tmp_path / "f.csv"
    args = ["compute", str(path), "-o", str(out), "--method", "linear", "--deadband", "0"]
    args += ["--volume-cm3", "5000", "--area-cm2", "300", "--pressure-kpa", "100"]
    cols = "time=Zeit,chamber=Kammer,co2_ppm=CO2,temperature_c=Tair,closure_id=Messung"
    result = runner.invoke(app, [*args, "--columns", cols])
    assert result.exit_code == 0, result.output
    assert "pressure_kpa = 100 for every row (constant)" in result.stderr
    assert "fields separated by ';'" in result.stderr
    row = pd.read_csv(out).iloc[0]
    term = 10 * 5000 * 100.0 / (8.314 * 300 * (18.0 + 273.15))
    assert row["flux_umol_m2_s"] == pytest.approx(0.2 * term, rel=1e-9)
    assert row["n"] == 61  # a dead band of 0 fits from the first sample


def test_column_map_in_toml_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "peer.tsv"
    peer_table().rename(columns={"Tair": "T_K"}).assign(T_K=291.15).to_csv(
        path, index=False, sep="\t"
    )
    toml = tmp_path / "map.toml"
    toml.write_text(
        'delimiter = "\\t"\n[columns]\ntime = "Zeit"\nchamber = "Kammer"\nco2_ppm = "CO2"\n'
        'temperature_k = "T_K"\nclosure_id = "Messung"\n[constants]\npressure_atm = 1\n'
    )
    with pytest.raises(InputError, match="no constant 'pressure_atm'"):
        parse_columns_option(str(toml))
    toml.write_text(toml.read_text().replace("pressure_atm = 1", "pressure_kpa = 101.325"))
    data, meta = read(path, columns=parse_columns_option(str(toml)))
    assert data["temperature_c"].iloc[0] == pytest.approx(18.0)
    assert "temperature_k converted to temperature_c" in meta.notes
    out = tmp_path / "f.csv"
    bad = runner.invoke(app, ["compute", str(path), "-o", str(out), "--columns", "time"])
    assert bad.exit_code == 2
    assert "'time' is not NAME=COLUMN" in bad.stderr
    missing = runner.invoke(
        app, ["compute", str(path), "-o", str(out), "--columns", str(toml).replace("map", "nope")]
    )
    assert missing.exit_code == 2
    absent = runner.invoke(
        app,
        [
            "compute",
            str(path),
            "-o",
            str(out),
            "--columns",
            "time=Uhrzeit",
            "--volume-cm3",
            "5000",
            "--area-cm2",
            "300",
        ],
    )
    assert absent.exit_code == 1
    assert "field 'Uhrzeit': column not found (mapped to time by --columns" in absent.stderr


def test_peer_file_without_its_format_says_how_to_read_it(tmp_path: Path) -> None:
    path = tmp_path / "fluxmeas.csv"
    path.write_text("ID;V;A;time;C\nID1;0.52;1;0;0.33\nID1;0.52;1;0.333;0.34\n")
    result = runner.invoke(app, ["compute", str(path), "-o", str(tmp_path / "f.csv")])
    assert result.exit_code == 1
    message = result.stderr
    assert "the file's columns: id, v, a, time, c" in message
    assert "--format gasfluxes|fluxible|goflux" in message


def test_goflux_preset_dry_gases_and_its_defaults(tmp_path: Path) -> None:
    """goFlux's input table: dry CO2 and H2O [ppm], Vtot [L], Area [cm²], Etime, flag."""
    t = np.arange(0, 121, 1.0)
    frame = pd.DataFrame(
        {
            "UniqueID": "plot1_1",
            "Etime": t,
            "POSIX.time": [f"{T0 + pd.Timedelta(seconds=s):%Y-%m-%d %H:%M:%S}" for s in t],
            "CO2dry_ppm": 430.0 + 0.15 * t,
            "H2O_ppm": 20000.0,
            "Vtot": 6.0,
            "Area": 314.0,
            "flag": np.where(t < 100, 1, 0),
        }
    )
    path = tmp_path / "goflux.csv"
    frame.to_csv(path, index=False)
    data, meta = read(path, "goflux")
    assert len(data) == 100  # flag 0 rows left out
    assert "pressure_kpa = 101.325 for every row (constant)" in meta.notes
    assert "temperature_c = 15 for every row (constant)" in meta.notes
    out = tmp_path / "f.csv"
    args = ["compute", str(path), "--format", "goflux", "-o", str(out), "--method", "linear"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out).iloc[0]
    # goFlux's flux.term with its defaults: V·P·(1 − H2O)/(R·A·T)
    term = 10 * 6000.0 * 101.325 * (1 - 0.02) / (8.314 * 314.0 * (15 + 273.15))
    assert row["flux_umol_m2_s"] == pytest.approx(0.15 * term, rel=1e-9)
    assert row["closure_id"] == "plot1_1"


def test_user_entries_replace_the_preset_for_the_same_column() -> None:
    merged = PRESETS["gasfluxes"].merged(parse_columns_option("co2_c_mg_m3=C"))
    assert merged.columns["co2_c_mg_m3"] == "C"
    assert "n2o_n_mg_m3" not in merged.columns
    with pytest.raises(ValueError, match="mapped twice"):
        ColumnMap(columns={"co2_ppm": "C", "ch4_ppb": "c"})


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.[]0123456789 ", min_size=1, max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.lists(names.map(str.strip).filter(bool), min_size=1, max_size=8, unique=True),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_sniffed_delimiter_is_the_one_written(
    tmp_path: Path, header: list[str], delimiter: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(delimiter.join(header) + "\n" + delimiter.join("1" * len(header)) + "\n")
    expected = delimiter if len(header) > 1 else ","
    assert sniff_delimiter(path) == expected


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.dictionaries(
        st.sampled_from(["time", "co2_ppm", "chamber", "closure_id", "volume_l", "elapsed_h"]),
        names.map(str.strip).filter(lambda s: bool(s) and "," not in s and "=" not in s),
        min_size=1,
    )
)
def test_columns_option_round_trip(pairs: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in pairs.items())
    lowered = [v.lower() for v in pairs.values()]
    if len(set(lowered)) < len(lowered):
        with pytest.raises(ValueError, match="mapped twice"):
            parse_columns_option(text)
        return
    assert dict(parse_columns_option(text).columns) == pairs
