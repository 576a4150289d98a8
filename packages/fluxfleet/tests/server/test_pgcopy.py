"""PostgreSQL's binary COPY stream made from Arrow (``fluxfleet.store.pgcopy``): against a
byte-by-byte reference decoder, and against a real server."""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

import pyarrow as pa
import pytest
from fluxfleet.store import pgcopy
from hypothesis import given, settings
from hypothesis import strategies as st

UTC = dt.UTC
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=UTC)

# Arrow type → (PostgreSQL type, decoder of the field's bytes)
_TYPES: dict[str, tuple[pa.DataType, str, Any]] = {
    "s": (pa.string(), "text", lambda b: b.decode()),
    "b": (pa.binary(), "bytea", bytes),
    "i8": (pa.int64(), "bigint", lambda b: struct.unpack(">q", b)[0]),
    "i4": (pa.int32(), "integer", lambda b: struct.unpack(">i", b)[0]),
    "i2": (pa.int16(), "smallint", lambda b: struct.unpack(">h", b)[0]),
    "f8": (pa.float64(), "double precision", lambda b: struct.unpack(">d", b)[0]),
    "ok": (pa.bool_(), "boolean", lambda b: b == b"\x01"),
    "t": (
        pa.timestamp("ms", tz="UTC"),
        "timestamptz",
        lambda b: PG_EPOCH + dt.timedelta(microseconds=struct.unpack(">q", b)[0]),
    ),
}


def decode(data: bytes, names: list[str]) -> list[dict[str, Any]]:
    """The reference: PostgreSQL's documented binary COPY format read field by field."""
    assert data[:11] == b"PGCOPY\n\xff\r\n\x00"
    flags, ext = struct.unpack(">ii", data[11:19])
    assert (flags, ext) == (0, 0)
    pos, rows = 19, []
    while True:
        (count,) = struct.unpack(">h", data[pos : pos + 2])
        pos += 2
        if count == -1:
            assert pos == len(data), "bytes after the trailer"
            return rows
        assert count == len(names)
        row = {}
        for name in names:
            (n,) = struct.unpack(">i", data[pos : pos + 4])
            pos += 4
            if n == -1:
                row[name] = None
                continue
            row[name] = _TYPES[name][2](data[pos : pos + n])
            pos += n
        rows.append(row)


_TIME = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
_VALUES = {
    "s": st.text(),
    "b": st.binary(),
    "i8": st.integers(-(2**63), 2**63 - 1),
    "i4": st.integers(-(2**31), 2**31 - 1),
    "i2": st.integers(-(2**15), 2**15 - 1),
    "f8": st.floats(allow_nan=True, allow_infinity=True),
    "ok": st.booleans(),
    "t": _TIME,
}
_ROWS = st.lists(st.fixed_dictionaries({k: st.none() | v for k, v in _VALUES.items()}), max_size=30)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({k: pa.array([r[k] for r in rows], _TYPES[k][0]) for k in _TYPES})


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@given(rows=_ROWS)
def test_binary_copy_decodes_to_the_table(rows: list[dict[str, Any]]) -> None:
    names = list(_TYPES)
    got = decode(pgcopy.binary_copy(_table(rows)), names)
    assert len(got) == len(rows)
    for want_row, got_row in zip(rows, got, strict=True):
        for k in names:
            assert _same(want_row[k], got_row[k]), (k, want_row[k], got_row[k])


_DENSE = st.lists(st.fixed_dictionaries(_VALUES), max_size=30)  # no NULLs: packed records


@given(rows=_DENSE | _ROWS, data=st.data())
def test_binary_rows_taken_in_any_order(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    """The rows of :func:`pgcopy.binary_rows`, taken in any order (with repeats) and
    streamed, decode to the table's rows in that order; columns with and without NULLs
    (packed records or fields made alone) come out alike."""
    names = list(_TYPES)
    take = data.draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=40)) if rows else []
    got = decode(
        pgcopy.stream(pgcopy.binary_rows(_table(rows)).take(pa.array(take, pa.int64()))), names
    )
    assert len(got) == len(take)
    for i, got_row in zip(take, got, strict=True):
        for k in names:
            assert _same(rows[i][k], got_row[k]), (k, rows[i][k], got_row[k])


