"""``fluxfleet alarms list|ack|watch`` (wired in ``cli``)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import math
import os
import signal
import threading
import time
from typing import Annotated, Any

import typer

from fluxfleet.server_commands import ConfigFile as ConfigOpt
from fluxfleet.server_commands import StoreUrl as StoreOpt
from fluxfleet.server_commands import _open, _settings, _when
from fluxfleet.server_commands import fail as _fail

alarms_app = typer.Typer(
    no_args_is_help=True,
    help="Fleet alarms: evaluate them continuously, list them, acknowledge them.",
    rich_markup_mode=None,
)


def _iso(t: Any) -> str | None:
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return None
    return t.isoformat().replace("+00:00", "Z")


def _duration_s(text: str, option: str) -> float:
    from fluxfleet.ops.commands import CommandError, parse_duration_ms

    try:
        return parse_duration_ms(text, option) / 1000.0
    except CommandError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None


class _IngestAlarms:
    """``fluxfleet ingest --alarms``: the evaluator's thread and its webhook, stopped
    together (the ingestor never waits for either)."""

    def __init__(self, worker: Any, sender: Any) -> None:
        self.worker = worker
        self.sender = sender

    def stop(self) -> None:
        self.worker.stop()
        if self.sender is not None:
            self.sender.close()


def check_webhook(webhook: str | None) -> None:
    """``--webhook``: an http(s) URL, else exit 2 naming the option."""
    from fluxfleet.ops.webhook import check_url

    if webhook is not None:
        try:
            check_url(webhook)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--webhook") from None


def alarm_worker(store: Any, webhook: str | None, interval_s: float = 60.0) -> _IngestAlarms:
    """Start the alarm evaluator in a thread of ``fluxfleet ingest`` (wall clock, every
    ``interval_s`` [s], default thresholds) on its own handle of ``store``."""
    from fluxfleet.ops.alarm_runner import AlarmEvaluator, AlarmWorker
    from fluxfleet.ops.webhook import WebhookSender

    check_webhook(webhook)
    sender = WebhookSender(webhook) if webhook is not None else None
    evaluator = AlarmEvaluator(store.clone(), notify=sender.submit if sender else None)
    worker = AlarmWorker(evaluator, interval_s)
    worker.start()
    return _IngestAlarms(worker, sender)


@alarms_app.command("list")
def alarms_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only alarms not yet cleared.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The alarms in the store, newest first (open and cleared, or --open only)."""
    s = _settings(config, store=store)
    st = _open(s.store_url)
    try:
        rows = st.read("alarms").to_pylist()
    finally:
        st.close()
    if open_only:
        rows = [r for r in rows if r["cleared"] is None]
    rows.sort(key=lambda r: (r["raised"], r["id"]), reverse=True)
    if json_output:
        out = [
            {k: (_iso(v) if isinstance(v, dt.datetime) else v) for k, v in r.items()} for r in rows
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    for r in rows:
        state = f"cleared {r['cleared']:%Y-%m-%d %H:%M:%S}" if r["cleared"] else "OPEN"
        ack = f" acked by {r['acked_by']}" if r["acked"] else ""
        typer.echo(
            f"#{r['id']:<6} {r['raised']:%Y-%m-%d %H:%M:%S} {r['device']:<12} "
            f"{r['kind']:<18} {r['severity']:<8} {state}{ack} x{r['repeats']}  {r['detail'] or ''}"
        )
    typer.echo(f"{len(rows)} alarm(s)", err=True)


@alarms_app.command("ack")
def alarms_ack(
    alarm_id: Annotated[int, typer.Argument(metavar="ID", help="The alarm's id (alarms list).")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who acknowledges it (default $USER).")
    ] = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Acknowledge alarm ID (it stays open until its condition clears)."""
    if not 0 < alarm_id < 2**63:
        raise typer.BadParameter(f"expected a positive alarm id, got {alarm_id}", param_hint="ID")
    who = by if by is not None else (os.environ.get("USER") or getpass.getuser())
    if not who.strip():
        raise typer.BadParameter("must not be empty", param_hint="--by")
    s = _settings(config, store=store)
    st = _open(s.store_url)
    try:
        result = st.ack_alarm(alarm_id, dt.datetime.now(dt.UTC), who)
    finally:
        st.close()
    if result == "unknown":
        raise _fail(f"no alarm #{alarm_id} in the store")
    if result == "already":
        typer.echo(f"alarm #{alarm_id} was already acknowledged (the first ack is kept)")
        return
    typer.echo(f"alarm #{alarm_id} acknowledged by {who}")


@alarms_app.command("watch")
def alarms_watch(
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each raise and clear here (JSON).")
    ] = None,
    interval: Annotated[
        str, typer.Option("--interval", help="Time between evaluations (e.g. 60s, 2m).")
    ] = "60s",
    clock: Annotated[
        str,
        typer.Option(
            "--clock", help="'wall' (the server's clock) or 'data' (the fleet's newest samples)."
        ),
    ] = "wall",
    offline_after: Annotated[
        str, typer.Option("--offline-after", help="No sample for this long: offline.")
    ] = "5m",
    max_unplanned_boots: Annotated[
        int,
        typer.Option(
            "--max-unplanned-boots", min=0, help="A reboot storm is more unplanned boots per hour."
        ),
    ] = 0,
    flagged_closures: Annotated[
        int,
        typer.Option(
            "--flagged-closures", min=1, max=100, help="Flagged closures in a row (stuck, clogged)."
        ),
    ] = 1,
    lookback: Annotated[
        str, typer.Option("--lookback", help="Data read per evaluation (at least 1h).")
    ] = "3h",
    step: Annotated[
        str,
        typer.Option("--step", help="Data clock: data time between evaluation instants."),
    ] = "60s",
    idle_exit: Annotated[
        str | None,
        typer.Option(
            "--idle-exit",
            help="Data clock: exit once no new instant could be judged for this long (wall).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Data clock: judge every instant from this data time (ISO 8601) on, "
            "instead of from the newest one.",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Evaluate once (data clock: up to now) and exit.")
    ] = False,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Evaluate the fleet's alarms from the store every --interval until stopped."""
    import pandas as pd

    from fluxfleet.ops.alarm_rules import AlarmConfig
    from fluxfleet.ops.alarm_runner import CLOCKS, AlarmEvaluator, AlarmWorker
    from fluxfleet.ops.webhook import WebhookSender

    interval_s = _duration_s(interval, "--interval")
    offline_s = _duration_s(offline_after, "--offline-after")
    lookback_s = _duration_s(lookback, "--lookback")
    step_s = _duration_s(step, "--step")
    idle_s = _duration_s(idle_exit, "--idle-exit") if idle_exit is not None else None
    if clock not in CLOCKS:
        raise typer.BadParameter(f"expected 'wall' or 'data', got {clock!r}", param_hint="--clock")
    if not step_s > 0:
        raise typer.BadParameter("must be positive", param_hint="--step")
    if idle_s is not None and clock != "data":
        raise typer.BadParameter("needs --clock data", param_hint="--idle-exit")
    start = _when(since, "--from")
    if start is not None and clock != "data":
        raise typer.BadParameter("needs --clock data", param_hint="--from")
    if lookback_s < 3600 + 300:
        raise typer.BadParameter(
            "must cover the completeness hour and its lag (at least 65m)", param_hint="--lookback"
        )
    check_webhook(webhook)
    s = _settings(config, store=store)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = AlarmConfig(
        offline_after_s=offline_s,
        max_unplanned_boots=max_unplanned_boots,
        flagged_closures=flagged_closures,
    )
    st = _open(s.store_url)
    sender = WebhookSender(webhook) if webhook is not None else None
    evaluator = AlarmEvaluator(
        st,
        cfg,
        clock=clock,
        lookback_s=lookback_s,
        notify=sender.submit if sender else None,
        step_s=step_s,
        start=None if start is None else pd.Timestamp(start),
    )
    if once:
        try:
            events = evaluator.evaluate()
        finally:
            if sender is not None:
                sender.close()
            st.close()
        changes = [f"{e.action} {e.device} {e.kind}" for e in events if e.action != "repeat"]
        typer.echo(
            f"{len(changes)} raised or cleared" + (f": {', '.join(changes)}" if changes else ""),
            err=True,
        )
        return
    worker = AlarmWorker(evaluator, interval_s)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    every = f"every {interval_s:g} s" if clock == "wall" else f"at every {step_s:g} s of data"
    typer.echo(
        f"watching {st.url}: alarms {every} on the {clock} clock"
        + (f", webhook {webhook}" if webhook else ""),
        err=True,
    )
    worker.start()
    while not done.wait(min(interval_s, 1.0)):
        idle = time.monotonic() - evaluator.progress_at
        if idle_s is not None and evaluator.evaluations and idle >= idle_s:
            typer.echo(f"no new instant for {idle_s:g} s: exiting", err=True)
            break
    worker.stop()
    if sender is not None:
        sender.close()
        w = sender.stats
        typer.echo(
            f"webhook: {w.delivered} delivered, {w.failed} failed, {w.dropped} dropped", err=True
        )
    st.close()
    typer.echo(f"stopped: {evaluator.summary()}", err=True)
