"""``fluxfleet cmd …``: fleet commands from the command line (wired in ``cli``).

The work is in :mod:`fluxfleet.ops.commands`; this module parses options, reports and
maps errors to exit codes (2: bad usage, naming the option or schedule key; 1: the
broker or store cannot be used, or an unknown command id).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from fluxfleet.server_commands import ConfigFile as Config
from fluxfleet.server_commands import StoreUrl
from fluxfleet.server_commands import fail as _fail

cmd_app = typer.Typer(
    no_args_is_help=True,
    help="Commands to the chambers (QoS 1, never retained; acks stored as an audit trail).",
    rich_markup_mode=None,
)

Broker = Annotated[
    str | None, typer.Option("--broker", help="mqtt://HOST:PORT (FLUXFLEET_BROKER).")
]
Devices = Annotated[
    list[str] | None, typer.Argument(metavar="DEV...", help="Device ids (or --all).")
]
All = Annotated[bool, typer.Option("--all", help="The whole fleet (fluxfleet/v1/all/cmd).")]
At = Annotated[
    str | None,
    typer.Option("--at", help="Synchronised execution time, ISO 8601 (e.g. 2026-12-07T03:00Z)."),
]
Expires = Annotated[
    str,
    typer.Option(
        "--expires", help="Expiry: a duration from now (90s, 10m, 2h, 1d) or an ISO 8601 time."
    ),
]
Wait = Annotated[
    str | None,
    typer.Option(
        "--wait",
        help="Follow the acks for this long (e.g. 15m), re-sending to targets back online, "
        "then report who confirmed, failed, expired or never answered.",
    ),
]
Operator = Annotated[str | None, typer.Option("--operator", help="Who sends it (default: $USER).")]
Json = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def _operator(name: str | None) -> str:
    if name is not None:
        return name
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _send(
    cmd: str,
    args: dict[str, Any] | None,
    devices: list[str] | None,
    all_: bool,
    at: str | None,
    expires: str,
    wait: str | None,
    operator: str | None,
    broker: str | None,
    store: str | None,
    config: Path | None,
    json_output: bool,
) -> None:
    from fluxfleet.ops import commands as ops
    from fluxfleet.server_commands import _open, _settings

    if all_ and devices:
        raise _fail("give device ids or --all, not both", 2)
    if not all_ and not devices:
        raise _fail("DEV: name at least one device, or --all", 2)
    now = ops.now_ms()
    try:
        expires_ms = ops.parse_expires_ms(expires, now)
        exec_at_ms = ops.parse_time_ms(at, "--at") if at is not None else None
        wait_ms = ops.parse_duration_ms(wait, "--wait") if wait is not None else None
        # checked before the store or broker is touched: nothing is sent half-right
        ops.build(cmd, args, list(devices or []) or None, _operator(operator), now, expires_ms,
                  exec_at_ms, ["x"])  # fmt: skip
    except ops.CommandError as exc:
        raise _fail(str(exc), 2) from None
    settings = _settings(config, broker=broker, store=store)
    host, port = settings.broker_address
    st = _open(settings.store_url)
    try:
        known = ops.known_devices(st) if all_ else []
        command = ops.build(cmd, args, None if all_ else list(devices or []),
                            _operator(operator), now, expires_ms, exec_at_ms, known)  # fmt: skip
        follower = ops.Follower(host, port, command, settings.mqtt_username, settings.mqtt_password)
        try:
            follower.start()
        except OSError as exc:
            raise _fail(f"cannot reach the broker at {settings.broker}: {exc}", 1) from None
        try:
            ops.record(st, command)  # the audit row exists before any device can act
            try:
                follower.publish()
            except OSError as exc:
                raise _fail(f"{command.cmd_id} recorded but not sent: {exc}", 1) from None
            target = "all" if command.broadcast else ", ".join(command.devices)
            typer.echo(
                f"sent {command.cmd_id}: {cmd} {json.dumps(command.args)} to {target} "
                f"({len(command.devices)} device(s) expected to answer) by {command.operator}",
                err=json_output,
            )
            if wait_ms is None:
                typer.echo(
                    f"follow it with: fluxfleet cmd status {command.cmd_id}", err=json_output
                )
                if json_output:
                    typer.echo(json.dumps({"cmd_id": command.cmd_id}))
                return
            finished = follower.wait(wait_ms / 1000.0)
            states = dict(follower.states)
            resent = dict(follower.resent)
        finally:
            follower.stop()
    finally:
        st.close()
    summary = ops.summarise(command.devices, states)
    if json_output:
        typer.echo(json.dumps({"cmd_id": command.cmd_id, "summary": summary, "resent": resent}))
    else:
        _print_summary(summary)
        if not finished:
            typer.echo(f"(stopped following after {wait}; fluxfleet cmd status {command.cmd_id})")


_LABELS = (
    ("done", "confirmed (done)"),
    ("failed", "failed"),
    ("expired", "expired"),
    ("accepted", "accepted, not finished"),
    ("no_answer", "never answered"),
)


def _print_summary(summary: dict[str, list[str]]) -> None:
    for key, label in _LABELS:
        devs = summary[key]
        typer.echo(f"{label + ':':24s}{len(devs):4d}  {' '.join(devs)}".rstrip())


def frc(
    devices: Devices = None,
    all_: All = False,
    ppm: Annotated[
        int, typer.Option("--ppm", help="Reference CO2 of the forced recalibration [ppm].")
    ] = 420,
    at: At = None,
    expires: Expires = "30m",
    wait: Wait = None,
    operator: Operator = None,
    broker: Broker = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Forced recalibration of the SCD30s (runs with the lid open after a flush)."""
    _send("frc", {"ppm": ppm}, devices, all_, at, expires, wait, operator, broker, store,
          config, json_output)  # fmt: skip


