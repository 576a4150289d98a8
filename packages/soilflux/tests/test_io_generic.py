"""The generic long-table reader (CSV and Parquet)."""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from soilflux.humidity import saturation_vapour_pressure_kpa
from soilflux.io import InputError, h2o_from_rh, read, read_generic
from soilflux.io.generic import parse_generic_table
from soilflux.io.units import PLAUSIBLE_MEDIAN

HEADER = "time,chamber,co2_ppm,temperature_c,pressure_hpa,rh_percent,lux,phase\n"


def write(tmp_path: Path, text: str, name: str = "records.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_renames_and_converts_units(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "2023-10-01T00:00:00Z,AA:01,450.5,20.0,1000.0,50,0,closed\n"
        + "2023-10-01T02:00:03+02:00,AA:01,451.0,20.0,1000.0,50,3,closed\n",
    )
    data, meta = read(path)
    assert meta.format == "generic"
    assert list(data["co2_ppm"]) == [450.5, 451.0]
    assert data["pressure_kpa"].tolist() == [100.0, 100.0]
    # +02:00 offset → 3 s after the first sample in UTC
    assert (data["time"].iloc[1] - data["time"].iloc[0]) == pd.Timedelta(seconds=3)
    assert str(data["time"].dt.tz) == "UTC"
    assert data["line"].tolist() == [2, 3]
    assert "pressure_hpa converted to pressure_kpa" in meta.notes
    assert meta.issues == []


def test_h2o_from_rh_matches_tabulated_saturation_pressure() -> None:
    # Saturation vapour pressure over water (Wexler/Hyland-Wexler table values, kPa):
    # 0.6112 at 0 °C, 2.3388 at 20 °C, 4.2455 at 30 °C; the Magnus form claims 0.4 %.
    es = saturation_vapour_pressure_kpa([0.0, 20.0, 30.0])
    np.testing.assert_allclose(es, [0.6112, 2.3388, 4.2455], rtol=4e-3)
    w = h2o_from_rh(50.0, 20.0, 101.325)
    assert float(w) == pytest.approx(1000 * 0.5 * 2.3388 / 101.325, rel=4e-3)
    with pytest.raises(ValueError, match="temperature_c"):
        saturation_vapour_pressure_kpa(60.0)
    with pytest.raises(ValueError, match="rh_percent"):
        h2o_from_rh(120.0, 20.0, 100.0)


def test_rh_becomes_water_mole_fraction(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2023-10-01T00:00:00Z,c1,450,20.0,1013.25,50,0,closed\n")
    data, meta = read(path)
    assert "rh_percent" not in data.columns
    assert data["h2o_mmol_mol"].iloc[0] == pytest.approx(float(h2o_from_rh(50, 20.0, 101.325)))
    assert any("rh_percent" in note for note in meta.notes)


def test_unparseable_value_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "2023-10-01T00:00:00Z,c1,450,20,1000,50,0,closed\n"
        + "2023-10-01T00:00:03Z,c1,4x1,20,1000,50,0,closed\n"
        + "2023-10-01T00:00:06Z,c1,452,20,1000,50,0,closed\n",
    )
    data, meta = read(path)
    # The row is kept (its CO2 missing), and the issue says where.
    assert len(data) == 3
    assert math.isnan(data["co2_ppm"].iloc[1])
    assert len(meta.issues) == 1
    issue = meta.issues[0]
    assert (issue.line, issue.field, issue.value) == (3, "co2_ppm", "4x1")
    assert f"{path}:3" in str(issue)
    with pytest.raises(InputError, match=r"records\.csv:3: field 'co2_ppm'"):
        read(path, strict=True)


def test_bad_time_excludes_row_and_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "2023-10-01T00:00:00Z,c1,450,20,1000,50,0,closed\n"
        + "yesterday,c1,451,20,1000,50,0,closed\n",
    )
    data, meta = read(path)
    assert len(data) == 1
    assert [(i.line, i.field) for i in meta.issues] == [(3, "time")]
    assert "row excluded" in meta.issues[0].message


def test_offsetless_times_are_utc_and_noted(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2023-10-01 04:00:00,c1,450,20,1000,50,0,closed\n")
    data, meta = read(path)
    assert data["time"].iloc[0] == pd.Timestamp("2023-10-01T04:00:00Z")
    assert any("read as UTC" in n for n in meta.notes)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("time,chamber,co2_ppm,pressure_kpa,phase\n", "temperature_c"),
        ("time,chamber,temperature_c,pressure_kpa,phase\n", "co2_ppm"),
        ("time,chamber,co2_ppm,temperature_c,phase\n", "pressure_kpa"),
        ("time,chamber,co2_ppm,temperature_c,pressure_kpa\n", "phase"),
        ("chamber,co2_ppm,temperature_c,pressure_kpa,phase\n", "time"),
    ],
)
def test_missing_column_names_field_and_header_line(
    tmp_path: Path, header: str, field: str
) -> None:
    path = write(tmp_path, header + ",".join(["1"] * header.count(",")) + ",1\n")
    with pytest.raises(InputError) as info:
        read_generic(path)
    assert info.value.field == field
    assert info.value.line == 1
    assert str(path) in str(info.value)


