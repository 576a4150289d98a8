"""Command-line interface of ``soilflux``."""

from __future__ import annotations

import typer

from soilflux import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"soilflux {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Chamber soil-gas flux calculation."""


def main() -> None:
    """Entry point of the ``soilflux`` console script."""
    app()
