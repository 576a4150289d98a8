"""A long Parquet table read and segmented in pieces gives the whole file's parts exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from soilflux.cli_parallel import FluxJob, compute_files
from soilflux.cli_parts import iter_parts, make_reading
from soilflux.io import read_generic, read_pieces
from soilflux.options import FluxOptions
from soilflux.segment import SegmentReport

from testsupport.fleet_export import fleet_record, split

GEOMETRY = {"volume_cm3": 5000.0, "area_cm2": 300.0}
WHOLE = 10**9  # more rows than any test file: one piece


def write(data: pd.DataFrame, path: Path, row_group: int = 700) -> Path:
    pq.write_table(pa.Table.from_pandas(data, preserve_index=False), path, row_group_size=row_group)
    return path


def parts(paths: list[Path], piece_rows: int) -> tuple[list, list, list]:
    metadata: list = []
    reports: list = []
    got = list(
        iter_parts(paths, **GEOMETRY, piece_rows=piece_rows, metadata=metadata, reports=reports)
    )
    return got, metadata, reports


def assert_same_parts(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for (s, c), (s0, c0) in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(s, s0, check_exact=True)
        pd.testing.assert_frame_equal(c, c0, check_exact=True)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """One file per way of finding closures (ids, phase runs), 2,000-odd rows each."""
    folder = tmp_path_factory.mktemp("pieces")
    return {
        ids: write(fleet_record(144, seed=11, with_ids=ids), folder / f"ids{ids}.parquet")
        for ids in (True, False)
    }


@pytest.mark.parametrize("with_ids", [True, False])
@pytest.mark.parametrize("piece_rows", [700, 613, 97])
def test_pieces_give_the_whole_files_parts(
    records: dict[bool, Path], with_ids: bool, piece_rows: int
) -> None:
    """Pieces on and off the row groups' bounds, closures open across every cut: the same
    samples and closures, one part and one report per file (and the closures still open at
    its end), one metadata."""
    path = records[with_ids]
    expected, meta0, reports0 = parts([path], WHOLE)
    got, meta, reports = parts([path], piece_rows)
    assert_same_parts(got, expected)
    assert len(got) == len(reports) == 2
    assert [m.path for m in meta] == [m.path for m in meta0] == [str(path)]
    assert reports == reports0
    assert sum(r.closures for r in reports) == 144


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, list]:
    """A 900-odd-row file and its parts read whole."""
    path = write(
        fleet_record(36, seed=15), tmp_path_factory.mktemp("small") / "s.parquet", row_group=300
    )
    expected, _, reports = parts([path], WHOLE)
    return path, expected, reports


@given(piece_rows=st.integers(min_value=150, max_value=1200))
def test_any_piece_size_gives_the_same_parts(
    small: tuple[Path, list, list], piece_rows: int
) -> None:
    path, expected, reports0 = small
    got, _, reports = parts([path], piece_rows)
    assert_same_parts(got, expected)
    assert reports == reports0


def test_pieces_of_several_files_on_workers(tmp_path: Path) -> None:
    """Files cut anywhere, each read in pieces by worker processes: the fluxes of the
    files read whole, number for number."""
    paths = split(fleet_record(120, seed=12), tmp_path, 3)
    job = FluxJob(FluxOptions())

    def fluxes(piece_rows: int, jobs: int) -> pd.DataFrame:
        reading = make_reading(**GEOMETRY, piece_rows=piece_rows)
        results, n = compute_files(paths, reading, job, jobs=jobs, metadata=[], reports=[])
        assert n == 120
        return pd.concat(results, ignore_index=True)

    whole = fluxes(WHOLE, 1)
    pd.testing.assert_frame_equal(fluxes(150, 2), whole, check_exact=True)
    pd.testing.assert_frame_equal(fluxes(150, 1), whole, check_exact=True)


def test_issues_name_the_files_row(tmp_path: Path) -> None:
    """A bad value in a later piece is reported at its row of the file, as when read whole;
    the file's notes are not repeated per piece."""
    data = fleet_record(48, seed=13)
    data.loc[1500, "co2_ppm"] = 1e9
    data.loc[37, "temperature_c"] = np.inf
    path = write(data, tmp_path / "bad.parquet")
    _, whole = read_generic(path)
    pieces = list(read_pieces(path, piece_rows=400))
    assert len(pieces) > len(data) // 400
    assert max(len(d) for d, _ in pieces) <= 400
    got = [(i.line, i.field) for _, m in pieces for i in m.issues]
    assert (
        got
        == [(i.line, i.field) for i in whole.issues]
        == [
            (38, "temperature_c"),
            (1501, "co2_ppm"),
        ]
    )
    _, meta, _ = parts([path], 400)
    assert [(i.line, i.field) for i in meta[0].issues] == got
    assert len(meta[0].notes) == len(set(meta[0].notes))


def test_a_short_or_text_file_is_one_piece(tmp_path: Path) -> None:
    data = fleet_record(24, seed=14)
    csv = tmp_path / "week.csv"
    data.to_csv(csv, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    short = write(data, tmp_path / "short.parquet")
    for path in (csv, short):
        pieces = list(read_pieces(path, piece_rows=len(data)))
        assert len(pieces) == 1
        pd.testing.assert_frame_equal(pieces[0][0], read_generic(path)[0], check_exact=True)


def test_report_add_sums_counts() -> None:
    a = SegmentReport(closures=2, rows_in_closures=10, gaps=1, flag_counts={"gap": 1})
    b = SegmentReport(closures=3, rows_outside=4, gaps=2, flag_counts={"gap": 2, "short": 1})
    a.add(b)
    assert a == SegmentReport(
        closures=5, rows_in_closures=10, rows_outside=4, gaps=3, flag_counts={"gap": 3, "short": 1}
    )


def test_carry_joins_categoricals_on_their_union() -> None:
    """A carried tail and the next piece with other categories: one categorical column of
    the same values (not a column of objects)."""
    from soilflux.cli_parts import _concat_records

    def coded(values: list[str | None], categories: list[str]) -> pd.Series:
        return pd.Series(values, dtype=pd.CategoricalDtype(pd.Index(categories, dtype="string")))

    carry = pd.DataFrame({"chamber": coded(["a", None], ["a", "b"]), "x": [1.0, 2.0]})
    piece = pd.DataFrame({"chamber": coded(["c", "b", "a"], ["c", "b", "a"]), "x": [3.0, 4.0, 5.0]})
    joined = _concat_records(carry, piece)
    assert isinstance(joined["chamber"].dtype, pd.CategoricalDtype)
    assert joined["chamber"].astype("string").tolist() == ["a", pd.NA, "c", "b", "a"]
    assert joined["x"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
