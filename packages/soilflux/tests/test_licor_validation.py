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

#: The 8200-01S firmware's initial values regress 0 ≤ t ≤ 10 s (its footers' P_o, T_o, W_o,
#: C_o); the LI-8100A's 0 ≤ t < 10 s (soilflux's default).  Methods doc §7.1.
SMART_CHAMBER = {"initial_window_closed": True}


def fluxes(path: Path, method: str, **options: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    data, meta = read(path)
    samples, closures, _ = segment(data)
    opts = FluxOptions(method=method, **options)  # type: ignore[arg-type]
    out = compute_fluxes(samples, closures, opts)
    out["closure_id"] = closures["closure_id"].reindex(out["closure"].to_numpy()).to_numpy()
    return out.set_index(["closure_id", "gas"]), meta.observations


def test_smart_chamber_linear_co2_within_0p05_percent(reference_dir: Path) -> None:
    path = reference_dir / "flux" / "LI8200-01S.json"
    out, vendor = fluxes(path, "linear", **SMART_CHAMBER)
    # Footer F_o of the two linear-like observations: CO2 [µmol m⁻² s⁻¹].
    published_co2 = {"LI8200-01S#47/REP_1": 6.6457, "LI8200-01S#47/REP_2": 2.78851}
    for cid, value in published_co2.items():
        assert vendor.loc[cid, "vendor_flux_co2"] == value
        assert out.loc[(cid, "co2"), "flux_linear"] == pytest.approx(value, rel=5e-4)
        assert out.loc[(cid, "co2"), "deadband_s"] == 5.0
        # the footer slope is the least-squares slope of the unrounded record (§7.1)
        ols, footer, floor = _ols_slope_footer_and_floor(path, cid, "co2")
        assert abs(ols - footer) < 2 * floor
    # The initial values are the firmware's: 10-s regressions over 0 ≤ t ≤ 10 s, to the
    # footers' six significant digits (the last digit of P_o is 0.001 kPa; data rounding
    # moves the intercept by a few 1e-4 kPa).
    for cid in published_co2:
        row = out.loc[(cid, "co2")]
        assert row["p0_kpa"] == pytest.approx(vendor.loc[cid, "vendor_p0_kpa"], abs=1e-3)
        assert row["t0_c"] == pytest.approx(vendor.loc[cid, "vendor_t0_c"], abs=1e-4)
        assert row["w0_mmol_mol"] == pytest.approx(vendor.loc[cid, "vendor_w0_mmol_mol"], abs=1e-4)


def test_smart_chamber_initial_values_need_the_closed_window(reference_dir: Path) -> None:
    """With soilflux's default window (0 ≤ t < 10 s) W₀ misses the footer by > 1e-3."""
    path = reference_dir / "flux" / "LI8200-01S.json"
    default, vendor = fluxes(path, "linear")
    closed, _ = fluxes(path, "linear", **SMART_CHAMBER)
    cid = "LI8200-01S#48/REP_2"
    w_vendor = vendor.loc[cid, "vendor_w0_mmol_mol"]
    assert abs(default.loc[(cid, "co2"), "w0_mmol_mol"] - w_vendor) > 1e-3
    assert closed.loc[(cid, "co2"), "w0_mmol_mol"] == pytest.approx(w_vendor, abs=1e-4)


PUBLISHED_CH4_NMOL = {  # footer F_o [nmol m⁻² s⁻¹]
    "LI8200-01S#47/REP_1": -0.120484,
    "LI8200-01S#47/REP_2": -0.104297,
    "LI8200-01S#48/REP_2": -0.239531,
}


def _ols_slope_footer_and_floor(path: Path, cid: str, gas: str) -> tuple[float, float, float]:
    """Least-squares slope of the file's own gas array over (dead band, end], the firmware's
    footer slope, and the standard deviation of the least-squares slope that the file's
    rounding of the array alone allows, all [unit s⁻¹].

    The file writes every number with six significant digits (C's %g): a value c is known
    to ±q/2 with q = 10^(⌊log₁₀|c|⌋ − 5), e.g. q = 0.01 ppb for CH4 near 2100 ppb.  With
    independent uniform rounding errors the slope's standard deviation is
    √(Σ wᵢ² qᵢ²/12), wᵢ = (tᵢ − t̄)/Σ(t − t̄)².
    """
    obs, rep = cid.split("#")[1].split("/")
    document = json.loads(path.read_text())
    entry = next(d[obs] for d in document["datasets"] if obs in d)["reps"][rep]
    t = np.asarray(entry["data"]["timestamp"], dtype=float)
    c = np.asarray(entry["data"][gas], dtype=float)
    window = t > entry["header"]["DeadBand"]
    footer = next(f for f in entry["footer"]["fluxes"] if f["name"] == gas)
    tw, cw = t[window], c[window]
    quantum = 10.0 ** (np.floor(np.log10(np.abs(cw))) - 5)
    weight = (tw - tw.mean()) / np.sum((tw - tw.mean()) ** 2)
    floor = float(np.sqrt(np.sum(weight**2 * quantum**2 / 12)))
    return float(np.polyfit(tw, cw, 1)[0]), float(footer["slope"]), floor


def test_smart_chamber_ch4(reference_dir: Path) -> None:
    """CH4: the firmware's F_o within 0.15 %, and as close as the file allows.

    The firmware's CH4 slope here is the least-squares slope of its unrounded record (the
    footer's C_x = 0, t_o = 0, a = −slope/C_o only re-express that line).  The file stores
    CH4 to 0.01 ppb, and that rounding alone moves the least-squares slope by 0.09-0.21 %
    (one standard deviation): the footer is within two of them of the slope of the stored
    data, and no computation on the stored data can promise the issue's 0.05 %, which is
    below one of them.  So 0.05 % is met against the firmware's flux term times the
    least-squares slope of the stored data, and the raw footer value is checked at 0.15 %.
    """
    path = reference_dir / "flux" / "LI8200-01S.json"
    out, vendor = fluxes(path, "linear", **SMART_CHAMBER)
    for cid, value in PUBLISHED_CH4_NMOL.items():
        assert vendor.loc[cid, "vendor_flux_ch4"] == pytest.approx(value * 1e-3, rel=1e-12)
        ours_nmol = out.loc[(cid, "ch4"), "flux_linear"] * 1e3
        ols, footer, floor = _ols_slope_footer_and_floor(path, cid, "ch4")
        assert abs(ols - footer) < 2 * floor
        assert 5e-4 * abs(footer) < floor
        assert ours_nmol == pytest.approx(value * ols / footer, rel=5e-4)
        assert ours_nmol == pytest.approx(value, rel=1.5e-3)


def test_smart_chamber_curved_observation_exponential_within_1p5_percent(
    reference_dir: Path,
) -> None:
    out, vendor = fluxes(reference_dir / "flux" / "LI8200-01S.json", "exp", **SMART_CHAMBER)
    cid = "LI8200-01S#48/REP_2"
    assert bool(vendor.loc[cid, "vendor_curved_co2"])
    assert out.loc[(cid, "co2"), "flux_exp"] == pytest.approx(5.72601, rel=0.015)
    assert out.loc[(cid, "co2"), "model"] == "exp"
    # Ours is the least-squares optimum of the firmware's own model (C′₀ fixed at the
    # footer's C_o) on the firmware's window; the footer's curve (its r2 is that of its
    # parameters on t > DeadBand) fits that window less well: the firmware stopped early.
    assert vendor.loc[cid, "vendor_r2_co2"] == 0.997253
    assert out.loc[(cid, "co2"), "r2"] > vendor.loc[cid, "vendor_r2_co2"]
    # The linear fit of the same curve is 18 % lower: the test can tell the models apart.
    assert out.loc[(cid, "co2"), "flux_linear"] < 0.85 * 5.72601


def test_smart_chamber_failed_observation_is_not_invented(reference_dir: Path) -> None:
    """48/REP_1: the firmware's fit failed (zeros in its footer); we compute, it has none."""
    out, vendor = fluxes(reference_dir / "flux" / "LI8200-01S.json", "linear")
    cid = "LI8200-01S#48/REP_1"
    assert pd.isna(vendor.loc[cid, "vendor_flux_co2"])
    assert out.loc[(cid, "co2"), "flux_linear"] > 0


def test_li8150_initial_values_use_the_half_open_window(reference_dir: Path) -> None:
    """The LI-8100A's Type-2 row (its initial values) is the regression over 0 ≤ t < 10 s,
    soilflux's default, to the row's printed digits; the Smart Chamber's window is not."""
    path = reference_dir / "flux" / "LI8150.81x"
    header = next(line for line in path.read_text().splitlines() if line.startswith("Type\t"))
    type2 = next(line for line in path.read_text().splitlines() if line.startswith("2\t"))
    printed = dict(zip(header.split("\t"), type2.split("\t"), strict=False))
    default, _ = fluxes(path, "linear")
    closed, _ = fluxes(path, "linear", **SMART_CHAMBER)
    row = default.loc[("LI8150#1", "co2")]
    assert row["t0_c"] == pytest.approx(float(printed["Tcham"]), abs=0.005)
    assert row["p0_kpa"] == pytest.approx(float(printed["Pressure"]), abs=0.005)
    assert row["w0_mmol_mol"] == pytest.approx(float(printed["H2O"]), abs=5e-4)
    assert abs(closed.loc[("LI8150#1", "co2"), "t0_c"] - float(printed["Tcham"])) > 0.005


def test_li8150_linear_flux_within_0p5_percent(reference_dir: Path) -> None:
    out, vendor = fluxes(reference_dir / "flux" / "LI8150.81x", "linear")
    row = out.loc[("LI8150#1", "co2")]
    assert vendor.loc["LI8150#1", "vendor_model"] == "Lin"
    assert row["deadband_s"] == 25.0
    assert row["flux_linear"] == pytest.approx(2.25, rel=5e-3)
    assert row["dcdt_ppm_s"] == pytest.approx(0.35, rel=5e-3)
    assert row["r2"] == pytest.approx(0.9988, abs=5e-4)
