"""Peers' example files through ``soilflux compute --format gasfluxes|fluxible``, end to end,
against the peers' own published numbers for the models both sides share.

gasfluxes (R, Fuß, v0.7): expected values typed from ``tests/testthat/test_gasfluxes.R``
(``gasfluxes(fluxMeas[1:20])``), four significant figures, in its units (mg N m⁻² h⁻¹;
N2O concentration in mg N m⁻³, time in h, V the chamber height in m with A = 1 m²).

fluxible (R, Gaudard et al. 2025, v1.4): linear slopes typed from
``tests/testthat/_snaps/flux_fitting.md`` ("works for linear fitting", with and without
``start_cut = 20``; three significant figures as printed), and the six published fluxes of
``data-raw/fluxes.csv`` (= ``../shared/reference/flux/fluxible_fluxes.csv``), computed by
fluxible from its exp_zhao18 slopes with ``flux_calc(setup_volume = 24.575, atm_pressure = 1,
plot_area = 0.0625)``. soilflux has no exp_zhao18 model; what both sides share there is the
conversion of a slope into a flux, compared on fluxible's own slopes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.cli import app
from soilflux.fit.gasfluxes import gasfluxes
from typer.testing import CliRunner

pytestmark = pytest.mark.reference
runner = CliRunner()

#: µmol N2O m⁻² s⁻¹ → mg N m⁻² h⁻¹ (two N of 14.007 g mol⁻¹ per N2O; the molar mass soilflux
#: reads ``n2o_n_mg_m3`` with, so that it cancels).
N2O_N_MG_M2_H = 1.0e-6 * 28.014 * 1.0e3 * 3600.0


def sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits - 1}e}")


def compute(tmp_path: Path, name: str, *args: str) -> pd.DataFrame:
    out = tmp_path / f"{name}.csv"
    result = runner.invoke(app, ["compute", *args, "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out).set_index("closure_id")


@pytest.fixture
def gasfluxes_file(reference_dir: Path) -> Path:
    return reference_dir / "flux" / "gasfluxes_fluxmeas.csv"


@pytest.fixture
def fluxible_file(reference_dir: Path) -> Path:
    return reference_dir / "flux" / "fluxible_co2_conc.csv"


def test_gasfluxes_example_end_to_end(tmp_path: Path, gasfluxes_file: Path) -> None:
    out = compute(tmp_path, "gf", "--format", "gasfluxes", str(gasfluxes_file))
    first = out.loc[["ID1", "ID2", "ID3", "ID4", "ID5"]]
    assert (first["n"] == 4).all()  # every sample, t = 0 h included (dead band 0)
    assert (first["deadband_s"] == 0.0).all()
    published = {
        "flux_linear": [0.0555669866740785, -0.0611626095687461, -0.0428897148924301,
                        -0.0111793261413552, 0.041840210297243],
        "flux_linear_se": [0.028697055158409, 0.0263636317002555, 0.0425127107690505,
                           0.0599487242659592, 0.00840546056899412],
        "flux_robust": [0.0555669866740785, -0.0611626095687461, -0.0303109387388622,
                        0.00681856647255265, 0.041840210297243],
        "flux_robust_se": [0.028697055158409, 0.0263636317002555, 0.0153424660030732,
                           0.0204971767735417, 0.00840546056899412],
    }  # fmt: skip
    for column, expected in published.items():
        ours = first[column].to_numpy() * N2O_N_MG_M2_H
        assert [sig(v, 4) for v in ours] == [sig(v, 4) for v in expected], column
    # HMR: the one series gasfluxes fits (ID3) has the same curvature κ [h⁻¹]
    assert sig(first.loc["ID3", "kappa"] * 3600.0, 3) == sig(2.39686189586586, 3)


def test_gasfluxes_whole_file_matches_the_library_port(
    tmp_path: Path, gasfluxes_file: Path
) -> None:
    """All 1329 series: the CLI's linear and robust fluxes equal soilflux.fit.gasfluxes (the
    port that reproduces gasfluxes' published values) wherever the series is well formed."""
    out = compute(tmp_path, "gf", "--format", "gasfluxes", str(gasfluxes_file))
    raw = pd.read_csv(gasfluxes_file, sep=";")
    distinct = raw.groupby("ID")["time"].agg(lambda t: t.nunique() == len(t) == 4 and t.min() == 0)
    good = distinct[distinct].index
    assert len(good) > 1300
    port = gasfluxes(raw[raw["ID"].isin(good)])
    ours = out.loc[good]
    np.testing.assert_allclose(
        ours["flux_linear"] * N2O_N_MG_M2_H, port.loc[good, "linear_f0"], rtol=1e-6
    )
    np.testing.assert_allclose(
        ours["flux_robust"] * N2O_N_MG_M2_H, port.loc[good, "robust_linear_f0"], rtol=1e-5
    )


