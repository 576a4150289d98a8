"""``soilflux plot``: one closure drawn for inspection (see :mod:`soilflux.closure_plot`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from soilflux.cli import _fail, app, load
from soilflux.cli_errors import check_output, check_time_zone
from soilflux.io import FORMATS, InputError
from soilflux.io.output import read_table


@app.command()
def plot(
    fluxes_path: Annotated[
        Path, typer.Argument(metavar="FLUXES", help="Output of 'soilflux compute'.")
    ],
    inputs: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="The input files the fluxes were computed from."),
    ],
    closure: Annotated[str, typer.Option("--closure", help="closure_id of the closure to draw.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Figure, .png.")],
    gas: Annotated[str, typer.Option("--gas", help="co2 | ch4 | n2o")] = "co2",
    format: Annotated[str, typer.Option("--format", help="As for compute.")] = "auto",
    columns: Annotated[str | None, typer.Option("--columns", help="As for compute.")] = None,
    closure_table: Annotated[
        Path | None, typer.Option("--closures", help="As for compute.")
    ] = None,
    pressure_kpa: Annotated[
        float | None, typer.Option("--pressure-kpa", help="As for compute [kPa].")
    ] = None,
    temperature_c: Annotated[
        float | None, typer.Option("--temperature-c", help="As for compute [°C].")
    ] = None,
    obs_length: Annotated[
        float | None, typer.Option("--obs-length", help="As for compute [s].")
    ] = None,
    trim_opening: Annotated[bool, typer.Option("--trim-opening", help="As for compute.")] = False,
    tz: Annotated[str, typer.Option("--tz", help="As for compute.")] = "UTC",
) -> None:
    """Draw one closure: samples, dead band, fit window, each model's curve, the selected one.

    The samples are read again from the inputs with the options given to compute; the
    window and the fluxes are the flux table's.
    """
    from soilflux.cli_options import column_map_option
    from soilflux.closure_plot import closure_view, draw_closure

    check_output(output, "-o", (".png",))
    check_time_zone(tz)
    if format not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    column_map = column_map_option(columns, pressure_kpa=pressure_kpa, temperature_c=temperature_c)
    try:
        table = read_table(fluxes_path)
        for needed in ("closure_id", "gas", "model", "deadband_s"):
            if needed not in table.columns:
                raise InputError(fluxes_path, 1, needed, "not a 'soilflux compute' table")
        # the geometry only scales fluxes, which come from the table: any value will do
        loaded = load(
            inputs,
            format=format,
            columns=column_map,
            closure_table_path=closure_table,
            volume_cm3=1000.0,
            area_cm2=100.0,
            trim_opening=trim_opening,
            tz=tz,
        )
        if loaded.closures.empty:
            raise InputError(inputs[0], None, None, "no closures found in the input")
        if obs_length is not None:
            loaded.closures["obs_length_s"] = float(obs_length)
        view = closure_view(table, loaded.samples, loaded.closures, closure, gas)
    except (InputError, ValueError) as exc:
        raise _fail(str(exc)) from None
    draw_closure(view, output)
    typer.echo(f"plot: {output}", err=True)
