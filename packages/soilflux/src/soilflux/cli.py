"""The ``soilflux`` command line: compute, summarize, precision, plot, demo."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import numpy as np
import pandas as pd
import typer

from soilflux import __version__
from soilflux.cli_errors import check_output, check_positive, check_time_zone
from soilflux.cli_parallel import FluxJob, WorkerError, compute_files, default_jobs
from soilflux.cli_parts import iter_parts, make_reading, parts_with_format
from soilflux.conventions import for_format
from soilflux.io import FORMATS, InputError, ReadMetadata
from soilflux.io.output import TABLE_SUFFIXES, read_table, sibling, write_table
from soilflux.read_ahead import read_ahead
from soilflux.segment import SegmentReport, combine

# No Rich markup: it would swallow the units in brackets ([s], [cm³], [ppm]) in --help.
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)

MAX_ISSUES_SHOWN = 20


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


def _fail(message: str) -> typer.Exit:
    typer.echo(f"soilflux: error: {message}", err=True)
    return typer.Exit(code=1)


@dataclass
class Loaded:
    """Samples and closures of a set of input files, with what reading them reported."""

    samples: pd.DataFrame
    closures: pd.DataFrame
    metadata: list[ReadMetadata] = field(default_factory=list)
    reports: list[SegmentReport] = field(default_factory=list)
    parts: list[tuple[pd.DataFrame, pd.DataFrame]] = field(default_factory=list)

    def compute(self, compute_fluxes: Any, options: Any, *, progress: bool = False) -> pd.DataFrame:
        """Fluxes of every part on its own (a file's gases only), numbered like
        :attr:`closures`, with each closure's ``closure_id`` appended."""
        results: list[pd.DataFrame] = []
        offset = 0
        for samples, closures in self.parts:
            results.append(
                _part_fluxes(compute_fluxes, samples, closures, options, offset, progress)
            )
            offset += len(closures)
        return pd.concat(results, ignore_index=True)


def _part_fluxes(
    compute_fluxes: Any,
    samples: pd.DataFrame,
    closures: pd.DataFrame,
    options: Any,
    offset: int,
    progress: bool,
) -> pd.DataFrame:
    """One part's fluxes, its closures renumbered from ``offset``, ``closure_id`` appended."""
    out: pd.DataFrame = compute_fluxes(samples, closures, options, progress=progress)
    out["closure_id"] = closures["closure_id"].reindex(out["closure"].to_numpy()).to_numpy()
    out["closure"] = out["closure"].to_numpy() + offset
    return out


def load(inputs: list[Path], **kwargs: Any) -> Loaded:
    """All parts of :func:`iter_parts` at once (small inputs: the demo, tests).

    Parameters
    ----------
    inputs : list of Path
        Files to read.
    **kwargs
        As :func:`iter_parts`.

    Returns
    -------
    Loaded
        Samples and closures of every part, numbered consecutively, and the reports.
    """
    metadata: list[ReadMetadata] = []
    reports: list[SegmentReport] = []
    parts = list(iter_parts(inputs, metadata=metadata, reports=reports, **kwargs))
    if parts:
        samples, closures = combine(parts)
    else:
        samples, closures = pd.DataFrame(), pd.DataFrame()
    return Loaded(samples, closures, metadata, reports, parts)


def _report_reading(
    metadata: list[ReadMetadata], reports: list[SegmentReport], *, quiet: bool
) -> None:
    issues = [issue for meta in metadata for issue in meta.issues]
    for issue in issues[:MAX_ISSUES_SHOWN]:
        typer.echo(f"soilflux: warning: {issue}", err=True)
    if len(issues) > MAX_ISSUES_SHOWN:
        more = len(issues) - MAX_ISSUES_SHOWN
        typer.echo(f"soilflux: warning: ... and {more} more unusable values", err=True)
    if quiet:
        return
    for meta in metadata:
        for note in meta.notes:
            typer.echo(f"{meta.path}: {note}", err=True)
    total = SegmentReport()
    for report in reports:
        for name in ("closures", "rows_in_closures", "rows_outside", "duplicates_dropped"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        for name in ("out_of_order", "clock_jumps", "gaps", "missing_gas"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        for flag, n in report.flag_counts.items():
            total.flag_counts[flag] = total.flag_counts.get(flag, 0) + n
    for line in total.lines():
        typer.echo(line, err=True)


def _deadband(text: str) -> float | Literal["auto"]:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(
            f"must be a number of seconds, 'auto' or 'file', got {text!r}", param_hint="--deadband"
        ) from None
    if not value >= 0:
        raise typer.BadParameter(f"must be >= 0 s, got {text!r}", param_hint="--deadband")
    return value


@app.command()
def compute(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Input files (CSV/Parquet long tables, .81x, .82z, Smart Chamber .json, "
            "analyser records).",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Result table, .csv or .parquet.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto | generic | licor-81x | licor-json | licor-82z, a peer's table: gasfluxes | "
            "fluxible | goflux (their column names and defaults), or an analyser's record: "
            "licor-78x0 | lgr-ugga | picarro-g2508 (with --closures).",
        ),
    ] = "auto",
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Column map NAME=COLUMN,... (e.g. time=datetime,co2_ppm=conc) or a TOML "
            "file; names may carry other units (pressure_hpa, volume_l, elapsed_h, "
            "co2_dry_ppm, ...: see the guide). On top of --format's preset.",
        ),
    ] = None,
    closure_table: Annotated[
        Path | None,
        typer.Option(
            "--closures",
            help="Closure table for analyser records (LI-7810/7820 .data, LGR UGGA, Picarro "
            "G2508): CSV of chamber, start, end (or obs_length_s)[, closure_id, volume_cm3, "
            "area_cm2, deadband_s].",
        ),
    ] = None,
    pressure_kpa: Annotated[
        float | None,
        typer.Option("--pressure-kpa", help="Chamber air pressure where the file has none [kPa]."),
    ] = None,
    temperature_c: Annotated[
        float | None,
        typer.Option(
            "--temperature-c", help="Chamber air temperature where the file has none [°C]."
        ),
    ] = None,
    chambers: Annotated[
        Path | None,
        typer.Option(
            "--chambers", help="Chamber table CSV: chamber, volume_cm3, area_cm2[, location]."
        ),
    ] = None,
    volume_cm3: Annotated[
        float | None,
        typer.Option("--volume-cm3", help="Total system volume of every chamber [cm³]."),
    ] = None,
    area_cm2: Annotated[
        float | None, typer.Option("--area-cm2", help="Soil area of every chamber [cm²].")
    ] = None,
    deadband: Annotated[
        str,
        typer.Option(
            "--deadband",
            help="Dead band [s], 'auto', or 'file' (default: a LI-COR file's own, else auto). "
            "A number or 'auto' overrides the files' own, like SoilFluxPro's Recompute.",
        ),
    ] = "file",
    obs_length: Annotated[
        float | None,
        typer.Option(
            "--obs-length",
            help="End of the fit window after closing [s] for every closure "
            "(SoilFluxPro's Stop Time); default: the file's own, else the closure's end.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="auto | linear | robust | exp | hm | quadratic | hm_shared | hm_averaged",
        ),
    ] = "auto",
    hm_fallback: Annotated[
        str,
        typer.Option(
            "--hm-fallback",
            help="Selection rule of --method auto: averaged (per closure, the lag-aware HM "
            "averaged over straight and curved rises; default) | robust (per closure, the "
            "kappa.max rule) | pooled | shared (HM with κ shared by each chamber's closures within "
            "±3 h, for chambers closing every few minutes; pooled within each input file).",
        ),
    ] = "averaged",
    precision_ppm: Annotated[
        float | None,
        typer.Option(
            "--precision-ppm", help="CO2 analyser precision (1σ) [ppm]; default SCD30 10 ppm."
        ),
    ] = None,
    sensor_lag_s: Annotated[
        float | None,
        typer.Option(
            "--sensor-lag-s",
            help="First-order response time of the gas analyser [s] (default: SCD30 "
            "datasheet, 20 s; about 1 s for LI-COR analysers).",
        ),
    ] = None,
    no_lag_compensation: Annotated[
        bool,
        typer.Option(
            "--no-lag-compensation",
            help="Do not fit the sensor-lag transient: the automatic dead band then skips "
            "4 sensor time constants instead of 1.",
        ),
    ] = False,
    trim_opening: Annotated[
        bool, typer.Option("--trim-opening", help="End the fit window before a re-opening drop.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on the first unusable value instead of reporting it."),
    ] = False,
    tz: Annotated[
        str, typer.Option("--tz", help="Time zone of .81x clocks (IANA name), default UTC.")
    ] = "UTC",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="Workers over the input files: this process and N-1 more (default: the "
            "cores, at most 2; each holds one file in memory). 1: one process.",
        ),
    ] = None,
) -> None:
    """Compute one flux per closure and gas."""
    from soilflux.cli_options import check_geometry_options, column_map_option
    from soilflux.options import METHODS, FluxOptions, HmFallback, Method

    if format not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    column_map = column_map_option(columns, pressure_kpa=pressure_kpa, temperature_c=temperature_c)
    check_geometry_options(volume_cm3, area_cm2)

    if method not in METHODS:
        raise typer.BadParameter(f"must be one of {', '.join(METHODS)}", param_hint="--method")
    if hm_fallback not in ("averaged", "robust", "pooled", "shared"):
        raise typer.BadParameter(
            "must be averaged, robust, pooled or shared", param_hint="--hm-fallback"
        )
    check_output(output, "-o", TABLE_SUFFIXES)
    if (volume_cm3 is None) != (area_cm2 is None):
        raise typer.BadParameter("give both --volume-cm3 and --area-cm2, or neither")
    check_positive(volume_cm3, "--volume-cm3", "cm³")
    check_positive(area_cm2, "--area-cm2", "cm²")
    check_positive(precision_ppm, "--precision-ppm", "ppm")
    check_time_zone(tz)
    if jobs is not None and jobs < 1:
        raise typer.BadParameter(f"must be >= 1, got {jobs}", param_hint="--jobs")
    if sensor_lag_s is not None and not (np.isfinite(sensor_lag_s) and sensor_lag_s >= 0):
        raise typer.BadParameter(f"must be >= 0 s, got {sensor_lag_s}", param_hint="--sensor-lag-s")
    lag: dict[str, Any] = {"lag_compensation": not no_lag_compensation}
    if sensor_lag_s is not None:
        lag["sensor_lag_s"] = float(sensor_lag_s)
    try:
        file_deadband = deadband.strip().lower() == "file"
        options = FluxOptions(
            deadband_s="auto" if file_deadband else _deadband(deadband),
            method=cast(Method, method),
            hm_fallback=cast(HmFallback, hm_fallback),
            precision_ppm=precision_ppm,
            **lag,
        )
        if obs_length is not None and not obs_length > 0:
            raise typer.BadParameter(f"must be > 0 s, got {obs_length}", param_hint="--obs-length")
        metadata: list[ReadMetadata] = []
        reports: list[SegmentReport] = []
        results: list[pd.DataFrame] = []
        n_closures = 0
        compute_s = 0.0
        job = FluxJob(options, file_deadband=file_deadband, obs_length_s=obs_length)
        read_options: dict[str, Any] = {
            "format": format,
            "chambers": chambers,
            "volume_cm3": volume_cm3,
            "area_cm2": area_cm2,
            "strict": strict,
            "trim_opening": trim_opening,
            "tz": tz,
            "columns": column_map,
            "closure_table_path": closure_table,
        }
        n_jobs = default_jobs() if jobs is None else jobs
        if n_jobs > 1 and len(inputs) > 1:
            # Files on worker processes, each read, segmented and computed there.
            reading = make_reading(**read_options, metadata=metadata)
            started = time.perf_counter()
            results, n_closures = compute_files(
                inputs,
                reading,
                job,
                jobs=n_jobs,
                metadata=metadata,
                reports=reports,
                progress=not quiet,
            )
            compute_s = time.perf_counter() - started
        else:
            parts = parts_with_format(
                inputs,
                progress=not quiet,
                metadata=metadata,
                reports=reports,
                **read_options,
            )
            # One part (file) at a time: memory holds one file and its results, not the
            # season; the next file is read and segmented on a second thread meanwhile
            for samples, closures, file_format in read_ahead(parts):
                started = time.perf_counter()
                # A bar per part only where the part is long (several chunks of closures).
                bar = not quiet and len(closures) > options.chunk_closures
                results.append(job.fluxes(samples, closures, file_format, n_closures, bar))
                compute_s += time.perf_counter() - started
                n_closures += len(closures)
    except (InputError, ValueError, WorkerError) as exc:
        raise _fail(str(exc)) from None
    _report_reading(metadata, reports, quiet=quiet)
    if not results:
        raise _fail(f"no closures found in {', '.join(map(str, inputs))}")
    write_table(results, output)  # the parts joined in the writer, without a pandas copy
    if not quiet:
        n_fluxes = sum(len(part) for part in results)
        typer.echo(
            f"{n_closures} closures, {n_fluxes} fluxes computed in {compute_s:.2f} s → {output}",
            err=True,
        )


