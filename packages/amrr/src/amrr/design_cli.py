"""The ``amrr design`` and ``amrr sweep`` commands (bodies; ``amrr.cli`` registers them).

Exit status: 0 done, 1 bad design file or a design the models refuse, 2 bad usage
(options). Errors print one ``error: …`` line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from amrr.design import (
    DesignFileError,
    DesignResult,
    assumptions,
    evaluate,
    load_design,
)

_SHOWN = (
    ("regenerator_length_m", "regenerator length", 1e3, "mm"),
    ("regenerator_length_other_model_m", "  with the other spin model", 1e3, "mm"),
    ("regenerator_ggg_mass_kg", "refrigerant mass per regenerator", 1e3, "g"),
    ("regenerator_porosity", "porosity", 1.0, "-"),
    ("regenerator_fill_fraction", "refrigerant fill fraction", 1.0, "-"),
    ("magnet_turns", "magnet turns", 1.0, "-"),
    ("magnet_layers", "magnet layers", 1.0, "-"),
    ("magnet_turns_per_layer", "turns per layer", 1.0, "-"),
    ("magnet_turns_per_m", "turns per metre (all layers)", 1.0, "1/m"),
    ("magnet_centre_field_T", "centre field", 1.0, "T"),
    ("magnet_inductance_H", "inductance", 1.0, "H"),
    ("magnet_stored_energy_J", "stored energy", 1.0, "J"),
    ("magnet_peak_field_T", "peak field on the winding", 1.0, "T"),
    ("magnet_current_margin", "I_op / I_c on the load line", 1.0, "-"),
    ("magnet_wire_length_m", "wire length", 1.0, "m"),
    ("pump_moles_per_blow_mol", "pump displacement per blow", 1e3, "mmol"),
    ("gross_cooling_W", "gross cooling", 1e6, "µW"),
    ("suspension_heat_W", "suspension heat (2 regenerators)", 1e6, "µW"),
    ("other_parasitics_W", "other parasitics", 1e6, "µW"),
    ("net_cooling_W", "net cooling (first estimate)", 1e6, "µW"),
)


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def _check_output_dir(option: str, directory: Path) -> None:
    """A report directory: an existing writable directory, or a new one in such a parent."""
    import os

    if directory.exists():
        if not directory.is_dir() or not os.access(directory, os.W_OK):
            _fail(f"{option} {directory}: not a writable directory", 2)
        return
    parent = directory.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        _fail(f"{option} {directory}: its parent {parent} is not an existing writable directory", 2)


def _check_output_file(option: str, path: Path, suffixes: tuple[str, ...]) -> None:
    """An output file: the right suffix, in an existing writable directory (never created)."""
    import os

    if path.suffix.lower() not in suffixes:
        _fail(f"{option} {path}: must end in {' or '.join(suffixes)}", 2)
    if path.is_dir():
        _fail(f"{option} {path}: is a directory", 2)
    parent = path.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        _fail(f"{option} {path}: {parent} is not an existing writable directory", 2)


def _load_and_evaluate(path: Path, *, sensitivities: bool = True) -> tuple[DesignResult, str]:
    try:
        design = load_design(path)
        result = evaluate(design, sensitivities=sensitivities)
    except DesignFileError as exc:
        _fail(str(exc), 1)
        raise  # unreachable: _fail raises
    except ValueError as exc:
        _fail(f"{path}: the design cannot be evaluated: {exc}", 1)
        raise
    return result, path.read_text("utf-8")


def design_command(design_file: Path, as_json: bool, report_dir: Path | None) -> None:
    """Evaluate a design file and print (or write) the results."""
    if report_dir is not None:
        _check_output_dir("--report", report_dir)
    result, text = _load_and_evaluate(design_file)
    summary = result.summary()
    report_path = None
    if report_dir is not None:
        from amrr.report import write_report

        try:
            report_path = write_report(result, report_dir, str(design_file), text)
        except OSError as exc:
            _fail(f"--report {report_dir}: cannot write the report: {exc}", 2)
    if as_json:
        record: dict[str, object] = {
            "design_file": str(design_file),
            "results": summary,
            "warnings": result.warnings,
            "assumptions": assumptions(text),
        }
        if report_path is not None:
            record["report"] = str(report_path)
        typer.echo(json.dumps(record, indent=2))
        return
    load_K = summary["load_temperature_K"]
    typer.echo(f"AMRR design: {design_file}")
    for key, label, scale, unit in _SHOWN:
        value = summary[key]
        shown = f"{float(value) * scale:.4g}" if isinstance(value, float) else str(value)
        if key == "net_cooling_W":
            label = f"{label} at {float(load_K) * 1e3:.0f} mK"
        typer.echo(f"  {label:<40} {shown:>12} {unit}")
    typer.echo("warnings:" if result.warnings else "warnings: none")
    for w in result.warnings:
        typer.echo(f"  - {w}")
    typer.echo("assumptions (not given by the paper):")
    for a in assumptions(text):
        typer.echo(f"  - {a}")
    if report_path is not None:
        typer.echo(f"report: {report_path}")


def sweep_command(
    design_file: Path,
    vary: list[str],
    workers: int,
    scheduler: str | None,
    out: Path,
    plot: Path | None,
    progress: bool,
) -> None:
    """Run a sweep and write its table (and plot)."""
    from amrr.sweep import grid, parse_vary, plot_sweep, run_dask, run_local, write_table

    if not vary:
        _fail("give at least one --vary KEY=START:STOP:N", 2)
    _check_output_file("--out", out, (".parquet", ".csv"))
    if plot is not None:
        _check_output_file("--plot", plot, (".png",))
    if workers < 1:
        _fail("--workers must be ≥ 1", 2)
    try:
        varies = [parse_vary(v) for v in vary]
    except ValueError as exc:
        _fail(str(exc), 2)
        return
    try:
        design = load_design(design_file)
    except DesignFileError as exc:
        _fail(str(exc), 1)
        return
    points = grid(varies)

    def bar(
        rows: Iterator[dict[str, float | int | str]], total: int
    ) -> Iterator[dict[str, float | int | str]]:
        if not progress:
            return rows
        from tqdm import tqdm

        return iter(tqdm(rows, total=total, desc="designs", unit="design", file=sys.stderr))

    try:
        rows = (
            run_dask(design, points, scheduler, bar)
            if scheduler
            else run_local(design, points, workers, bar)
        )
    except RuntimeError as exc:
        _fail(str(exc), 2)
        return
    table = write_table(rows, out)
    failed = sum(1 for r in rows if r.get("error"))
    typer.echo(f"{len(rows)} designs ({failed} refused by a model) -> {table}")
    if plot is not None:
        typer.echo(f"plot -> {plot_sweep(rows, varies, plot)}")


DESIGN_FILE = typer.Argument(
    ...,
    metavar="DESIGN",
    exists=True,
    dir_okay=False,
    help="Design TOML (see amrr/data/paper_design.toml).",
)
AS_JSON = typer.Option(False, "--json", help="JSON instead of a table.")
REPORT = typer.Option(
    None, "--report", help="Write an HTML report (plots embedded) into this directory."
)
VARY = typer.Option(
    [], "--vary", help="KEY=START:STOP:N, e.g. regenerator.inner_diameter_m=0.015:0.03:4."
)
WORKERS = typer.Option(1, "--workers", help="Local processes (ignored with --scheduler).")
SCHEDULER = typer.Option(None, "--scheduler", help="Dask scheduler address tcp://HOST:PORT.")
OUT = typer.Option(Path("sweep.parquet"), "--out", help="Results table (.parquet or .csv).")
PLOT = typer.Option(None, "--plot", help="Also write a PNG of the results.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr.")


def keys_help() -> str:
    """Every design-file key with its allowed values, for ``amrr design --help``."""
    from amrr.design import SCHEMA

    lines = ["\b", "Design-file keys ([section] key: allowed values — meaning):"]
    lines += [f"  {p.name}: {p.describe_range()} — {p.help}" for p in SCHEMA]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add ``design`` and ``sweep`` to the ``amrr`` command line."""

    @app.command("design", epilog=keys_help())
    def design(
        design_file: Path = DESIGN_FILE,
        as_json: bool = AS_JSON,
        report: Path | None = REPORT,
    ) -> None:
        """Size the regenerator, magnet, pump and suspension of a design; estimate cooling.

        Keys the file omits take the paper's values (amrr/data/paper_design.toml).
        """
        design_command(design_file, as_json, report)

    @app.command("sweep")
    def sweep(
        design_file: Path = DESIGN_FILE,
        vary: list[str] = VARY,
        workers: int = WORKERS,
        scheduler: str | None = SCHEDULER,
        out: Path = OUT,
        plot: Path | None = PLOT,
        progress: bool = PROGRESS,
    ) -> None:
        """Evaluate a grid of designs (Cartesian product of the --vary ranges)."""
        sweep_command(design_file, vary, workers, scheduler, out, plot, progress)
