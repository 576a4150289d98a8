"""Result tables: written atomically, with the mode an ordinary file write gives."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
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