def reboot(
    devices: Devices = None,
    all_: All = False,
    at: At = None,
    expires: Expires = "30m",
    wait: Wait = None,
    operator: Operator = None,
    broker: Broker = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Reboot the controllers (never within 60 s of a recalibration)."""
    _send("reboot", None, devices, all_, at, expires, wait, operator, broker, store, config,
          json_output)  # fmt: skip


def servo_test(
    devices: Devices = None,
    all_: All = False,
    sweeps: Annotated[int, typer.Option("--sweeps", help="Close/open sweeps, 1-10.")] = 2,
    at: At = None,
    expires: Expires = "30m",
    wait: Wait = None,
    operator: Operator = None,
    broker: Broker = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Sweep the lid servo (when the chamber is open); done after the sweeps."""
    _send("servo_test", {"sweeps": sweeps}, devices, all_, at, expires, wait, operator, broker,
          store, config, json_output)  # fmt: skip


def set_location(
    device: Annotated[str, typer.Argument(metavar="DEV", help="Device id.")],
    location: Annotated[
        str, typer.Argument(metavar="T.V.R", help="Location code table.variant.replica (9.2.B).")
    ],
    expires: Expires = "30m",
    wait: Wait = None,
    operator: Operator = None,
    broker: Broker = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Set a device's location code (its samples are labelled with it from then on)."""
    _send("set_location", {"loc": location}, [device], False, None, expires, wait, operator,
          broker, store, config, json_output)  # fmt: skip


def set_schedule(
    device: Annotated[str, typer.Argument(metavar="DEV", help="Device id.")],
    pairs: Annotated[
        list[str],
        typer.Argument(
            metavar="KEY=VALUE...", help="KEY=VALUE schedule changes (e.g. period_ms=900000)."
        ),
    ],
    expires: Expires = "30m",
    wait: Wait = None,
    operator: Operator = None,
    broker: Broker = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Change a device's cycle schedule; values outside the protocol's limits are refused."""
    from fluxfleet.ops.commands import CommandError, schedule_args

    try:
        args = schedule_args(pairs)
    except CommandError as exc:
        raise _fail(f"set-schedule: {exc}", 2) from None
    _send("set_schedule", args, [device], False, None, expires, wait, operator, broker, store,
          config, json_output)  # fmt: skip


def status(
    cmd_id: Annotated[
        str, typer.Argument(metavar="CMD_ID", help="The command id that cmd printed.")
    ],
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Which state each device reached for a command, from the stored acks."""
    from fluxfleet.ops.commands import command_status
    from fluxfleet.server_commands import _open, _settings

    settings = _settings(config, store=store)
    st = _open(settings.store_url)
    try:
        report = command_status(st, cmd_id)
    finally:
        st.close()
    if report is None:
        raise _fail(f"no command {cmd_id!r} in the store {settings.store_url}", 1)
    if json_output:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(
        f"{report['cmd_id']}: {report['cmd']} {json.dumps(report['args'])} to {report['target']} "
        f"by {report['operator']}, sent {report['sent']}, expires {report['expires']}"
        + (f", at {report['exec_at']}" if report["exec_at"] else "")
    )
    for dev, acks in report["devices"].items():
        trail = " -> ".join(f"{a['state']} {a['time']}" for a in acks) or "no answer"
        last = acks[-1]["detail"] if acks and acks[-1]["detail"] else ""
        typer.echo(f"  {dev:20s} {trail}" + (f" ({last})" if last else ""))
    _print_summary(report["summary"])


cmd_app.command("frc")(frc)
cmd_app.command("reboot")(reboot)
cmd_app.command("servo-test")(servo_test)
cmd_app.command("set-location")(set_location)
cmd_app.command("set-schedule")(set_schedule)
cmd_app.command("status")(status)
