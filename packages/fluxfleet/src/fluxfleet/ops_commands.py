"""``fluxfleet broker`` and ``fluxfleet devices add|list|retire`` (wired in ``cli``)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from fluxfleet.server_commands import ConfigFile as ConfigOpt
from fluxfleet.server_commands import StoreUrl as StoreOpt
from fluxfleet.server_commands import _open, _settings
from fluxfleet.server_commands import fail as _fail

devices_app = typer.Typer(
    no_args_is_help=True,
    help="The device registry: broker credentials and the store's rows.",
    rich_markup_mode=None,
)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="The broker's data directory (FLUXFLEET_DATA_DIR; default var)."),
]


def broker(
    data: DataOpt = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="MQTT port.")] = 1883,
    bind: Annotated[
        str, typer.Option("--bind", help="Address of the listeners (default localhost only).")
    ] = "127.0.0.1",
    tls_port: Annotated[
        int | None, typer.Option("--tls-port", min=1, max=65535, help="Also listen with TLS here.")
    ] = None,
    certfile: Annotated[
        Path | None, typer.Option("--certfile", help="TLS: the server certificate (PEM).")
    ] = None,
    keyfile: Annotated[
        Path | None, typer.Option("--keyfile", help="TLS: the server's private key (PEM).")
    ] = None,
    cafile: Annotated[
        Path | None, typer.Option("--cafile", help="TLS: the CA chain to present (PEM).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run Mosquitto with accounts (dynamic security); first start creates the accounts."""
    from fluxfleet.ops.broker import ACCOUNTS, Broker, BrokerSetupError, Tls
    from fluxfleet.ops.dynsec import DynsecError

    s = _settings(config, data_dir=data)
    tls = None
    if tls_port is not None:
        if certfile is None or keyfile is None:
            raise typer.BadParameter("needs --certfile and --keyfile", param_hint="--tls-port")
        if tls_port == port:
            raise typer.BadParameter("must differ from --port", param_hint="--tls-port")
        tls = Tls(tls_port, certfile.resolve(), keyfile.resolve(), cafile and cafile.resolve())
    elif certfile or keyfile or cafile:
        raise typer.BadParameter("TLS files need --tls-port", param_hint="--certfile")
    b = Broker(s.data_dir.resolve(), port=port, bind=bind, tls=tls)
    try:
        b.prepare()
        b.start()
    except (BrokerSetupError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        created = b.ensure_accounts()
    except (DynsecError, BrokerSetupError) as exc:
        b.stop()
        raise _fail(str(exc)) from None
    typer.echo(
        f"broker on {bind}:{port}"
        + (f" (TLS on {tls.port})" if tls else "")
        + f", accounts in {s.data_dir / ACCOUNTS} (mode 0600)"
        + (f"; created: {', '.join(created)}" if created else ""),
        err=True,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    assert b.proc is not None
    while not done.wait(1.0):
        if b.proc.poll() is not None:
            raise _fail(f"mosquitto exited with code {b.proc.returncode} (log: {b.log})")
    b.stop()


def sim_credentials(path: Path | None) -> dict[str, tuple[str, str]] | None:
    """``fluxfleet sim --credentials FILE``: the devices' accounts (exit 1 naming the file)."""
    if path is None:
        return None
    from fluxfleet.ops.devices import RegistryError, read_credentials

    try:
        return read_credentials(path)
    except RegistryError as exc:
        raise _fail(str(exc)) from None


def _admin(data_dir: Path) -> tuple[Any, str]:
    from fluxfleet.ops.broker import BrokerSetupError, load_accounts
    from fluxfleet.ops.dynsec import Dynsec, DynsecError
    from fluxfleet.settings import parse_broker

    try:
        acc = load_accounts(data_dir)
        url = str(acc["broker"])
        host, port = parse_broker(url)
        admin = acc["accounts"]["admin"]
        return Dynsec(host, port, admin["username"], admin["password"]), url
    except (BrokerSetupError, DynsecError) as exc:
        raise _fail(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(f"{data_dir / 'accounts.json'}: no broker or admin account ({exc})") from None


@devices_app.command("add")
def devices_add(
    dev: Annotated[str, typer.Argument(metavar="DEV", help="Device id (1-32 of a-z 0-9 _ -).")],
    location: Annotated[
        str | None, typer.Option("--location", help="Where it stands, T.V.R (e.g. T1.V2.R3).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the credentials as JSON (provisioning).")
    ] = False,
    data: DataOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Register DEV: create its broker credentials (shown once) and its row in the store."""
    from fluxfleet.firmware.protocol import ProtocolError, check_device_id
    from fluxfleet.ops.devices import RegistryError, add_device, check_location
    from fluxfleet.ops.dynsec import DynsecError

    try:
        check_device_id(dev, "DEV")
        check_location(location)
    except (ProtocolError, RegistryError) as exc:
        raise typer.BadParameter(str(exc)) from None
    s = _settings(config, data_dir=data, store=store)
    st = _open(s.store_url)  # first: a store that cannot be opened leaves no credentials
    ds, url = _admin(s.data_dir)
    try:
        creds = add_device(ds, st, dev, location, url)
    except (RegistryError, DynsecError) as exc:
        raise _fail(str(exc)) from None
    finally:
        ds.close()
        st.close()
    if json_output:
        typer.echo(json.dumps(creds, indent=2))
    else:
        typer.echo(f"device {dev} registered; broker {url}")
        typer.echo(f"username: {creds['username']}")
        typer.echo(f"password: {creds['password']}")
    typer.echo("the password is shown this once: the broker keeps only its hash", err=True)


@devices_app.command("list")
def devices_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
    data: DataOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The registered devices (retired ones marked) from the store."""
    s = _settings(config, data_dir=data, store=store)
    st = _open(s.store_url)
    try:
        rows = st.registry()
    finally:
        st.close()
    if json_output:
        out = [
            {
                "device": r.device,
                "location": r.location,
                "registered": r.registered.isoformat(),
                "retired": r.retired.isoformat() if r.retired else None,
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    for r in rows:
        state = f"retired {r.retired:%Y-%m-%d %H:%M}" if r.retired else "active"
        typer.echo(
            f"{r.device:<32} {r.location or '-':<12} registered {r.registered:%Y-%m-%d %H:%M} "
            f"{state}"
        )
    typer.echo(f"{len(rows)} device(s)", err=True)


@devices_app.command("retire")
def devices_retire(
    dev: Annotated[str, typer.Argument(metavar="DEV", help="Device id.")],
    data: DataOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke DEV's broker credentials (it is disconnected) and mark it retired."""
    from fluxfleet.ops.devices import retire_device
    from fluxfleet.ops.dynsec import DynsecError

    s = _settings(config, data_dir=data, store=store)
    st = _open(s.store_url)
    ds, _ = _admin(s.data_dir)
    try:
        found = retire_device(ds, st, dev)
    except DynsecError as exc:
        raise _fail(str(exc)) from None
    finally:
        ds.close()
        st.close()
    if not found:
        raise _fail(f"device {dev!r} is not registered")
    typer.echo(f"device {dev} retired: its credentials are revoked")
