"""The readers on real files of ``../shared/reference/flux`` (never copied into the repo).

What the folder holds that the readers read: the peers' example tables (fluxible's
``co2_conc.csv``, gasfluxes' ``fluxmeas.csv``) and LI-COR's own files (LI-8150 ``.81x``,
LI-8200-01S ``.json``; read against the vendor's fluxes in test_licor_validation.py). It
holds no LI-8250 ``.82z``, no LI-7810/7820 ``.data``, no LGR or Picarro record and no
goFlux input table: those readers are tested on files made from the vendors' documented
layouts only (test_io_licor82z.py, test_io_analysers.py, test_peer_formats.py).

Here: the typed (Arrow) CSV path reads the peers' real files — with their ``NA`` cells,
``;`` delimiter, UTC times and identifiers such as ``156 AN2C 156`` — to exactly what the
careful pandas path reads, so the fast path is checked on data nobody shaped for it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from soilflux.io import read
from soilflux.io.columns import ColumnMap
from soilflux.io.generic import _read_csv_typed, _text_columns, parse_generic_table
from soilflux.io.presets import PRESETS

pytestmark = pytest.mark.reference

FILES = [
    ("fluxible_co2_conc.csv", "fluxible", ",", 1251),
    ("gasfluxes_fluxmeas.csv", "gasfluxes", ";", 5300),
]


def careful(
    path: Path, delimiter: str, columns: ColumnMap, format_name: str
) -> tuple[pd.DataFrame, list[str]]:
    """read_generic's pandas path (what it falls back to when the typed path gives way)."""
    header = pd.read_csv(path, nrows=0, sep=delimiter).columns
    ids = _text_columns(header, columns)
    raw = pd.read_csv(path, sep=delimiter, dtype={c: "string" for c in ids})
    data, meta = parse_generic_table(
        raw, source=str(path), columns=columns, format_name=format_name
    )
    return data, [*map(str, meta.issues), *meta.notes]


@pytest.mark.parametrize(("name", "preset", "delimiter", "rows"), FILES)
def test_peer_example_reads_through_the_typed_path_as_through_pandas(
    reference_dir: Path, name: str, preset: str, delimiter: str, rows: int
) -> None:
    path = reference_dir / "flux" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    columns = PRESETS[preset]
    header = pd.read_csv(path, nrows=0, sep=delimiter).columns
    assert _read_csv_typed(path, delimiter, header, columns) is not None  # typed path taken
    data, meta = read(path, preset)
    expected, expected_said = careful(path, delimiter, columns, preset)
    pd.testing.assert_frame_equal(data, expected, check_exact=True)
    said = [*map(str, meta.issues), *meta.notes]
    assert [s for s in said if not s.startswith("fields separated by")] == expected_said
    assert len(data) == rows
    assert meta.issues == []


def test_fluxible_example_keeps_its_missing_temperatures_missing(reference_dir: Path) -> None:
    """``temp_air`` is ``NA`` on its first row (logged every 10 s): missing, not an issue."""
    path = reference_dir / "flux" / "fluxible_co2_conc.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    raw = pd.read_csv(path)
    data, meta = read(path, "fluxible")
    first = data.iloc[0]
    assert pd.isna(first["temperature_c"])
    assert raw["temp_air"].isna().sum() > 0
    assert data["temperature_c"].isna().sum() == raw["temp_air"].isna().sum()
    assert sorted(data["closure_id"].unique()) == sorted(raw["fluxID"].astype(str).unique())
    assert meta.issues == []
