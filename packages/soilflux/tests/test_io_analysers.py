"""Analyser records (LI-7810/7820 .data, LGR UGGA, Picarro G2508) with a closure table.

The files are written here in the layouts goFlux's import functions read (see
soilflux.io.analysers); their fluxes are known by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.cli import app
from soilflux.io import InputError, detect_format, read, read_closure_table
from typer.testing import CliRunner

runner = CliRunner()
T0 = pd.Timestamp("2024-06-01T10:00:00Z")
VOLUME_CM3, AREA_CM2, P_KPA, T_C, H2O_PPM = 5000.0, 300.0, 100.0, 20.0, 15000.0
#: Flux term 10·V·P·(1 − W)/(R·S·T) [µmol m⁻² s⁻¹ per ppm s⁻¹].
TERM = 10 * VOLUME_CM3 * P_KPA * (1 - H2O_PPM / 1e6) / (8.314 * AREA_CM2 * (T_C + 273.15))
#: Two closures of 120 s (start offsets [s]) and their dry CO2 slopes [ppm s⁻¹].
CLOSURES = {300: 0.25, 900: 0.10}


def record(seconds: int = 1500) -> pd.DataFrame:
    """1-Hz dry CO2/CH4 and H2O: ambient, rising linearly during each closure."""
    t = np.arange(seconds, dtype=float)
    co2 = np.full_like(t, 420.0)
    ch4 = np.full_like(t, 2000.0)
    for start, slope in CLOSURES.items():
        inside = (t >= start) & (t <= start + 120)
        co2[inside] += slope * (t[inside] - start)
        ch4[inside] += 0.05 * (t[inside] - start)
    return pd.DataFrame({"time": T0 + pd.to_timedelta(t, unit="s"), "co2": co2, "ch4": ch4})


def write_closures(path: Path) -> Path:
    rows = [
        f"c{k},{(T0 + pd.Timedelta(seconds=s)).isoformat()},"
        f"{(T0 + pd.Timedelta(seconds=s + 120)).isoformat()}"
        for k, s in enumerate(CLOSURES)
    ]
    path.write_text("chamber,start,end\n" + "\n".join(rows) + "\n")
    return path


def write_li7810(path: Path) -> Path:
    rec = record()
    head = [
        "Model:\tLI-7810",
        "SN:\tTG10-00000",
        "Software Version:\t2.1.41",
        "Timestamp:\t2024-06-01 10:00:00",
        "Timezone:\tUTC",
        "DATAH\tSECONDS\tNANOSECONDS\tNDX\tDIAG\tREMARK\tDATE\tTIME\tH2O\tCO2\tCH4\tCAVITY_P\tCHK",
        "DATAU\tsecs\tnsecs\tindex\tdiag\t\tdate\ttime\tppm\tppm\tppb\tkPa\tCHK",
    ]
    body = [
        f'DATA\t{int(r.time.timestamp())}\t0\t{i}\t0\t""\t{r.time:%Y-%m-%d}\t{r.time:%H:%M:%S}'
        f"\t{H2O_PPM}\t{r.co2!r}\t{r.ch4!r}\t39.6\t 26"
        for i, r in enumerate(rec.itertuples())
    ]
    path.write_text("\n".join(head + body) + "\n")
    return path


def write_ugga(path: Path) -> Path:
    rec = record()
    head = [
        "   VC:2f90039 BD:Jan 16 2014 SN:",
        "                     Time,      [CH4]_ppm,   [H2O]_ppm,   [CO2]_ppm,  [CH4]d_ppm,"
        "  [CO2]d_ppm,  GasP_torr",
    ]
    w = H2O_PPM / 1e6
    body = [
        f"  {r.time:%d/%m/%Y %H:%M:%S}.000,{r.ch4 / 1e3 * (1 - w)!r},{H2O_PPM},"
        f"{r.co2 * (1 - w)!r},{r.ch4 / 1e3!r},{r.co2!r},140.0"
        for r in rec.itertuples()
    ]
    tail = ["-----BEGIN PGP MESSAGE-----", "jA0EAwMCnL+dF5C+0fBgyS", "-----END PGP MESSAGE-----"]
    path.write_text("\n".join(head + body + tail) + "\n")
    return path


def write_picarro(path: Path) -> Path:
    rec = record()
    head = ["DATE        TIME          ALARM_STATUS  CO2_dry       CH4_dry       N2O_dry   H2O"]
    body = [
        f"{r.time:%Y-%m-%d}  {r.time:%H:%M:%S}.000  0  {r.co2!r}  {r.ch4 / 1e3!r}  0.33  "
        f"{H2O_PPM / 1e3}"
        for r in rec.itertuples()
    ]
    path.write_text("\n".join(head + body) + "\n")
    return path


WRITERS = {
    "licor-78x0": ("rec.data", write_li7810),
    "lgr-ugga": ("rec.txt", write_ugga),
    "picarro-g2508": ("rec.dat", write_picarro),
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_analyser_record_with_a_closure_table(tmp_path: Path, fmt: str) -> None:
    name, writer = WRITERS[fmt]
    path = writer(tmp_path / name)
    assert detect_format(path) == fmt
    data, meta = read(path)
    assert meta.format == fmt
    assert meta.issues == []
    assert len(data) == 1500
    # dry CO2 made wet with the file's water, which the engine takes back out
    np.testing.assert_allclose(data["co2_ppm"].iloc[0], 420.0 * (1 - H2O_PPM / 1e6), rtol=1e-12)
    np.testing.assert_allclose(data["h2o_mmol_mol"], H2O_PPM / 1e3, rtol=1e-12)
    out = tmp_path / "f.csv"
    args = ["compute", str(path), "--closures", str(write_closures(tmp_path / "cl.csv"))]
    args += ["--temperature-c", str(T_C), "--pressure-kpa", str(P_KPA)]
    args += ["--volume-cm3", str(VOLUME_CM3), "--area-cm2", str(AREA_CM2)]
    result = runner.invoke(app, [*args, "--deadband", "10", "--method", "linear", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 closures of the closure table found" in result.stderr
    fluxes = pd.read_csv(out)
    co2 = fluxes[fluxes["gas"] == "co2"].set_index("chamber")
    expected = [slope * TERM for slope in CLOSURES.values()]
    np.testing.assert_allclose(co2.loc[["c0", "c1"], "flux_umol_m2_s"], expected, rtol=1e-9)
    assert (co2["n"] == 110).all()  # 10 < t ≤ 120 s at 1 Hz
    ch4 = fluxes[fluxes["gas"] == "ch4"]
    np.testing.assert_allclose(ch4["flux_umol_m2_s"], 0.05e-3 * TERM, rtol=1e-9)


def test_analyser_record_needs_closures_and_conditions(tmp_path: Path) -> None:
    path = write_li7810(tmp_path / "rec.data")
    out = str(tmp_path / "f.csv")
    no_closures = runner.invoke(
        app, ["compute", str(path), "-o", out, "--temperature-c", "20", "--pressure-kpa", "100"]
    )
    assert no_closures.exit_code == 1
    assert "give --closures" in no_closures.stderr
    closures = str(write_closures(tmp_path / "cl.csv"))
    no_temperature = runner.invoke(app, ["compute", str(path), "-o", out, "--closures", closures])
    assert no_temperature.exit_code == 1
    assert "holds no chamber temperature_c: give --temperature-c" in no_temperature.stderr


def test_closure_table_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cl.csv"
    path.write_text(
        "chamber;start;obs_length_s\n"
        "a;2024-06-01T10:00:00Z;120\n"
        "b;2024-06-01T10:01:00Z;120\n"  # starts before a has ended
    )
    with pytest.raises(InputError, match=r"cl\.csv:3: field 'start': overlaps .* line 2"):
        read_closure_table(path)
    path.write_text("chamber,start,end\na,2024-06-01T10:00:00Z,soon\n")
    with pytest.raises(InputError, match=r"cl\.csv:2: field 'end': not an ISO 8601"):
        read_closure_table(path)


def test_li7810_short_row_names_its_line(tmp_path: Path) -> None:
    path = write_li7810(tmp_path / "rec.data")
    lines = path.read_text().splitlines()
    lines[20] = lines[20].rsplit("\t", 2)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"rec\.data:21: 11 fields where the DATAH line has 13"):
        read(path)


def test_ugga_times_without_fractional_seconds(tmp_path: Path) -> None:
    path = tmp_path / "u.txt"
    path.write_text(
        "   banner\n  Time, [CO2]d_ppm, [H2O]_ppm\n"
        "  01/02/2024 10:00:00, 400.0, 0\n  01/02/2024 10:00:01.500, 401.0, 0\n"
    )
    data, meta = read(path)
    assert meta.issues == []
    assert data["time"].tolist() == [
        pd.Timestamp("2024-02-01T10:00:00Z"),
        pd.Timestamp("2024-02-01T10:00:01.5Z"),
    ]
