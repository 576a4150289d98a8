"""``fluxfleet.web.formats.csv_text``: the console's CSV, read back, is the table."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from fluxfleet.web.formats import csv_text
from hypothesis import given
from hypothesis import strategies as st

TEXT = st.text(alphabet=st.sampled_from(list('ab ,;"\n\r.5-Z')), max_size=6)


def _read(text: str, texts: list[str]) -> pd.DataFrame:
    """Read as a user would, the text columns as text (not numbers)."""
    return pd.read_csv(
        io.StringIO(text), keep_default_na=False, na_values=[""], dtype=dict.fromkeys(texts, str)
    )


@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64)),
            st.one_of(st.none(), st.integers(-(2**53), 2**53)),
            st.one_of(st.none(), TEXT.filter(lambda t: t.strip() != "")),
            st.one_of(st.none(), st.integers(0, 2**40)),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_csv_reads_back_as_the_table(rows: list[tuple[object, ...]]) -> None:
    df = pd.DataFrame(
        {
            "flux_umol_m2_s": pd.Series([r[0] for r in rows], dtype="float64"),
            "n": pd.array([r[1] for r in rows], dtype="Int64"),
            "label": pd.Series([r[2] for r in rows], dtype=object),
            "time": pd.to_datetime(
                [None if r[3] is None else r[3] * 1000 for r in rows], unit="us", utc=True
            ),
            "ok": [r[4] for r in rows],
        }
    )
    back = _read(csv_text(df), ["label"])
    assert list(back.columns) == list(df.columns)
    for want, got in zip(df["flux_umol_m2_s"], back["flux_umol_m2_s"], strict=True):
        assert (math.isnan(want) and math.isnan(got)) or float(got) == want
    assert [None if pd.isna(v) else int(v) for v in back["n"]] == [
        None if pd.isna(v) else int(v) for v in df["n"]
    ]
    assert [None if pd.isna(v) else str(v) for v in back["label"]] == [
        None if v is None else v for v in df["label"]
    ]
    times = pd.to_datetime(back["time"], utc=True, format="ISO8601")
    assert [None if pd.isna(v) else v for v in times] == [
        None if pd.isna(v) else v for v in df["time"]
    ]
    assert back["ok"].astype(str).tolist() == [str(v) for v in df["ok"]]


def test_csv_of_plain_values_is_unquoted_and_keeps_the_header() -> None:
    df = pd.DataFrame(
        {
            "hour": pd.to_datetime(["2026-04-01T00:00:00Z", None], utc=True),
            "variant": ["5.1", None],
            "flux_mean_umol_m2_s": [2.8241590384553388, np.nan],
        }
    )
    assert csv_text(df).splitlines() == [
        "hour,variant,flux_mean_umol_m2_s",
        "2026-04-01T00:00:00.000000Z,5.1,2.8241590384553388",
        ",,",
    ]


@pytest.mark.parametrize("value", ["a,b", 'say "x"', "two\nlines"])
def test_a_value_that_needs_quotes_is_quoted(value: str) -> None:
    df = pd.DataFrame({"detail": [value], "n": [1]})
    assert _read(csv_text(df), ["detail"])["detail"].tolist() == [value]


def test_a_column_arrow_cannot_write_falls_back_to_pandas() -> None:
    df = pd.DataFrame({"span": pd.to_timedelta([1, 2], unit="s"), "n": [1, 2]})
    back = _read(csv_text(df), [])
    assert back["n"].tolist() == [1, 2]
