"""``fluxfleet export``: one DuckDB COPY gives the layout of ``generic_samples_table``."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fluxfleet.export import export_table, h2o_sql
from fluxfleet.ingest.layout import generic_samples_table, h2o_mmol_mol
from fluxfleet.store import Batch, Store, schema
from hypothesis import example, given
from hypothesis import strategies as st

T0_MS = 1_694_808_000_000  # 2023-09-15 20:00 UTC


def _samples() -> pa.Table:
    """Two devices over 2 h; b's clock set back by NTP once; inputs h2o must refuse."""
    rows = []
    for dev, n in (("b", 40), ("a", 30)):
        for seq in range(1, n + 1):
            t = T0_MS + seq * 180_000
            if dev == "b" and seq >= 20:
                t -= 3_600_000  # a backward clock step: (device, time) order ≠ seq order
            rows.append(
                {
                    "device": dev, "seq": seq, "time": t, "location": "5.1.A", "boot": 1,
                    "cyc": seq // 4, "phase": ["open", "closing", "closed", "extended",
                                               "flush", "weird"][seq % 6],
                    "co2_ppm": 420.0 + seq, "rh_percent": 60.0,
                    "scd30_temperature_c": 20.0 + seq % 3, "temperature_c": 18.0,
                    "pressure_hpa": 1000.0, "lux": 0.0, "lid_deg": 0, "fan_pct": 40,
                    "flags": 0, "received": t,
                }
            )  # fmt: skip
    rows[3]["scd30_temperature_c"] = 55.0  # outside e_s's range: NaN
    rows[4]["rh_percent"] = None  # missing: NaN
    rows[5]["pressure_hpa"] = 0.0  # refused: NaN
    rows[6]["co2_ppm"] = float("nan")
    return pa.Table.from_pylist(rows, schema=schema.SAMPLES)


def _assert_same(got: pa.Table, want: pa.Table) -> None:
    assert got.column_names == want.column_names
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        g, w = got[name], want[name]
        if pa.types.is_timestamp(w.type):  # DuckDB writes microseconds
            g, w = g.cast(pa.timestamp("us", "UTC")), w.cast(pa.timestamp("us", "UTC"))
        if pa.types.is_floating(w.type):
            np.testing.assert_allclose(
                g.to_numpy(zero_copy_only=False), w.to_numpy(zero_copy_only=False),
                rtol=1e-12, equal_nan=True, err_msg=name,
            )  # fmt: skip
        else:
            assert g.cast(w.type).to_pylist() == w.to_pylist(), name


def test_samples_export_equals_the_arrow_layout(store: Store, tmp_path: Path) -> None:
    data = _samples()
    store.write(Batch(samples=data))
    out = tmp_path / "samples.parquet"
    n = export_table(store, "samples", out, None, None, 2000.0, 300.0)
    assert n == data.num_rows
    want = generic_samples_table(store.read("samples"), 2000.0, 300.0)
    _assert_same(pq.read_table(out), want)
    h2o = pq.read_table(out)["h2o_mmol_mol"].to_numpy()
    assert np.isnan(h2o).sum() == 3  # the three refused rows, nothing else


def test_time_window_and_csv_format(store: Store, tmp_path: Path) -> None:
    store.write(Batch(samples=_samples()))
    start = dt.datetime.fromtimestamp(T0_MS / 1000 + 1800, dt.UTC)
    end = start + dt.timedelta(hours=1)
    out = tmp_path / "window.csv"
    n = export_table(store, "samples", out, start, end, 2000.0, 300.0)
    want = generic_samples_table(store.read("samples", start, end), 2000.0, 300.0)
    assert n == want.num_rows > 0
    text = out.read_text().splitlines()
    assert text[0].split(",")[:4] == ["time", "chamber", "device", "seq"]
    first = text[1].split(",")
    t_first = want["time"][0].as_py()  # whole seconds: ISO 8601 UTC with ms and Z
    assert first[0] == t_first.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    got = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    assert got["seq"].to_pylist() == want["seq"].to_pylist()
    assert got["device"].to_pylist() == want["device"].to_pylist()
    # NaN is an empty field in CSV
    nan_co2 = [math.isnan(v) for v in want["co2_ppm"].to_pylist()]
    assert [v is None for v in got["co2_ppm"].to_pylist()] == nan_co2


