"""The simulator's typed-in Carbdown numbers against the published files they came from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fluxfleet.sim import physics as ph

pytestmark = pytest.mark.reference


def test_monthly_flux_medians_match_the_carbdown_hourly_file(reference_dir: Path) -> None:
    hourly = pd.read_csv(reference_dir / "carbdown" / "fluxmeter_hourly_2023.csv")
    med = hourly.groupby("Month")["Avg Flux (mmol/s/m2)"].median()
    for month, value in ph.CARBDOWN_FLUX_MEDIAN_UMOL_M2_S.items():
        assert value == pytest.approx(med[month], abs=0.006)
    assert pytest.approx(hourly["Avg Pstart (hPa)"].median()) == ph.CARBDOWN_PRESSURE_HPA
    assert pytest.approx(hourly["Avg Tstart (Degrees C)"].median()) == ph.CARBDOWN_AIR_T_C
    assert pytest.approx(hourly["Avg RHstart (%)"].median()) == ph.CARBDOWN_RH_PCT
    assert pytest.approx(hourly["Avg Cstart (ppm)"].median()) == ph.CARBDOWN_AMBIENT_CO2_PPM


def test_monthly_soil_pco2_medians_match_the_carbdown_daily_file(reference_dir: Path) -> None:
    daily = pd.read_csv(reference_dir / "carbdown" / "soil_pco2_daily_2023.csv")
    med = daily.groupby("Month")["Value"].median()
    for month, value in ph.CARBDOWN_SOIL_PCO2_MEDIAN_PPM.items():
        assert value == pytest.approx(med[month], rel=1e-3)
    # and the clogged-pot level is a real upper tail of the published soil pCO2
    assert (daily["Value"] > ph.CLOGGED_SOIL_PCO2_PPM).mean() > 0.02
