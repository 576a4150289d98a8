"""Parquet read by row groups with text as dictionaries gives what pandas' whole-file read
gave, and the text rules applied to distinct values give what they gave row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st
from soilflux.io import read_generic
from soilflux.io.generic import _MISSING_TEXT, _text, parse_generic_table

WORDS = ["ch1", " ch1", "ch1 ", "CH1", "", " ", "NA", "nan", "None", "closed", "Closed ", "b"]


def rowwise_text(values: pd.Series, lower: bool = False) -> pd.Series:
    """The text rules as they ran before, on every row."""
    text = values.astype("string").str.strip()
    missing = text.isna() | text.str.lower().isin(_MISSING_TEXT)
    text = text.mask(missing)
    return text.str.lower() if lower else text


@given(
    st.lists(st.one_of(st.none(), st.sampled_from(WORDS), st.text(max_size=4)), max_size=30),
    st.booleans(),
    st.booleans(),
)
def test_text_rules_on_distinct_values_match_rowwise(
    values: list[str | None], lower: bool, categorical: bool
) -> None:
    series = pd.Series(values, dtype="category" if categorical else object)
    expected = rowwise_text(series, lower)
    pd.testing.assert_series_equal(_text(series, lower=lower), expected)
    # as a categorical: the same strings, categories distinct (" a" and "a" are one)
    as_codes = _text(series, lower=lower, categorical=True)
    assert isinstance(as_codes.dtype, pd.CategoricalDtype)
    assert as_codes.cat.categories.is_unique
    assert as_codes.cat.categories.dtype == "string"
    pd.testing.assert_series_equal(as_codes.astype("string"), expected)


def test_parquet_by_row_groups_reads_like_a_whole_pandas_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 5000
    chamber = rng.choice(["A", " B", "ch10", "", "NA"], n)
    table = pd.DataFrame(
        {
            "Time": pd.date_range("2026-05-01", periods=n, freq="3s", tz="UTC"),
            "chamber": chamber,
            "location": rng.choice(["1.1.A", None, "2.1.B"], n),
            "phase": rng.choice(["closed", "Open", "flush", "bogus", None], n),
            "CO2_ppm": np.where(rng.random(n) < 0.01, np.nan, rng.uniform(400, 600, n)),
            "temperature_c": rng.uniform(10, 30, n),
            "pressure_kpa": np.where(rng.random(n) < 0.01, 500.0, 100.0),
            "lux": rng.uniform(0, 10, n),
            "extra": rng.choice(["x", "y"], n),
        }
    )
    path = tmp_path / "records.parquet"
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=700)
    assert pq.ParquetFile(path).num_row_groups > 1
    data, meta = read_generic(path)
    expected, expected_meta = parse_generic_table(
        pd.read_parquet(path), source=str(path), first_line=1
    )
    pd.testing.assert_frame_equal(data, expected, check_exact=True)
    assert [str(i) for i in meta.issues] == [str(i) for i in expected_meta.issues]
    assert meta.notes == expected_meta.notes
    assert len(data) < n  # empty chambers were left out
    # identifiers as categoricals: the same values and issues
    coded, coded_meta = read_generic(path, categorical_ids=True)
    ids = ["chamber", "location", "phase"]
    assert all(isinstance(coded[c].dtype, pd.CategoricalDtype) for c in ids)
    pd.testing.assert_frame_equal(coded.astype({c: "string" for c in ids}), data, check_exact=True)
    assert [str(i) for i in coded_meta.issues] == [str(i) for i in meta.issues]
    assert coded_meta.notes == meta.notes
