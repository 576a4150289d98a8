"""``fluxfleet report`` (wired in ``fluxfleet.cli``): the standalone HTML report of a period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

CONFIG_HELP = "Settings file (TOML; keys as the FLUXFLEET_* variables, lower case)."


def _when(value: str, option: str, *, end: bool) -> dt.datetime:
    """An ISO 8601 date or time (UTC if naive); a date alone at ``--to`` includes that day."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            t = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return t + dt.timedelta(days=1) if end else t
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO 8601 date or time, got {value!r}", param_hint=option
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def report(
    from_: Annotated[
        str, typer.Option("--from", metavar="DATE", help="Start (ISO 8601 date or time, UTC).")
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="DATE", help="End (exclusive; a date alone includes that day)."
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The report, .html.")],
    store: Annotated[
        str | None,
        typer.Option("--store", help="duckdb:///PATH or postgresql://… (FLUXFLEET_STORE)."),
    ] = None,
    analysis: Annotated[
        Path | None,
        typer.Option(
            "--analysis",
            help="Analysis file (TOML: controls, reference files, calibration; "
            "FLUXFLEET_ANALYSIS).",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Write a standalone HTML report of a period: fleet summary, fluxes per variant,
    treatment effects, quality and calibration (plots inline, no external assets)."""
    from soilflux.cli_errors import check_output
    from soilflux.io import InputError

    from fluxfleet.keys import write_atomic
    from fluxfleet.server_commands import _settings
    from fluxfleet.store import StoreError, open_store
    from fluxfleet.web.analysis_config import AnalysisConfigError, load_analysis
    from fluxfleet.web.queries import QueryError
    from fluxfleet.web.report import build, render

    start = _when(from_, "--from", end=False)
    end = _when(to, "--to", end=True)
    if end <= start:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    check_output(output, "-o", (".html",))
    s = _settings(config, store=store, analysis=analysis)
    try:
        cfg = load_analysis(s.analysis)
        with open_store(s.store_url, read_only=True) as st:
            html = render(build(st, cfg, start, end, s.store_url))
    except (AnalysisConfigError, InputError, StoreError, QueryError) as exc:
        typer.echo(f"fluxfleet: error: {exc}", err=True)
        raise typer.Exit(1) from None
    write_atomic(output, html.encode("utf-8"))
    typer.echo(f"wrote {output}", err=True)
