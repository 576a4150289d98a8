"""Every CLI's --help: units in brackets (Rich markup would swallow them), a first line
that says what the command does, --json where results are printed."""

from __future__ import annotations

import re

import click
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


APPS = {"soilflux": soilflux_app, "fluxfleet": fluxfleet_app, "amrr": amrr_app}


def _leaf_commands() -> list[tuple[str, list[str], click.Command]]:
    """Every runnable command of the three CLIs: (program, path of names, command)."""
    found: list[tuple[str, list[str], click.Command]] = []

    def walk(program: str, path: list[str], command: click.Command) -> None:
        # duck-typed: typer >= 0.2x vendors click (typer._click), so its groups are not
        # click.Group instances and an isinstance test would silently find no command
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(program, [*path, name], sub)
        else:
            found.append((program, path, command))

    for program, app in APPS.items():
        walk(program, [], typer.main.get_command(app))
    return found


LEAVES = _leaf_commands()


@pytest.mark.parametrize("program", APPS)
def test_root_help_says_what_the_program_does(program: str) -> None:
    result = CliRunner().invoke(APPS[program], ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    description = result.output.split("\n\n")[1].strip()
    assert description, result.output
    assert not description.startswith("Command-line interface"), description


@pytest.mark.parametrize(
    ("program", "path", "command"), LEAVES, ids=[" ".join([p, *n]) for p, n, _ in LEAVES]
)
def test_every_command_help_begins_with_what_it_does(
    program: str, path: list[str], command: click.Command
) -> None:
    result = CliRunner().invoke(APPS[program], [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    _usage, description = result.output.split("\n\n")[:2]
    first = description.strip()[:1]
    assert first.isupper() or first.isdigit(), (
        result.output
    )  # a sentence ("3He-4He ..."), not a name
    assert "Command-line interface" not in description
    # No Python type beside an argument (typer 0.29 prints "FILE <list[Path]>" whatever
    # the metavar: hence typer<0.29 in the packages' dependencies)
    assert not re.search(r"<list\[", result.output), result.output
    # Arguments are named for the user (FILE), not after the Python parameter (inputs).
    for param in command.params:
        if param.param_type_name == "argument":
            assert param.metavar is not None, f"{param.name}: give the argument a metavar"
            assert param.metavar.isupper(), f"{param.metavar}: an argument's name is upper case"


#: Commands that print their results on stdout: each takes --json (machine-readable).
PRINTS_RESULTS = [
    ("soilflux", ["precision"]),
    ("fluxfleet", ["sensor-lag"]),
    ("amrr", ["props", "ggg"]),
    ("amrr", ["props", "glf"]),
    ("amrr", ["props", "he4"]),
    ("amrr", ["props", "mixture"]),
]


@pytest.mark.parametrize(("program", "path"), PRINTS_RESULTS)
def test_commands_that_print_results_take_json(program: str, path: list[str]) -> None:
    result = CliRunner().invoke(APPS[program], [*path, "--help"], terminal_width=200)
    assert "--json" in result.output


@pytest.mark.parametrize(
    ("program", "path", "command"), LEAVES, ids=[" ".join([p, *n]) for p, n, _ in LEAVES]
)
def test_a_table_option_comes_with_json(
    program: str, path: list[str], command: click.Command
) -> None:
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert options, f"{program} {path}: no options found"
    # export's --table names the store table to write to a file; it prints no table
    if "--table" in options and path != ["export"]:
        assert "--json" in options
