"""``fluxfleet serve``: the console over HTTP (wired in ``fluxfleet.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CONFIG_HELP = "Settings file (TOML; keys as the FLUXFLEET_* variables, lower case)."


def serve(
    store: Annotated[
        str | None,
        typer.Option("--store", help="duckdb:///PATH or postgresql://… (FLUXFLEET_STORE)."),
    ] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8080,
    bind: Annotated[
        str, typer.Option("--bind", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    bundles: Annotated[
        Path | None,
        typer.Option(
            "--bundles",
            help="Serve the firmware bundles of this directory (fluxfleet bundle --out) to "
            "the chambers' loader under /firmware/ (FLUXFLEET_BUNDLES).",
        ),
    ] = None,
    warm: Annotated[
        bool,
        typer.Option(
            "--warm-up/--no-warm-up",
            help="Compute the season's Treatment, Soil pCO2, Calibration, Quality and Fluxes "
            "results once at start, in the background, so that the first visitor finds them.",
        ),
    ] = True,
) -> None:
    """Serve the web console (fleet, fluxes, closures; CSV/Parquet export) of a store.

    A DuckDB store is read read-only, request by request; while ``fluxfleet ingest``
    writes the same DuckDB file the pages answer 503 (use PostgreSQL to run both).
    """
    import uvicorn

    from fluxfleet.ops.firmware import BundleDir, FirmwareError
    from fluxfleet.server_commands import _settings
    from fluxfleet.store import StoreError, open_store
    from fluxfleet.web import create_app
    from fluxfleet.web.warm import local_base_url, start_warm_up

    s = _settings(config, store=store, bundles=bundles)
    if s.bundles is not None:
        try:
            BundleDir(s.bundles).check()
        except FirmwareError as exc:
            typer.echo(f"fluxfleet: error: --bundles: {exc}", err=True)
            raise typer.Exit(1) from None
    try:  # refuse at once a store that cannot be read rather than on the first page
        open_store(s.store_url, read_only=True).close()
    except StoreError as exc:
        typer.echo(f"fluxfleet: error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"console of {s.store_url} on http://{bind}:{port}/", err=True)
    if s.bundles is not None:
        typer.echo(
            f"firmware of {s.bundles} on http://{bind}:{port}/firmware/ "
            "(a chamber's update_url: …/firmware/d/<device>)",
            err=True,
        )
    if warm and port:
        start_warm_up(local_base_url(bind, port))
    try:
        uvicorn.run(create_app(s), host=bind, port=port, log_level="warning")
    except OSError as exc:
        typer.echo(f"fluxfleet: error: cannot listen on {bind}:{port}: {exc}", err=True)
        raise typer.Exit(1) from None