def test_wrong_pressure_unit_is_refused(tmp_path: Path) -> None:
    text = "time,chamber,co2_ppm,temperature_c,pressure_kpa,phase\n"
    text += "2023-10-01T00:00:00Z,c1,450,20,101325,closed\n"
    with pytest.raises(InputError, match="wrong unit"):
        read(write(tmp_path, text))


def test_unknown_phase_reported(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2023-10-01T00:00:00Z,c1,450,20,1000,50,0,half-open\n")
    data, meta = read(path)
    assert pd.isna(data["phase"].iloc[0])
    assert meta.issues[0].field == "phase"


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        HEADER
        + "2023-10-01T00:00:00Z,c1,450,20,1000,50,0,closed\n"
        + "2023-10-01T00:00:03Z,c1,451,20.5,1001,51,2,closed\n",
    )
    from_csv, _ = read(csv)
    table = pd.read_csv(csv)
    table["time"] = pd.to_datetime(table["time"], utc=True)
    parquet = tmp_path / "records.parquet"
    table.to_parquet(parquet)
    from_parquet, meta = read(parquet)
    assert meta.format == "generic"
    cols = ["co2_ppm", "temperature_c", "pressure_kpa", "h2o_mmol_mol", "lux"]
    pd.testing.assert_frame_equal(from_csv[cols], from_parquet[cols])
    assert (from_csv["time"] == from_parquet["time"]).all()
    assert from_parquet["line"].tolist() == [1, 2]


def test_in_memory_table() -> None:
    raw = pd.DataFrame(
        {
            "Time": ["2023-10-01T00:00:00Z"],
            "Chamber": ["c1"],
            "CO2_ppm": [450.0],
            "Temperature_C": [20.0],
            "Pressure_kPa": [100.0],
            "closure_id": ["7"],
        }
    )
    data, _ = parse_generic_table(raw, source="fleet")
    assert data["closure_id"].tolist() == ["7"]


# ----------------------------------------------------------------- property-based


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.floats(0.0, 5e4, allow_nan=False), min_size=1, max_size=30))
def test_numbers_round_trip_exactly(tmp_path: Path, values: list[float]) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = [
        f"{(start + timedelta(seconds=3 * i)).isoformat()},c1,{v!r},20,100,closed"
        for i, v in enumerate(values)
    ]
    path = write(
        tmp_path, "time,chamber,co2_ppm,temperature_c,pressure_kpa,phase\n" + "\n".join(lines)
    )
    low, high = PLAUSIBLE_MEDIAN["co2_ppm"]
    if not low <= float(np.median(values)) <= high:
        # a column whose median no real CO2 record has is refused whole (a unit mistake)
        with pytest.raises(InputError, match="plausible range"):
            read(path)
        return
    data, meta = read(path)
    assert meta.issues == []
    assert data["co2_ppm"].tolist() == values


cells = st.one_of(
    finite.map(repr),
    st.text(alphabet="0123456789.eE+-xa, ", min_size=0, max_size=8).map(
        lambda s: s.replace(",", "")
    ),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(cells, min_size=1, max_size=25))
