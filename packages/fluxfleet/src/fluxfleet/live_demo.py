"""``fluxfleet live-demo`` (``make demo``): the whole platform running, seen in the console.

One process starts Mosquitto on the deployed configuration (``deploy/mosquitto``; without
Mosquitto an in-process link, and it says so), a simulated greenhouse of chambers running
the real firmware controller, faster than real time, with two faults injected early (an
I2C error on one chamber, a lid stuck open on another), the ingestor (MQTT v5, manual acks)
into a fresh DuckDB store with live fluxes (soilflux, as ``fluxfleet ingest``) and the alarm
evaluator on the fleet's clock, and the web console (``fluxfleet serve``'s app). It prints
the console's address; within a minute the Fleet and Live pages show chambers cycling, the
Fluxes page the first fluxes and the Alarms page the faults' alarms. Ctrl-C (SIGINT) or
SIGTERM stops everything: the simulator, ingestor, workers, web server and broker.

A DuckDB file has one writing process, so the console shares the ingestor's store in this
process (:func:`fluxfleet.web.store_access.share`) instead of opening the file itself. The
simulation starts at the wall clock's current minute: the store stamps each message with
its (wall-clock) arrival, and the console finds the chambers' newest samples within two
days of that; running ``speed`` times faster, the chambers' clock then runs ahead of the
wall clock (the ages shown are the wall clock's). The alarms run on the fleet's own clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)

FAULT_CHAMBERS = {"i2c_error": 2, "servo_stuck_open": 3}
"""The chambers of the injected faults (chambers 0 and 1 stay fault-free references)."""


def demo_faults(duration_s: float) -> list[Any]:
    """The injected faults: an I2C error from the first minute (``sensor_error`` alarm)
    and a lid stuck open from the start (``stuck_chamber`` once its first closure ends),
    both until the end of the run [s from the start]."""
    from fluxfleet.sim.faults import Fault

    return [
        Fault("i2c_error", FAULT_CHAMBERS["i2c_error"], 60.0, duration_s),
        Fault("servo_stuck_open", FAULT_CHAMBERS["servo_stuck_open"], 0.0, duration_s),
    ]


class _Simulator(threading.Thread):
    """Steps the fleet in real time × ``speed`` until stopped or ``duration_s`` ends."""

    def __init__(self, fleet: Any, speed: float) -> None:
        super().__init__(name="fluxfleet-sim", daemon=True)
        self.fleet, self.speed = fleet, speed
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        f = self.fleet
        try:
            f.start()
            t0_wall, t0_ms = time.monotonic(), f.now_ms
            while f.now_ms < f.end_ms and not self.stopping.is_set():
                f.step()
                lag = t0_wall + (f.now_ms - t0_ms) / 1000.0 / self.speed - time.monotonic()
                if lag > 0:
                    self.stopping.wait(lag)
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        for d in self.fleet.devices:  # the devices' MQTT links
            with contextlib.suppress(Exception):
                d.link.close()


class _InProcessLink(threading.Thread):
    """Without Mosquitto: the devices' messages → batches → store → live fluxes, every
    half second (the same firmware, protocol, batches and store; no broker)."""

    def __init__(self, store: Any, worker: Any) -> None:
        super().__init__(name="fluxfleet-link", daemon=True)
        self.store, self.worker = store, worker
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def sink(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((topic, payload))

    def run(self) -> None:
        from fluxfleet.ingest.batch import BatchBuilder

        while not self.stopping.wait(0.5):
            with self.lock:
                todo, self.messages = self.messages, []
            if not todo:
                continue
            builder = BatchBuilder(self.store.last_locations())
            for topic, payload in todo:
                builder.add(topic, payload, int(time.time() * 1000))
            self.store.write(builder.build())
            self.worker.submit(builder.dirty)

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


class _WebServer(threading.Thread):
    """uvicorn serving ``app`` on ``host:port`` in a thread, until :meth:`stop`."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        super().__init__(name="fluxfleet-web", daemon=True)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)  # in a thread it installs no signal handler

    def run(self) -> None:
        self.server.run()

    def wait_started(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.is_alive():
            if self.server.started:
                return True
            time.sleep(0.05)
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(10)


@contextlib.contextmanager
def _stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def run_live_demo(
    port: int,
    chambers: int,
    speed: float,
    hours: float,
    seed: int,
    workdir: Path,
    say: Callable[[str], None] = typer.echo,
    stop: threading.Event | None = None,
) -> None:
    """Run the live demo (module docstring) until ``stop`` is set, SIGINT/SIGTERM arrive
    (main thread only) or the simulated ``hours`` end; everything started is stopped."""
    from fluxfleet.ingest.broker import CONFIG, Mosquitto
    from fluxfleet.ingest.fluxes import FluxWorker, LiveFluxes
    from fluxfleet.ingest.mqtt import Ingestor
    from fluxfleet.ops.alarm_runner import AlarmEvaluator, AlarmWorker
    from fluxfleet.settings import load_settings
    from fluxfleet.sim.broker import find_mosquitto
    from fluxfleet.sim.fleet import Fleet, FleetConfig
    from fluxfleet.store import open_store
    from fluxfleet.web import create_app
    from fluxfleet.web.store_access import share, unshare

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    duration_s = hours * 3600.0
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    store_path = workdir / "fleet.duckdb"
    with _stack() as stack:
        store = open_store(f"duckdb:///{store_path}")
        stack.callback(store.close)
        settings = load_settings(None, store=store.url)
        live = LiveFluxes(store.clone(), settings.chamber_volume_cm3, settings.chamber_area_cm2)
        worker = FluxWorker(live)
        worker.start()
        stack.callback(worker.stop)
        exe = find_mosquitto()
        link: _InProcessLink | None = None
        broker: tuple[str, int] | None = None
        if exe is not None and CONFIG.is_file():
            mosq = Mosquitto(exe, workdir / "broker")
            mosq.start()
            stack.callback(mosq.stop)
            broker = (mosq.host, mosq.port)
            ing = Ingestor(mosq.host, mosq.port, store, client_id="fluxfleet-demo", fluxes=worker)
            ing.start()
            if not ing.subscribed.wait(15):
                raise RuntimeError("the ingestor could not subscribe to the broker")
            runner = threading.Thread(target=ing.run, name="fluxfleet-ingest", daemon=True)
            runner.start()

            def stop_ingest() -> None:
                ing.stop()
                runner.join(10)
                ing.close()

            stack.callback(stop_ingest)
            say(f"broker: Mosquitto ({exe}) on {mosq.host}:{mosq.port}, {CONFIG}")
            say(f"ingest: MQTT v5 client 'fluxfleet-demo', live fluxes -> {store.url}")
        else:
            link = _InProcessLink(store.clone(), worker)
            link.start()
            stack.callback(link.stop)
            say(
                "broker: Mosquitto is not installed (apt-get install mosquitto): the devices' "
                f"messages go in-process into the same batches and store ({store.url})"
            )
        alarms = AlarmWorker(AlarmEvaluator(store.clone(), clock="data"), interval_s=5.0)
        alarms.start()
        stack.callback(alarms.stop)

        share(store)
        stack.callback(unshare, store)
        web = _WebServer(create_app(settings), "127.0.0.1", port)
        web.start()
        stack.callback(web.stop)
        if not web.wait_started(30):
            raise RuntimeError(
                f"the console could not listen on 127.0.0.1:{port} (in use? choose --port)"
            )
        bound = web.server.servers[0].sockets[0].getsockname()[1] if port == 0 else port

        cfg = FleetConfig(
            chambers=chambers, start_s=start.timestamp(), duration_s=duration_s, seed=seed
        )
        faults = demo_faults(duration_s)
        fleet = Fleet(cfg, faults, broker, link.sink if link else None)
        sim = _Simulator(fleet, speed)
        sim.start()
        stack.callback(sim.stop)
        say(
            f"greenhouse: {chambers} simulated chambers (the real firmware controller) from "
            f"{start:%Y-%m-%d %H:%M} UTC (now) at {speed:g}x real time; injected faults: "
            + ", ".join(f"{f.kind} on ch{f.chamber:03d}" for f in faults)
        )
        say(f"console: http://127.0.0.1:{bound}/  (Fleet, Live, Fluxes, Alarms; Ctrl-C stops)")
        while not stop.wait(0.5):
            if sim.error is not None:
                raise RuntimeError(f"the simulator failed: {sim.error}")
            if not sim.is_alive():
                say("the simulated run ended; the console stays up until Ctrl-C")
                stop.wait()
                break
        say("stopping: simulator, ingestor, live fluxes, alarms, console, broker …")
    say("stopped")


def live_demo(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Console TCP port.")] = 8080,
    chambers: Annotated[int, typer.Option("--chambers", min=4, max=60)] = 12,
    speed: Annotated[
        float,
        typer.Option("--speed", min=1.0, max=60.0, help="Simulated seconds per wall second."),
    ] = 12.0,
    hours: Annotated[float, typer.Option("--hours", min=0.5, max=48.0)] = 12.0,
    seed: Annotated[int, typer.Option("--seed")] = 1,
) -> None:
    """The platform live in the web console: broker, simulated greenhouse with injected
    faults, ingestion with live fluxes and alarms, and the console; Ctrl-C stops it."""
    with tempfile.TemporaryDirectory(prefix="fluxfleet-live-demo-") as td:
        try:
            run_live_demo(port, chambers, speed, hours, seed, Path(td))
        except (RuntimeError, OSError) as exc:
            typer.echo(f"fluxfleet: error: {exc}", err=True)
            raise typer.Exit(1) from None