def fluxible_linear(tmp_path: Path, fluxible_file: Path, *extra: str) -> pd.DataFrame:
    return compute(
        tmp_path,
        "fx",
        "--format",
        "fluxible",
        str(fluxible_file),
        "--volume-cm3",
        "24575",
        "--area-cm2",
        "625",
        "--method",
        "linear",
        *extra,
    )


def test_fluxible_linear_slopes_end_to_end(tmp_path: Path, fluxible_file: Path) -> None:
    out = fluxible_linear(tmp_path, fluxible_file)
    assert out.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert out["n"].tolist() == [210, 210, 210, 210, 205, 206]  # as fluxible's warnings say
    published = [0.113, 0.110, 0.115, 0.0431, -0.105, 0.117]
    assert [sig(v, 3) for v in out["dcdt_ppm_s"]] == published
    # start_cut = 20: fluxible keeps t ≥ 20 s; soilflux's window is t > dead band
    cut = fluxible_linear(tmp_path, fluxible_file, "--deadband", "19.5")
    assert cut["n"].tolist() == [190, 190, 190, 190, 185, 186]
    published_cut = [0.0214, 0.0596, 0.0978, -0.0327, -0.195, 0.0877]
    assert [sig(v, 3) for v in cut["dcdt_ppm_s"]] == published_cut


def test_fluxible_six_published_fluxes_from_their_slopes(
    tmp_path: Path, fluxible_file: Path, reference_dir: Path
) -> None:
    """flux = slope · P·V/(R·T·A): soilflux's conversion, read end to end from the file with
    the preset's 1 atm and the tent's volume and area, turns fluxible's published exp_zhao18
    slopes into its published fluxes. fluxible's T is the window's mean air temperature,
    soilflux's the initial one (LI-COR's T0), up to 0.1 K apart here: at most 0.04 %."""
    out = fluxible_linear(tmp_path, fluxible_file)
    published = pd.read_csv(reference_dir / "flux" / "fluxible_fluxes.csv").set_index("fluxID")
    term = out["flux_umol_m2_s"] / out["dcdt_ppm_s"]  # [µmol m⁻² s⁻¹ per ppm s⁻¹]
    ours_mmol_m2_h = term.loc[published.index] * published["slope_tz"] * 3.6
    difference = ours_mmol_m2_h / published["flux"] - 1.0
    assert (difference.abs() < 5e-4).all(), difference.to_dict()
    # with fluxible's temperature and gas constant (0.082057 L atm K⁻¹ mol⁻¹ against
    # LI-COR's 8.314 J K⁻¹ mol⁻¹) the conversions agree to the 3 decimals of temp_air_ave
    t_ratio = (out["t0_c"].loc[published.index] + 273.15) / (published["temp_air_ave"] + 273.15)
    r_ratio = 8.314 / (0.082057 * 101.325)
    np.testing.assert_allclose(ours_mmol_m2_h * t_ratio * r_ratio, published["flux"], rtol=5e-6)
