"""Command bodies of ``amrr regenerator-test`` (and the cycle commands), registered on the
main ``amrr`` app by :func:`register`."""

from __future__ import annotations

import json
import math
from typing import Any

import typer

from amrr.cycle.passive import (
    NTU_RANGE,
    UTILISATION_RANGE,
    passive_effectiveness,
    small_utilisation_limit,
)
from amrr.cycle.steady import METHODS


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def regenerator_test(
    ntu: float = typer.Option(..., "--ntu", help="NTU = hA/(ṁ c_f) of one blow [-]."),
    utilisation: float = typer.Option(
        ..., "--utilisation", help="U = ṁ c_f P/(M c_m) for a blow of length P [-]."
    ),
    cells: int | None = typer.Option(None, "--cells", help="Cells along the bed [-]."),
    steps: int | None = typer.Option(None, "--steps", help="Time steps per blow [-]."),
    method: str = typer.Option(
        "anderson", "--method", help="Cyclic steady state: march, anderson or newton-krylov."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Effectiveness of the balanced symmetric passive regenerator (magnetocaloric effect
    off, constant properties, no axial conduction, no fluid storage) at cyclic steady
    state, from the cycle solver — to check against any reference."""
    for option, value, (lo, hi) in (
        ("--ntu", ntu, NTU_RANGE),
        ("--utilisation", utilisation, UTILISATION_RANGE),
    ):
        if not (math.isfinite(value) and lo <= value <= hi):
            _fail(f"{option} {value!r}: must lie within {lo:g}–{hi:g}")
    if method not in METHODS:
        _fail(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    for name, count in (("--cells", cells), ("--steps", steps)):
        if count is not None and count < 2:
            _fail(f"{name} {count}: must be >= 2")
    result = passive_effectiveness(
        ntu,
        utilisation,
        cells=cells,
        steps_per_blow=steps,
        method=method,  # type: ignore[arg-type]
    )
    record: dict[str, Any] = {
        "ntu": ntu,
        "utilisation": utilisation,
        "effectiveness": result.effectiveness,
        "effectiveness_cold_blow": result.effectiveness_cold_blow,
        "small_utilisation_limit": small_utilisation_limit(ntu),
        "energy_residual_fraction": result.energy_residual_fraction,
        "cycles": result.cycles,
        "cycle_residual_K": result.residual_K,
        "method": method,
    }
    if as_json:
        typer.echo(json.dumps(record, indent=2, allow_nan=False))
    else:
        for key, value in record.items():
            shown = f"{value:.6g}" if isinstance(value, float) else str(value)
            typer.echo(f"{key:<26} {shown}")


def register(app: typer.Typer) -> None:
    """Add the cycle-model commands to the ``amrr`` app."""
    app.command("regenerator-test")(regenerator_test)
