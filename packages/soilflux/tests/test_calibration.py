"""The fleet's calibration spread across sensors, before and after a recalibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from soilflux.calibration import fleet_spread, spread_by_concentration

T0 = pd.Timestamp("2023-09-16T00:00Z")


def session(offsets: list[float], level: float = 450.0) -> pd.DataFrame:
    """Four sensors reading ``level`` + their offset every 3 s for 10 min; at 5 min the
    offsets go (an FRC)."""
    rows = []
    for k in range(200):
        t = T0 + pd.Timedelta(seconds=3 * k)
        for s, off in enumerate(offsets):
            rows.append((t, f"d{s}", level + (off if k < 100 else 0.0)))
    return pd.DataFrame(rows, columns=["time", "sensor", "co2_ppm"])


def test_spread_is_the_sd_of_the_sensors_offsets_and_vanishes_after_recalibration() -> None:
    offsets = [-30.0, 0.0, 10.0, 20.0]
    out = fleet_spread(session(offsets), bin_s=60, recalibration=T0 + pd.Timedelta("5min"))
    before = out[out["period"] == "before"]
    after = out[out["period"] == "after"]
    assert len(before) == 5
    assert len(after) == 5
    assert before["co2_sd_ppm"].to_numpy() == pytest.approx(np.std(offsets, ddof=1))
    assert before["co2_mean_ppm"].to_numpy() == pytest.approx(450.0 + np.mean(offsets))
    assert after["co2_sd_ppm"].to_numpy() == pytest.approx(0.0, abs=1e-9)
    assert (out["n_sensors"] == 4).all()


def test_a_sensor_reporting_twice_as_often_does_not_weigh_more() -> None:
    s = session([0.0, 10.0])
    extra = s[s["sensor"] == "d1"].assign(co2_ppm=lambda d: d["co2_ppm"])
    out = fleet_spread(pd.concat([s, extra]), bin_s=60)
    assert out["co2_mean_ppm"].iloc[0] == pytest.approx(455.0)
    assert set(out["period"]) == {"session"}


@given(st.floats(-500, 500), st.floats(0.1, 10))
def test_spread_does_not_change_with_a_common_shift(shift: float, scale: float) -> None:
    s = session([-3.0 * scale, 0.0, 5.0 * scale])
    a = fleet_spread(s)
    b = fleet_spread(s.assign(co2_ppm=s["co2_ppm"] + shift))
    assert b["co2_sd_ppm"].to_numpy() == pytest.approx(a["co2_sd_ppm"].to_numpy(), abs=1e-6)


def test_spread_by_concentration_pools_the_variance() -> None:
    spread = pd.DataFrame(
        {
            "time": [T0] * 3,
            "co2_mean_ppm": [410.0, 450.0, 700.0],
            "co2_sd_ppm": [3.0, 4.0, 10.0],
            "n_sensors": [5, 5, 5],
            "period": ["after"] * 3,
        }
    )
    out = spread_by_concentration(spread, [400, 500, 1000])
    assert out["co2_sd_ppm"].to_numpy() == pytest.approx([np.sqrt(12.5), 10.0])
    assert out["n_bins"].tolist() == [2, 1]
    assert out["co2_low_ppm"].tolist() == [400.0, 500.0]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="bin_s"):
        fleet_spread(session([0.0]), bin_s=0)
    with pytest.raises(ValueError, match="co2_ppm"):
        fleet_spread(pd.DataFrame({"time": [], "sensor": []}))
    with pytest.raises(ValueError, match="increasing"):
        spread_by_concentration(fleet_spread(session([0.0, 1.0])), [5, 1])
