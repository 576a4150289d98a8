"""Every CLI's --help shows the units in brackets (Rich markup would swallow them)."""

from __future__ import annotations

import pytest
import typer
from amrr.cli import app as amrr_app
from fluxfleet.cli import app as fluxfleet_app
from soilflux.cli import app as soilflux_app
from typer.testing import CliRunner


@pytest.mark.parametrize(
    ("app", "args", "expected"),
    [
        (soilflux_app, ["compute", "--help"], "[cm³]"),
        (soilflux_app, ["compute", "--help"], "[cm²]"),
        (soilflux_app, ["precision", "--help"], "[ppm]"),
        (fluxfleet_app, ["sensor-lag", "--help"], "[s]"),
        (fluxfleet_app, ["sim", "--help"], "[ppm]"),
        (fluxfleet_app, ["ingest", "--help"], "[s]"),
        (amrr_app, ["props", "ggg", "--help"], "[T]"),
        (amrr_app, ["props", "ggg", "--help"], "[K]"),
    ],
)
def test_help_keeps_units_in_brackets(app: typer.Typer, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert expected in result.output
