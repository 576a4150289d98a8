"""Command bodies of ``amrr regenerator-test`` (and the cycle commands), registered on the
main ``amrr`` app by :func:`register`."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import typer

from amrr.cycle.magnetic import MixtureTable, OperatingPoint, RegeneratorSpec, solve_cycle
from amrr.cycle.march import CycleSchedule
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


_SECTIONS = {
    "regenerator": RegeneratorSpec,
    "operating": OperatingPoint,
    "schedule": CycleSchedule,
}


def load_cycle_spec(path: Path) -> dict[str, Any]:
    """Read a cycle TOML file: tables [regenerator], [operating], [schedule] whose keys
    are the fields of :class:`RegeneratorSpec`, :class:`OperatingPoint` and
    :class:`CycleSchedule`. Raises ``ValueError`` naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    built: dict[str, Any] = {}
    for key in data:
        if key not in _SECTIONS:
            raise ValueError(f"{path}: unknown table [{key}] (known: {', '.join(_SECTIONS)})")
    for key, cls in _SECTIONS.items():
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [{key}] must be a table")
        names = {f.name for f in fields(cls)}
        for name in table:
            if name not in names:
                raise ValueError(f"{path}: [{key}] unknown field {name!r}")
        values = dict(table)
        if "field_T" in values:
            values["field_T"] = tuple(values["field_T"])
        try:
            built[key] = cls(**values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: [{key}] {exc}") from exc
    return built


def _cooling_points(t_cold_K: float | None, curve: str | None) -> list[float]:
    if t_cold_K is not None and curve is not None:
        _fail("--t-cold-K and --cooling-curve exclude each other")
    if curve is None:
        return [0.9 if t_cold_K is None else t_cold_K]
    parts = curve.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        if n < 1 or not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError
    except ValueError:
        _fail(f"--cooling-curve {curve!r}: give START:STOP:N, e.g. 0.7:1.2:10")
        return []
    return [float(v) for v in np.linspace(lo, hi, n)]


SPEC_ARGUMENT = typer.Argument(
    None, metavar="SPEC", help="Cycle TOML ([regenerator], [operating], [schedule])."
)


def cycle(
    spec_file: Path | None = SPEC_ARGUMENT,
    default: bool = typer.Option(False, "--default", help="Use the built-in default design."),
    t_cold_K: float | None = typer.Option(None, "--t-cold-K", help="Cold end T_C [K]."),
    cooling_curve: str | None = typer.Option(
        None, "--cooling-curve", help="T_C range START:STOP:N [K]."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Cyclic steady state of the magnetic regenerator pair: cooling power at the cold heat
    exchanger, COP and second-law efficiency against Carnot, one line per T_C."""
    if (spec_file is None) == (not default):
        _fail("give a SPEC.toml file or --default (not both)")
    spec, point, schedule = RegeneratorSpec(), OperatingPoint(), CycleSchedule(80.0, 10.0, 80, 10)
    if spec_file is not None:
        try:
            built = load_cycle_spec(spec_file)
        except ValueError as exc:
            _fail(str(exc), code=1)
        spec, point, schedule = built["regenerator"], built["operating"], built["schedule"]
    temps = _cooling_points(t_cold_K, cooling_curve)
    for t in temps:
        if not 0.3 <= t < point.hot_K:
            _fail(f"T_C {t:g} K: must lie within 0.3 K and T_H = {point.hot_K:g} K")
    table = MixtureTable.build(spec.x3)
    records: list[dict[str, Any]] = []
    start = None
    for t in temps:
        op = replace(point, cold_K=t)
        try:
            result, css = solve_cycle(spec, op, schedule, table=table, start_K=start)
        except ValueError as exc:
            _fail(f"T_C {t:g} K: {exc}", code=1)
        start = css.state_K  # warm start for the next T_C
        record = asdict(result)
        record["solid_range_K"] = list(result.solid_range_K)
        record["converged"] = css.converged
        records.append(record)
    if as_json:
        clean = [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in r.items()
            }
            for r in records
        ]
        typer.echo(json.dumps(clean if len(clean) > 1 else clean[0], indent=2, allow_nan=False))
        return
    typer.echo(
        f"{'T_C [K]':>8} {'Q_C [mW]':>9} {'Q_H [mW]':>9} {'W [mW]':>8} {'COP':>6} "
        f"{'Carnot':>7} {'eta_II':>7} {'1st-law res':>11} {'cycles':>6}"
    )
    for r in records:
        typer.echo(
            f"{r['cold_K']:8.3f} {r['cooling_power_W'] * 1e3:9.4f} "
            f"{r['heat_rejected_W'] * 1e3:9.4f} {r['magnetic_work_W'] * 1e3:8.4f} "
            f"{r['cop']:6.3f} {r['carnot_cop']:7.3f} {r['second_law_efficiency']:7.3f} "
            f"{r['energy_residual_fraction']:11.2e} {r['cycles']:6d}"
        )


def register(app: typer.Typer) -> None:
    """Add the cycle-model commands to the ``amrr`` app."""
    app.command("regenerator-test")(regenerator_test)
    app.command("cycle")(cycle)
