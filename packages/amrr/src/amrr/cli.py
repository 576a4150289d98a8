"""Command-line interface of ``amrr``."""

from __future__ import annotations

import typer

from amrr import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"amrr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Design and simulation of sub-Kelvin active magnetic regenerative refrigerators."""


def main() -> None:
    """Entry point of the ``amrr`` console script."""
    app()
