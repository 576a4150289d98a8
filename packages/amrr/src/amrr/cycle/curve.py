"""A cooling curve: independent operating points run in parallel processes.

Each point (one cold-end temperature T_C [K]) starts from the same linear profile, so the
answer does not depend on the number of workers or on the order the points finish in: the
curve with ``workers=4`` equals the one with ``workers=1`` to the last bit. The points used
to be warm-started from their neighbour; on the paper's design that saved a few cycles per
point at most (62 from the linear start at 0.75 K against 55 warm-started at 0.9 K, 20 cells
× 40 steps), far less than a second core gives.

Processes, not threads: a cycle is thousands of small numpy/LAPACK calls held together by
Python, so threads would queue on the interpreter lock. The mixture table is built once per
worker process (``_table``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from typing import Any

from amrr.cycle.from_design import DesignCycle, design_cooling, model_band
from amrr.cycle.magnetic import MixtureTable, OperatingPoint, RegeneratorSpec, solve_cycle
from amrr.cycle.march import CycleSchedule
from amrr.properties.validity import FloatArray

_TABLES: dict[float, MixtureTable] = {}


def _table(x3: float) -> MixtureTable:
    """The mixture table at ``x3`` [-], built once per process."""
    if x3 not in _TABLES:
        _TABLES[x3] = MixtureTable.build(x3)
    return _TABLES[x3]


@dataclass(frozen=True)
class CurveJob:
    """What one cooling-curve run needs: a design's cycle, or a bare regenerator.

    Attributes
    ----------
    design_cycle : DesignCycle or None
        The cycle built from a design file (net cooling, parasitics, band).
    spec, point, schedule :
        The regenerator, operating point and schedule when there is no design.
    band : bool
        Also run each GGG spin model (designs only).
    """

    design_cycle: DesignCycle | None = None
    spec: RegeneratorSpec | None = None
    point: OperatingPoint | None = None
    schedule: CycleSchedule | None = None
    band: bool = False


@dataclass(frozen=True)
class CurvePoint:
    """One operating point of the curve.

    Attributes
    ----------
    cold_K : float
        T_C [K].
    record : dict
        Flat results, units in the keys (JSON-ready but for non-finite floats).
    band : dict or None
        Spin model → its record, when the band was run.
    state_K : ndarray
        Cyclic-steady state (for a temperature–time map) [K].
    """

    cold_K: float
    record: dict[str, Any]
    band: dict[str, dict[str, Any]] | None
    state_K: FloatArray


def run_point(job: CurveJob, cold_K: float) -> CurvePoint:
    """Solve one operating point at T_C = ``cold_K`` [K] from the linear start."""
    dc = job.design_cycle
    if dc is not None:
        table = _table(dc.spec.x3)
        cooled, css = design_cooling(dc, cold_K, table=table)
        record: dict[str, Any] = dict(cooled.record())
        bands = None
        if job.band:
            mb = model_band(dc, cold_K, table=table)
            bands = {m: dict(p.record()) for m, p in mb.points.items()}
            lo, hi = mb.net_cooling_range_W
            record["net_cooling_band_W"] = [lo, hi]
            record["band_models"] = mb.converged_models
            record["net_cooling_by_model_W"] = {m: p.net_cooling_W for m, p in mb.points.items()}
            record["energy_residual_by_model"] = {
                m: p.cycle.energy_residual_fraction for m, p in mb.points.items()
            }
            record["converged_by_model"] = {m: p.converged for m, p in mb.points.items()}
        return CurvePoint(cold_K, record, bands, css.state_K)
    if job.spec is None or job.point is None or job.schedule is None:
        raise ValueError("a CurveJob needs a design_cycle or spec, point and schedule")
    result, css = solve_cycle(
        job.spec, replace(job.point, cold_K=cold_K), job.schedule, table=_table(job.spec.x3)
    )
    record = asdict(result)
    record["solid_range_K"] = list(result.solid_range_K)
    record["converged"] = css.converged
    return CurvePoint(cold_K, record, None, css.state_K)


def default_workers(points: int) -> int:
    """Worker processes for ``points`` operating points: one per core, at most one per
    point [-]."""
    return max(1, min(points, os.cpu_count() or 1))


def cooling_curve(
    job: CurveJob,
    cold_K: Sequence[float],
    *,
    workers: int = 1,
    progress: Callable[[CurvePoint], None] | None = None,
) -> list[CurvePoint]:
    """Run every T_C of ``cold_K`` [K]; returns the points in the order given.

    Parameters
    ----------
    job : CurveJob
        The cycle to run.
    cold_K : sequence of float
        Cold-end temperatures [K].
    workers : int
        Processes [-]; 1 runs in this process. Raises ValueError below 1.
    progress : callable, optional
        Called with each point as it finishes (in completion order).

    A ``ValueError`` of a point (e.g. a property out of its validity range) is raised
    here, naming the T_C.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    temps = [float(t) for t in cold_K]
    out: dict[int, CurvePoint] = {}
    if workers == 1 or len(temps) == 1:
        for k, t in enumerate(temps):
            out[k] = _checked(job, t)
            if progress is not None:
                progress(out[k])
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(temps))) as pool:
            futures = {pool.submit(_checked, job, t): k for k, t in enumerate(temps)}
            for future in as_completed(futures):
                out[futures[future]] = future.result()
                if progress is not None:
                    progress(out[futures[future]])
    return [out[k] for k in range(len(temps))]


def _checked(job: CurveJob, cold_K: float) -> CurvePoint:
    try:
        return run_point(job, cold_K)
    except ValueError as exc:
        raise ValueError(f"T_C {cold_K:g} K: {exc}") from None


__all__ = ["CurveJob", "CurvePoint", "cooling_curve", "default_workers", "run_point"]
