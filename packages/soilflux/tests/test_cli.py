"""The ``soilflux`` command line: compute, summarize, demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.cli import app
from soilflux.pipeline import OUTPUT_COLUMNS
from typer.testing import CliRunner

runner = CliRunner()
T0 = pd.Timestamp("2023-10-02T00:00:00Z")
VOLUME_CM3, AREA_CM2 = 5000.0, 300.0
#: Flux term V·P·(1 − W)/(R·S·T) for the records below (P 100 kPa, T 20 °C, W 15 mmol/mol).
TERM = 10 * VOLUME_CM3 * 100.0 * (1 - 15 / 1000) / (8.314 * AREA_CM2 * 293.15)


def write_records(path: Path, *, hours: int = 2, seed: int = 1) -> dict[str, float]:
    """Fleet-like long table: 4 chambers on two variants, a closure every 10 min,
    closed for 180 s (3-s samples), linear rise whose flux is returned per chamber."""
    rng = np.random.default_rng(seed)
    true_flux = {"dev-a": 1.0, "dev-b": 1.2, "dev-c": 2.0, "dev-d": 2.4}
    rows = []
    for chamber, flux in true_flux.items():
        dcdt = flux / TERM  # dry ppm/s
        for k in range(hours * 6):
            t0 = T0 + pd.Timedelta(minutes=10 * k)
            for i in range(-5, 70):
                t = i * 3.0
                closed = 0 <= i < 61
                dry = 420.0 + (dcdt * t if closed else 0.0)
                rows.append(
                    (
                        (t0 + pd.Timedelta(seconds=t)).isoformat(),
                        chamber,
                        dry * (1 - 15 / 1000) + rng.normal(0, 0.05),
                        20.0,
                        1000.0,
                        15.0,
                        0.0,
                        "closed" if closed else "flush",
                    )
                )
    frame = pd.DataFrame(
        rows,
        columns=[
            "time",
            "chamber",
            "co2_ppm",
            "temperature_c",
            "pressure_hpa",
            "h2o_mmol_mol",
            "lux",
            "phase",
        ],
    )
    frame.to_csv(path, index=False)
    return true_flux


def write_chambers(path: Path) -> None:
    path.write_text(
        "chamber,volume_cm3,area_cm2,location\n"
        + "\n".join(
            f"dev-{c},{VOLUME_CM3},{AREA_CM2},{loc}"
            for c, loc in zip("abcd", ["9.1.A", "9.1.B", "9.2.A", "9.2.B"], strict=True)
        )
        + "\n"
    )


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("soilflux ")


def test_compute_generic_table(tmp_path: Path) -> None:
    records, chambers, out = (
        tmp_path / "records.csv",
        tmp_path / "chambers.csv",
        tmp_path / "fluxes.csv",
    )
    truth = write_records(records)
    write_chambers(chambers)
    result = runner.invoke(
        app,
        [
            "compute",
            str(records),
            "--chambers",
            str(chambers),
            "-o",
            str(out),
            "--method",
            "linear",
        ],
    )
    assert result.exit_code == 0, result.output
    fluxes = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(fluxes.columns) == [*OUTPUT_COLUMNS, "closure_id"]
    assert len(fluxes) == 4 * 12  # one per closure (CO2 only)
    by_chamber = fluxes.groupby("chamber")["flux_umol_m2_s"].median()
    for chamber, flux in truth.items():
        assert by_chamber[chamber] == pytest.approx(flux, rel=0.01)
    assert set(fluxes["location"]) == {"9.1.A", "9.1.B", "9.2.A", "9.2.B"}
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away
    assert "48 closures" in result.stderr


def test_compute_quiet_and_parquet(tmp_path: Path) -> None:
    records, out = tmp_path / "records.csv", tmp_path / "fluxes.parquet"
    write_records(records, hours=1)
    result = runner.invoke(
        app,
        [
            "compute",
            str(records),
            "--volume-cm3",
            "5000",
            "--area-cm2",
            "300",
            "-o",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == ""
    assert len(pd.read_parquet(out)) == 24


def test_compute_bad_value_is_reported_then_strict_fails(tmp_path: Path) -> None:
    records, out = tmp_path / "records.csv", tmp_path / "fluxes.csv"
    write_records(records, hours=1)
    lines = records.read_text().splitlines()
    fields = lines[10].split(",")
    fields[2] = "four hundred"
    lines[10] = ",".join(fields)
    records.write_text("\n".join(lines) + "\n")
    args = ["compute", str(records), "--volume-cm3", "5000", "--area-cm2", "300", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{records}:11: field 'co2_ppm'" in result.stderr
    assert "missing_values" in pd.read_csv(out)["flags"].fillna("").str.cat()
    out.unlink()
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1
    assert f"{records}:11: field 'co2_ppm'" in strict.stderr
    assert not out.exists()  # nothing half-written


def test_compute_usage_errors(tmp_path: Path) -> None:
    records = tmp_path / "records.csv"
    write_records(records, hours=1)
    out = str(tmp_path / "f.csv")
    no_geometry = runner.invoke(app, ["compute", str(records), "-o", out])
    assert no_geometry.exit_code == 1
    assert "'dev-a'" in no_geometry.stderr
    one_of_two = runner.invoke(app, ["compute", str(records), "-o", out, "--volume-cm3", "5"])
    assert one_of_two.exit_code == 2
    bad_deadband = runner.invoke(app, ["compute", str(records), "-o", out, "--deadband", "soon"])
    assert bad_deadband.exit_code == 2
    bad_suffix = runner.invoke(app, ["compute", str(records), "-o", str(tmp_path / "f.xlsx")])
    assert bad_suffix.exit_code == 2
    missing = runner.invoke(
        app,
        [
            "compute",
            str(tmp_path / "nope.csv"),
            "-o",
            out,
            "--volume-cm3",
            "5000",
            "--area-cm2",
            "300",
        ],
    )
    assert missing.exit_code == 1
    assert "nope.csv: no such file" in missing.stderr
    # a geometry in m³ and m² is a usage error naming the option
    in_m3 = runner.invoke(
        app, ["compute", str(records), "-o", out, "--volume-cm3", "0.005", "--area-cm2", "300"]
    )
    assert in_m3.exit_code == 2
    assert "--volume-cm3" in in_m3.stderr
    assert "wrong unit" in in_m3.stderr


def test_summarize_with_controls(tmp_path: Path) -> None:
    records, chambers, fluxes = (
        tmp_path / "records.csv",
        tmp_path / "chambers.csv",
        tmp_path / "fluxes.csv",
    )
    write_records(records, hours=3)
    write_chambers(chambers)
    computed = runner.invoke(
        app,
        [
            "compute",
            str(records),
            "--chambers",
            str(chambers),
            "-o",
            str(fluxes),
            "-q",
            "--method",
            "linear",
        ],
    )
    assert computed.exit_code == 0, computed.output
    controls = tmp_path / "controls.csv"
    controls.write_text("treatment,control\n9.2,9.1\n4.2,4.1\n")
    out = tmp_path / "hourly.csv"
    result = runner.invoke(
        app,
        ["summarize", str(fluxes), "-o", str(out), "--by", "variant", "--controls", str(controls)],
    )
    assert result.exit_code == 0, result.output
    assert "variant 4.2 has no fluxes" in result.stderr
    hourly = pd.read_csv(out)
    assert len(hourly) == 2 * 3  # two variants × three hours
    assert set(hourly["n_replicates"]) == {2}
    rates = pd.read_csv(tmp_path / "hourly.filter_rate.csv")
    assert rates["n_closures"].sum() == 4 * 18
    summary = pd.read_csv(tmp_path / "hourly.difference_summary.csv")
    # treatment 2.0/2.4 vs control 1.0/1.2: +1.1 µmol m⁻² s⁻¹
    assert summary.loc[0, "difference"] == pytest.approx(1.1, rel=0.02)
    assert (tmp_path / "hourly.differences.csv").is_file()
    assert (tmp_path / "hourly.removed_by_flag.csv").is_file()
    per_chamber = runner.invoke(
        app, ["summarize", str(fluxes), "-o", str(tmp_path / "c.csv"), "--by", "hour"]
    )
    assert per_chamber.exit_code == 0
    assert len(pd.read_csv(tmp_path / "c.csv")) == 4 * 3


@pytest.mark.reference
def test_compute_licor_files(reference_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "licor.csv"
    files = [str(reference_dir / "flux" / n) for n in ("LI8200-01S.json", "LI8150.81x")]
    result = runner.invoke(app, ["compute", *files, "-o", str(out), "--method", "linear"])
    assert result.exit_code == 0, result.output
    fluxes = pd.read_csv(out)
    assert len(fluxes) == 4 * 2 + 1  # CO2 and CH4 for 4 reps, CO2 for the .81x
    row = fluxes[(fluxes["closure_id"] == "LI8200-01S#47/REP_1") & (fluxes["gas"] == "co2")].iloc[0]
    assert row["flux_umol_m2_s"] == pytest.approx(6.6457, rel=5e-4)
    # Smart Chamber files get the instrument's initial-value window (0 ≤ t ≤ 10 s): the
    # footer's P_o, T_o, W_o (101.729 kPa, 20.4208 °C, 20.2249 mmol/mol) to the printed digit.
    assert row["p0_kpa"] == pytest.approx(101.729, abs=6e-4)
    assert row["t0_c"] == pytest.approx(20.4208, abs=6e-5)
    assert row["w0_mmol_mol"] == pytest.approx(20.2249, abs=6e-5)


@pytest.mark.reference
def test_demo_compares_with_the_vendor(reference_dir: Path, tmp_path: Path) -> None:
    png = tmp_path / "demo.png"
    args = ["demo", "--reference", str(reference_dir), "--synthetic", "50", "--plot", str(png)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "47/REP_1" in result.stdout
    assert "6.6457" in result.stdout
    assert "synthetic closures" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_reference(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--reference", str(tmp_path / "none"), "--synthetic", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "LI-COR comparison skipped" in result.stdout


@pytest.mark.reference
def test_recompute_licor_file_with_another_window(reference_dir: Path, tmp_path: Path) -> None:
    """Like SoilFluxPro's Recompute: an explicit dead band / stop time replaces the file's."""
    path = str(reference_dir / "flux" / "LI8150.81x")
    own, other = tmp_path / "own.csv", tmp_path / "other.csv"
    base = ["compute", path, "--method", "linear", "-q"]
    assert runner.invoke(app, [*base, "-o", str(own)]).exit_code == 0
    result = runner.invoke(
        app, [*base, "-o", str(other), "--deadband", "40", "--obs-length", "100"]
    )
    assert result.exit_code == 0, result.output
    a, b = pd.read_csv(own).iloc[0], pd.read_csv(other).iloc[0]
    assert (a["deadband_s"], a["n"]) == (25.0, 94)  # the file's own: (25, 120] s
    assert b["deadband_s"] == 40.0
    assert b["n"] == 60  # (40, 100] s at 1 Hz
    assert b["flux_umol_m2_s"] != a["flux_umol_m2_s"]


def test_a_series_of_files_is_one_record(tmp_path: Path) -> None:
    """Daily files cut through a closure: computed file by file, nothing lost or split."""
    records = tmp_path / "records.csv"
    write_records(records, hours=2)
    table = pd.read_csv(records).sort_values("time", kind="stable")
    # cut inside a closed run of every chamber (second closure, 30 s after closing)
    cut = pd.Timestamp(T0 + pd.Timedelta(minutes=10, seconds=30)).isoformat()
    day1, day2 = tmp_path / "day1.csv", tmp_path / "day2.csv"
    table[table["time"] < cut].to_csv(day1, index=False)
    table[table["time"] >= cut].to_csv(day2, index=False)
    geometry = ["--volume-cm3", "5000", "--area-cm2", "300", "-q", "--method", "linear"]
    whole, parts = tmp_path / "whole.csv", tmp_path / "parts.csv"
    assert runner.invoke(app, ["compute", str(records), "-o", str(whole), *geometry]).exit_code == 0
    result = runner.invoke(app, ["compute", str(day1), str(day2), "-o", str(parts), *geometry])
    assert result.exit_code == 0, result.output
    a = pd.read_csv(whole).sort_values(["chamber", "start"]).reset_index(drop=True)
    b = pd.read_csv(parts).sort_values(["chamber", "start"]).reset_index(drop=True)
    assert len(b) == len(a) == 4 * 12
    np.testing.assert_allclose(b["flux_umol_m2_s"], a["flux_umol_m2_s"], rtol=1e-12)
    assert (b["n"] == a["n"]).all()


def test_a_bad_later_file_fails_the_run_with_its_name(tmp_path: Path) -> None:
    """The files after the first are read ahead on a thread: a bad one still fails the run
    (exit 1, its name and line in the message) and nothing is written."""
    good = tmp_path / "day1.csv"
    write_records(good, hours=1)
    bad = tmp_path / "day2.csv"
    lines = good.read_text().splitlines()
    fields = lines[5].split(",")
    fields[lines[0].split(",").index("co2_ppm")] = "lots"
    bad.write_text("\n".join([lines[0], *lines[1:5], ",".join(fields), *lines[6:]]) + "\n")
    out = tmp_path / "fluxes.csv"
    geometry = ["--volume-cm3", "5000", "--area-cm2", "300", "-q", "--strict"]
    result = runner.invoke(app, ["compute", str(good), str(bad), "-o", str(out), *geometry])
    assert result.exit_code == 1, result.output
    assert "day2.csv" in result.output
    assert "day2.csv:6: field 'co2_ppm'" in result.output
    assert not out.exists()


def test_sensor_lag_options_reach_the_engine(tmp_path: Path) -> None:
    """--sensor-lag-s and --no-lag-compensation set the automatic dead band's lower end:
    one time constant with compensation, four without (methods §2, §2.1)."""
    records = tmp_path / "records.csv"
    truth = write_records(records, hours=1)
    # the kappa.max rule: its windows start at the automatic dead band (hm_averaged's at 0 s)
    geometry = ["--volume-cm3", "5000", "--area-cm2", "300", "-q", "--deadband", "auto"]
    geometry += ["--hm-fallback", "robust"]

    def run(name: str, *extra: str) -> pd.DataFrame:
        out = tmp_path / f"{name}.csv"
        result = runner.invoke(app, ["compute", str(records), "-o", str(out), *geometry, *extra])
        assert result.exit_code == 0, result.output
        return pd.read_csv(out)

    default = run("default")
    fast = run("fast", "--sensor-lag-s", "2")
    plain = run("plain", "--no-lag-compensation")
    plain_fast = run("plain_fast", "--no-lag-compensation", "--sensor-lag-s", "2")
    assert default["deadband_s"].min() >= 20.0
    assert fast["deadband_s"].min() >= 2.0
    assert fast["deadband_s"].min() < 20.0
    assert plain["deadband_s"].min() >= 80.0  # 4 × 20 s
    assert plain_fast["deadband_s"].min() >= 8.0  # 4 × 2 s
    assert plain_fast["deadband_s"].min() < 80.0
    for frame in (default, fast, plain, plain_fast):  # a straight record: the same flux
        by_chamber = frame.groupby("chamber")["flux_umol_m2_s"].median()
        for chamber, flux in truth.items():
            assert by_chamber[chamber] == pytest.approx(flux, rel=0.02)
    out = str(tmp_path / "bad.csv")
    bad = runner.invoke(app, ["compute", str(records), "-o", out, "--sensor-lag-s", "-1"])
    assert bad.exit_code == 2
    assert "--sensor-lag-s" in bad.output
    help_text = runner.invoke(app, ["compute", "--help"]).output
    assert "--sensor-lag-s" in help_text
    assert "--no-lag-compensation" in help_text


def test_compute_with_the_chamber_shared_hm(tmp_path: Path) -> None:
    """--hm-fallback shared: every closure of a chamber closing every 10 min is pooled."""
    records = tmp_path / "records.csv"
    truth = write_records(records, hours=2)
    out = tmp_path / "shared.csv"
    args = ["compute", str(records), "-o", str(out), "--volume-cm3", "5000", "--area-cm2", "300"]
    # the records rise without a sensor lag: say so (the shared HM takes τ as known)
    result = runner.invoke(app, [*args, "-q", "--hm-fallback", "shared", "--sensor-lag-s", "0"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert (frame["model"] == "hm_shared").all()
    assert frame["kappa_shared"].abs().max() < 5e-4  # straight records
    by_chamber = frame.groupby("chamber")["flux_umol_m2_s"].median()
    for chamber, flux in truth.items():
        assert by_chamber[chamber] == pytest.approx(flux, rel=0.01)
    bad = runner.invoke(app, [*args, "--hm-fallback", "always"])
    assert bad.exit_code == 2
    assert "--hm-fallback" in bad.output


def test_saturated_closures_keep_their_flux_and_summarize_keeps_them(tmp_path: Path) -> None:
    """`saturated` flags a levelling curve; its flux is reported (the curve's slope at
    closing, as LI-COR's exponential and goFlux's HM give) and kept unless asked."""
    rows = []
    for k in range(6):
        t0 = T0 + pd.Timedelta(minutes=10 * k)
        for i in range(0, 61):
            t = 3.0 * i
            dry = 420.0 + 200.0 * (1.0 - np.exp(-0.03 * t))  # 99.7 % of its rise by 180 s
            rows.append(((t0 + pd.Timedelta(seconds=t)).isoformat(), "dev-a", dry, "closed"))
        rows.append(((t0 + pd.Timedelta(seconds=200)).isoformat(), "dev-a", 420.0, "flush"))
    frame = pd.DataFrame(rows, columns=["time", "chamber", "co2_ppm", "phase"])
    records = tmp_path / "sat.csv"
    frame.assign(temperature_c=20.0, pressure_kpa=100.0).to_csv(records, index=False)
    fluxes = tmp_path / "f.csv"
    common = ["--volume-cm3", "5000", "--area-cm2", "300", "-q", "--method", "exp"]
    result = runner.invoke(app, ["compute", str(records), "-o", str(fluxes), *common])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(fluxes)
    assert table["flags"].str.contains("saturated").all()
    # the exponential's slope at closing: 200 ppm · 0.03 s⁻¹ = 6 ppm s⁻¹, times the term
    term = 10 * 5000 * 100.0 / (8.314 * 300 * 293.15)
    np.testing.assert_allclose(table["flux_umol_m2_s"], 6.0 * term, rtol=0.02)
    kept = runner.invoke(
        app, ["summarize", str(fluxes), "-o", str(tmp_path / "h.csv"), "--by", "hour"]
    )
    assert kept.exit_code == 0, kept.output
    assert "6 fluxes, 6 kept" in kept.stderr
    dropped = runner.invoke(
        app,
        ["summarize", str(fluxes), "-o", str(tmp_path / "h2.csv"), "--by", "hour",
         "--also-drop", "saturated"],
    )  # fmt: skip
    assert dropped.exit_code == 0, dropped.output
    assert "6 fluxes, 0 kept" in dropped.stderr
    unknown = runner.invoke(
        app, ["summarize", str(fluxes), "-o", str(tmp_path / "h3.csv"), "--also-drop", "wet"]
    )
    assert unknown.exit_code == 2
    assert "'wet' is not a flag" in unknown.stderr
