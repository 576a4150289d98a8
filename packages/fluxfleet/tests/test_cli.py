"""The ``fluxfleet`` command line: ``--version``, ``sim`` and ``demo``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fluxfleet import __version__
from fluxfleet.cli import app
from fluxfleet.sim.truth import read_truth
from typer.testing import CliRunner

from testsupport.services import Broker

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"fluxfleet {__version__}"


def test_sim_help_lists_the_issue_options() -> None:
    result = runner.invoke(app, ["sim", "--help"])
    assert result.exit_code == 0
    for opt in ("--chambers", "--hours", "--speed", "--broker", "--truth", "--faults", "--seed"):
        assert opt in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--broker", "http://x:1"], "expected mqtt://HOST:PORT"),
        (["--broker", "mqtt://h:1", "--speed", "fast"], "expected 'max' or a positive"),
        (["--broker", "mqtt://h:1", "--start", "yesterday"], "expected an ISO 8601"),
    ],
)
def test_sim_refuses_bad_options(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim", "--truth", str(tmp_path / "t.parquet"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_sim_names_the_bad_line_of_a_fault_file(tmp_path: Path) -> None:
    faults = tmp_path / "faults.csv"
    faults.write_text("kind,chamber,start_h,end_h\nclogged,1,0.1,0.2\nexploded,1,0.1,0.2\n")
    result = runner.invoke(
        app,
        ["sim", "--broker", "mqtt://127.0.0.1:1", "--truth", str(tmp_path / "t.parquet"),
         "--faults", str(faults), "--chambers", "2"],
    )  # fmt: skip
    assert result.exit_code == 1  # a schedule file that cannot be used is bad input data
    assert "faults.csv:3" in result.output
    assert not (tmp_path / "t.parquet").exists()


def test_sim_reports_an_unreachable_broker(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["sim", "--broker", "mqtt://127.0.0.1:1", "--truth", str(tmp_path / "t.parquet"),
         "--chambers", "1", "--hours", "0.05", "--faults", "none", "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot reach the broker" in result.output
    assert not (tmp_path / "t.parquet").exists()


def test_sim_through_mosquitto_writes_the_truth(mosquitto: Broker, tmp_path: Path) -> None:
    truth = tmp_path / "truth.parquet"
    result = runner.invoke(
        app,
        ["sim", "--chambers", "4", "--hours", "0.5", "--speed", "max", "--broker", mosquitto.url,
         "--truth", str(truth), "--faults", "default", "--seed", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    m = re.search(r"([\d,]+) samples in", result.output)
    assert m is not None
    # 4 chambers × 600 samples, less a few seconds of the default schedule's reboot
    assert 4 * 600 - 10 <= int(m.group(1).replace(",", "")) <= 4 * 600
    closures, faults = read_truth(truth)
    assert len(closures) == 4 * 3
    assert set(closures["chamber"]) == {"ch000", "ch001", "ch002", "ch003"}
    assert (tmp_path / "truth.faults.parquet").exists()
    assert len(faults) == 8


def test_demo_falls_back_in_process_without_mosquitto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOSQUITTO_BIN", str(tmp_path / "no-such-mosquitto"))
    out = tmp_path / "demo.png"
    store = tmp_path / "demo.duckdb"
    result = runner.invoke(
        app,
        ["demo", "--out", str(out), "--chambers", "4", "--hours", "1", "--store-file", str(store)],
    )
    assert result.exit_code == 0, result.output
    assert "falls back to an in-process link" in result.output
    assert f"read back from the store {store}" in result.output
    assert "dead letters 0" in result.output
    assert "per chamber" in result.output
    assert "injected faults and the soilflux quality flags" in result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out.resolve()) in result.output


@pytest.mark.slow
def test_demo_through_mosquitto(mosquitto: Broker, tmp_path: Path) -> None:
    """The demo starts its own Mosquitto (the fixture only proves one is installed)."""
    out = tmp_path / "demo.png"
    store = tmp_path / "demo.duckdb"
    result = runner.invoke(app, ["demo", "--out", str(out), "--store-file", str(store)])
    assert result.exit_code == 0, result.output
    assert "broker: Mosquitto" in result.output
    assert "dead letters 0" in result.output
    m = re.search(r"samples ([\d,]+) \(the devices took ([\d,]+)\)", result.output)
    assert m is not None, result.output
    stored, taken = (int(g.replace(",", "")) for g in m.groups())
    # every sample through the broker into the store, but for the firmware's documented
    # RAM loss at each injected unplanned reset (< ring.COMMIT_EVERY samples each)
    from fluxfleet.firmware import ring

    resets = result.output.split("\n", 1)[0].count("reboot on")
    assert 0 <= taken - stored <= resets * (ring.COMMIT_EVERY - 1)
    assert out.exists()
