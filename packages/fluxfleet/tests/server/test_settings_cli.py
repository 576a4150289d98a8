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


def _clear_fluxfleet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.upper().startswith("FLUXFLEET_"):
            monkeypatch.delenv(k)


@pytest.mark.parametrize("store", [None, "postgresql://u@h/db", "duckdb:////srv/x.duckdb"])
def test_options_only_are_the_declared_settings(
    store: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without config or environment, the light path gives what load_settings gives."""
    from fluxfleet.settings_defaults import options_only

    _clear_fluxfleet_env(monkeypatch)
    light, full = options_only(None, store), load_settings(store=store)
    assert light is not None
    for name in ("store", "data_dir", "chamber_volume_cm3", "chamber_area_cm2", "store_url"):
        assert getattr(light, name) == getattr(full, name), name


def test_options_only_defers_to_config_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fluxfleet.settings_defaults import options_only

    _clear_fluxfleet_env(monkeypatch)
    assert options_only(tmp_path / "fleet.toml", "duckdb:///x.duckdb") is None
    monkeypatch.setenv("fluxfleet_chamber_area_cm2", "300")  # pydantic reads any case
    assert options_only(None, "duckdb:///x.duckdb") is None
    assert load_settings().chamber_area_cm2 == 300.0


def test_export_reads_the_chamber_from_the_environment_and_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export's chamber volume and area: defaults, then FLUXFLEET_*, then --config."""
    import pyarrow.parquet as pq
    from fluxfleet.settings_defaults import DEFAULT_AREA_CM2, DEFAULT_VOLUME_CM3
    from fluxfleet.store import Batch

    from .test_export import _samples

    _clear_fluxfleet_env(monkeypatch)
    store = f"duckdb:///{tmp_path}/s.duckdb"
    with open_store(store) as st:
        st.write(Batch(samples=_samples()))
    cfg = tmp_path / "fleet.toml"
    cfg.write_text("chamber_volume_cm3 = 1234.5\n")
    out = tmp_path / "s.parquet"
    cmd = ["export", "--store", store, "--table", "samples", "-o", str(out)]
    runner = CliRunner()
    for env, extra, want in (
        ({}, [], (DEFAULT_VOLUME_CM3, DEFAULT_AREA_CM2)),
        ({"FLUXFLEET_CHAMBER_AREA_CM2": "300"}, [], (DEFAULT_VOLUME_CM3, 300.0)),
        ({}, ["--config", str(cfg)], (1234.5, DEFAULT_AREA_CM2)),
    ):
        r = runner.invoke(app, cmd + extra, env=env)
        assert r.exit_code == 0, r.output
        t = pq.read_table(out, columns=["volume_cm3", "area_cm2"])
        got = (t["volume_cm3"][0].as_py(), t["area_cm2"][0].as_py())
        assert got == want, (env, extra)
