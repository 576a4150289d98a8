"""Hourly means, replicate statistics, filter rates and treatment − control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from soilflux.aggregate import (
    filter_rate_weekly,
    hourly_means,
    read_controls,
    split_location,
    treatment_minus_control,
)
from soilflux.io import InputError

T0 = pd.Timestamp("2023-10-02T00:00:00Z")  # a Monday


def fluxes(hours: int = 48) -> pd.DataFrame:
    """Two variants × four replicas, two closures per pot and hour (10 and 40 min past)."""
    rows = []
    offsets = {"A": -0.1, "B": 0.0, "C": 0.1, "D": 0.2}
    for variant, level in (("9.1", 1.0), ("9.2", 1.5)):
        for replica, offset in offsets.items():
            for h in range(hours):
                for minute, wiggle in ((10, -0.05), (40, 0.05)):
                    rows.append(
                        {
                            "chamber": f"dev-{variant}-{replica}",
                            "location": f"{variant}.{replica}",
                            "gas": "co2",
                            "start": T0 + pd.Timedelta(hours=h, minutes=minute),
                            "flux_umol_m2_s": level + offset + wiggle + 0.01 * np.sin(h),
                            "flags": "",
                        }
                    )
    return pd.DataFrame(rows)


def test_split_location() -> None:
    parts = split_location(pd.Series(["9.2.B", "bad", None, "10.11.A"]))
    assert parts["table"].tolist()[::3] == ["9", "10"]
    assert parts["variant"].tolist()[::3] == ["9.2", "10.11"]
    assert parts["replica"].tolist()[::3] == ["B", "A"]
    assert parts.iloc[1:3].isna().all().all()


def test_hourly_per_chamber_and_location() -> None:
    table = fluxes()
    per_chamber = hourly_means(table, by="chamber")
    assert len(per_chamber) == 8 * 48
    assert (per_chamber["n"] == 2).all()
    first = per_chamber[(per_chamber["chamber"] == "dev-9.1-A") & (per_chamber["hour"] == T0)]
    assert first["mean"].iloc[0] == pytest.approx(0.9)
    assert first["sd"].iloc[0] == pytest.approx(np.std([0.85, 0.95], ddof=1))
    half = stats.t.ppf(0.975, 1) * first["sd"].iloc[0] / np.sqrt(2)
    assert first["ci95_high"].iloc[0] == pytest.approx(0.9 + half)
    per_location = hourly_means(table, by="location")
    assert set(per_location["variant"]) == {"9.1", "9.2"}
    np.testing.assert_allclose(per_location["mean"], per_chamber["mean"])
    assert hourly_means(table, by="hour").equals(per_chamber)


def test_variant_statistics_are_over_replicates_not_closures() -> None:
    table = fluxes()
    # A third closure in one pot and hour must not give that pot more weight.
    extra = table.iloc[[0]].assign(flux_umol_m2_s=100.0, start=T0 + pd.Timedelta(minutes=50))
    per_variant = hourly_means(pd.concat([table, extra]), by="variant")
    row = per_variant[(per_variant["variant"] == "9.1") & (per_variant["hour"] == T0)].iloc[0]
    replicate_means = [(0.85 + 0.95 + 100.0) / 3, 1.0, 1.1, 1.2]
    assert row["n_replicates"] == 4
    assert row["n_closures"] == 9
    assert row["mean"] == pytest.approx(np.mean(replicate_means))
    se = np.std(replicate_means, ddof=1) / 2
    assert row["se"] == pytest.approx(se)
    assert row["ci95_low"] == pytest.approx(np.mean(replicate_means) - stats.t.ppf(0.975, 3) * se)


def test_gas_selection() -> None:
    table = pd.concat([fluxes(2), fluxes(2).assign(gas="ch4", flux_umol_m2_s=-0.001)])
    assert hourly_means(table, by="chamber", gas="ch4")["mean"].eq(-0.001).all()
    assert (hourly_means(table, by="chamber", gas="co2")["mean"] > 0.5).all()


def test_filter_rate_per_week_and_table() -> None:
    table = fluxes(hours=24 * 8)  # Monday to next Tuesday: two weeks
    flagged = (table["location"] == "9.1.A") & (table["start"] < T0 + pd.Timedelta(days=7))
    table.loc[flagged, "flags"] = "clogged"
    kept = table.index[~flagged]
    rates = filter_rate_weekly(table, kept)
    # one table ("9", both variants) and two weeks
    assert rates["week"].tolist() == [T0, T0 + pd.Timedelta(days=7)]
    assert rates["table"].tolist() == ["9", "9"]
    # tables are "9" only (both variants on table 9): 8 pots, 1 of them filtered in week 1
    week1 = rates[rates["week"] == T0]
    assert week1["n_removed"].sum() == flagged.sum()
    assert week1["filter_rate_percent"].iloc[0] == pytest.approx(100 / 8)
    week2 = rates[rates["week"] == T0 + pd.Timedelta(days=7)]
    assert week2["n_removed"].sum() == 0
    mask_rates = filter_rate_weekly(table, ~flagged.to_numpy())
    pd.testing.assert_frame_equal(rates, mask_rates)


def test_treatment_minus_control() -> None:
    per_variant = hourly_means(fluxes(), by="variant")
    hourly, summary = treatment_minus_control(per_variant, {"9.2": "9.1", "7.2": "7.1"})
    assert len(hourly) == 48
    np.testing.assert_allclose(hourly["difference"], 0.5, atol=1e-12)
    # Welch CI per hour: se = sqrt(se_t² + se_c²); both variants have sd of (−0.1,0,0.1,0.2)
    se_one = np.std([-0.1, 0.0, 0.1, 0.2], ddof=1) / 2
    np.testing.assert_allclose(hourly["se"], np.sqrt(2) * se_one)
    np.testing.assert_allclose(hourly["df"], 6.0)
    np.testing.assert_allclose(
        hourly["ci95_high"] - hourly["difference"], stats.t.ppf(0.975, 6) * np.sqrt(2) * se_one
    )
    assert len(summary) == 1  # 7.2 has no data: no row
    s = summary.iloc[0]
    assert s["difference"] == pytest.approx(0.5)
    assert s["relative_percent"] == pytest.approx(100 * 0.5 / s["control_mean"])
    assert s["n_hours"] == 48
    assert s["n_days"] == 2


def test_read_controls(tmp_path: Path) -> None:
    path = tmp_path / "controls.csv"
    path.write_text("treatment,control\n9.2,9.1\n9.3,9.1\n")
    assert read_controls(path) == {"9.2": "9.1", "9.3": "9.1"}
    path.write_text("treatment,control\n9.2,9.1\n9.2.B,9.1\n")
    with pytest.raises(InputError, match=r"controls\.csv:3: field 'treatment'"):
        read_controls(path)
    path.write_text("treatment\n9.2\n")
    with pytest.raises(InputError, match="control"):
        read_controls(path)


def test_read_controls_toml(tmp_path: Path) -> None:
    path = tmp_path / "analysis.toml"
    path.write_text('[controls]\n"9.2" = "9.1"  # basalt\n"9.3" = "9.1"\n')
    assert read_controls(path) == {"9.2": "9.1", "9.3": "9.1"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[controls]\n"9.2" = "9.1"\n"9.2" = "9.0"\n', r"analysis\.toml:3: invalid TOML"),
        ("[other]\n", "field 'controls': no \\[controls\\] table"),
        ('controls = "9.1"\n', "field 'controls': must be a table"),
        ('[controls]\n"9" = "9.1"\n', "field 'controls.9': '9' is not a variant"),
        ('[controls]\n"9.2" = 3\n', "field 'controls.9.2': 3 is not a variant"),
        ('[controls]\n"9.2" = "9.2"\n', "its own control"),
    ],
)
def test_read_controls_toml_names_what_is_wrong(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "analysis.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_controls(path)
