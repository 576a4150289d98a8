"""The store's Arrow helpers: ``unique_rows``, ``unique_key_order``, ``split_above``,
``seq_max_of``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from fluxfleet.store import sql
from hypothesis import given
from hypothesis import strategies as st

_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "ch001", None]),
        st.integers(-3, 3),
        st.integers(-(2**63), 2**63 - 1),
    ),
    max_size=40,
)


@given(rows=_ROWS)
def test_unique_rows_keeps_the_first_row_of_each_key_in_order(
    rows: list[tuple[str | None, int, int]],
) -> None:
    table = pa.table(
        {
            "device": pa.array([r[0] for r in rows], pa.string()),
            "seq": pa.array([r[1] for r in rows], pa.int64()),
            "v": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    want: dict[tuple[str | None, int], int] = {}
    for d, s, v in rows:
        want.setdefault((d, s), v)
    got = sql.unique_rows(table, ["device", "seq"]).to_pylist()
    assert [(r["device"], r["seq"], r["v"]) for r in got] == [
        (d, s, v) for (d, s), v in want.items()
    ]


@given(rows=_ROWS)
def test_unique_key_order_is_unique_rows_in_key_order(
    rows: list[tuple[str | None, int, int]],
) -> None:
    """The indices PostgreSQL's ``prepare`` writes the samples' COPY in: each key's first
    row (as ``unique_rows`` keeps), ascending by key, nulls last."""
    table = pa.table(
        {
            "device": pa.array([r[0] for r in rows], pa.string()),
            "seq": pa.array([r[1] for r in rows], pa.int64()),
            "v": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    first: dict[tuple[str | None, int], int] = {}
    for i, (d, s, _v) in enumerate(rows):
        first.setdefault((d, s), i)
    want = sorted(first.values(), key=lambda i: (rows[i][0] is None, rows[i][0] or "", rows[i][1]))
    order = sql.unique_key_order(table, ["device", "seq"])
    assert order.to_pylist() == want
    chunked = pa.concat_tables([table.slice(0, len(rows) // 2), table.slice(len(rows) // 2)])
    assert sql.unique_key_order(chunked, ["device", "seq"]).to_pylist() == want


def test_unique_rows_of_a_chunked_table() -> None:
    t = pa.concat_tables(
        [pa.table({"k": [1, 2], "v": [1, 2]}), pa.table({"k": [2, 3], "v": [3, 4]})]
    )
    assert sql.unique_rows(t, ["k"]).to_pydict() == {"k": [1, 2, 3], "v": [1, 2, 4]}


@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 9)), max_size=30))
def test_split_above_and_seq_max(rows: list[tuple[str, int]]) -> None:
    table = pa.table(
        {"device": [r[0] for r in rows], "seq": pa.array([r[1] for r in rows], pa.int64())}
    )
    marks = {"a": 4, "b": -1}  # "c": nothing stored
    above, rest = sql.split_above(table, marks)
    assert sorted(zip(*above.to_pydict().values(), strict=True)) == sorted(
        r for r in rows if r[1] > marks.get(r[0], -(2**63))
    )
    assert sorted(zip(*rest.to_pydict().values(), strict=True)) == sorted(
        r for r in rows if r[1] <= marks.get(r[0], -(2**63))
    )
    want: dict[str, int] = {}
    for d, s in rows:
        want[d] = max(want.get(d, s), s)
    assert sql.seq_max_of(table) == want


def test_postgres_csv_of_a_column_behind_an_empty_chunk() -> None:
    """pyarrow 26 wrote raw bytes for such an int16 column; ``_to_csv`` writes numbers."""
    from fluxfleet.store.postgres_store import _to_csv

    flags = pa.array(np.arange(8000) % 7).cast(pa.int16())
    t = pa.concat_tables(
        [pa.table({"flags": pa.array([], pa.int16())}), pa.table({"flags": flags})]
    )
    assert _to_csv(t) == "".join(f"{v}\n" for v in np.arange(8000) % 7).encode()
