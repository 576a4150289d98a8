"""``soilflux precision``: analyser noise per sensor from steady air."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from soilflux.cli import _fail, app
from soilflux.cli_errors import check_output
from soilflux.io import InputError
from soilflux.io.errors import missing_reason
from soilflux.io.output import TABLE_SUFFIXES, sibling, write_table


def _read_steady_air(
    path: Path, *, time: str, column: str, by: str | None, phase: str | None
) -> pd.DataFrame:
    """One file's time, value and group columns (names matched case-insensitively)."""
    from soilflux.precision import parse_readings

    if not path.is_file():
        raise InputError(path, None, None, missing_reason(path))
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        header = pd.read_parquet(path).columns if parquet else pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        raise InputError(path, None, None, f"cannot read: {exc}") from exc
    names = {str(c).strip().lower(): c for c in header}
    wanted = {"time": time, "column": column}
    if by:
        wanted["by"] = by
    if phase is not None:
        wanted["phase"] = "phase"
    found: dict[str, Any] = {}
    for role, name in wanted.items():
        if name.strip().lower() not in names:
            option = {"time": "--time", "column": "--column", "by": "--by", "phase": "--phase"}
            raise InputError(
                path,
                1,
                name,
                f"column not found (columns: {', '.join(map(str, header))}; "
                f"choose another with {option[role]})",
            )
        found[role] = names[name.strip().lower()]
    try:
        if parquet:
            raw = pd.read_parquet(path, columns=list(found.values()))
        else:
            text = {found[k]: "string" for k in ("by", "phase") if k in found}
            raw = pd.read_csv(path, usecols=list(found.values()), dtype=text)
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        raise InputError(path, None, None, f"cannot read: {exc}") from exc
    raw = raw.rename(columns={found[k]: wanted[k] for k in found})
    first_line = 1 if parquet else 2
    if phase is not None:
        keep = raw["phase"].astype("string").str.strip().str.lower() == phase.strip().lower()
        raw = raw[keep.fillna(False).to_numpy(dtype=bool)]
    try:
        parsed = parse_readings(raw, time=time, column=column, by=by, first_line=first_line)
    except ValueError as exc:
        raise InputError(path, None, None, str(exc)) from exc
    if by:
        parsed[by] = parsed[by].astype("string")
    return parsed


def _quiet_echo(message: str = "") -> None:
    """Nothing: the text table's lines when --json prints the results instead."""


