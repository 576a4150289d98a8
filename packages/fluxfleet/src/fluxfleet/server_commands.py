"""The server's commands, ``fluxfleet ingest`` and ``fluxfleet export`` (wired in ``cli``)."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer

CONFIG_HELP = "Settings file (TOML; keys as the FLUXFLEET_* variables, lower case)."
# The options and the error exit shared by the fleet's store commands (alarms, devices,
# rollout, tokens, cmd): one definition, so their help and messages stay the same.
StoreUrl = Annotated[
    str | None,
    typer.Option("--store", help="duckdb:///PATH or postgresql://… (FLUXFLEET_STORE)."),
]
ConfigFile = Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``fluxfleet: error: message`` on stderr; the Exit to raise (1 data, 2 usage)."""
    typer.echo(f"fluxfleet: error: {message}", err=True)
    return typer.Exit(code)


def _settings(config: Path | None, **options: Any) -> Any:
    from fluxfleet.settings import SettingsError, load_settings

    try:
        return load_settings(config, **options)
    except SettingsError as exc:
        typer.echo(f"fluxfleet: error: {exc}", err=True)
        raise typer.Exit(2) from None


def _store_settings(config: Path | None, store: str | None) -> Any:
    """The settings of a command that reads a store: without importing pydantic-settings
    (≈ 0.4 CPU-s) when no config file and no ``FLUXFLEET_*`` variable can set any."""
    from fluxfleet.settings_defaults import options_only

    return options_only(config, store) or _settings(config, store=store)


def _open(url: str, **options: Any) -> Any:
    from fluxfleet.store import StoreError, open_store

    try:
        return open_store(url, **options)
    except StoreError as exc:
        typer.echo(f"fluxfleet: error: {exc}", err=True)
        raise typer.Exit(1) from None


