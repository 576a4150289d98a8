"""The DuckDB store caps DuckDB's memory (its buffer pool grew without bound over a season)."""

from __future__ import annotations

from pathlib import Path

from fluxfleet.store import open_store
from fluxfleet.store.duckdb_store import DuckDBStore


def _limit(st: DuckDBStore) -> str:
    return str(st.con.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def test_default_and_chosen_memory_limit(tmp_path: Path) -> None:
    with open_store(f"duckdb:///{tmp_path / 'a.duckdb'}") as st:
        assert isinstance(st, DuckDBStore)
        assert _limit(st) == "1.8 GiB"  # DuckDB prints 2GB (10^9 bytes) in GiB
    with open_store(f"duckdb:///{tmp_path / 'b.duckdb'}", memory_limit="300MB") as st:
        assert isinstance(st, DuckDBStore)
        assert _limit(st) == "286.1 MiB"