def test_binary_copy_of_a_sliced_chunked_table() -> None:
    """Offsets of sliced and chunked columns (what ``sort_by`` and ``concat`` make)."""
    rows = [{k: None for k in _TYPES} | {"s": f"ch{i:03d}", "i8": i} for i in range(10)]
    t = pa.concat_tables([_table(rows[:4]), _table(rows[4:])]).slice(3, 5)
    got = decode(pgcopy.binary_copy(t), list(_TYPES))
    assert [(r["s"], r["i8"]) for r in got] == [(f"ch{i:03d}", i) for i in range(3, 8)]


def test_binary_copy_of_no_rows() -> None:
    assert pgcopy.binary_copy(_table([])) == pgcopy.SIGNATURE + pgcopy.TRAILER


def test_binary_copy_refuses_an_unknown_type() -> None:
    with pytest.raises(TypeError, match="decimal"):
        pgcopy.binary_copy(pa.table({"x": pa.array([1], pa.decimal128(5, 2))}))


HOSTILE = [
    {
        "s": "ch001",
        "b": b"\x00\xff\\x",
        "i8": 2**63 - 1,
        "i4": -(2**31),
        "i2": -(2**15),
        "f8": math.nan,
        "ok": True,
        "t": dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    },
    {
        "s": "",
        "b": b"",
        "i8": -(2**63),
        "i4": 2**31 - 1,
        "i2": 2**15 - 1,
        "f8": -math.inf,
        "ok": False,
        "t": dt.datetime(2099, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    },
    {"s": 'Ünïcødé \u2603 \U0001f331, "quoted"\n\ttab', "f8": -0.0, "t": PG_EPOCH},
    {k: None for k in _TYPES},
]


def test_binary_copy_into_postgresql(postgres: Any) -> None:
    """What the server reads back is what the table held: every type, NULLs, NaN,
    ±infinity, extreme integers, times before 1970 and 2000, text COPY would quote."""
    import psycopg

    rows = [{k: r.get(k) for k in _TYPES} for r in HOSTILE]
    cols = ", ".join(f'"{k}" {pg}' for k, (_a, pg, _d) in _TYPES.items())
    with psycopg.connect(postgres.dsn) as con:
        con.execute("SET TIME ZONE 'UTC'")
        con.execute(f"CREATE TEMP TABLE t (k serial, {cols})")
        names = ", ".join(f'"{k}"' for k in _TYPES)
        with con.cursor() as cur, cur.copy(f"COPY t ({names}) FROM STDIN (FORMAT binary)") as c:
            c.write(pgcopy.binary_copy(_table(rows)))
        got = con.execute(f"SELECT {names} FROM t ORDER BY k").fetchall()
    assert len(got) == len(rows)
    for want_row, got_row in zip(rows, got, strict=True):
        for k, g in zip(_TYPES, got_row, strict=True):
            assert _same(want_row[k], g), (k, want_row[k], g)


def test_binary_copy_refused_by_a_column_of_another_type(postgres: Any) -> None:
    """The stream carries no types: a mismatch is an error, never a wrong value."""
    import psycopg

    with psycopg.connect(postgres.dsn) as con:
        con.execute("CREATE TEMP TABLE t (x smallint)")
        with (
            pytest.raises(psycopg.errors.DataError),
            con.cursor() as cur,
            cur.copy("COPY t (x) FROM STDIN (FORMAT binary)") as c,
        ):
            c.write(pgcopy.binary_copy(pa.table({"x": pa.array([1], pa.int64())})))


def test_array_parameters_carry_every_value(postgres: Any) -> None:
    """The small tables' statements send each column as one binary array parameter
    (``postgres_store._statement``): the same hostile rows come back exactly."""
    import psycopg
    from fluxfleet.store.postgres_store import _statement

    rows = [{k: r.get(k) for k in _TYPES} for r in HOSTILE]
    cols = ", ".join(f'"{k}" {pg}' for k, (_a, pg, _d) in _TYPES.items())
    names = ", ".join(f'"{k}"' for k in _TYPES)
    q = _statement(f"INSERT INTO t ({names}) SELECT {names} FROM stg", _table(rows))
    assert q is not None
    with psycopg.connect(postgres.dsn) as con:
        con.execute("SET TIME ZONE 'UTC'")
        con.execute(f"CREATE TEMP TABLE t (k serial, {cols})")
        con.execute(*q)  # unnest gives the rows in array order: k numbers them
        got = con.execute(f"SELECT {names} FROM t ORDER BY k").fetchall()
    assert len(got) == len(rows)
    for want_row, got_row in zip(rows, got, strict=True):
        for k, g in zip(_TYPES, got_row, strict=True):
            assert _same(want_row[k], g), (k, want_row[k], g)


_KEYED = st.lists(
    st.tuples(st.integers(0, 12), st.integers(-1000, 1000)), max_size=12, unique_by=lambda r: r[0]
)


@pytest.mark.parametrize(
    "with_rows", [(True, True, True), (True, False, True), (False, True, False)]
)
@settings(max_examples=40, deadline=None)  # a server round per example
@given(old=_KEYED, new_a=_KEYED, new_b=_KEYED, new_c=_KEYED)
def test_statements_together_count_and_store_as_one_by_one(
    postgres: Any,
    with_rows: tuple[bool, bool, bool],
    old: list[tuple[int, int]],
    new_a: list[tuple[int, int]],
    new_b: list[tuple[int, int]],
    new_c: list[tuple[int, int]],
) -> None:
    """The small tables' statements joined into one (``postgres_store._together``, as the
    ingest's writes send them) store what running them one by one stores, and return the
    same row counts: ``DO NOTHING`` against stored keys, ``DO UPDATE`` counting updated
    rows too, tables left out, empty tables."""
    import psycopg
    from fluxfleet.store.postgres_store import _arrays, _statement, _together

    statements = [
        "INSERT INTO a (k, v) SELECT k, v FROM stg ORDER BY k ON CONFLICT DO NOTHING",
        "INSERT INTO b (k, v) SELECT k, v FROM stg ORDER BY k "
        "ON CONFLICT (k) DO UPDATE SET v = b.v + excluded.v",
        "INSERT INTO c (k, v) SELECT k, v FROM stg ON CONFLICT DO NOTHING",
    ]
    tables = [
        pa.table({"k": pa.array([k for k, _ in rows], pa.int64()),
                  "v": pa.array([v for _, v in rows], pa.int64())})
        for rows in (new_a, new_b, new_c)
    ]  # fmt: skip
    chosen = [i for i, keep in enumerate(with_rows) if keep and tables[i].num_rows]

    def run(together: bool) -> tuple[list[int], list[Any]]:
        with psycopg.connect(postgres.dsn) as con:
            for name in "abc":
                con.execute(f"CREATE TEMP TABLE {name} (k bigint PRIMARY KEY, v bigint)")
                con.cursor().executemany(f"INSERT INTO {name} VALUES (%s, %s)", old)
            if together and chosen:
                parts = tuple((statements[i], tables[i].schema) for i in chosen)
                params = [a for i in chosen for a in _arrays(tables[i])]
                row = con.execute(_together(parts), params).fetchone()
                assert row is not None
                counts = [int(n) for n in row]
            else:
                counts = []
                for i in chosen:
                    q = _statement(statements[i], tables[i])
                    assert q is not None
                    counts.append(con.execute(*q).rowcount)
            stored = [con.execute(f"SELECT k, v FROM {n} ORDER BY k").fetchall() for n in "abc"]
            con.rollback()
        return counts, stored

    assert run(together=True) == run(together=False)


def test_together_refuses_nothing() -> None:
    from fluxfleet.store.postgres_store import _together

    with pytest.raises(ValueError, match="no statements"):
        _together(())
