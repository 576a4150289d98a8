"""``fluxfleet rollout …`` and ``fluxfleet tokens …`` (wired in ``cli``).

The work is in :mod:`fluxfleet.ops.rollout` and :mod:`fluxfleet.ops.tokens`; this module
parses options, reports and maps errors to exit codes (2: bad usage, naming the option;
1: a store, broker or bundle directory that cannot be used, or a rollout that failed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fluxfleet.cmd_commands import _operator
from fluxfleet.server_commands import ConfigFile as Config
from fluxfleet.server_commands import StoreUrl, _open, _settings
from fluxfleet.server_commands import fail as _fail


class _StartByDefault(TyperGroup):
    """``rollout VERSION …`` means ``rollout start VERSION …`` (``status`` stays a command)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


rollout_app = typer.Typer(
    cls=_StartByDefault,
    no_args_is_help=True,
    help="Firmware rollouts: canaries first, then the fleet; rolled back by itself when a "
    "canary does not confirm. 'fluxfleet rollout VERSION --canary DEV' starts one.",
    rich_markup_mode=None,
)
tokens_app = typer.Typer(
    no_args_is_help=True,
    help="Bearer tokens of the HTTP API (every state-changing route needs one).",
    rich_markup_mode=None,
)

Json = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@rollout_app.command("start")
def rollout_start(
    version: Annotated[
        str, typer.Argument(metavar="VERSION", help="The published version to roll out.")
    ],
    canary: Annotated[
        list[str],
        typer.Option("--canary", help="Canary device(s), first to get it (repeat, or DEV,DEV)."),
    ],
    then_all_after: Annotated[
        str | None,
        typer.Option(
            "--then-all-after",
            help="Once every canary confirmed, watch them this long (e.g. 30m), then roll "
            "out to the rest of the fleet. Without it the rollout stops at the canaries.",
        ),
    ] = None,
    window: Annotated[
        str,
        typer.Option("--window", help="Time a device has to confirm after it was told (e.g. 30m)."),
    ] = "30m",
    bundles: Annotated[
        Path | None,
        typer.Option(
            "--bundles",
            help="The bundle directory (fluxfleet bundle --out; "
            "FLUXFLEET_BUNDLES); the same fluxfleet serve --bundles serves.",
        ),
    ] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Who starts it (default: $USER).")
    ] = None,
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://HOST:PORT (FLUXFLEET_BROKER).")
    ] = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Roll VERSION out: canaries, then (with --then-all-after) every other device."""
    from fluxfleet.ops import firmware, rollout

    settings = _settings(config, broker=broker, store=store, bundles=bundles)
    if settings.bundles is None:
        raise _fail("--bundles: name the bundle directory (or FLUXFLEET_BUNDLES)", 2)
    bdir = firmware.BundleDir(settings.bundles)
    try:
        p = rollout.plan(version, canary, window, then_all_after, _operator(operator), bdir)
    except rollout.RolloutError as exc:
        raise _fail(str(exc), 1 if exc.option == "--bundles" else 2) from None
    st = _open(settings.store_url)
    try:
        running = rollout.active(st)
    finally:
        st.close()
    if running:
        raise _fail(f"rollout {running[0]} is still running (fluxfleet rollout status)", 1)

    def log(message: str) -> None:
        typer.echo(message, err=True)

    driver = rollout.Driver(settings.store_url, settings, p, bdir, log)
    try:
        state = driver.run()
    except rollout.RolloutError as exc:
        raise _fail(str(exc), 2) from None
    except OSError as exc:
        raise _fail(f"cannot follow the devices at {settings.broker}: {exc}", 1) from None
    except KeyboardInterrupt:
        typer.echo(
            f"fluxfleet: interrupted: rollout {p.rollout_id} is marked aborted; the devices "
            "keep the versions assigned so far (fluxfleet rollout status)",
            err=True,
        )
        raise typer.Exit(130) from None
    st = _open(settings.store_url)
    try:
        view = rollout.status(st, p.rollout_id)
    finally:
        st.close()
    assert view is not None
    typer.echo(rollout.dumps(view) if json_output else rollout.describe(view))
    if state not in rollout.FINAL_OK:
        raise typer.Exit(1)


@rollout_app.command("status")
def rollout_status(
    rollout_id: Annotated[
        str | None, typer.Argument(metavar="ROLLOUT_ID", help="The rollout (default: the newest).")
    ] = None,
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Show a rollout: its state and each device's (stage, state, previous version)."""
    from fluxfleet.ops import rollout

    settings = _settings(config, store=store)
    st = _open(settings.store_url)
    try:
        view = rollout.status(st, rollout_id)
    finally:
        st.close()
    if view is None:
        what = f"no rollout {rollout_id!r}" if rollout_id else "no rollout yet"
        raise _fail(what, 1)
    typer.echo(rollout.dumps(view) if json_output else rollout.describe(view))


