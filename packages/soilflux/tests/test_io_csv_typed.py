"""The typed (Arrow) CSV fast path reads a clean file to exactly what the careful pandas
path reads, and gives way to it on anything it cannot type, so that the careful path still
names each bad cell's file, line and field."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from soilflux.io import InputError, read_generic
from soilflux.io.columns import ColumnMap
from soilflux.io.generic import _read_csv_typed, parse_generic_table

IDS = ("chamber", "location", "phase", "closure_id")
HEADER = "time,Chamber,location,phase,co2_ppm,temperature_c,pressure_kpa,h2o_mmol_mol,extra"


def careful(path: Path, columns: ColumnMap | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The pandas path, as read_generic takes it when the fast path gives way."""
    header = pd.read_csv(path, nrows=0).columns
    ids = [c for c in header if c.strip().lower() in IDS]
    raw = pd.read_csv(path, dtype={c: "string" for c in ids})
    data, meta = parse_generic_table(raw, source=str(path), columns=columns)
    return data, [*map(str, meta.issues), *meta.notes]


def fast_header(path: Path) -> pd.Index:
    return pd.read_csv(path, nrows=0).columns


number = st.one_of(
    st.floats(min_value=350.0, max_value=2000.0, allow_nan=False),
    st.just(float("nan")),
)
text = st.sampled_from(["ch1", " ch1", "CH1 ", "", "NA", "nan", "None", "b"])
offset = st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+0100"])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(rows=[(0, "ch1", 400.0, "Z")])
@given(
    rows=st.lists(st.tuples(st.integers(0, 10**6), text, number, offset), min_size=1, max_size=30)
)
def test_a_clean_file_reads_exactly_as_the_careful_path_does(
    tmp_path: Path, rows: list[tuple[int, str, float, str]]
) -> None:
    path = tmp_path / "clean.csv"
    lines = [HEADER]
    for i, (seconds, chamber, co2, tz) in enumerate(rows):
        hh, rest = divmod(seconds, 3600)
        time = f"2026-05-{1 + hh // 24:02d}T{hh % 24:02d}:{rest // 60:02d}:{rest % 60:02d}.5{tz}"
        value = "" if math.isnan(co2) else repr(co2)
        lines.append(f"{time},{chamber},1.1.A,closed,{value},21.5,101.3,{i % 7}.25,x{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _read_csv_typed(path, ",", fast_header(path), None) is not None  # the fast path ran
    data, meta = read_generic(path)
    expected, expected_meta = careful(path)
    pd.testing.assert_frame_equal(data, expected, check_exact=True)
    assert [*map(str, meta.issues), *meta.notes] == expected_meta


@pytest.mark.parametrize(
    ("cell", "field", "message"),
    [
        ("co2_ppm=abc", "co2_ppm", "not a number"),
        ("time=2026-05-01T00:00:03", None, None),  # no offset: read as UTC and noted
        ("time=", "time", "not an ISO 8601 time"),
        ("time=yesterday", "time", "not an ISO 8601 time"),
        ("co2_ppm=inf", "co2_ppm", "not a number"),
    ],
)
def test_a_bad_cell_takes_the_careful_path_and_is_named(
    tmp_path: Path, cell: str, field: str | None, message: str | None
) -> None:
    name, value = cell.split("=")
    rows = []
    for i in range(4):
        values = {
            "time": f"2026-05-01T00:00:{3 * i:02d}Z",
            "Chamber": "ch1",
            "location": "1.1.A",
            "phase": "closed",
            "co2_ppm": f"{400 + i}",
            "temperature_c": "21",
            "pressure_kpa": "101",
            "h2o_mmol_mol": "10",
            "extra": "x",
        }
        if i == 2:
            values[name] = value
        rows.append(",".join(values.values()))
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data, meta = read_generic(path)
    expected, expected_meta = careful(path)
    pd.testing.assert_frame_equal(data, expected, check_exact=True)
    assert [*map(str, meta.issues), *meta.notes] == expected_meta
    if field is None:
        assert meta.issues == []
        assert any("without a UTC offset" in note for note in meta.notes)
        return
    if name != "co2_ppm" or value != "inf":  # Arrow reads inf; the issue comes after
        assert _read_csv_typed(path, ",", fast_header(path), None) is None
    (issue,) = meta.issues
    assert (issue.line, issue.field) == (4, field)  # data row 3 is line 4
    assert message is not None
    assert message in str(issue)
    assert str(path) in str(issue)


def test_a_ragged_row_still_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "time,chamber,co2_ppm,temperature_c,pressure_kpa,phase\n"
        "2026-05-01T00:00:00Z,ch1,400,21,101,closed\n"
        "2026-05-01T00:00:03Z,ch1,401,21,101,closed,surplus\n",
        encoding="utf-8",
    )
    assert _read_csv_typed(path, ",", fast_header(path), None) is None
    with pytest.raises(InputError, match="line 3"):
        read_generic(path)


def test_a_column_map_types_the_mapped_columns(tmp_path: Path) -> None:
    """A peer's names: ``conc`` is read as a number, ``datetime`` as a time, ``ID`` as text."""
    path = tmp_path / "peer.csv"
    path.write_text(
        "datetime;ID;conc;temp_air;p\n"
        "2026-05-01T00:00:00Z;007;400.5;21;101\n"
        "2026-05-01T00:00:03Z;007;401.5;21;101\n",
        encoding="utf-8",
    )
    columns = ColumnMap(
        columns={
            "time": "datetime",
            "closure_id": "ID",
            "co2_ppm": "conc",
            "temperature_c": "temp_air",
            "pressure_kpa": "p",
        },
        name="--columns",
    )
    header = pd.read_csv(path, nrows=0, sep=";").columns
    raw = _read_csv_typed(path, ";", header, columns)
    assert raw is not None
    assert str(raw["datetime"].dtype) == "datetime64[ns, UTC]"
    assert raw["conc"].dtype == "float64"
    data, _ = read_generic(path, columns=columns)
    assert data["closure_id"].tolist() == ["007", "007"]  # an identifier stays text
    assert data["co2_ppm"].tolist() == [400.5, 401.5]


def test_the_frame_read_owns_its_columns(tmp_path: Path) -> None:
    """Columns come from Arrow's (read-only) buffers or the caller's frame without a copy
    where possible: the frame handed back must still be writable and independent."""
    raw = pd.DataFrame(
        {
            "time": pd.date_range("2026-05-01", periods=4, freq="3s", tz="UTC"),
            "chamber": ["ch1"] * 4,
            "co2_ppm": [400.0, 401.0, 402.0, 403.0],
            "temperature_c": 21.0,
            "pressure_kpa": 101.0,
            "phase": "closed",
        }
    )
    original = raw.copy(deep=True)
    path = tmp_path / "records.csv"
    raw.to_csv(path, index=False)
    from_csv, _ = read_generic(path)
    from_frame, _ = parse_generic_table(raw)
    for data in (from_csv, from_frame):
        for column in data.columns:
            data.loc[0, column] = data.loc[1, column]  # raises if a column is read-only
        assert data["co2_ppm"].iloc[0] == 401.0
    pd.testing.assert_frame_equal(raw, original)  # the caller's frame is untouched