@app.command()
def summarize(
    fluxes_path: Annotated[
        Path, typer.Argument(metavar="FLUXES", help="Output of 'soilflux compute'.")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Main table, .csv or .parquet; companions are written beside it."
        ),
    ],
    by: Annotated[
        str, typer.Option("--by", help="hour (per chamber) | location | variant")
    ] = "variant",
    controls: Annotated[
        Path | None,
        typer.Option(
            "--controls",
            help="Control mapping of variants (table.variant): CSV treatment,control, or "
            'TOML with a [controls] table of "treatment" = "control".',
        ),
    ] = None,
    gas: Annotated[str, typer.Option("--gas", help="Gas to aggregate.")] = "co2",
    unfiltered: Annotated[
        bool, typer.Option("--unfiltered", help="Aggregate every closure, flagged or not.")
    ] = False,
    also_drop: Annotated[
        str,
        typer.Option(
            "--also-drop",
            help="Flags that also remove a closure, comma-separated (e.g. saturated,gap); "
            "the default filter drops daylight, below_threshold, stuck_chamber, clogged, "
            "fit_failed, short.",
        ),
    ] = "",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Hourly means, replicate statistics, weekly filter rates, treatment − control."""
    from soilflux.aggregate import (
        BY_CHOICES,
        filter_rate_weekly,
        hourly_means,
        read_controls,
        split_location,
        treatment_minus_control,
    )
    from soilflux.qc import DEFAULT_DROP, FLAGS, filtered
    from soilflux.segment import SEGMENT_FLAGS

    if by not in BY_CHOICES:
        raise typer.BadParameter(f"must be one of {', '.join(BY_CHOICES)}", param_hint="--by")
    extra = [f.strip() for f in also_drop.split(",") if f.strip()]
    flag_names = (*FLAGS, *SEGMENT_FLAGS)
    for flag in extra:
        if flag not in flag_names:
            raise typer.BadParameter(
                f"{flag!r} is not a flag ({', '.join(flag_names)})", param_hint="--also-drop"
            )
    check_output(output, "-o", TABLE_SUFFIXES)
    try:
        table = read_table(fluxes_path)
        _check_gas(table, gas, fluxes_path)
        mapping = read_controls(controls) if controls is not None else None
        kept, removed = filtered(table, (*DEFAULT_DROP, *extra))
        view = table if unfiltered else kept
        main = hourly_means(view, by=by, gas=gas)  # type: ignore[arg-type]
        rates = filter_rate_weekly(table, kept.index, gas=gas)
        written = [write_table(main, output), write_table(rates, sibling(output, "filter_rate"))]
        written.append(write_table(removed, sibling(output, "removed_by_flag")))
        if mapping is not None:
            variant = main if by == "variant" else hourly_means(view, by="variant", gas=gas)
            hourly, summary = treatment_minus_control(variant, mapping)
            written.append(write_table(hourly, sibling(output, "differences")))
            written.append(write_table(summary, sibling(output, "difference_summary")))
    except (InputError, ValueError, KeyError) as exc:
        # Errors of the table's content name no file: name it.
        raise _fail(str(exc) if isinstance(exc, InputError) else f"{fluxes_path}: {exc}") from None
    if by in ("location", "variant") and main.empty and len(view):
        typer.echo(
            "soilflux: warning: no closure carries a location table.variant.replica: "
            "give --chambers with a location column to 'soilflux compute'",
            err=True,
        )
    if mapping is not None:
        known = set(split_location(view["location"])["variant"].dropna()) if len(view) else set()
        for treatment, control in mapping.items():
            for code in (treatment, control):
                if code not in known:
                    typer.echo(f"soilflux: warning: variant {code} has no fluxes", err=True)
    if not quiet:
        typer.echo(f"{len(table)} fluxes, {len(kept)} kept after the quality filter", err=True)
        for path in written:
            typer.echo(f"wrote {path}", err=True)


def _check_gas(table: pd.DataFrame, gas: str, path: Path) -> None:
    """Refuse a --gas that the fluxes table does not have (exit 2, listing those it has)."""
    if "gas" not in table.columns or not len(table):
        return
    present = sorted(set(table["gas"].dropna().astype(str)))
    if gas not in present:
        raise typer.BadParameter(
            f"{path} has no fluxes of gas {gas!r} (it has: {', '.join(present)})",
            param_hint="--gas",
        )


def find_reference(explicit: Path | None = None) -> Path | None:
    """The shared reference folder: ``explicit``, ``$SHARED_REFERENCE`` or ``../shared/reference``
    beside a parent of the working directory or of this package."""
    if explicit is not None:
        return explicit if explicit.is_dir() else None
    env = os.environ.get("SHARED_REFERENCE")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for base in (Path.cwd(), Path(__file__).resolve()):
        for parent in (base, *base.parents):
            candidate = parent / "shared" / "reference"
            if (candidate / "flux").is_dir():
                return candidate
    return None


@dataclass
class _Panel:
    """One closure of the demo plot."""

    title: str
    elapsed_s: Any
    co2_dry_ppm: Any
    window_s: tuple[float, float]
    note: str


@app.command()
def demo(
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Reference folder (default: ../shared/reference)."),
    ] = None,
    n_synthetic: Annotated[
        int, typer.Option("--synthetic", help="Synthetic closures to compute.")
    ] = 500,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Where to write the PNG (default: the temp directory)."),
    ] = None,
) -> None:
    """A first look: soilflux against LI-COR's own numbers, and on synthetic closures."""
    import tempfile

    from soilflux.options import FluxOptions
    from soilflux.pipeline import compute_fluxes
    from soilflux.synthetic import synthetic_closures

    panels: list[_Panel] = []
    folder = find_reference(reference)
    if folder is None:
        typer.echo("reference data not found (../shared/reference or $SHARED_REFERENCE):")
        typer.echo("LI-COR comparison skipped")
    else:
        typer.echo(
            f"LI-COR instrument files in {folder / 'flux'}, each computed with the file's own"
        )
        typer.echo(
            "volume, area, dead band and observation length, against the instrument's own fluxes:"
        )
        typer.echo("")
        lines, panels = _vendor_comparison(folder / "flux", compute_fluxes, FluxOptions)
        for line in lines:
            typer.echo(line)
        typer.echo("")
    synthetic: tuple[Any, Any] | None = None
    if n_synthetic > 0:
        truth = synthetic_closures(
            n_synthetic, seed=7, kappa_s=(0.0, 0.003), lag_s=20.0, noise_ppm=3.0
        )
        started = time.perf_counter()
        out = compute_fluxes(truth.samples, truth.closures, FluxOptions())
        elapsed = time.perf_counter() - started
        selected = out["flux_umol_m2_s"].to_numpy()
        error = 100.0 * (selected / truth.true_flux_umol_m2_s - 1.0)
        models = out["model"].value_counts().to_dict()
        typer.echo(
            f"{n_synthetic} synthetic closures (HM curvature, 20-s sensor lag, 3 ppm noise) in "
            f"{elapsed:.2f} s: selected flux vs truth, median error "
            f"{float(np.median(error)):+.2f} %, "
            f"median |error| {float(np.median(np.abs(error))):.2f} %"
        )
        typer.echo(f"  selected models: {models}")
        synthetic = (truth.true_flux_umol_m2_s, selected)
    target = plot if plot is not None else Path(tempfile.gettempdir()) / "soilflux-demo.png"
    check_output(target, "--plot", (".png",))
    if panels or synthetic is not None:
        _demo_plot(target, panels, synthetic)
        typer.echo(f"plot: {target}")
    typer.echo("")
    typer.echo("Next: soilflux compute FILES... -o fluxes.csv")
    typer.echo("      soilflux summarize fluxes.csv -o hourly.csv --controls controls.csv")