def test_no_value_is_silently_lost(tmp_path: Path, texts: list[str]) -> None:
    """Every non-empty cell is either a finite number equal to float(text) or reported."""
    lines = [f"2024-01-01T00:00:{i:02d}Z,c1,{t},20,100,closed" for i, t in enumerate(texts)]
    path = write(
        tmp_path, "time,chamber,co2_ppm,temperature_c,pressure_kpa,phase\n" + "\n".join(lines)
    )
    parsed = []
    for text in texts:
        with contextlib.suppress(ValueError):
            parsed.append(float(text.strip()))
    usable = [v for v in parsed if math.isfinite(v)]
    low, high = PLAUSIBLE_MEDIAN["co2_ppm"]
    if usable and not low <= float(np.median(usable)) <= high:
        # A column whose median is implausible is refused whole (a unit mistake).
        with pytest.raises(InputError, match="plausible"):
            read(path)
        return
    data, meta = read(path)
    assert len(data) == len(texts)
    reported = {i.line for i in meta.issues if i.field == "co2_ppm"}
    for k, text in enumerate(texts):
        value = data["co2_ppm"].iloc[k]
        stripped = text.strip()
        if stripped.lower() in ("", "na", "nan"):
            assert math.isnan(value)
            continue
        try:
            expected = float(stripped)
        except ValueError:
            expected = math.nan
        if math.isfinite(expected) and 0.0 <= expected <= 1e6:
            assert value == expected
        else:
            assert math.isnan(value)
            assert k + 2 in reported


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    offset_min=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_times_with_any_offset_land_on_the_same_utc_instant(
    tmp_path: Path, instant: datetime, offset_min: int
) -> None:
    utc = instant.replace(microsecond=0, tzinfo=UTC)
    local = utc.astimezone(timezone(timedelta(minutes=offset_min)))
    path = write(
        tmp_path,
        "time,chamber,co2_ppm,temperature_c,pressure_kpa,phase\n"
        + f"{local.isoformat()},c1,400,20,100,closed\n",
    )
    data, _ = read(path)
    assert data["time"].iloc[0] == pd.Timestamp(utc)
    assert np.issubdtype(data["co2_ppm"].dtype, np.floating)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pressure_kpa=st.lists(st.floats(80.0, 105.0), min_size=1, max_size=10),
    rh=st.floats(0.0, 100.0),
)
def test_pressure_unit_does_not_change_the_data(
    tmp_path: Path, pressure_kpa: list[float], rh: float
) -> None:
    """The same records in hPa or kPa, with RH or with the water mole fraction it implies,
    read to the same samples."""
    rows = range(len(pressure_kpa))
    times = [f"2024-01-01T00:00:{i:02d}Z" for i in rows]
    w = h2o_from_rh(rh, 20.0, np.array(pressure_kpa))
    kpa = pd.DataFrame(
        {
            "time": times,
            "chamber": "c1",
            "co2_ppm": 400.0,
            "temperature_c": 20.0,
            "pressure_kpa": pressure_kpa,
            "h2o_mmol_mol": w,
            "phase": "closed",
        }
    )
    hpa = kpa.drop(columns=["pressure_kpa", "h2o_mmol_mol"]).assign(
        pressure_hpa=[10.0 * p for p in pressure_kpa], rh_percent=rh
    )
    a, _ = read(write(tmp_path, kpa.to_csv(index=False), "kpa.csv"))
    if 0.0 < rh < PLAUSIBLE_MEDIAN["rh_percent"][0]:
        # RH below 1 % throughout reads as a fraction given for a percentage: refused
        with pytest.raises(InputError, match=r"rh_percent.*fraction"):
            read(write(tmp_path, hpa.to_csv(index=False), "hpa.csv"))
        return
    b, _ = read(write(tmp_path, hpa.to_csv(index=False), "hpa.csv"))
    np.testing.assert_allclose(a["pressure_kpa"], b["pressure_kpa"], rtol=1e-14)
    np.testing.assert_allclose(a["h2o_mmol_mol"], b["h2o_mmol_mol"], rtol=1e-12)


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "2023-10-01T00:00:00Z,c1,450,20,1000,50,0,closed\n"
        + "2023-10-01T00:00:03Z,c1,450,20,1000,50,0,closed,surplus\n",
    )
    with pytest.raises(InputError) as info:
        read(path)
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: cannot read as CSV")


@pytest.mark.parametrize(
    ("column", "values", "hint"),
    [
        ("co2_ppm", [0.00042, 0.00043, 0.00044], "mole fraction"),
        ("co2_ppm", [0.042, 0.043, 0.044], "mole fraction"),  # percent
        ("rh_percent", [0.55, 0.6, 0.62], "fraction"),
        ("volume_cm3", [0.0049, 0.0049, 0.0049], "m³"),
        ("area_cm2", [0.0318, 0.0318, 0.0318], "m²"),
    ],
)
def test_unit_mistakes_are_refused_naming_the_field(
    tmp_path: Path, column: str, values: list[float], hint: str
) -> None:
    table = pd.DataFrame(
        {
            "time": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:03Z", "2024-01-01T00:00:06Z"],
            "chamber": "c1",
            "co2_ppm": [420.0, 421.0, 422.0],
            "temperature_c": 20.0,
            "pressure_kpa": 100.0,
            "phase": "closed",
        }
    ).assign(**{column: values})
    path = write(tmp_path, table.to_csv(index=False))
    with pytest.raises(InputError, match=rf"field '{column}': median .* wrong unit\? \(.*{hint}"):
        read(path)


def test_dried_air_is_not_a_unit_mistake(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2023-10-01T00:00:00Z,c1,450,20.0,1013.25,0,0,closed\n")
    data, _ = read(path)
    assert data["h2o_mmol_mol"].iloc[0] == 0.0
