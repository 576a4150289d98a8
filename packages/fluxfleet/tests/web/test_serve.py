"""``fluxfleet serve`` and the console's store access: read-only, refused while a writer
holds a DuckDB file, clear errors for bad options."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from fluxfleet.settings import Settings
from fluxfleet.store import StoreError, open_store
from fluxfleet.web import create_app

from testsupport.services import free_port, wait_until

from .conftest import TestClient

FLUXFLEET = str(Path(sys.executable).parent / "fluxfleet")


def test_read_only_handle_does_not_write(store_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(store_path, copy)
    before = copy.read_bytes()
    with open_store(f"duckdb:///{copy}", read_only=True) as st:
        assert st.counts()["samples"] > 0
        with pytest.raises(StoreError, match="read-only"):
            st.write_fluxes(st.read("fluxes"))
    assert copy.read_bytes() == before


def test_read_only_refuses_missing_and_unmigrated_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no DuckDB store"):
        open_store(f"duckdb:///{tmp_path}/none.duckdb", read_only=True)
    import duckdb

    duckdb.connect(str(tmp_path / "bare.duckdb")).close()
    with pytest.raises(StoreError, match="schema"):
        open_store(f"duckdb:///{tmp_path}/bare.duckdb", read_only=True)


def test_console_answers_503_while_a_writer_holds_the_file(
    store_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "held.duckdb"
    shutil.copy(store_path, copy)
    url = f"duckdb:///{copy}"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from fluxfleet.store import open_store; "
         f"st = open_store({url!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with TestClient(create_app(Settings(store=url))) as c:
            r = c.get("/api/devices")
            assert r.status_code == 503
            assert "one writing process" in r.text
    finally:
        assert holder.stdin is not None
        assert holder.stdout is not None
        holder.stdin.close()
        holder.wait(30)
        holder.stdout.close()
    with TestClient(create_app(Settings(store=url))) as c:  # writer gone: served again
        assert c.get("/api/devices").status_code == 200


def test_serve_refuses_a_missing_store(tmp_path: Path) -> None:
    out = subprocess.run(
        [FLUXFLEET, "serve", "--store", f"duckdb:///{tmp_path}/none.duckdb"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert "no DuckDB store" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_answers_over_http(store_url: str, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [FLUXFLEET, "serve", "--store", store_url, "--port", str(port), "--bind", "127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:

        def answers() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/devices", timeout=2) as r:
                return bool(r.status == 200)

        wait_until(answers, timeout_s=60, what="fluxfleet serve", proc=proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert b"Fleet" in r.read()
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
