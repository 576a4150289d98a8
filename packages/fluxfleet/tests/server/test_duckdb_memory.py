"""The DuckDB store caps DuckDB's memory (its buffer pool grew without bound over a season)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fluxfleet.store import StoreError, open_store
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


def test_memory_limit_from_the_url(tmp_path: Path) -> None:
    with open_store(f"duckdb:///{tmp_path / 'c.duckdb'}?memory_limit=3GB") as st:
        assert isinstance(st, DuckDBStore)
        assert st.path == str(tmp_path / "c.duckdb")  # the query is not part of the file
        assert _limit(st) == "2.7 GiB"
    assert (tmp_path / "c.duckdb").is_file()
    assert not list(tmp_path.glob("*memory_limit*"))
    # an explicit option overrides the URL's
    with open_store(
        f"duckdb:///{tmp_path / 'c.duckdb'}?memory_limit=3GB", memory_limit="1GB"
    ) as st:
        assert isinstance(st, DuckDBStore)
        assert _limit(st) == "953.6 MiB"
    with open_store("duckdb:///:memory:?memory_limit=500MB") as st:
        assert isinstance(st, DuckDBStore)
        assert _limit(st) == "476.8 MiB"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("memory_limit=lots", "is not a size"),
        ("memory_limit=", "is not a size"),
        ("memory_limit=3XB", "is not a size"),
        ("threads=1", "unknown option 'threads'"),
        ("memory_limit", "bad query"),
    ],
)
def test_bad_url_options_are_refused(tmp_path: Path, query: str, says: str) -> None:
    path = tmp_path / "d.duckdb"
    with pytest.raises(StoreError, match=says):
        open_store(f"duckdb:///{path}?{query}")
    assert not path.exists()  # refused before any file is made


def test_read_only_export_takes_the_url_limit(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'e.duckdb'}"
    open_store(url).close()
    with open_store(f"{url}?memory_limit=400MB", read_only=True) as st:
        assert isinstance(st, DuckDBStore)
        assert _limit(st) == "381.4 MiB"
