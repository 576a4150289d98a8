"""Validation against LI-COR's own numbers in the vendor's files (read, never copied).

The files come with the instrument's fit in their footers; the numbers typed below are
those footers (LI8200-01S.json: fluxfinder's inst/extdata; LI8150.81x: goFlux's
inst/extdata), read by the tests from the files as well. Each closure is computed with the
file's own volume, area, dead band and observation length.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.io import read
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.segment import segment

pytestmark = pytest.mark.reference


def fluxes(path: Path, method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    data, meta = read(path)
    samples, closures, _ = segment(data)
    out = compute_fluxes(samples, closures, FluxOptions(method=method))  # type: ignore[arg-type]
    out["closure_id"] = closures["closure_id"].reindex(out["closure"].to_numpy()).to_numpy()
    return out.set_index(["closure_id", "gas"]), meta.observations


def test_smart_chamber_linear_co2_within_0p05_percent(reference_dir: Path) -> None:
    path = reference_dir / "flux" / "LI8200-01S.json"
    out, vendor = fluxes(path, "linear")
    # Footer F_o of the two linear-like observations: CO2 [µmol m⁻² s⁻¹].
    published_co2 = {"LI8200-01S#47/REP_1": 6.6457, "LI8200-01S#47/REP_2": 2.78851}
    for cid, value in published_co2.items():
        assert vendor.loc[cid, "vendor_flux_co2"] == value
        assert out.loc[(cid, "co2"), "flux_linear"] == pytest.approx(value, rel=5e-4)
        assert out.loc[(cid, "co2"), "deadband_s"] == 5.0
    # The initial values are the firmware's too (10-s regressions; which samples enter
    # them differs slightly when the record starts at t = 1 s). At these tolerances the flux
    # moves by < 1e-4 relative: 0.01 kPa of 101.7, 0.01 K of 293.6, 0.01 mmol mol⁻¹ in 1 − W.
    for cid in published_co2:
        row = out.loc[(cid, "co2")]
        assert row["p0_kpa"] == pytest.approx(vendor.loc[cid, "vendor_p0_kpa"], abs=0.01)
        assert row["t0_c"] == pytest.approx(vendor.loc[cid, "vendor_t0_c"], abs=0.01)
        assert row["w0_mmol_mol"] == pytest.approx(vendor.loc[cid, "vendor_w0_mmol_mol"], abs=0.01)


PUBLISHED_CH4_NMOL = {  # footer F_o [nmol m⁻² s⁻¹]
    "LI8200-01S#47/REP_1": -0.120484,
    "LI8200-01S#47/REP_2": -0.104297,
    "LI8200-01S#48/REP_2": -0.239531,
}


def _ols_slope_and_footer(path: Path, cid: str, gas: str) -> tuple[float, float]:
    """Least-squares slope of the file's own gas array over (dead band, end], and the
    firmware's footer slope, both [unit s⁻¹]."""
    obs, rep = cid.split("#")[1].split("/")
    document = json.loads(path.read_text())
    entry = next(d[obs] for d in document["datasets"] if obs in d)["reps"][rep]
    t = np.asarray(entry["data"]["timestamp"], dtype=float)
    c = np.asarray(entry["data"][gas], dtype=float)
    window = t > entry["header"]["DeadBand"]
    footer = next(f for f in entry["footer"]["fluxes"] if f["name"] == gas)
    return float(np.polyfit(t[window], c[window], 1)[0]), float(footer["slope"])


def test_smart_chamber_ch4(reference_dir: Path) -> None:
    """CH4: the firmware's F_o within 0.15 %; the same physics within 0.05 %.

    The firmware fits CH4 with its exponential model, C_x pinned at 0, stopping after two
    iterations; its footer slope is 0.04-0.13 % away from the least-squares slope of its
    own data (computed here with numpy). The issue's 0.05 % is therefore met against the
    firmware's flux term times the exact least-squares slope, and the raw footer value is
    checked at 0.15 %.
    """
    path = reference_dir / "flux" / "LI8200-01S.json"
    out, vendor = fluxes(path, "linear")
    for cid, value in PUBLISHED_CH4_NMOL.items():
        assert vendor.loc[cid, "vendor_flux_ch4"] == pytest.approx(value * 1e-3, rel=1e-12)
        ours_nmol = out.loc[(cid, "ch4"), "flux_linear"] * 1e3
        ols, footer = _ols_slope_and_footer(path, cid, "ch4")
        assert abs(ols / footer - 1) > 3e-4  # the firmware's slope is not the LS slope
        assert ours_nmol == pytest.approx(value * ols / footer, rel=5e-4)
        assert ours_nmol == pytest.approx(value, rel=1.5e-3)


def test_smart_chamber_curved_observation_exponential_within_1p5_percent(
    reference_dir: Path,
) -> None:
    out, vendor = fluxes(reference_dir / "flux" / "LI8200-01S.json", "exp")
    cid = "LI8200-01S#48/REP_2"
    assert bool(vendor.loc[cid, "vendor_curved_co2"])
    assert out.loc[(cid, "co2"), "flux_exp"] == pytest.approx(5.72601, rel=0.015)
    assert out.loc[(cid, "co2"), "model"] == "exp"
    # The linear fit of the same curve is 18 % lower: the test can tell the models apart.
    assert out.loc[(cid, "co2"), "flux_linear"] < 0.85 * 5.72601


def test_smart_chamber_failed_observation_is_not_invented(reference_dir: Path) -> None:
    """48/REP_1: the firmware's fit failed (zeros in its footer); we compute, it has none."""
    out, vendor = fluxes(reference_dir / "flux" / "LI8200-01S.json", "linear")
    cid = "LI8200-01S#48/REP_1"
    assert pd.isna(vendor.loc[cid, "vendor_flux_co2"])
    assert out.loc[(cid, "co2"), "flux_linear"] > 0


def test_li8150_linear_flux_within_0p5_percent(reference_dir: Path) -> None:
    out, vendor = fluxes(reference_dir / "flux" / "LI8150.81x", "linear")
    row = out.loc[("LI8150#1", "co2")]
    assert vendor.loc["LI8150#1", "vendor_model"] == "Lin"
    assert row["deadband_s"] == 25.0
    assert row["flux_linear"] == pytest.approx(2.25, rel=5e-3)
    assert row["dcdt_ppm_s"] == pytest.approx(0.35, rel=5e-3)
    assert row["r2"] == pytest.approx(0.9988, abs=5e-4)
