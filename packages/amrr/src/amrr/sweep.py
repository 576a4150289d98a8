"""Parameter sweeps of a design: a grid of overrides, evaluated in parallel.

``--vary KEY=START:STOP:N`` gives N evenly spaced values of one design key; several
``--vary`` make the Cartesian product. Points run in a local process pool, or on a Dask
``distributed`` cluster when a scheduler address is given — the same function,
:func:`evaluate_point`, either way. A point that a physical model refuses (e.g. a length
out of a property's range) becomes a row with an ``error`` message rather than stopping
the sweep. Results go to Parquet or CSV (by the file's suffix) and a PNG of the main
outputs against the first varied key.
"""

from __future__ import annotations

import csv
import importlib
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amrr.design import PARAMS, Design, DesignFileError, evaluate, with_overrides

Row = dict[str, float | int | str]


@dataclass(frozen=True)
class Vary:
    """One swept key: ``values`` of ``key`` (``section.key``)."""

    key: str
    values: tuple[float, ...]


def parse_vary(text: str) -> Vary:
    """Parse ``KEY=START:STOP:N`` (N ≥ 1 evenly spaced values, inclusive).

    Raises
    ------
    ValueError
        Naming the option and what is wrong (a usage error).
    """
    key, sep, spec = text.partition("=")
    key = key.strip()
    parts = spec.split(":")
    if not sep or len(parts) != 3:
        raise ValueError(f"--vary {text!r}: expected KEY=START:STOP:N")
    if key not in PARAMS:
        raise ValueError(f"--vary {text!r}: unknown key {key!r}; keys: {', '.join(PARAMS)}")
    param = PARAMS[key]
    if param.kind is str:
        raise ValueError(f"--vary {text!r}: {key} is not numeric")
    try:
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(f"--vary {text!r}: START and STOP must be numbers, N an integer") from None
    if n < 1:
        raise ValueError(f"--vary {text!r}: N must be ≥ 1")
    for v in (start, stop):
        if not param.low <= v <= param.high:
            raise ValueError(f"--vary {text!r}: {key} must be {param.describe_range()}")
    values = np.linspace(start, stop, n)
    if param.kind is int:
        values = np.unique(np.round(values))
    return Vary(key, tuple(float(v) for v in values))


def grid(varies: Sequence[Vary]) -> list[dict[str, float]]:
    """Cartesian product of the swept values, as a list of override dicts."""
    keys = [v.key for v in varies]
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(v.values for v in varies))
    ]


def evaluate_point(design: Design, overrides: dict[str, float]) -> Row:
    """Evaluate one sweep point: the overrides, the design's summary, ``warnings`` and ``error``.

    ``error`` is empty unless a model refused the point; ``warnings`` joins the design
    checks that failed (e.g. a canister longer than its winding).
    """
    row: Row = dict(overrides)
    try:
        result = evaluate(with_overrides(design, dict(overrides)), sensitivities=False)
    except (DesignFileError, ValueError) as exc:
        row["error"] = str(exc)
        return row
    row.update(result.summary())
    row["warnings"] = "; ".join(result.warnings)
    row["error"] = ""
    return row


def _evaluate_star(args: tuple[Design, dict[str, float]]) -> Row:
    return evaluate_point(*args)


def run_local(
    design: Design,
    points: Sequence[dict[str, float]],
    workers: int,
    progress: Callable[[Iterator[Row], int], Iterator[Row]] | None = None,
) -> list[Row]:
    """Evaluate ``points`` in a local process pool of ``workers`` (1: in this process)."""
    jobs = [(design, p) for p in points]
    if workers <= 1:
        rows: Iterator[Row] = map(_evaluate_star, jobs)
        return list(progress(rows, len(jobs)) if progress else rows)
    chunk = max(1, len(jobs) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rows = pool.map(_evaluate_star, jobs, chunksize=chunk)
        return list(progress(rows, len(jobs)) if progress else rows)


def run_dask(
    design: Design,
    points: Sequence[dict[str, float]],
    scheduler: str,
    progress: Callable[[Iterator[Row], int], Iterator[Row]] | None = None,
    *,
    timeout_s: float = 10.0,
) -> list[Row]:
    """Evaluate ``points`` on a Dask ``distributed`` cluster at ``scheduler`` (tcp://HOST:PORT).

    Raises
    ------
    RuntimeError
        If ``distributed`` is not installed or the scheduler does not answer.
    """
    try:
        distributed = importlib.import_module("distributed")
    except ImportError:
        raise RuntimeError(
            "--scheduler needs the 'distributed' package (pip install distributed)"
        ) from None
    try:
        client = distributed.Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        design_future = client.scatter(design, broadcast=True)
        futures = [client.submit(evaluate_point, design_future, p, pure=False) for p in points]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Row | None] = [None] * len(futures)

        def gather() -> Iterator[Row]:
            for fut in distributed.as_completed(futures):
                row: Row = fut.result()
                out[index[fut.key]] = row
                yield row

        for _ in progress(gather(), len(futures)) if progress else gather():
            pass
        return [r for r in out if r is not None]
    finally:
        client.close()


def _atomic_target(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")


def write_table(rows: Sequence[Row], path: str | Path) -> Path:
    """Write the rows as Parquet (``.parquet``) or CSV (``.csv``), atomically.

    Raises
    ------
    ValueError
        For another suffix.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{target}: the results file must end in .parquet or .csv")
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    fd, tmp = _atomic_target(target)
    try:
        if suffix == ".csv":
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        else:
            os.close(fd)
            pa = importlib.import_module("pyarrow")
            pq = importlib.import_module("pyarrow.parquet")

            data: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in columns}
            pq.write_table(pa.table(data), tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


PLOTTED = (
    "regenerator_length_m",
    "regenerator_ggg_mass_kg",
    "magnet_inductance_H",
    "net_cooling_W",
)


def plot_sweep(rows: Sequence[Row], varies: Sequence[Vary], path: str | Path) -> Path:
    """PNG of the main outputs against the first swept key (one line per other combination)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    first = varies[0].key
    others = [v.key for v in varies[1:]]
    fig = Figure(figsize=(10.0, 7.0))
    axes = fig.subplots(2, 2).ravel()
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        if row.get("error"):
            continue
        groups.setdefault(tuple(row[k] for k in others), []).append(row)
    for ax, name in zip(axes, PLOTTED, strict=True):
        for label, members in groups.items():
            members.sort(key=lambda r: float(r[first]))
            ax.plot(
                [float(r[first]) for r in members],
                [float(r[name]) for r in members],
                "o-",
                ms=3,
                label=", ".join(f"{k}={v:g}" for k, v in zip(others, label, strict=True)) or None,
            )
        ax.set_xlabel(first)
        ax.set_ylabel(name)
    if others and len(groups) <= 10:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    FigureCanvasAgg(fig)
    target = Path(path)
    fd, tmp = _atomic_target(target)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