@app.command()
def precision(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Steady-air records, CSV (also .gz) or Parquet, one row per reading "
            "(e.g. the fleet calibration session).",
        ),
    ],
    time: Annotated[
        str,
        typer.Option("--time", help="Time column: ISO 8601 (no offset = UTC) or seconds [s]."),
    ] = "time",
    column: Annotated[
        str,
        typer.Option(
            "--column", help="Value column; its name's last part is its unit (co2_ppm → [ppm])."
        ),
    ] = "co2_ppm",
    by: Annotated[
        str,
        typer.Option("--by", help="Sensor column, one series per value; '' for one series."),
    ] = "chamber",
    phase: Annotated[
        str | None,
        typer.Option(
            "--phase",
            help="Use only rows whose 'phase' column is this (e.g. open); default all rows. "
            "The left-out periods become gaps.",
        ),
    ] = None,
    tau_s: Annotated[
        float, typer.Option("--tau-s", help="Second averaging time of the table [s].")
    ] = 60.0,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Per-sensor table, .csv or .parquet; the Allan curves go beside it "
            "(OUT.allan.csv).",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Allan-deviation plot (PNG) with the white-noise line."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the per-sensor table as JSON records.")
    ] = False,
) -> None:
    """Analyser noise per sensor from steady air: white noise, Allan deviation, drift.

    σ_white [ppm] = 1.4826·MAD(Δy)/√2 per reading is the analyser precision soilflux
    wants (--precision-ppm) and the simulator's SCD30 noise (fluxfleet sim --co2-noise-ppm).
    A step longer than 3 median steps is a gap; nothing is taken across it.
    """
    from soilflux.precision import allan_table, noise_summary

    if output is not None:
        check_output(output, "-o", TABLE_SUFFIXES)
    if plot is not None:
        check_output(plot, "--plot", (".png",))
    if not (np.isfinite(tau_s) and tau_s > 0):
        raise typer.BadParameter(f"must be > 0 s, got {tau_s}", param_hint="--tau-s")
    group = by.strip() or None
    unit = column.rsplit("_", 1)[1] if "_" in column else "value"
    try:
        frames = [
            _read_steady_air(path, time=time, column=column, by=group, phase=phase)
            for path in inputs
        ]
        table = pd.concat(frames, ignore_index=True)
        options: dict[str, Any] = {"time": time, "column": column, "by": group, "unit": unit}
        summary = noise_summary(table, tau_s=tau_s, **options)
        curves = allan_table(table, **options) if output is not None or plot else None
    except (InputError, ValueError) as exc:
        where = str(inputs[0]) if len(inputs) == 1 else ", ".join(map(str, inputs))
        message = str(exc)
        raise _fail(message if isinstance(exc, InputError) else f"{where}: {message}") from None
    key = group or "series"
    say = _quiet_echo if json_output else typer.echo
    if json_output:
        typer.echo(summary.to_json(orient="records", indent=2, force_ascii=False))
    sigma_col, tau_col = f"sigma_white_{unit}", f"adev_{tau_s:g}s_{unit}"
    header = (
        f"{key:<14}{'n':>7}{'seg':>5}{'dt [s]':>8}{'σ_white':>9}{'± se':>7}"
        f"{'ADEV(Δt)':>10}{'ADEV(' + format(tau_s, 'g') + ' s)':>13}{'ρ₁':>7}"
        f"{'drift [' + unit + ' h⁻¹]':>18}"
    )
    say(f"{column} [{unit}], per {key}:")
    say(header)
    say("-" * len(header))
    for _, row in summary.iterrows():
        say(
            f"{row[key]!s:<14}{row['n']:>7d}{row['n_segments']:>5d}{row['dt_s']:>8.3g}"
            f"{row[sigma_col]:>9.3f}{row[f'sigma_white_se_{unit}']:>7.3f}"
            f"{row[f'adev_1step_{unit}']:>10.3f}{row[tau_col]:>13.3f}"
            f"{row['lag1_autocorr']:>7.2f}{row[f'drift_{unit}_h']:>18.3g}"
        )
    sigma = summary[sigma_col].to_numpy(dtype=float)
    median = float(np.median(sigma))
    say("")
    say(
        f"median σ_white over {len(summary)} sensor(s): {median:.3g} {unit} "
        f"(range {sigma.min():.3g}–{sigma.max():.3g})"
    )
    if unit == "ppm":
        say(f"suggested: soilflux compute ... --precision-ppm {median:.2g}")
        say(f"           fluxfleet sim ... --co2-noise-ppm {median:.2g}")
    rho = float(np.median(summary["lag1_autocorr"].to_numpy(dtype=float)))
    if rho > 0.3:
        typer.echo(
            f"note: median lag-1 autocorrelation {rho:.2f}: the air itself changed (then "
            "σ_white is still right), or the sensor filters its readings (then σ_white is "
            "√(1 − ρ₁) of their scatter); the Allan plot (--plot) tells which: white noise "
            "falls as τ^-1/2 up to the τ where the air's changes take over",
            err=True,
        )
    suspect = summary[key][sigma > 2.0 * median].astype(str).tolist()
    if suspect:
        typer.echo(f"note: σ_white more than twice the median: {', '.join(suspect)}", err=True)
    if output is not None and curves is not None:
        write_table(summary, output)
        write_table(curves, sibling(output, "allan"))
        typer.echo(f"wrote {output} and {sibling(output, 'allan')}", err=True)
    if plot is not None and curves is not None:
        _allan_plot(plot, curves, summary, key=key, unit=unit, column=column)
        typer.echo(f"plot: {plot}", err=True)


def _allan_plot(
    path: Path, curves: pd.DataFrame, summary: pd.DataFrame, *, key: str, unit: str, column: str
) -> None:
    """Allan deviation of every sensor, log-log, with the fleet median's white-noise line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    few = len(summary) <= 12
    for name, part in curves.groupby(key, sort=True):
        ax.loglog(
            part["tau_s"],
            part[f"adev_{unit}"],
            "-",
            lw=1.0,
            alpha=0.9 if few else 0.4,
            label=str(name) if few else None,
        )
    sigma = float(np.median(summary[f"sigma_white_{unit}"].to_numpy(dtype=float)))
    dt_s = float(np.median(summary["dt_s"].to_numpy(dtype=float)))
    tau = np.geomspace(float(curves["tau_s"].min()), float(curves["tau_s"].max()), 50)
    ax.loglog(
        tau,
        sigma * np.sqrt(dt_s / tau),
        "k--",
        lw=1.2,
        label=f"white noise {sigma:.3g} {unit} · (τ/{dt_s:g} s)^-1/2",
    )
    ax.set_xlabel("averaging time τ [s]")
    ax.set_ylabel(f"Allan deviation of {column} [{unit}]")
    ax.set_title(f"{len(summary)} sensor(s): median σ_white {sigma:.3g} {unit}", fontsize=10)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, ncol=2 if few and len(summary) > 6 else 1)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
