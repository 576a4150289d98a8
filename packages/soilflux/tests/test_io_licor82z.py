"""LI-8250 .82z archives, written here in the layout goFlux and licoread read."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.cli import app
from soilflux.io import InputError, detect_format, read
from typer.testing import CliRunner

runner = CliRunner()
T0 = pd.Timestamp("2024-07-25 00:00:58")
AREA_CM2, VOLUME_L, P_KPA, T_C, H2O_MMOL = 317.8, 6.27, 98.06, 21.5, 12.0
DEADBAND_S, OBS_S, SLOPE = 20.0, 120.0, 0.3  # dry CO2 rise after closing [ppm s⁻¹]


def archive(path: Path, *, compact_time: bool = False, units: str | None = "L") -> Path:
    analyser, chamber = ["LI-7810"] * 3, ["CHAMBER 8200-104"] * 2
    header = [
        ["LI-8250"] * 3 + analyser + chamber,
        ["DATE", "TIME", "PA", "CO2_DRY", "CH4_DRY", "H2O", "TA", "STATE"],
        [
            "[date]",
            "[time]",
            "[kPa]",
            "[umol+1mol-1]",
            "[nmol+1mol-1]",
            "[mmol+1mol-1]",
            "[C]",
            "[ ]",
        ],
    ]
    rows = []
    for k in range(-10, 141):  # 10 s closing, then 140 s closed
        t = T0 + pd.Timedelta(seconds=k + 10)
        closed = k >= 0
        co2 = 415.0 + (SLOPE * k if closed else 0.0)
        date, clock = (
            (f"{t:%Y%m%d}", f"{t:%H%M%S}".lstrip("0"))
            if compact_time
            else (f"{t:%Y-%m-%d}", f"{t:%H:%M:%S}")
        )
        rows.append(
            [date, clock, P_KPA, co2, 2000.0 + 0.02 * max(k, 0), H2O_MMOL, T_C, 5 if closed else 1]
        )
    text = "\n".join(",".join(map(str, r)) for r in [*header, *rows])
    volume = {"VALUE": VOLUME_L} if units is None else {"VALUE": VOLUME_L, "UNITS": units}
    metadata = {
        "CHAMBER": {"AREA": {"VALUE": AREA_CM2, "UNITS": "cm^2"}},
        "METADATA": {"VOLUME_TOTAL": volume, "OBSERVATION": {"VALUE": OBS_S, "UNITS": "s"}},
        "FLUX": [{"FLUX_GAS": "CO2", "DEADBAND": {"VALUE": DEADBAND_S, "UNITS": "s"}}],
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.csv", text + "\n")
        zf.writestr("metadata.json", json.dumps(metadata))
    return path


def test_82z_reads_and_computes_the_known_flux(tmp_path: Path) -> None:
    path = archive(tmp_path / "82m-0109-20240725000057.82z")
    assert detect_format(path) == "licor-82z"
    data, meta = read(path)
    assert meta.issues == []
    assert (data["volume_cm3"] == VOLUME_L * 1000).all()
    assert (data["area_cm2"] == AREA_CM2).all()
    assert data.loc[data["phase"] == "closed", "elapsed_s"].min() == 0.0
    np.testing.assert_allclose(data["co2_ppm"].iloc[0], 415.0 * (1 - H2O_MMOL / 1000))
    out = tmp_path / "f.csv"
    result = runner.invoke(app, ["compute", str(path), "-o", str(out), "--method", "linear"])
    assert result.exit_code == 0, result.output
    co2 = pd.read_csv(out).query("gas == 'co2'").iloc[0]
    term = (
        10 * VOLUME_L * 1000 * P_KPA * (1 - H2O_MMOL / 1000) / (8.314 * AREA_CM2 * (T_C + 273.15))
    )
    assert co2["flux_umol_m2_s"] == pytest.approx(SLOPE * term, rel=1e-9)
    assert co2["deadband_s"] == DEADBAND_S
    assert co2["n"] == OBS_S - DEADBAND_S  # 20 < t ≤ 120 s at 1 Hz


def test_82z_compact_clock_and_default_volume_unit(tmp_path: Path) -> None:
    a, _ = read(archive(tmp_path / "a.82z"))
    b, _ = read(archive(tmp_path / "b.82z", compact_time=True, units=None))
    pd.testing.assert_series_equal(a["time"], b["time"])
    assert (b["volume_cm3"] == VOLUME_L * 1000).all()  # litres, as goFlux reads it


def test_82z_errors_name_what_is_missing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.82z"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("data.csv", "x\n")
    with pytest.raises(InputError, match=r"no data\.csv and metadata\.json"):
        read(bad)
    odd = archive(tmp_path / "odd.82z", units="gallons")
    with pytest.raises(InputError, match=r"field 'METADATA.VOLUME_TOTAL': unknown unit 'gallons'"):
        read(odd)
