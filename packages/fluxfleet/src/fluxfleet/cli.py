"""The ``fluxfleet`` command line: sim, demo, sensor-lag, keys, bundle."""

from __future__ import annotations

import atexit
import datetime as dt
import math
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from soilflux.cli_errors import EXIT_DATA, EXIT_INTERRUPTED, check_output

from fluxfleet import (
    __version__,
    alarm_commands,
    cmd_commands,
    live_demo,
    ops_commands,
    rollout_commands,
    server_commands,
)
from fluxfleet.web import report_command as web_report
from fluxfleet.web import serve as web_serve

# No Rich markup: it would swallow the units in brackets ([s], [cm³], [ppm]) in --help.
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
keys_app = typer.Typer(
    no_args_is_help=True,
    help="Fleet signing keys (Ed25519; the chambers hold the public key).",
    rich_markup_mode=None,
)
app.add_typer(keys_app, name="keys")

DEFAULT_START = "2023-09-15T20:00:00Z"
DEMO_PNG = Path(tempfile.gettempdir()) / "fluxfleet-demo.png"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fluxfleet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Fleet platform for low-cost robotic soil-CO2 flux chambers."""


def _parse_broker(url: str) -> tuple[str, int]:
    m = re.fullmatch(r"mqtt://([^:/\s]+)(?::(\d{1,5}))?/?", url)
    if not m:
        raise typer.BadParameter(f"expected mqtt://HOST:PORT, got {url!r}", param_hint="--broker")
    port = int(m.group(2) or 1883)
    if not 0 < port < 65536:
        raise typer.BadParameter(f"port {port} is out of range", param_hint="--broker")
    return m.group(1), port


def _parse_speed(speed: str) -> float | None:
    if speed == "max":
        return None
    try:
        value = float(speed)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise typer.BadParameter(
            f"expected 'max' or a positive factor (simulated s per wall s), got {speed!r}",
            param_hint="--speed",
        )
    return value


def _parse_start(start: str) -> float:
    try:
        t = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO 8601 time, got {start!r}", param_hint="--start"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _provisioning(update_url: str | None, fleet_key: Path | None) -> Any:
    """``--update-url`` with ``--fleet-key``: the chambers boot through the loader."""
    from fluxfleet.firmware.http import HTTPError, split_url
    from fluxfleet.sim.loader_boot import Provisioning

    if update_url is None and fleet_key is None:
        return None
    if update_url is None or fleet_key is None:
        raise typer.BadParameter(
            "--update-url and --fleet-key go together", param_hint="--update-url"
        )
    if update_url.startswith("https://"):  # the simulated chambers have no fleet CA to pin
        raise typer.BadParameter(
            "the simulator fetches updates over http:// only", param_hint="--update-url"
        )
    try:
        split_url(update_url.replace("{dev}", "x"))
    except HTTPError as exc:
        raise typer.BadParameter(str(exc), param_hint="--update-url") from None
    try:
        key_hex = fleet_key.read_text().strip()
    except OSError as exc:
        typer.echo(f"fluxfleet: error: {fleet_key}: cannot read: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_DATA) from None
    if not re.fullmatch(r"[0-9a-f]{64}", key_hex):
        typer.echo(
            f"fluxfleet: error: {fleet_key}: not a public key (64 hex digits, "
            "as fluxfleet keys generate writes into fleet.key.pub)",
            err=True,
        )
        raise typer.Exit(EXIT_DATA)
    flash = tempfile.mkdtemp(prefix="fluxfleet-sim-flash-")
    atexit.register(shutil.rmtree, flash, True)  # the virtual flash lives for one run
    return Provisioning(update_url, key_hex, flash)


@app.command()
def sim(
    truth: Annotated[Path, typer.Option("--truth", help="Ground-truth Parquet file to write.")],
    chambers: int = typer.Option(50, "--chambers", min=1, max=2000, help="Virtual devices."),
    hours: float = typer.Option(24.0, "--hours", min=0.01, help="Simulated hours."),
    speed: str = typer.Option(
        "max", "--speed", help="'max' (as fast as possible) or simulated s per wall s."
    ),
    broker: str = typer.Option(..., "--broker", help="mqtt://HOST:PORT of the broker."),
    faults: str = typer.Option(
        "default", "--faults", help="'default', 'none' or a JSON/CSV schedule FILE."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw."),
    co2_noise_ppm: float = typer.Option(
        3.0, "--co2-noise-ppm", min=0.0, help="SCD30 reading noise, 1 sigma [ppm]."
    ),
    start: str = typer.Option(DEFAULT_START, "--start", help="Simulated start time (UTC)."),
    workers: int = typer.Option(
        0, "--workers", min=0, help="Worker processes (0: 2 at --speed max, else 1)."
    ),
    credentials: Annotated[
        Path | None,
        typer.Option("--credentials", help="Per-device broker accounts (devices add --json)."),
    ] = None,
    update_url: Annotated[
        str | None,
        typer.Option(
            "--update-url",
            help="Boot every chamber through the real loader from this update server, "
            "e.g. http://127.0.0.1:8080/firmware/d/{dev} ({dev}: the device id).",
        ),
    ] = None,
    fleet_key: Annotated[
        Path | None,
        typer.Option("--fleet-key", help="The fleet's public key file (fleet.key.pub)."),
    ] = None,
) -> None:
    """Run a simulated greenhouse: virtual chambers running the real firmware over MQTT."""
    from tqdm import tqdm

    from fluxfleet.sim.faults import FaultFileError, resolve_schedule
    from fluxfleet.sim.fleet import FleetConfig
    from fluxfleet.sim.runner import run_fleet
    from fluxfleet.sim.sensors import SensorSpec

    if not math.isfinite(hours):
        raise typer.BadParameter(
            f"must be a finite number of hours, got {hours}", param_hint="--hours"
        )
    host, port = _parse_broker(broker)
    pace = _parse_speed(speed)
    accounts = ops_commands.sim_credentials(credentials)
    start_s = _parse_start(start)
    # Checked before the run, which may take hours: a truth that cannot be written is
    # refused now. Parquet only (the faults go into its metadata).
    check_output(truth, "--truth", (".parquet",))
    provisioning = _provisioning(update_url, fleet_key)
    cfg = FleetConfig(
        chambers=chambers,
        start_s=start_s,
        duration_s=hours * 3600.0,
        seed=seed,
        sensors=SensorSpec(co2_noise_ppm=co2_noise_ppm),
        firmware=provisioning,
    )
    try:
        schedule = resolve_schedule(faults, chambers, cfg.duration_s, seed)
    except FaultFileError as exc:  # a schedule file that cannot be used: bad input data
        typer.echo(f"fluxfleet: error: --faults: {exc}", err=True)
        raise typer.Exit(EXIT_DATA) from None
    try:  # the devices would just keep their samples if it is down: say so now
        socket.create_connection((host, port), timeout=3.0).close()
    except OSError as exc:
        typer.echo(f"error: cannot reach the broker at {broker}: {exc}", err=True)
        raise typer.Exit(2) from None
    n_workers = workers or (min(2, os.cpu_count() or 1) if pace is None else 1)
    typer.echo(
        f"simulating {chambers} chambers x {hours:g} h from {start} "
        f"({len(schedule)} faults, {n_workers} worker(s)) -> {broker}"
    )
    bar = tqdm(total=round(hours * 3600), unit="sim-s", unit_scale=True, leave=True)

    def progress(done_s: float) -> None:
        bar.update(max(0, round(done_s) - bar.n))

    try:
        result = run_fleet(
            cfg,
            schedule,
            (host, port),
            workers=n_workers,
            speed=pace,
            progress=progress,
            credentials=accounts,
        )
    except KeyboardInterrupt:
        bar.close()
        typer.echo(
            f"fluxfleet: interrupted after {bar.n:,} of {bar.total:,} simulated s: the workers "
            f"are stopped and nothing is written ({truth} is written only when a run ends); "
            "what the chambers published so far stays with the broker's subscribers",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        bar.close()
    result.write(str(truth), cfg)
    faults_path = truth.with_name(truth.stem + ".faults.parquet")
    typer.echo(
        f"{result.samples:,} samples in {result.wall_s:.1f} s ({result.samples_per_s:,.0f}/s); "
        f"{len(result.closures):,} closures; truth: {truth} (+ {faults_path.name})"
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to write the figure (PNG).")] = DEMO_PNG,
    chambers: int = typer.Option(12, "--chambers", min=2, max=100),
    hours: float = typer.Option(3.0, "--hours", min=0.5, max=12.0),
    seed: int = typer.Option(1, "--seed"),
    co2_noise_ppm: float = typer.Option(
        3.0, "--co2-noise-ppm", min=0.0, help="SCD30 reading noise, 1 sigma [ppm]."
    ),
    store_file: Annotated[
        Path | None, typer.Option("--store-file", help="The DuckDB store to write (afresh).")
    ] = None,
) -> None:
    """The platform on a small fleet: broker, ingest into DuckDB, live fluxes, summary."""
    from fluxfleet.demo import DEMO_STORE, run_demo

    check_output(out, "--out", (".png",))
    run_demo(out, chambers, hours, seed, co2_noise_ppm, store_file or DEMO_STORE)


@app.command("sensor-lag")
def sensor_lag_cmd(
    samples: Annotated[
        Path,
        typer.Argument(
            metavar="SAMPLES",
            help="Fleet samples (Parquet or CSV: chamber, cyc, ts [ms], ph, co2_ppm).",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the per-device table here (CSV).")
    ] = None,
    skip_s: float = typer.Option(
        45.0, "--skip-s", min=0.0, help="Start of the fit after the lid opens [s]."
    ),
    window_s: float = typer.Option(
        90.0, "--window-s", min=1.0, help="End of the fit after the lid opens [s]."
    ),
    min_amplitude_ppm: float = typer.Option(
        10.0, "--min-amplitude-ppm", min=0.0, help="Drop flushes whose CO2 changes less [ppm]."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print the per-device table as JSON records."
    ),
) -> None:
    """Measure each device's SCD30 time constant [s] from the flushes of its cycles."""
    import numpy as np
    import pandas as pd

    from fluxfleet.sensor_lag import sensor_lag

    if out is not None:
        check_output(out, "--out", (".csv",))
    if not samples.is_file():  # an input file that cannot be used: bad data, exit 1
        reason = "is a directory, not a file" if samples.is_dir() else "no such file"
        typer.echo(f"fluxfleet: error: {samples}: {reason}", err=True)
        raise typer.Exit(EXIT_DATA)
    try:
        if samples.suffix.lower() == ".csv":
            table = pd.read_csv(samples)
        else:
            table = pd.read_parquet(samples)
    except Exception as exc:  # unreadable: say which file and why
        typer.echo(f"fluxfleet: error: {samples}: cannot read: {exc}", err=True)
        raise typer.Exit(EXIT_DATA) from None
    try:
        result = sensor_lag(
            table, skip_s=skip_s, window_s=window_s, min_amplitude_ppm=min_amplitude_ppm
        )
    except ValueError as exc:
        typer.echo(f"fluxfleet: error: {samples}: {exc}", err=True)
        raise typer.Exit(EXIT_DATA) from None
    if json_output:
        typer.echo(result.to_json(orient="records", indent=2))
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        typer.echo(
            f"SCD30 time constant per device (flush transients {skip_s:g}-{window_s:g} s after "
            "the lid opens; tau_s, tau_se_s [s], amplitude_ppm, residual_sd_ppm [ppm]):",
            err=json_output,  # with --json, stdout is the JSON alone
        )
        if not json_output:
            typer.echo(result.round(3).to_string(index=False))
    good = result[np.isfinite(result["tau_s"]) & ~result["at_bound"]]
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        try:
            result.to_csv(tmp, index=False)
            tmp.replace(out)
        except OSError as exc:
            typer.echo(f"error: cannot write {out}: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"table: {out}", err=json_output)
    if good.empty:
        typer.echo("error: no device has a usable flush transient", err=True)
        raise typer.Exit(1)
    median = float(good["tau_s"].median())
    typer.echo(
        f"fleet median over {len(good)} device(s): tau = {median:.1f} s "
        f"(device SE median {float(good['tau_se_s'].median()):.1f} s)",
        err=json_output,
    )
    typer.echo(
        f"suggested: FluxOptions(sensor_lag_s={median:.1f}) "
        "(fluxfleet.flux_options; datasheet 20 s). On the simulator the estimate at the "
        "default 45-s skip reads 4-8 % long (docs/fleet/sensor-lag.md).",
        err=json_output,
    )


KEY_NAME = "fleet.key"


@keys_app.command("generate")
def keys_generate(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help=f"Directory for {KEY_NAME} (private, mode 0600) and {KEY_NAME}.pub."
        ),
    ],
) -> None:
    """Generate the fleet's signing key pair; never overwrites an existing key."""
    from fluxfleet.keys import generate_key, save_key

    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} exists and is not a directory", param_hint="--out")
    path = out / KEY_NAME
    for existing in (path, Path(str(path) + ".pub")):
        if existing.exists():
            raise typer.BadParameter(
                f"{existing} already exists: refusing to overwrite a fleet key (every chamber "
                "is provisioned with its public key; a new key means re-provisioning them all)",
                param_hint="--out",
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        save_key(key, path)
    except OSError as exc:
        typer.echo(f"error: cannot write the key into {out}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"private key: {path} (mode 0600; keep it on the release machine only)")
    typer.echo(f"public key:  {path}.pub (provision each chamber's config.json with it)")
    typer.echo(key.public_hex)


@app.command()
def bundle(
    version: Annotated[
        str,
        typer.Option("--version", help="Bundle version, e.g. 6.2.0 (1-32 of A-Z a-z 0-9 . _ + -)."),
    ],
    key: Annotated[Path, typer.Option("--key", help="The fleet's private key (fleet.key).")],
    out: Annotated[
        Path,
        typer.Option("--out", help="The update server's directory (manifest.json, bundles/)."),
    ],
    src: Annotated[
        Path | None,
        typer.Option("--src", help="Firmware directory to bundle (default: this package's)."),
    ] = None,
    min_version: Annotated[
        str | None,
        typer.Option(
            "--min-version",
            help="Oldest version a chamber that installed this bundle may install afterwards "
            "(same characters as --version, not above it): stops the replay of an older "
            "signed bundle.",
        ),
    ] = None,
) -> None:
    """Sign the firmware and publish it as bundle VERSION for the chambers' loader."""
    from fluxfleet.keys import FIRMWARE_DIR, ReleaseError, load_key, write_bundle

    src = src if src is not None else FIRMWARE_DIR
    try:
        fleet_key = load_key(key)
    except ReleaseError as exc:
        raise typer.BadParameter(str(exc), param_hint="--key") from None
    try:
        manifest = write_bundle(
            out,
            version,
            fleet_key,
            src,
            created_ms=int(time.time() * 1000),
            min_version=min_version,
        )
    except ReleaseError as exc:
        if exc.field in ("version", "min_version"):
            hint = "--" + exc.field.replace("_", "-")
            raise typer.BadParameter(exc.message, param_hint=hint) from None
        hint = "--out" if exc.field == str(out) else "--src"
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    except OSError as exc:
        typer.echo(f"error: cannot publish into {out}: {exc}", err=True)
        raise typer.Exit(1) from None
    dest = out / "bundles" / version
    files = [p for p in dest.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    floor = f"; minimum version {min_version}" if min_version is not None else ""
    typer.echo(f"bundle {version}: {len(files)} files, {size:,} bytes in {dest}{floor}")
    typer.echo(
        f"manifest: {manifest} (signed; checked with the chambers' own loader and Ed25519 code "
        f"against the public key {fleet_key.public_hex})"
    )


# The server's commands live in their own module; the CLI only wires them.
app.command("ingest")(server_commands.ingest)
app.command("export")(server_commands.export)
app.command("broker")(ops_commands.broker)
app.add_typer(ops_commands.devices_app, name="devices")
app.command("serve")(web_serve.serve)
app.command("live-demo")(live_demo.live_demo)
app.command("report")(web_report.report)
app.add_typer(cmd_commands.cmd_app, name="cmd")
app.add_typer(rollout_commands.rollout_app, name="rollout")
app.add_typer(rollout_commands.tokens_app, name="tokens")
app.add_typer(alarm_commands.alarms_app, name="alarms")


def main() -> None:
    """Entry point of the ``fluxfleet`` console script."""
    app()
