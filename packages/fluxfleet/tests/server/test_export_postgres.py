"""``fluxfleet export`` of a PostgreSQL store (the ADBC stream): the DuckDB export's files.

The same rows go into a DuckDB store and into a real PostgreSQL server; each table's
export from the one must equal the other's exactly (Parquet: ``pyarrow.Table.equals``,
columns, types, values and order; CSV: byte for byte). Parquet's required/optional flag
is not compared: DuckDB writes "required" where its statistics of the source saw no NULL
(a DuckDB store's key columns, say), which an Arrow stream never has; values are the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fluxfleet import export_postgres
from fluxfleet.cli import app
from fluxfleet.export import export_table, export_url
from fluxfleet.ingest.batch import BatchBuilder
from fluxfleet.store import Batch, StoreError, open_store, schema
from typer.testing import CliRunner

RECEIVED_MS = 1_800_000_000_000
T0 = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC)  # the fleet fixture's start


def _optional(t: pa.Table) -> pa.Table:
    """``t`` with every field nullable (see the module's docstring)."""
    return t.cast(pa.schema([f.with_nullable(True) for f in t.schema]))


def _fluxes(closures: pa.Table) -> pa.Table:
    """One flux per closure, with a NaN SE and flags on some (values are arbitrary)."""
    rows = []
    for i, c in enumerate(closures.to_pylist()):
        rows.append(
            {
                "device": c["device"], "cyc": c["cyc"], "location": c["location"],
                "start": c["time_close"], "end": c["time_open"],
                "flux_umol_m2_s": 0.1 * i + 0.3, "flux_se_umol_m2_s": None if i % 3 else 0.01,
                "model": "linear" if i % 2 else "hm", "flags": "" if i % 4 else "low_r2,short",
                "n_fit": 40 + i, "r2": 0.9, "deadband_s": 20.0, "computed": RECEIVED_MS + i,
            }
        )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema.FLUXES)


def _dead_letters() -> pa.Table:
    payloads = [b"\x00\xffab", b"{not json", "caf\u00e9 \u2713".encode()]
    return pa.table(
        {
            "received": pa.array([RECEIVED_MS + i for i in range(3)], schema.TIME),
            "topic": ["fleet/x/telemetry", "fleet/y/cycle", 'fleet/"q",z/meta'],
            "payload": pa.array(payloads, pa.binary()),
            "reason": ["bad json", "schema: field 'ts'", "device, in topic"],
            "last_received": pa.array([RECEIVED_MS + 9_000 + i for i in range(3)], schema.TIME),
            "received_count": [2, 1, 5],
            "payload_sha256": [hashlib.sha256(p).hexdigest() for p in payloads],
        }
    )


@pytest.fixture(scope="module")
def fleet_batch(fleet_messages: list[tuple[str, bytes]]) -> Batch:
    b = BatchBuilder({})
    for topic, payload in fleet_messages:
        assert b.add(topic, payload, RECEIVED_MS), topic
    batch = b.build()
    assert batch.samples.num_rows > 1000
    assert batch.closures.num_rows > 10
    return batch


def _fill(url: str, batch: Batch) -> None:
    with open_store(url) as st:
        st.write(batch)
        st.write(Batch(dead_letters=_dead_letters()))
        st.write_fluxes(_fluxes(batch.closures))


def _new_database(postgres: Any) -> str:
    """A fresh database on the test server (migrated by the first ``open_store``)."""
    import psycopg

    name = f"x_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"


@pytest.fixture
def pg_url(postgres: Any) -> str:
    return _new_database(postgres)