def test_dead_letters_csv_payload_hex(store: Store, tmp_path: Path) -> None:
    dead = pa.table(
        {
            "received": pa.array([T0_MS], schema.TIME),
            "topic": ["fleet/x/telemetry"],
            "payload": pa.array([b"\x00\xffab"], pa.binary()),
            "reason": ["bad json"],
            "last_received": pa.array([T0_MS + 5000], schema.TIME),
            "received_count": [2],
            "payload_sha256": [hashlib.sha256(b"\x00\xffab").hexdigest()],
        }
    )
    store.write(Batch(dead_letters=dead))
    out = tmp_path / "dead.csv"
    assert export_table(store, "dead_letters", out, None, None, 1.0, 1.0) == 1
    lines = out.read_text().splitlines()
    assert lines[0] == "received,topic,payload,reason,last_received,received_count,payload_sha256"
    assert lines[1].startswith(
        "2023-09-15T20:00:00.000Z,fleet/x/telemetry,00ff6162,bad json,2023-09-15T20:00:05.000Z,2,"
    )
    pq_out = tmp_path / "dead.parquet"
    export_table(store, "dead_letters", pq_out, None, None, 1.0, 1.0)
    assert pq.read_table(pq_out)["payload"].to_pylist() == [b"\x00\xffab"]


def test_no_time_range_on_a_table_without_time(store: Store, tmp_path: Path) -> None:
    t = dt.datetime(2023, 9, 15, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="no time column"):
        export_table(store, "command_targets", tmp_path / "x.parquet", t, None, 1.0, 1.0)
    assert not list(tmp_path.iterdir())


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(
    rh=st.one_of(st.floats(-5.0, 105.0), st.none()),
    t=st.one_of(st.floats(-45.0, 55.0), finite, st.none()),
    p=st.one_of(st.floats(-10.0, 1100.0), st.none()),
)
@example(rh=100.0, t=50.0, p=1e-300)
@example(rh=0.0, t=-40.0, p=1013.25)
@example(rh=50.0, t=float("nan"), p=1000.0)
def test_h2o_sql_is_soilflux(rh: float | None, t: float | None, p: float | None) -> None:
    import duckdb

    con = duckdb.connect()
    sql = h2o_sql("$rh::DOUBLE", "$t::DOUBLE", "$p::DOUBLE")
    got = con.execute(f"SELECT {sql}", {"rh": rh, "t": t, "p": p}).fetchall()[0][0]
    want = h2o_mmol_mol(
        np.array([np.nan if rh is None else rh]),
        np.array([np.nan if t is None else t]),
        np.array([np.nan if p is None else p]),
    )[0]
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(want, rel=1e-12)


def test_phase_names_are_the_ingest_modules() -> None:
    """export.py restates two constants of fluxfleet.ingest (to import no numpy/pyarrow)."""
    from fluxfleet import export
    from fluxfleet.ingest.batch import CLOSURE_PHASES
    from fluxfleet.ingest.layout import SOILFLUX_PHASE

    assert export.SOILFLUX_PHASE == SOILFLUX_PHASE
    assert export.CLOSURE_PHASES == CLOSURE_PHASES


def test_table_names_are_the_schemas() -> None:
    from fluxfleet.store import tables

    assert tuple(schema.TABLES) == tables.NAMES
    assert schema.TIME_COLUMN is tables.TIME_COLUMN


EXPORT_IMPORTS = """
import sys
from fluxfleet.cli import app
sys.argv = ["fluxfleet", "export", "--store", sys.argv[1], "--table", "samples",
            "--from", "2023-09-15T20:00:00Z", "--to", "2023-09-16T00:00:00Z", "-o", sys.argv[2]]
try:
    app()
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = {"numpy", "pyarrow", "pandas", "pydantic", "pydantic_settings"}
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def test_exporting_a_duckdb_store_imports_no_numpy_or_pyarrow(tmp_path: Path) -> None:
    """Process start is most of a one-day export: numpy and pyarrow were ≈ 0.3 CPU-s of it,
    pydantic-settings ≈ 0.4 (not needed when no config file and no FLUXFLEET_* variable)."""
    import os
    import subprocess
    import sys

    from fluxfleet.store import open_store

    url = f"duckdb:///{tmp_path / 'f.duckdb'}"
    with open_store(url) as st_:
        st_.write(Batch(samples=_samples()))
    out = tmp_path / "day.parquet"
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_IMPORTS, url, str(out)],
        capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if not k.upper().startswith("FLUXFLEET_")},
    )  # fmt: skip
    assert done.stdout.strip() == ""
    assert pq.read_table(out).num_rows == 70  # and it did export the rows
