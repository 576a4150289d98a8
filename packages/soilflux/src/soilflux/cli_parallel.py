"""``soilflux compute`` over many files on several processes, output unchanged.

Why processes: reading, segmenting and fitting a week of a fleet is ~5 CPU-s of numpy,
Arrow and pandas calls, much of it holding the GIL, so threads overlap little; a season is
30 such files. ``jobs`` workers each ask the parent for the next file when idle, and read
it, segment it and compute its fluxes on their own: one worker is a thread of the parent
(which has imported everything already: a spawned process spends ~1.3 CPU-s importing
pandas and the science before its first file), the others are processes. The one
dependence between files — the closures a file leaves open, prepended to the next
(:func:`soilflux.cli_parts.carry_over`) — is handed from worker to worker through the
parent as soon as a file is read, a few thousand rows, so the workers wait on each other
only for that step. Results come back per file and are joined in file order, numbered as
:func:`soilflux.cli_parts.iter_parts` would number them: the output is the serial one,
row for row.

Memory: each worker holds one file's segmented samples and at most two pieces of its
records at a time (a long Parquet file is read in pieces: :func:`soilflux.io.read_pieces`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import threading
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from soilflux.cli_parts import (
    Mask,
    Reading,
    Segmented,
    carry_over,
    join_segmented,
    merge_metadata,
    read_file_pieces,
    segment_carry,
    segment_file,
)
from soilflux.conventions import for_format
from soilflux.io import ReadMetadata
from soilflux.options import FluxOptions
from soilflux.segment import SegmentReport

#: Seconds between checks that the workers are still alive while waiting for them.
_POLL_S = 1.0

#: Sent to the parent's own worker in place of a task or a carry: stop now. (A string, as
#: a carry is a DataFrame or None.)
_STOP = "stop"


class WorkerError(RuntimeError):
    """A worker process failed other than on bad input (the message says how)."""


@dataclass(frozen=True)
class FluxJob:
    """What ``soilflux compute`` does with each part (picklable).

    Attributes
    ----------
    options : FluxOptions
        The options asked for (the file's instrument conventions are applied per part).
    file_deadband : bool
        Keep the files' own dead band; else the part's ``deadband_s`` is cleared so that
        ``options`` decides (SoilFluxPro's Recompute).
    obs_length_s : float or None
        End of every fit window after closing [s], replacing the files' own.
    """

    options: FluxOptions
    file_deadband: bool = True
    obs_length_s: float | None = None

    def fluxes(
        self,
        samples: pd.DataFrame,
        closures: pd.DataFrame,
        file_format: str,
        offset: int,
        progress: bool = False,
    ) -> pd.DataFrame:
        """One part's fluxes, closures renumbered from ``offset``, ``closure_id`` appended."""
        from soilflux.pipeline import compute_fluxes

        if not self.file_deadband:
            closures["deadband_s"] = np.nan
        if self.obs_length_s is not None:
            closures["obs_length_s"] = float(self.obs_length_s)
        out = compute_fluxes(
            samples, closures, for_format(self.options, file_format), progress=progress
        )
        out["closure_id"] = closures["closure_id"].reindex(out["closure"].to_numpy()).to_numpy()
        out["closure"] = out["closure"].to_numpy() + offset
        return out


@dataclass
class FileResult:
    """What a worker sends back for one file."""

    index: int
    meta: ReadMetadata
    report: SegmentReport | None
    fluxes: pd.DataFrame | None
    file_format: str


def _error_message(exc: BaseException) -> tuple[str, str]:
    """An exception as (kind, text): InputError does not survive pickling (its constructor
    takes four arguments), and the parent only prints its text."""
    if isinstance(exc, ValueError):
        return "value", str(exc)
    return "other", "".join(traceback.format_exception(exc))


def _worker(name: int, reading: Reading, job: FluxJob, inbox: Any, results: Any) -> None:
    """Ask the parent for a file (``("want", name, None)`` on ``results``), read, segment
    and compute it, and ask again until ``inbox`` answers None (or ``_STOP``).

    ``inbox`` brings the task ``(index, path)``, then that file's carry (the open closures
    of the file before it, None for the first file); the file's own carry goes out on
    ``results`` as soon as the file is read, then its result.
    """
    while True:
        results.put(("want", name, None))
        task = inbox.get()
        if task is None or isinstance(task, str):
            return
        index, path = task
        try:
            # Pieces stream: each is segmented once the next one is read, and the last
            # one's open tail goes to the next file's worker before the last piece is
            # segmented (one piece's segmentation later than whole-file reading sent it).
            segmented: list[Segmented] = []
            held: tuple[pd.DataFrame, Mask | None, str] | None = None
            file_meta: ReadMetadata | None = None
            carry: pd.DataFrame | None = None
            for data, meta in read_file_pieces(path, reading):
                if file_meta is None:
                    file_meta, carry = meta, inbox.get()
                    if isinstance(carry, str):
                        return
                else:
                    merge_metadata(file_meta, meta)
                if held is not None:
                    _segment_into(segmented, held, reading)
                data, tail, carry = carry_over(data, meta, carry)
                held = (data, tail, meta.format)
                del data, tail
            assert file_meta is not None
            results.put(("carry", index, carry))
            if held is not None:
                _segment_into(segmented, held, reading)
            held = None
            report, fluxes = _compute_joined(segmented, file_meta.format, job)
            result = FileResult(index, file_meta, report, fluxes, file_meta.format)
            results.put(("done", index, result))
        except BaseException as exc:  # reported by the parent, which stops every worker
            results.put(("error", index, _error_message(exc)))
            return


def _relay(source: Any, sink: queue.Queue[Any]) -> None:
    """Move the worker processes' messages to the parent's inbox until a None."""
    while (item := source.get()) is not None:
        sink.put(item)


def _segment_into(
    segmented: list[Segmented], piece: tuple[pd.DataFrame, Mask | None, str], reading: Reading
) -> None:
    """Segment one carried-over piece, appending its result (if any) to ``segmented``."""
    data, tail, file_format = piece
    part = segment_file(data, tail, file_format, reading)
    if part is not None:
        segmented.append(part)


def _compute_joined(
    segmented: list[Segmented], file_format: str, job: FluxJob
) -> tuple[SegmentReport | None, pd.DataFrame | None]:
    """A file's segmented pieces joined and its fluxes computed in one call: the file's
    report and fluxes (closures numbered from 0)."""
    joined = join_segmented(segmented)
    segmented.clear()
    if joined is None:
        return None, None
    samples, closures, report = joined
    if not len(closures):
        return report, None
    return report, job.fluxes(samples, closures, file_format, 0)


def default_jobs() -> int:
    """Workers by default: the machine's cores, at most 2 (each holds a file)."""
    return max(1, min(2, os.cpu_count() or 1))


class _Dispatch:
    """The parent's bookkeeping: which worker has which file, and each file's carry handed
    to the worker of the next file once both are known."""

    def __init__(self, inputs: list[Path], inboxes: list[Any]) -> None:
        self.inputs = inputs
        self.inboxes = inboxes
        self.next_index = 0
        self.owner: dict[int, int] = {}
        self.carries: dict[int, pd.DataFrame | None] = {}  # file i's carry, for file i + 1
        self.last_carry: pd.DataFrame | None = None

    def want(self, worker: int) -> None:
        """An idle worker: its next file, or None when every file is handed out."""
        i = self.next_index
        if i >= len(self.inputs):
            self.inboxes[worker].put(None)
            return
        self.next_index += 1
        self.owner[i] = worker
        self.inboxes[worker].put((i, self.inputs[i]))
        self._route(i)

    def carry(self, index: int, payload: pd.DataFrame | None) -> None:
        """File ``index`` is read: its open closures go to the next file."""
        if index + 1 < len(self.inputs):
            self.carries[index] = payload
            self._route(index + 1)
        else:
            self.last_carry = payload

    def _route(self, i: int) -> None:
        if i not in self.owner:
            return
        if i == 0:
            self.inboxes[self.owner[0]].put(None)
        elif i - 1 in self.carries:
            self.inboxes[self.owner[i]].put(self.carries.pop(i - 1))


def compute_files(
    inputs: list[Path],
    reading: Reading,
    job: FluxJob,
    *,
    jobs: int,
    metadata: list[ReadMetadata],
    reports: list[SegmentReport],
    progress: bool = False,
) -> tuple[list[pd.DataFrame], int]:
    """Fluxes of every file on ``jobs`` workers, as the serial loop computes them.

    Parameters
    ----------
    inputs : list of Path
        Files, generic ones in time order.
    reading : Reading
        How the files are read and segmented.
    job : FluxJob
        What is computed of each part.
    jobs : int
        Workers (≥ 1; at most one per file): a thread of this process and ``jobs − 1``
        worker processes.
    metadata, reports : list
        Filled with each file's :class:`ReadMetadata` and each part's report, in file order.
    progress : bool
        A progress bar over the files.

    Returns
    -------
    results, n_closures
        Each part's fluxes in order (closures numbered consecutively from 0), and the
        number of closures.

    Raises
    ------
    ValueError
        The first (in file order) file that cannot be read, with the reader's message.
    """
    jobs = max(1, min(jobs, len(inputs)))
    # One worker per core: the flux core must not start threads of its own in each.
    job = replace(job, options=replace(job.options, workers=1))
    ctx = mp.get_context("spawn")
    from_processes: Any = ctx.Queue()
    inbox: queue.Queue[Any] = queue.Queue()
    inboxes: list[Any] = [queue.Queue(), *(ctx.Queue() for _ in range(jobs - 1))]
    processes = [
        ctx.Process(
            target=_worker,
            args=(w, reading, job, inboxes[w], from_processes),
            name=f"soilflux-files-{w}",
            daemon=True,
        )
        for w in range(1, jobs)
    ]
    # BLAS threads would compete with the other workers for the same cores.
    saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    for key in saved:
        os.environ[key] = "1"
    try:
        for w in processes:
            w.start()
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value
    relay = threading.Thread(target=_relay, args=(from_processes, inbox), daemon=True)
    relay.start()
    own = threading.Thread(
        target=_worker, args=(0, reading, job, inboxes[0], inbox), name="soilflux-files-0",
        daemon=True,
    )  # fmt: skip
    own.start()
    bar = None
    if progress and len(inputs) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(inputs), desc="files", unit="file", file=sys.stderr)
    dispatch = _Dispatch(inputs, inboxes)
    done: dict[int, FileResult] = {}
    errors: dict[int, tuple[str, str]] = {}
    finished = False
    try:
        while True:
            first_error = min(errors, default=len(inputs))
            if all(i in done or i in errors for i in range(first_error)) and (
                errors or len(done) == len(inputs)
            ):
                break
            try:
                kind, index, payload = inbox.get(timeout=_POLL_S)
            except queue.Empty:
                dead = [w.exitcode for w in processes if w.exitcode not in (None, 0)]
                if dead:
                    raise WorkerError(
                        f"a worker process died (exit code {dead[0]}; a negative code is the "
                        "signal that ended it, e.g. -9 when out of memory: try --jobs 1)"
                    ) from None
                continue
            if kind == "want":
                dispatch.want(index)
            elif kind == "carry":
                dispatch.carry(index, payload)
            elif kind == "done":
                done[index] = payload
                if bar is not None:
                    bar.update(1)
            else:
                errors[index] = payload
        finished = not errors
    finally:
        if bar is not None:
            bar.close()
        if finished:
            for box in inboxes:  # each worker is waiting for a task, or about to ask
                box.put(None)
            own.join()
        else:
            inboxes[0].put(_STOP)  # the parent's worker stops at its next wait
        for w in processes:
            if not finished and w.is_alive():  # a worker may wait for a carry never sent
                w.terminate()
            w.join()
        if finished:
            from_processes.put(None)
            relay.join()
        else:
            # A message sent to a worker that stopped is never read: without this the
            # queue's feeder thread would block the interpreter's exit on a full pipe.
            for box in inboxes[1:]:
                box.cancel_join_thread()
    if errors:
        kind, text = errors[min(errors)]
        for i in range(min(errors)):
            metadata.append(done[i].meta)
        if kind == "value":
            raise ValueError(text)
        raise WorkerError(text)
    out: list[pd.DataFrame] = []
    n_closures = 0
    for i in range(len(inputs)):
        result = done[i]
        metadata.append(result.meta)
        if result.report is not None:
            reports.append(result.report)
        if result.fluxes is not None:
            fluxes = result.fluxes
            n = int(result.report.closures) if result.report is not None else 0
            fluxes["closure"] = fluxes["closure"].to_numpy() + n_closures
            out.append(fluxes)
            n_closures += n
    last = segment_carry(dispatch.last_carry, reading)
    if last is not None:
        samples, closures, report = last
        reports.append(report)
        if len(closures):
            out.append(job.fluxes(samples, closures, done[len(inputs) - 1].file_format, n_closures))
            n_closures += len(closures)
    return out, n_closures


__all__ = ["FileResult", "FluxJob", "WorkerError", "compute_files", "default_jobs"]