@pytest.fixture(scope="module")
def stores(
    fleet_batch: Batch, postgres: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """(DuckDB URL, PostgreSQL URL), both holding the same rows (the tests only read)."""
    duck_url = f"duckdb:///{tmp_path_factory.mktemp('export') / 'fleet.duckdb'}"
    pg_url = _new_database(postgres)
    _fill(duck_url, fleet_batch)
    _fill(pg_url, fleet_batch)
    return duck_url, pg_url


WINDOW = (T0 + dt.timedelta(minutes=20), T0 + dt.timedelta(minutes=75))


@pytest.mark.parametrize(
    ("table", "window"),
    [
        ("samples", (None, None)),
        ("samples", WINDOW),
        ("closures", (None, None)),
        ("closures", WINDOW),
        ("fluxes", WINDOW),
        ("devices", (None, None)),
        ("dead_letters", (None, None)),
    ],
)
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_postgres_export_equals_duckdb_export(
    stores: tuple[str, str],
    tmp_path: Path,
    table: str,
    window: tuple[dt.datetime | None, dt.datetime | None],
    suffix: str,
) -> None:
    duck_url, pg_url = stores
    outs = []
    for name, url in (("duckdb", duck_url), ("postgresql", pg_url)):
        out = tmp_path / f"{name}{suffix}"
        n = export_url(url, table, out, *window, 2000.0, 300.0)
        outs.append((n, out))
    (n_duck, duck), (n_pg, pg) = outs
    assert n_pg == n_duck > 0
    if suffix == ".parquet":
        got, want = _optional(pq.read_table(pg)), _optional(pq.read_table(duck))
        assert got.schema == want.schema
        assert got.equals(want)
        assert got.num_rows == n_duck
    else:
        assert pg.read_bytes() == duck.read_bytes()


def test_samples_come_sorted_from_the_stream(
    pg_url: str, fleet_batch: Batch, tmp_path: Path
) -> None:
    """Stored out of (device, seq) order, the samples leave in it: the file is sorted."""
    import pyarrow.compute as pc

    samples = fleet_batch.samples
    late = pc.greater_equal(samples["seq"], pc.min_max(samples["seq"])["max"].as_py() // 2)
    with open_store(pg_url) as st:  # the later half first: the table's order is not the key's
        st.write(Batch(samples=samples.filter(late)))
        st.write(Batch(samples=samples.filter(pc.invert(late))))
    out = tmp_path / "samples.parquet"
    assert export_url(pg_url, "samples", out, None, None, 2000.0, 300.0) == samples.num_rows
    got = pq.read_table(out, columns=["device", "seq", "chamber"])
    keys = list(zip(got["device"].to_pylist(), got["seq"].to_pylist(), strict=True))
    assert keys == sorted(
        zip(samples["device"].to_pylist(), samples["seq"].to_pylist(), strict=True)
    )
    assert got["chamber"].to_pylist() == got["device"].to_pylist()  # laid out after the sort


def test_the_store_object_takes_the_same_path(stores: tuple[str, str], tmp_path: Path) -> None:
    """``export_table`` with an open PostgresStore streams through ADBC as the CLI does."""
    duck_url, pg_url = stores
    with open_store(pg_url) as st:
        export_table(st, "samples", tmp_path / "pg.parquet", *WINDOW, 2000.0, 300.0)
    export_url(duck_url, "samples", tmp_path / "duck.parquet", *WINDOW, 2000.0, 300.0)
    got = _optional(pq.read_table(tmp_path / "pg.parquet"))
    assert got.equals(_optional(pq.read_table(tmp_path / "duck.parquet")))


def test_an_empty_range_writes_the_typed_empty_file(
    stores: tuple[str, str], tmp_path: Path
) -> None:
    duck_url, pg_url = stores
    far = (T0 + dt.timedelta(days=300), T0 + dt.timedelta(days=301))
    for name, url in (("duckdb", duck_url), ("postgresql", pg_url)):
        assert export_url(url, "samples", tmp_path / f"{name}.parquet", *far, 1.0, 1.0) == 0
    got, want = (
        pq.read_table(tmp_path / "postgresql.parquet"),
        pq.read_table(tmp_path / "duckdb.parquet"),
    )
    assert got.num_rows == 0
    assert _optional(got).schema == _optional(want).schema


def test_a_stream_failing_midway_leaves_no_file(
    pg_url: str, fleet_batch: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's error after rows were sent: a StoreError, the old file untouched."""
    _fill(pg_url, fleet_batch)
    n = fleet_batch.samples.num_rows

    def failing(*args: object, **kwargs: object) -> str:  # division by zero at row n // 2
        cols = ", ".join(f'"{c}"' for c in export_postgres_columns())
        return f"SELECT {cols}, 1 / (row_number() OVER () - {n // 2}) AS boom FROM samples"

    monkeypatch.setattr(export_postgres, "select_sql", failing)
    out = tmp_path / "day.parquet"
    out.write_bytes(b"the previous export")
    with pytest.raises(StoreError, match="division by zero"):
        export_url(pg_url, "samples", out, None, None, 1.0, 1.0)
    assert out.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.parquet"]


def export_postgres_columns() -> list[str]:
    from fluxfleet.export import _SAMPLES_READ

    return _SAMPLES_READ


def test_select_sql() -> None:
    t0 = dt.datetime(2026, 4, 2)  # naive: UTC
    q = export_postgres.select_sql("samples", t0, None, ["device", "seq"])
    assert q == (
        'SELECT "device", "seq" FROM samples WHERE "time" >= '
        "'2026-04-02T00:00:00+00:00'::timestamptz"
    )
    assert export_postgres.select_sql("command_targets", None, None) == (
        "SELECT * FROM command_targets"
    )
    with pytest.raises(ValueError, match="no time column"):
        export_postgres.select_sql("command_targets", t0, None)
    with pytest.raises(ValueError, match="unknown table"):
        export_postgres.select_sql("samples; DROP TABLE x", None, None)


def test_redacted() -> None:
    assert export_postgres.redacted("postgresql://u:s3cret@h:5/db") == "postgresql://u:***@h:5/db"
    assert export_postgres.redacted("postgresql://u@h/db") == "postgresql://u@h/db"


# --------------------------------------------------------------------------- the CLI

runner = CliRunner()


def _export(url: str, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["export", "--store", url, *args])
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.output


def test_cli_unreachable_server_and_bad_urls(tmp_path: Path) -> None:
    from testsupport.services import free_port

    out = tmp_path / "x.parquet"
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/db"
    for url, said in (
        (closed, "Connection refused"),
        ("postgresql://u:pw@127.0.0.1:abc/db", 'invalid integer value "abc"'),
        ("postgresql://[::1", "IPv6"),
    ):
        code, text = _export(url, "--table", "samples", "-o", str(out))
        assert code == 1, text
        assert "fluxfleet: error: cannot read the PostgreSQL store" in text
        assert said in text
        assert "pw" not in text
    assert not list(tmp_path.iterdir())


def test_cli_missing_database(pg_url: str, tmp_path: Path) -> None:
    code, text = _export(pg_url + "_nope", "--table", "samples", "-o", str(tmp_path / "x.csv"))
    assert code == 1
    assert "does not exist" in text
    assert not list(tmp_path.iterdir())


def test_cli_bad_times(pg_url: str, tmp_path: Path) -> None:
    out = str(tmp_path / "x.parquet")
    for args, said in (
        (["--from", "yesterday"], "expected an ISO 8601 time"),
        (["--from", "2026-04-02", "--to", "2026-04-01"], "is not after --from"),
        (["--from", "2026-04-02T00:00Z", "--to", "2026-04-02T00:00Z"], "is not after --from"),
    ):
        code, text = _export(pg_url, "--table", "samples", *args, "-o", out)
        assert code == 2, text
        assert said in text
    code, text = _export(pg_url, "--table", "command_targets", "--from", "2026-04-02", "-o", out)
    assert code == 2
    assert "no time column" in text
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_cli_output_that_cannot_be_written(stores: tuple[str, str], backend: str) -> None:
    """A directory where no file can be made (/proc): exit 1 naming the file, no traceback."""
    url = stores[0] if backend == "duckdb" else stores[1]
    code, text = _export(url, "--table", "closures", "-o", "/proc/closures.parquet")
    assert code == 1, text
    assert "fluxfleet: error: cannot write /proc/closures.parquet" in text


def test_cli_exports_a_day(stores: tuple[str, str], tmp_path: Path) -> None:
    _duck, pg_url = stores
    out = tmp_path / "day.parquet"
    code, text = _export(
        pg_url, "--table", "samples", "--from", WINDOW[0].isoformat(), "--to",
        WINDOW[1].isoformat(), "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    n = pq.read_table(out).num_rows
    assert n > 0
    assert f"{n:,} samples rows -> {out}" in text


EXPORT_IMPORTS = """
import sys
from fluxfleet.cli import app
sys.argv = ["fluxfleet", "export", "--store", sys.argv[1], "--table", "samples",
            "--from", "2023-09-15T20:00:00Z", "--to", "2023-09-16T00:00:00Z", "-o", sys.argv[2]]
try:
    app()
except SystemExit as exc:
    assert not exc.code, exc.code
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "pyarrow", "pandas"})))
"""  # as tests/server/test_export.py's, on a PostgreSQL store


def test_exporting_a_postgres_store_imports_no_numpy_pyarrow_or_pandas(
    stores: tuple[str, str], tmp_path: Path
) -> None:
    """The ADBC DB-API module would import pandas (≈ 1 CPU-s of a 2-s budget); the
    low-level API and DuckDB's Arrow stream scan need none of the three."""
    import subprocess
    import sys

    _duck, pg_url = stores
    out = tmp_path / "day.parquet"
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_IMPORTS, pg_url, str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == ""
    assert pq.read_table(out).num_rows > 0  # and it did export the rows