def _vendor_comparison(
    flux_dir: Path, compute_fluxes: Any, options: Any
) -> tuple[list[str], list[_Panel]]:
    """The demo's table (vendor flux vs soilflux with the vendor's model) and plot panels."""
    header = f"{'file':<16}{'observation':<13}{'gas':<5}{'model':<7}"
    header += f"{'LI-COR':>11}{'soilflux':>11}{'diff %':>9}   {'auto-selected':<20}"
    lines = [header, "-" * len(header)]
    panels: list[_Panel] = []
    for name in ("LI8200-01S.json", "LI8150.81x"):
        path = flux_dir / name
        if not path.is_file():
            lines.append(f"{name}: not found")
            continue
        loaded = load([path])
        fmt = loaded.metadata[0].format
        per_method = {
            m: compute_fluxes(loaded.samples, loaded.closures, for_format(options(method=m), fmt))
            for m in ("linear", "exp", "auto")
        }
        vendor = loaded.metadata[0].observations
        ids = loaded.closures["closure_id"]
        for _, row in per_method["linear"].iterrows():
            cid = str(ids.loc[row["closure"]])
            gas = str(row["gas"])
            value = float(
                vendor[f"vendor_flux_{gas}"].to_numpy(dtype=float)[vendor.index.get_loc(cid)]
            )
            curved = bool(vendor.loc[cid].get(f"vendor_curved_{gas}", False)) or (
                vendor.loc[cid].get("vendor_model") == "Exp"
            )
            model = "exp" if curved else "linear"
            ours = float(per_method[model].loc[row.name, f"flux_{model}"])
            auto = per_method["auto"].loc[row.name]
            scale = 1e3 if gas != "co2" else 1.0  # CH4 shown in nmol m⁻² s⁻¹, as LI-COR does
            vendor_text = f"{value * scale:11.5g}" if value == value else f"{'failed':>11}"
            diff = f"{100 * (ours / value - 1):+9.3f}" if value == value else f"{'':>9}"
            label = cid.split("#")[1]
            lines.append(
                f"{name:<16}{label:<13}{gas:<5}{model:<7}{vendor_text}{ours * scale:11.5g}{diff}"
                f"   {auto['flux_umol_m2_s'] * scale:.4g} ({auto['model']})"
            )
            if gas == "co2":
                s = loaded.samples[loaded.samples["closure"] == row["closure"]]
                w = s["h2o_mmol_mol"].fillna(0.0).to_numpy() / 1000.0
                closure = loaded.closures.loc[row["closure"]]
                end = closure["obs_length_s"]
                end = float(s["elapsed_s"].max()) if end != end else float(end)
                vendor_note = f"{value:.4g}" if value == value else "failed"
                panels.append(
                    _Panel(
                        title=f"{name} {label}",
                        elapsed_s=s["elapsed_s"].to_numpy(),
                        co2_dry_ppm=s["co2_ppm"].to_numpy() / (1.0 - w),
                        window_s=(float(row["deadband_s"]), end),
                        note=f"LI-COR {vendor_note}, soilflux {ours:.4g} ({model})",
                    )
                )
    lines.append("Fluxes in µmol m⁻² s⁻¹ (CO2) and nmol m⁻² s⁻¹ (CH4).")
    return lines, panels


