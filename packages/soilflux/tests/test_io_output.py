"""Result tables: written atomically, with the mode an ordinary file write gives."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from soilflux.io.output import read_table, write_table

TABLE = pd.DataFrame({"chamber": ["a", "b"], "flux_umol_m2_s": [1.5, 2.25]})


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_file_respects_the_umask(
    tmp_path: Path, umask: None, suffix: str, mask: int, expected: int
) -> None:
    os.umask(mask)
    out = write_table(TABLE, tmp_path / f"fluxes{suffix}")
    assert mode(out) == expected
    pd.testing.assert_frame_equal(read_table(out), TABLE, check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    out = tmp_path / "fluxes.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    write_table(TABLE, out)
    assert mode(out) == 0o640
    assert "flux_umol_m2_s" in out.read_text()


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "fluxes.parquet"
    write_table(TABLE, out)
    before = out.read_bytes()
    with pytest.raises(ValueError, match="Conversion failed for column x"):
        write_table(pd.DataFrame({"x": [object()]}), out)  # not storable in Parquet
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def _parts_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "closure": np.arange(n, dtype=np.int64),
            "chamber": pd.array([f"c{i % 7}" for i in range(n)], dtype="string"),
            "start": pd.date_range("2026-04-01", periods=n, freq="10min", tz="UTC"),
            "flux_umol_m2_s": rng.normal(1.6, 0.4, n),
            "flags": [("gap" if i % 5 == 0 else "") for i in range(n)],
        }
    )


@settings(deadline=None)
@given(
    n=st.integers(1, 60),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    suffix=st.sampled_from([".csv", ".parquet"]),
    seed=st.integers(0, 3),
)
def test_parts_are_written_as_their_concatenation(
    tmp_path_factory: pytest.TempPathFactory, n: int, cuts: list[int], suffix: str, seed: int
) -> None:
    """Written in parts (joined as Arrow tables for Parquet), a table reads back exactly as
    the one frame ``pandas.concat`` makes of them, row numbers included."""
    frame = _parts_frame(n, seed)
    edges = [0, *sorted(min(c, n) for c in cuts), n]
    parts = [frame.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(edges)]
    folder = tmp_path_factory.mktemp("parts")
    whole = read_table(write_table(pd.concat(parts, ignore_index=True), folder / f"one{suffix}"))
    got = read_table(write_table(parts, folder / f"parts{suffix}"))
    pd.testing.assert_frame_equal(got, whole, check_exact=True)


def test_parts_of_different_types_are_joined_as_pandas_joins_them(tmp_path: Path) -> None:
    """A column all missing in one part (float NaN beside text elsewhere), or categories that
    differ between parts: the file holds what ``pandas.concat`` gives (text), not an error
    nor a type of one part."""
    a = pd.DataFrame({"location": ["bed 1", "bed 2"], "x": [1.0, 2.0]})
    b = pd.DataFrame({"location": [np.nan, np.nan], "x": [3.0, 4.0]})
    c = pd.DataFrame({"variant": pd.Categorical(["basalt"]), "x": [1.0]})
    d = pd.DataFrame({"variant": pd.Categorical(["control"]), "x": [2.0]})
    for parts in ([a, b], [c, d]):
        out = tmp_path / "t.parquet"
        write_table(parts, out)
        pd.concat(parts, ignore_index=True).to_parquet(tmp_path / "e.parquet", index=False)
        expected = pd.read_parquet(tmp_path / "e.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=True)


def test_only_text_columns_get_a_dictionary(tmp_path: Path) -> None:
    """Parquet dictionaries on text only: numbers are written plain (the write's CPU)."""
    out = write_table(_parts_frame(50, 1), tmp_path / "t.parquet")
    meta = pq.ParquetFile(out).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(5)}
    assert "RLE_DICTIONARY" in encodings["chamber"]
    assert "RLE_DICTIONARY" in encodings["flags"]
    assert "RLE_DICTIONARY" not in encodings["flux_umol_m2_s"]


def test_no_parts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no table"):
        write_table([], tmp_path / "t.parquet")
    assert not list(tmp_path.iterdir())
