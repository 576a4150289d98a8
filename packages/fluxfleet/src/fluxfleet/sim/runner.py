"""Run a simulated fleet, in one process or split over worker processes.

The devices are independent of each other (as in the greenhouse), so a fleet splits
cleanly: every worker builds the same greenhouse and sensors from the seed and runs its
share of the devices against the same broker. The parent gathers the truth rows.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fluxfleet.sim.faults import Fault
from fluxfleet.sim.fleet import Fleet, FleetConfig
from fluxfleet.sim.truth import closures_frame, faults_frame, write_truth

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RunResult:
    """What a run produced (units in the names)."""

    closures: pd.DataFrame
    faults: pd.DataFrame
    samples: int
    wall_s: float
    workers: int

    @property
    def samples_per_s(self) -> float:
        """Samples taken per wall-clock second [s⁻¹]."""
        return self.samples / self.wall_s if self.wall_s > 0 else float("nan")

    def write(self, path: str, config: FleetConfig) -> None:
        """Write the ground truth to Parquet (see :func:`fluxfleet.sim.truth.write_truth`)."""
        write_truth(
            path,
            self.closures,
            self.faults,
            {
                "chambers": config.chambers,
                "start_s": config.start_s,
                "duration_s": config.duration_s,
                "seed": config.seed,
                "samples": self.samples,
            },
        )


def _worker(
    config: FleetConfig,
    faults: list[Fault],
    broker: tuple[str, int] | None,
    devices: list[int],
    speed: float | None,
    wid: int,
    out: Any,
    credentials: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    # Ctrl-C reaches the whole process group: the parent alone handles it (it stops the
    # workers), so a worker neither dies half-way through a message nor prints a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fleet = Fleet(config, faults, broker, devices=devices, credentials=credentials)
        fleet.run(
            speed=speed,
            progress=lambda s: out.put(("progress", wid, s, None)),
            progress_every_s=300.0,
        )
        out.put(("done", wid, fleet.truth.rows, fleet.samples))
    except BaseException as exc:  # report, never hang the parent
        out.put(("error", wid, f"{type(exc).__name__}: {exc}", 0))
        raise


def run_fleet(
    config: FleetConfig,
    faults: list[Fault] | None = None,
    broker: tuple[str, int] | None = None,
    *,
    workers: int = 1,
    speed: float | None = None,
    progress: Callable[[float], None] | None = None,
    sink: Callable[[str, bytes], None] | None = None,
    credentials: Mapping[str, tuple[str, str]] | None = None,
) -> RunResult:
    """Run the fleet to the end and return the ground truth.

    Parameters
    ----------
    config : FleetConfig
        What to simulate.
    faults : list of Fault, optional
        Injected faults.
    broker : (host, port), optional
        A real MQTT broker; ``None`` runs in-process (then ``workers`` must be 1 and
        ``sink`` receives the messages).
    workers : int
        Worker processes (devices are split round-robin).
    speed : float, optional
        Simulated seconds per wall second per worker; ``None`` = as fast as possible.
    progress : callable(simulated_seconds_done), optional
        Called as the slowest worker advances.
    sink : callable(topic, payload), optional
        In-process mode only.
    credentials : mapping of device id to (username, password), optional
        Per-device broker accounts.

    Returns
    -------
    RunResult
    """
    faults = list(faults or [])
    t0 = time.monotonic()
    if workers <= 1 or broker is None:
        fleet = Fleet(config, faults, broker, sink, credentials=credentials)
        fleet.run(speed=speed, progress=progress, progress_every_s=300.0)
        wall_s = time.monotonic() - t0
        if progress is not None:
            progress(config.duration_s)
        return RunResult(
            closures_frame(fleet.truth.rows),
            faults_frame(faults, fleet.start_ms),
            fleet.samples,
            wall_s,
            1,
        )
    workers = min(workers, config.chambers)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    shares = [list(range(w, config.chambers, workers)) for w in range(workers)]
    procs = [
        ctx.Process(
            target=_worker,
            args=(config, faults, broker, shares[w], speed, w, out, credentials),
            daemon=True,
        )
        for w in range(workers)
    ]
    with _sigint_ignored():  # a worker started now inherits it: covers its start-up
        for p in procs:
            p.start()
    done_s = [0.0] * workers
    rows: list[dict[str, Any]] = []
    samples = 0
    finished = 0
    errors = []
    interrupted = False
    try:
        while finished < workers:
            try:
                kind, wid, a, b = _get(out)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(
                        f"simulation worker exited with code {dead[0].exitcode}"
                    ) from None
                continue
            if kind == "progress":
                done_s[wid] = a
                if progress is not None:
                    progress(min(done_s))
            elif kind == "done":
                rows.extend(a)
                samples += b
                finished += 1
            else:
                errors.append(a)
                finished += 1
        if errors:
            raise RuntimeError("simulation worker failed: " + "; ".join(errors))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        _stop_workers(procs, wait_s=0.0 if interrupted else 30.0)
    wall_s = time.monotonic() - t0
    if progress is not None:
        progress(config.duration_s)
    start_ms = round(config.start_s * 1000)
    return RunResult(closures_frame(rows), faults_frame(faults, start_ms), samples, wall_s, workers)


@contextlib.contextmanager
def _sigint_ignored() -> Any:
    """SIGINT ignored meanwhile (main thread only: elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_workers(procs: list[Any], wait_s: float) -> None:
    """Let the workers finish for up to ``wait_s`` [s], then stop them (SIGTERM, then
    SIGKILL) and reap them, so none outlives the run (an interrupted run waits for none)."""
    deadline = time.monotonic() + wait_s
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=2.0)
        if p.is_alive():
            p.kill()
            p.join(timeout=2.0)


def _get(out: Any) -> tuple[str, int, Any, Any]:
    item = out.get(timeout=1.0)
    return item[0], item[1], item[2], item[3]