def _demo_plot(path: Path, panels: list[_Panel], synthetic: tuple[Any, Any] | None) -> None:
    """Closures with their fit windows, and synthetic truth vs selected flux, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels) + (synthetic is not None)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax, panel in zip(flat, panels, strict=False):
        ax.axvspan(*panel.window_s, color="0.9", label="fit window")
        ax.plot(panel.elapsed_s, panel.co2_dry_ppm, ".", ms=3, color="C0")
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel("time since closing [s]")
        ax.set_ylabel("dry CO2 [µmol mol⁻¹]")
        ax.text(
            0.02,
            0.97,
            panel.note,
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.85, "linewidth": 0},
        )
    if synthetic is not None:
        ax = flat[len(panels)]
        true, selected = synthetic
        ax.loglog(true, selected, ".", ms=3, alpha=0.6)
        lims = [float(np.nanmin(true)), float(np.nanmax(true))]
        ax.plot(lims, lims, "k-", lw=0.8)
        ax.set_xlabel("true flux [µmol m⁻² s⁻¹]")
        ax.set_ylabel("selected flux [µmol m⁻² s⁻¹]")
        ax.set_title("synthetic closures", fontsize=9)
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


# Commands kept in modules of their own register themselves on `app` when imported.
from soilflux import cli_plot, cli_precision  # noqa: E402

__all__ = ["app", "cli_plot", "cli_precision", "iter_parts", "load", "main"]


def main() -> None:
    """Entry point of the ``soilflux`` console script."""
    app()