def ingest(
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://HOST:PORT (FLUXFLEET_BROKER).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="duckdb:///PATH or postgresql://… (FLUXFLEET_STORE)."),
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="Fixed MQTT client id (the session).")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Shared-subscription group ($share/NAME/…).")
    ] = None,
    receive_maximum: Annotated[
        int | None,
        typer.Option("--receive-maximum", help="Unacknowledged messages in flight, at most."),
    ] = None,
    no_fluxes: Annotated[
        bool, typer.Option("--no-fluxes", help="Do not compute live fluxes.")
    ] = False,
    idle_exit_s: Annotated[
        float | None,
        typer.Option("--idle-exit-s", help="Exit after this long without a message [s]."),
    ] = None,
    retention_days: Annotated[
        float | None,
        typer.Option(
            "--retention-days",
            help="Remove raw samples older than this, at start and hourly [d] "
            "(FLUXFLEET_RETENTION_DAYS; unset keeps all).",
        ),
    ] = None,
    alarms: Annotated[
        bool,
        typer.Option("--alarms", help="Also evaluate alarms every minute (docs/fleet/alarms.md)."),
    ] = False,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="With --alarms: POST raises and clears here.")
    ] = None,
    alarm_interval: Annotated[
        str, typer.Option("--alarm-interval", help="With --alarms: time between evaluations.")
    ] = "60s",
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Receive the fleet's messages from MQTT into the store (and compute live fluxes)."""
    from fluxfleet.alarm_commands import _duration_s, alarm_worker, check_webhook
    from fluxfleet.ingest.fluxes import FluxWorker, LiveFluxes
    from fluxfleet.ingest.mqtt import Ingestor, topics

    s = _settings(
        config,
        broker=broker,
        store=store,
        client_id=client_id,
        group=group,
        receive_maximum=receive_maximum,
        live_fluxes=False if no_fluxes else None,
        retention_days=retention_days,
    )
    host, port = s.broker_address
    if webhook is not None and not alarms:
        raise typer.BadParameter("needs --alarms", param_hint="--webhook")
    check_webhook(webhook)
    alarm_interval_s = _duration_s(alarm_interval, "--alarm-interval")
    st = _open(s.store_url)
    retention = None
    if s.retention_days is not None:
        from fluxfleet.ingest.retention import RetentionWorker

        retention = RetentionWorker(
            st.clone(), s.retention_days, report=lambda m: typer.echo(m, err=True)
        )
    alarm_thread = alarm_worker(st, webhook, alarm_interval_s) if alarms else None
    worker = None
    if s.live_fluxes:
        worker = FluxWorker(LiveFluxes(st.clone(), s.chamber_volume_cm3, s.chamber_area_cm2))
        worker.start()
    ing = Ingestor(
        host,
        port,
        st,
        client_id=s.client_id,
        group=s.group,
        receive_maximum=s.receive_maximum,
        linger_s=s.linger_s,
        session_expiry_s=s.session_expiry_s,
        fluxes=worker,
        username=s.mqtt_username,
        password=s.mqtt_password,
    )
    try:
        ing.start()
    except OSError as exc:
        if worker is not None:
            worker.stop()
        if retention is not None:
            retention.store.close()
        if alarm_thread is not None:
            alarm_thread.stop()
        st.close()
        typer.echo(f"fluxfleet: error: cannot reach the broker at {s.broker}: {exc}", err=True)
        raise typer.Exit(1) from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: ing.stop())
    typer.echo(
        f"ingesting {s.broker} -> {st.url} as {s.client_id!r}"
        + (f" in group {s.group!r}" if s.group else "")
        + (", live fluxes on" if worker else "")
        + (", alarms on" if alarm_thread else ""),
        err=True,
    )
    if ing.subscribed.wait(15.0):
        typer.echo(f"subscribed: {', '.join(topics(s.group))}", err=True)
    if retention is not None:
        retention.start()
    last = [time.monotonic(), 0]

    def idle() -> bool:
        # idle only once something arrived: a fleet that starts late is not idleness
        if idle_exit_s is None or ing.stats.messages == 0:
            return False
        if ing.stats.messages != last[1]:
            last[:] = [time.monotonic(), ing.stats.messages]
        return time.monotonic() - last[0] > idle_exit_s

    try:
        ing.run(until=idle)
    finally:
        ing.close()
        if worker is not None:
            worker.stop()
        if retention is not None:
            retention.stop()
        if alarm_thread is not None:
            alarm_thread.stop()
        counts = st.counts()
        st.close()
    s_ = ing.stats
    typer.echo(
        f"{s_.messages:,} messages in {s_.batches:,} batches: {s_.samples_stored:,} new samples, "
        f"{s_.closures_stored:,} new closures, {s_.rejected:,} dead letters; store now "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        err=True,
    )


def _when(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO 8601 time, got {text!r}", param_hint=option
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def export(
    table: Annotated[
        str,
        typer.Option(
            "--table",
            help="samples | closures | fluxes | devices | device_locations | dead_letters",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="FILE.parquet or FILE.csv.")],
    store: Annotated[
        str | None,
        typer.Option("--store", help="duckdb:///PATH or postgresql://… (FLUXFLEET_STORE)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First time, ISO 8601 (UTC if no offset).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time (excluded), ISO 8601.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Write a table of the store to Parquet or CSV (samples: soilflux's generic layout)."""
    from fluxfleet.export import export_url
    from fluxfleet.store import tables
    from fluxfleet.store.base import StoreError

    if table not in tables.NAMES:
        raise typer.BadParameter(f"must be one of {', '.join(tables.NAMES)}", param_hint="--table")
    if output.suffix.lower() not in (".parquet", ".csv"):
        raise typer.BadParameter("must end in .parquet or .csv", param_hint="-o")
    t0, t1 = _when(start, "--from"), _when(end, "--to")
    if t0 is not None and t1 is not None and t1 <= t0:
        raise typer.BadParameter(f"{end} is not after --from {start}", param_hint="--to")
    s = _store_settings(config, store)
    if not output.parent.is_dir():
        raise typer.BadParameter(f"directory {output.parent} does not exist", param_hint="-o")
    started = time.monotonic()
    try:
        n = export_url(s.store_url, table, output, t0, t1, s.chamber_volume_cm3, s.chamber_area_cm2)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # a time range on a table without a time column
        raise fail(str(exc), 2) from None
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc}") from None
    typer.echo(f"{n:,} {table} rows -> {output} in {time.monotonic() - started:.2f} s", err=True)
