"""Settings precedence (options > environment > --config TOML > defaults) and the server
commands' errors (exit 2 for bad usage, 1 for an unusable store, never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fluxfleet.cli import app
from fluxfleet.settings import SettingsError, load_settings
from fluxfleet.store import open_store
from typer.testing import CliRunner


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "fleet.toml"
    cfg.write_text('broker = "mqtt://toml:1"\nstore = "duckdb:///toml.duckdb"\ngroup = "g"\n')
    monkeypatch.delenv("FLUXFLEET_BROKER", raising=False)
    monkeypatch.delenv("FLUXFLEET_STORE", raising=False)
    s = load_settings(cfg)
    assert (s.broker, s.store_url, s.group) == ("mqtt://toml:1", "duckdb:///toml.duckdb", "g")
    monkeypatch.setenv("FLUXFLEET_BROKER", "mqtt://env:2")
    s = load_settings(cfg)
    assert s.broker_address == ("env", 2)
    s = load_settings(cfg, broker="mqtt://opt:3", store=None)
    assert s.broker_address == ("opt", 3)
    assert s.store_url == "duckdb:///toml.duckdb"


def test_default_store_in_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUXFLEET_STORE", raising=False)
    monkeypatch.setenv("FLUXFLEET_DATA_DIR", "/srv/fleet")
    assert load_settings().store_url == "duckdb:////srv/fleet/fluxfleet.duckdb"
    monkeypatch.setenv("FLUXFLEET_DATA_DIR", "var")
    assert load_settings().store_url == "duckdb:///var/fluxfleet.duckdb"


def test_bad_settings_name_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('receive_maximum = 70000\nbrokr = "x"\n')
    with pytest.raises(SettingsError, match="receive_maximum") as err:
        load_settings(cfg)
    assert "brokr" in str(err.value)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(SettingsError, match="broker"):
        load_settings(broker="tcp://x")


def test_export_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    store = f"duckdb:///{tmp_path}/s.duckdb"
    out = str(tmp_path / "x.parquet")
    r = runner.invoke(app, ["export", "--store", store, "--table", "nope", "-o", out])
    assert r.exit_code == 2
    assert "--table" in r.output
    r = runner.invoke(app, ["export", "--store", store, "--table", "samples", "-o", "x.txt"])
    assert r.exit_code == 2
    r = runner.invoke(
        app, ["export", "--store", store, "--table", "samples", "--from", "soon", "-o", out]
    )
    assert r.exit_code == 2
    assert "--from" in r.output
    r = runner.invoke(app, ["export", "--store", "mysql://x", "--table", "samples", "-o", out])
    assert r.exit_code == 1
    assert "unknown store URL" in r.output


def test_export_empty_table_and_time_window(tmp_path: Path) -> None:
    store = f"duckdb:///{tmp_path}/s.duckdb"
    open_store(store).close()
    runner = CliRunner()
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"closures.{suffix}"
        r = runner.invoke(
            app,
            ["export", "--store", store, "--table", "closures", "--from", "2023-09-15",
             "--to", "2023-09-16T00:00:00Z", "-o", str(out)],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert out.is_file()
    assert not list(tmp_path.glob(".*tmp"))  # nothing half-written left behind


def test_ingest_without_a_broker_exits_1(tmp_path: Path) -> None:
    from fluxfleet.sim.broker import free_port

    r = CliRunner().invoke(
        app,
        ["ingest", "--broker", f"mqtt://127.0.0.1:{free_port()}",
         "--store", f"duckdb:///{tmp_path}/s.duckdb"],
    )  # fmt: skip
    assert r.exit_code == 1
    assert "cannot reach the broker" in r.output