@rollout_app.command("abort")
def rollout_abort(
    rollout_id: Annotated[
        str, typer.Argument(metavar="ROLLOUT_ID", help="The unfinished rollout.")
    ],
    store: StoreUrl = None,
    config: Config = None,
) -> None:
    """Mark an unfinished rollout aborted (its driver is gone); assignments stay."""
    from fluxfleet.ops import rollout

    settings = _settings(config, store=store)
    st = _open(settings.store_url)
    try:
        done = rollout.abort(st, rollout_id, rollout.now_ms(), "aborted by fluxfleet rollout abort")
    finally:
        st.close()
    if not done:
        raise _fail(
            f"ROLLOUT_ID: no unfinished rollout {rollout_id!r} (fluxfleet rollout status)", 1
        )
    typer.echo(f"rollout {rollout_id} aborted; the devices keep the versions assigned", err=True)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Who or what uses it (e.g. console, alice).")
    ],
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """Create token NAME; it is printed this once (the store keeps only its hash)."""
    from fluxfleet.ops import tokens
    from fluxfleet.ops.rollout import now_ms

    try:
        tokens.check_name(name)
    except tokens.TokenError as exc:
        raise _fail(str(exc), 2) from None
    settings = _settings(config, store=store)
    st = _open(settings.store_url)
    try:
        token = tokens.create(st, name, now_ms())
    except tokens.TokenError as exc:
        raise _fail(str(exc), 2) from None
    finally:
        st.close()
    if json_output:
        typer.echo(json.dumps({"name": name, "token": token}))
    else:
        typer.echo(token)
    typer.echo(
        f"token {name}: shown this once (the store keeps only its hash); send it as "
        "'Authorization: Bearer <token>'",
        err=True,
    )


@tokens_app.command("list")
def tokens_list(
    store: StoreUrl = None,
    config: Config = None,
    json_output: Json = False,
) -> None:
    """List the tokens (name, prefix, created, revoked); never their secrets."""
    import datetime as dt

    from fluxfleet.ops import tokens

    settings = _settings(config, store=store)
    st = _open(settings.store_url)
    try:
        rows = tokens.listing(st)
    finally:
        st.close()

    def iso(ms: int | None) -> str | None:
        if ms is None:
            return None
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")

    out: list[dict[str, Any]] = [
        {"name": r.name, "prefix": r.prefix, "created": iso(r.created_ms),
         "revoked": iso(r.revoked_ms)}
        for r in rows
    ]  # fmt: skip
    if json_output:
        typer.echo(json.dumps(out, indent=2))
        return
    for r2 in out:
        state = f"revoked {r2['revoked']}" if r2["revoked"] else "active"
        typer.echo(f"{r2['name']:<24} fft_{r2['prefix']}_…  created {r2['created']}  {state}")
    if not out:
        typer.echo("no tokens (fluxfleet tokens create NAME)", err=True)


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The token to revoke.")],
    store: StoreUrl = None,
    config: Config = None,
) -> None:
    """Revoke token NAME: it opens nothing from now on."""
    from fluxfleet.ops import tokens
    from fluxfleet.ops.rollout import now_ms

    try:
        tokens.check_name(name)
    except tokens.TokenError as exc:
        raise _fail(str(exc), 2) from None
    settings = _settings(config, store=store)
    st = _open(settings.store_url)
    try:
        done = tokens.revoke(st, name, now_ms())
    finally:
        st.close()
    if not done:
        raise _fail(f"NAME: no active token called {name!r} (fluxfleet tokens list)", 1)
    typer.echo(f"token {name} revoked", err=True)
