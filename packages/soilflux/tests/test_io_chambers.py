"""The chamber geometry table and format detection."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from soilflux.io import InputError, detect_format, read_chambers


def test_reads_geometry_and_location(tmp_path: Path) -> None:
    path = tmp_path / "chambers.csv"
    path.write_text("Chamber,volume_cm3,area_cm2,location\nA1,5000,300,9.2.B\nA2,5100.5,301,\n")
    table, meta = read_chambers(path)
    assert meta.notes == ["1 chamber(s) without a location"]
    assert table.index.tolist() == ["A1", "A2"]
    assert table.loc["A2", "volume_cm3"] == 5100.5
    assert table.loc["A1", "location"] == "9.2.B"
    assert pd.isna(table.loc["A2", "location"])


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("chamber,volume_cm3\nA1,5000\n", 1, "area_cm2"),
        ("chamber,volume_cm3,area_cm2\nA1,5000,300\nA1,5000,300\n", 3, "chamber"),
        ("chamber,volume_cm3,area_cm2\nA1,5000,300\nA2,-1,300\n", 3, "volume_cm3"),
        ("chamber,volume_cm3,area_cm2\nA1,5000,abc\n", 2, "area_cm2"),
        ("chamber,volume_cm3,area_cm2,location\nA1,5000,300,9-2-B\n", 2, "location"),
    ],
)
def test_bad_table_names_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "chambers.csv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_chambers(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert str(info.value).startswith(f"{path}:{line}: field '{field}'")


def test_detect_format(tmp_path: Path) -> None:
    (tmp_path / "a.81x").write_text("LI-8100:\t1\n")
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "c.txt").write_text("LI-8100:\t239\n")
    (tmp_path / "d.dat").write_text(' { "datasets": [] }')
    (tmp_path / "e.csv").write_text("time,chamber\n")
    found = [detect_format(tmp_path / n) for n in ("a.81x", "b.json", "c.txt", "d.dat", "e.csv")]
    assert found == ["licor-81x", "licor-json", "licor-81x", "licor-json", "generic"]


def test_chamber_table_in_m3_and_m2_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chambers.csv"
    path.write_text("chamber,volume_cm3,area_cm2\na,0.0049,0.0318\nb,0.0049,0.0318\n")
    with pytest.raises(InputError, match=r"field 'volume_cm3': median 0.0049 .*litres or m³"):
        read_chambers(path)
    path.write_text("chamber,volume_cm3,area_cm2\na,4900,0.0318\nb,4900,0.0318\n")
    with pytest.raises(InputError, match=r"field 'area_cm2': median 0.0318 .*m² instead of cm²"):
        read_chambers(path)
