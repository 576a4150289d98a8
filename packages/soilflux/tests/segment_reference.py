"""Segmentation: continuous sample records → closures, the engine's ``(samples, closures)``.

A closure is one lid-closed observation of one chamber. It is found either

* from ``closure_id`` (rows sharing a chamber and an id; LI-COR files, exports that
  already know their closures), its start being the row with ``elapsed_s`` = 0 when the
  file gives elapsed time, else its first ``closed`` row, else its first row; or
* from ``phase``: each unbroken run of ``closed`` rows of one chamber, started at the
  first ``closed`` sample. Closures may have any length (the fleet's run 180–300 s).

Record defects are repaired where that is safe and always flagged on the closure
(``segment_flags``), never silently:

``clock_jump``
    In arrival (file) order a chamber's clock steps back by more than ``clock_jump_s``
    between two samples of the same closure (both ``closed``, or the same ``closure_id``)
    and reports a time it has already reported, with other readings: NTP set a wrong clock
    right. The clock is taken as right after the jump: the chamber's samples that arrived
    before it are moved back by the jump, so the closure continues at the median sampling
    step. A backward step onto times never reported (a replayed store-and-forward buffer)
    or onto identical samples (duplicates) is a late arrival, simply sorted into place.
    Detection needs arrival order; a table already sorted by time cannot show a jump.
``out_of_order``
    A sample arrived earlier than one with an older timestamp (a smaller backward step).
    The closure is sorted by time.
``duplicate_time``
    Two samples of one chamber with the same timestamp but different values: the first
    in file order is kept. Exact repeats (same values) are dropped and only counted.
``gap``
    A step between consecutive samples larger than ``gap_factor`` times the chamber's
    median sampling step (a forward clock jump looks the same and is reported as a gap).
    A phase run is split where a step exceeds ``max_duration_s``.
``missing_values``
    A sample without a usable gas value (reported by the reader) was left out.
``short`` / ``long``
    The closure lasts less than ``min_duration_s`` / more than ``max_duration_s`` (a
    chamber stuck closed).
``trimmed``
    With ``trim_opening``: the record goes on after the lid re-opened (a sudden drop of the
    gas towards ambient); the fit window is ended before the drop.

Missing temperature, pressure or H2O values inside a closure are interpolated linearly in
time (they change slowly); a closure with none at all keeps NaN for the engine to flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from soilflux.io.generic import GAS_COLUMNS

AUX_COLUMNS = ("h2o_mmol_mol", "temperature_c", "pressure_kpa", "lux")
#: Flags segmentation may set on a closure (``segment_flags``; see the module docstring).
SEGMENT_FLAGS: tuple[str, ...] = (
    "clock_jump",
    "out_of_order",
    "duplicate_time",
    "gap",
    "missing_values",
    "short",
    "long",
    "trimmed",
)
_NS = 1.0e9


@dataclass
class SegmentReport:
    """What segmentation did to the records.

    Attributes
    ----------
    closures : int
        Closures found.
    rows_in_closures : int
        Samples that ended in a closure.
    rows_outside : int
        Samples outside any closure (open, flush, ... phases; rows without closure id).
    duplicates_dropped : int
        Samples dropped as repeated timestamps (exact repeats included).
    out_of_order : int
        Samples that arrived after a younger one.
    clock_jumps : int
        Backward clock jumps repaired.
    gaps : int
        Steps longer than ``gap_factor`` median steps inside closures.
    missing_gas : int
        Samples in closures left out for want of a gas value.
    flag_counts : dict
        Closures carrying each segment flag.
    """

    closures: int = 0
    rows_in_closures: int = 0
    rows_outside: int = 0
    duplicates_dropped: int = 0
    out_of_order: int = 0
    clock_jumps: int = 0
    gaps: int = 0
    missing_gas: int = 0
    flag_counts: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"{self.closures} closures from {self.rows_in_closures} samples "
            f"({self.rows_outside} samples outside closures)"
        ]
        for label, n in (
            ("duplicate timestamps dropped", self.duplicates_dropped),
            ("samples out of order (sorted)", self.out_of_order),
            ("backward clock jumps repaired", self.clock_jumps),
            ("gaps inside closures", self.gaps),
            ("samples without a gas value left out", self.missing_gas),
        ):
            if n:
                out.append(f"{n} {label}")
        out.extend(f"{n} closures flagged {flag}" for flag, n in sorted(self.flag_counts.items()))
        return out


def segment(
    data: pd.DataFrame,
    *,
    chambers: pd.DataFrame | None = None,
    volume_cm3: float | None = None,
    area_cm2: float | None = None,
    clock_jump_s: float = 60.0,
    gap_factor: float = 3.0,
    min_duration_s: float = 30.0,
    max_duration_s: float = 900.0,
    trim_opening: bool = False,
    opening_drop_sigmas: float = 8.0,
    opening_min_drop_ppm: float = 5.0,
) -> tuple[pd.DataFrame, pd.DataFrame, SegmentReport]:
    """Split sample records into closures.

    Parameters
    ----------
    data : pandas.DataFrame
        Samples as returned by the readers: ``time``, ``chamber``, ``phase`` and/or
        ``closure_id``, gas columns, aux columns; optionally ``elapsed_s`` [s] and
        per-closure ``volume_cm3``, ``area_cm2``, ``deadband_s``, ``obs_length_s``,
        ``location``. Several files' data may be concatenated.
    chambers : pandas.DataFrame, optional
        Chamber table indexed by chamber (``volume_cm3`` [cm³], ``area_cm2`` [cm²],
        ``location``) as from :func:`soilflux.io.read_chambers`; its geometry wins over the
        data's own, its location only fills closures whose samples carry none.
    volume_cm3, area_cm2 : float, optional
        One geometry for every chamber [cm³], [cm²]; wins over everything else.
    clock_jump_s : float
        Backward step (arrival order) above which a clock jump is assumed [s].
    gap_factor : float
        ``gap`` when a step exceeds this multiple of the median sampling step [-].
    min_duration_s, max_duration_s : float
        ``short`` / ``long`` limits of a closure's duration [s].
    trim_opening : bool
        End the fit window before a re-opening drop (see the module docstring).
    opening_drop_sigmas : float
        A re-opening step must fall by more than this many robust standard deviations of
        the closure's sample-to-sample steps [-] ...
    opening_min_drop_ppm : float
        ... and by more than this [µmol mol⁻¹ or nmol mol⁻¹, the gas column's unit].

    Returns
    -------
    samples : pandas.DataFrame
        The engine's sample table (``closure``, ``elapsed_s`` [s], gases, aux), sorted by
        (``closure``, ``elapsed_s``).
    closures : pandas.DataFrame
        The engine's closure table, index ``closure``: ``chamber``, ``location``,
        ``start``, ``end`` (UTC), ``volume_cm3``, ``area_cm2``, ``deadband_s``,
        ``obs_length_s``, ``segment_flags``, ``n_samples``, ``closure_id``.
    report : SegmentReport
        Counts of what was repaired and flagged.

    Raises
    ------
    ValueError
        Missing columns, or chambers without geometry (naming them).
    """
    for required in ("time", "chamber"):
        if required not in data.columns:
            raise ValueError(f"data has no {required!r} column")
    gases = [g for g in GAS_COLUMNS if g in data.columns]
    if not gases:
        raise ValueError(f"data has no gas column ({', '.join(GAS_COLUMNS)})")
    by_id = "closure_id" in data.columns and data["closure_id"].notna().any()
    if not by_id and "phase" not in data.columns:
        raise ValueError("data needs a 'phase' or a 'closure_id' column")
    report = SegmentReport()
    if data.empty:
        return _empty(gases, report)

    df = data.reset_index(drop=True).copy()
    df["time"] = pd.to_datetime(df["time"], utc=True).astype("datetime64[ns, UTC]")
    df["chamber"] = df["chamber"].astype(str)
    df["_order"] = np.arange(len(df), dtype=np.int64)
    df = df.sort_values(["chamber", "_order"], kind="stable").reset_index(drop=True)

    # --- clock jumps and arrival order, per chamber in file order
    t_ns = df["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    chamber_codes, _ = pd.factorize(df["chamber"])
    same = np.r_[False, chamber_codes[1:] == chamber_codes[:-1]]
    step_s = np.where(same, np.diff(t_ns, prepend=t_ns[0]) / _NS, np.nan)
    median_step = _group_median(np.where(step_s > 0, step_s, np.nan), chamber_codes)
    med = median_step[chamber_codes]
    # A clock jump is only recognised inside one closure in arrival order (both samples
    # closed, or the same closure_id): a late replay of old samples is not a jump.
    if by_id:
        context = df["closure_id"].astype("string").fillna("\x00none").to_numpy(dtype=object)
        inside = df["closure_id"].notna().to_numpy()
    else:
        context = (df["phase"].astype("string") == "closed").fillna(False).to_numpy(dtype=object)
        inside = context.astype(bool)
    same_context = same & inside & np.r_[False, context[1:] == context[:-1]]
    jump = same_context & (step_s < -clock_jump_s)
    if jump.any():
        jump = _confirmed_jumps(jump, t_ns, chamber_codes, med, df[gases].to_numpy(np.float64))
    correction = np.where(jump, -step_s + np.nan_to_num(med, nan=1.0), 0.0)
    # NTP sets a wrong clock right: the chamber's samples that arrived before a jump are
    # moved back by it (the sum over the jumps that follow them), so that the closure
    # continues across the jump at the median step and no closure overlaps another.
    inclusive = pd.Series(correction[::-1]).groupby(chamber_codes[::-1]).cumsum().to_numpy()[::-1]
    shift_s = inclusive - correction
    t_fix = t_ns - np.round(shift_s * _NS).astype(np.int64)
    step_fixed = np.where(same, np.diff(t_fix, prepend=t_fix[0]) / _NS, np.nan)
    late = same & (step_fixed < 0)
    df["_t"] = t_fix
    df["_jump"] = jump
    df["_late"] = late
    report.clock_jumps = int(jump.sum())
    report.out_of_order = int(late.sum())

    # --- sort by corrected time; drop repeated timestamps (first arrival kept)
    df = df.sort_values(["chamber", "_t", "_order"], kind="stable").reset_index(drop=True)
    codes, _ = pd.factorize(df["chamber"])
    same = np.r_[False, codes[1:] == codes[:-1]]
    t_fix = df["_t"].to_numpy()
    repeat = same & np.r_[False, t_fix[1:] == t_fix[:-1]]
    values = df[gases].to_numpy(dtype=np.float64)
    identical = np.r_[
        False,
        np.all(
            (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1])), axis=1
        ),
    ]
    # A differing repeat flags the sample that is kept (the previous one).
    conflict_kept = np.r_[(repeat & ~identical)[1:], False]
    df["_dup"] = conflict_kept
    report.duplicates_dropped = int(repeat.sum())
    df = df[~repeat].reset_index(drop=True)

    # --- closures
    codes, _ = pd.factorize(df["chamber"])
    same = np.r_[False, codes[1:] == codes[:-1]]
    t_fix = df["_t"].to_numpy()
    step_s = np.where(same, np.diff(t_fix, prepend=t_fix[0]) / _NS, np.nan)
    med = _group_median(np.where(step_s > 0, step_s, np.nan), codes)[codes]
    if by_id:
        key = df["chamber"] + "\x00" + df["closure_id"].astype("string")
        in_closure = df["closure_id"].notna().to_numpy()
        group = np.full(len(df), -1, dtype=np.int64)
        group[in_closure], _ = pd.factorize(key[in_closure])
    else:
        phase = df["phase"].astype("string").groupby(codes).ffill()
        closed = (phase == "closed").fillna(False).to_numpy(dtype=bool)
        prev_closed = np.r_[False, closed[:-1]] & same
        split = np.nan_to_num(step_s, nan=0.0) > max_duration_s
        starts = closed & (~prev_closed | split)
        group = np.where(closed, np.cumsum(starts) - 1, -1)
    in_closure = group >= 0
    report.rows_outside = int((~in_closure).sum())
    gap = np.zeros(len(df), dtype=bool)
    gap[1:] = (group[1:] == group[:-1]) & in_closure[1:] & (step_s[1:] > gap_factor * med[1:])
    df["_gap"] = gap
    df["_group"] = group
    df = df[in_closure].reset_index(drop=True)
    report.gaps = int(df["_gap"].sum())
    if df.empty:
        return _empty(gases, report)

    # Closure start: the elapsed-time origin, else the first closed row, else the first row.
    g = df["_group"].to_numpy()
    t = df["_t"].to_numpy()
    if "elapsed_s" in df.columns and df["elapsed_s"].notna().all():
        origin = t - np.round(df["elapsed_s"].to_numpy() * _NS).astype(np.int64)
        start_ns = pd.Series(origin).groupby(g).median().round().astype(np.int64)
    elif "phase" in df.columns:
        # A missing phase (an unknown value set to missing) is not closed.
        is_closed = (df["phase"].astype("string") == "closed").fillna(False).to_numpy(dtype=bool)
        closed_t = pd.Series(np.where(is_closed, t, np.iinfo(np.int64).max))
        start_ns = closed_t.groupby(g).min()
        first_t = pd.Series(t).groupby(g).min()
        start_ns = start_ns.where(start_ns != np.iinfo(np.int64).max, first_t)
    else:
        start_ns = pd.Series(t).groupby(g).min()
    end_ns = pd.Series(t).groupby(g).max()
    if "elapsed_s" not in df.columns or df["elapsed_s"].isna().any():
        # The file's own elapsed time (LI-COR) is exact; otherwise measure it from the start.
        df["elapsed_s"] = (t - start_ns.to_numpy()[g]) / _NS

    gas_ok = np.isfinite(df[gases].to_numpy(dtype=np.float64)).any(axis=1)
    df["_nogas"] = ~gas_ok
    report.missing_gas = int((~gas_ok).sum())

    per = df.groupby("_group", sort=True)
    ids = per.size().index.to_numpy()
    closures = pd.DataFrame(index=pd.Index(ids, name="_group"))
    closures["chamber"] = per["chamber"].first().astype("string")
    closures["closure_id"] = per["closure_id"].first().astype("string") if by_id else pd.NA
    closures["start"] = pd.to_datetime(start_ns.reindex(ids).to_numpy(), utc=True).astype(
        "datetime64[ns, UTC]"
    )
    closures["end"] = pd.to_datetime(end_ns.reindex(ids).to_numpy(), utc=True).astype(
        "datetime64[ns, UTC]"
    )
    for column in ("volume_cm3", "area_cm2", "deadband_s", "obs_length_s"):
        closures[column] = (
            per[column].first().astype(np.float64) if column in df.columns else np.nan
        )
    closures["location"] = (
        per["location"].first().astype("string")
        if "location" in df.columns
        else pd.Series(pd.NA, index=closures.index, dtype="string")
    )
    closures["location"] = closures["location"].astype("string")
    _apply_geometry(closures, chambers, volume_cm3, area_cm2)

    duration = (closures["end"] - closures["start"]).dt.total_seconds().to_numpy()
    flag_columns = {
        "clock_jump": per["_jump"].any().to_numpy(),
        "out_of_order": per["_late"].any().to_numpy(),
        "duplicate_time": per["_dup"].any().to_numpy(),
        "gap": per["_gap"].any().to_numpy(),
        "missing_values": per["_nogas"].any().to_numpy(),
        "short": duration < min_duration_s,
        "long": duration > max_duration_s,
    }
    df = df[gas_ok].reset_index(drop=True)
    if trim_opening:
        trimmed, end_s = _opening(df, gases[0], opening_drop_sigmas, opening_min_drop_ppm, ids)
        obs = closures["obs_length_s"].to_numpy()
        closures["obs_length_s"] = np.where(
            trimmed, np.fmin(np.nan_to_num(obs, nan=np.inf), end_s), obs
        )
        flag_columns["trimmed"] = trimmed
    flags = np.full(len(closures), "", dtype=object)
    for name, mask in flag_columns.items():
        report.flag_counts[name] = int(mask.sum())
        flags = np.where(mask, np.where(flags == "", name, flags + "," + name), flags)
    report.flag_counts = {k: v for k, v in report.flag_counts.items() if v}
    closures["segment_flags"] = pd.array(flags, dtype="string")
    closures["n_samples"] = per.size().to_numpy()

    # Order closures by start time; renumber 0..n-1.
    closures = closures.sort_values(["start", "chamber"], kind="stable")
    renumber = pd.Series(np.arange(len(closures), dtype=np.int64), index=closures.index)
    closures.index = pd.Index(renumber.to_numpy(), name="closure")
    df["closure"] = renumber.reindex(df["_group"].to_numpy()).to_numpy()

    aux = [c for c in AUX_COLUMNS if c in df.columns]
    columns = ["closure", "elapsed_s", *gases, *aux]
    samples = (
        df[columns].sort_values(["closure", "elapsed_s"], kind="stable").reset_index(drop=True)
    )
    _interpolate_aux(
        samples, [c for c in ("h2o_mmol_mol", "temperature_c", "pressure_kpa") if c in aux]
    )
    report.closures = len(closures)
    report.rows_in_closures = len(samples)
    order = [
        "chamber",
        "location",
        "start",
        "end",
        "volume_cm3",
        "area_cm2",
        "deadband_s",
        "obs_length_s",
        "segment_flags",
        "n_samples",
        "closure_id",
    ]
    return samples, closures[order], report


def _confirmed_jumps(
    candidates: npt.NDArray[np.bool_],
    t_ns: npt.NDArray[np.int64],
    codes: npt.NDArray[np.intp],
    median_step_s: npt.NDArray[np.float64],
    gas: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Backward steps that are clock jumps, not late deliveries.

    A clock set back makes the chamber report a time it has already reported, with other
    readings: the landing time collides with an earlier-arrived sample of the same chamber
    (within half a sampling step) whose gas values differ. A replayed buffer lands where
    nothing arrived (the samples were missing) or on identical samples (duplicates).
    Candidates are few (one per jump), so they are checked one by one.
    """
    confirmed = np.zeros_like(candidates)
    chamber_start = np.searchsorted(codes, codes, side="left")  # rows grouped by chamber
    for i in np.flatnonzero(candidates).tolist():
        lo = int(chamber_start[i])
        tol_ns = 0.5 * np.nan_to_num(median_step_s[i], nan=1.0) * _NS
        near = np.abs(t_ns[lo:i] - t_ns[i]) <= tol_ns
        if not near.any():
            continue
        same_values = np.all((gas[lo:i][near] == gas[i]) | np.isnan(gas[i]), axis=1)
        confirmed[i] = not same_values.all()
    return confirmed


def _group_median(
    values: npt.NDArray[np.float64], codes: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """Median of ``values`` per group code, NaNs ignored (array indexed by code)."""
    n = int(codes.max()) + 1 if len(codes) else 0
    med = pd.Series(values).groupby(codes).median().reindex(range(n))
    return np.asarray(med.to_numpy(dtype=np.float64), dtype=np.float64)


def _apply_geometry(
    closures: pd.DataFrame,
    chambers: pd.DataFrame | None,
    volume_cm3: float | None,
    area_cm2: float | None,
) -> None:
    """Fill geometry (explicit values > chamber table > the data's own) and location (the
    data's own > chamber table)."""
    if chambers is not None:
        table = chambers.reindex(closures["chamber"].to_numpy())
        for column in ("volume_cm3", "area_cm2"):
            given = table[column].to_numpy(dtype=np.float64)
            closures[column] = np.where(np.isfinite(given), given, closures[column].to_numpy())
        if "location" in table.columns:
            # Samples labelled live with their pot know where the chamber stood at the
            # time (chambers move between pots); the table only fills unlabelled closures.
            own = closures["location"].to_numpy()
            loc = table["location"].astype("string").to_numpy()
            closures["location"] = pd.array(np.where(pd.isna(own), loc, own), dtype="string")
    for column, value in (("volume_cm3", volume_cm3), ("area_cm2", area_cm2)):
        if value is not None:
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{column} must be > 0, got {value!r}")
            closures[column] = float(value)
    missing = ~(
        np.isfinite(closures["volume_cm3"].to_numpy())
        & np.isfinite(closures["area_cm2"].to_numpy())
    )
    if missing.any():
        names = sorted(set(closures.loc[missing, "chamber"]))
        shown = ", ".join(repr(n) for n in names[:5]) + (" ..." if len(names) > 5 else "")
        raise ValueError(
            f"no volume_cm3/area_cm2 for chamber(s) {shown}: "
            "give a chamber table or volume and area"
        )


def _interpolate_aux(samples: pd.DataFrame, columns: list[str]) -> None:
    """Fill NaN aux values linearly in time within each closure (edges: nearest value)."""
    closure = samples["closure"].to_numpy()
    elapsed = samples["elapsed_s"].to_numpy(dtype=np.float64)
    for column in columns:
        values = samples[column].to_numpy(dtype=np.float64).copy()
        holes = np.unique(closure[np.isnan(values)])
        if not len(holes):
            continue
        # Only closures with holes are visited: rare in practice.
        first = np.searchsorted(closure, holes, side="left").tolist()
        last = np.searchsorted(closure, holes, side="right").tolist()
        for lo, hi in zip(first, last, strict=True):
            v = values[lo:hi]
            ok = np.isfinite(v)
            if ok.any():
                values[lo:hi] = np.interp(elapsed[lo:hi], elapsed[lo:hi][ok], v[ok])
        samples[column] = values


def _opening(
    df: pd.DataFrame, gas: str, sigmas: float, min_drop: float, ids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Closures whose record goes on after the lid re-opened, and the window end [s].

    The re-opening is the first step (after t = 0) that falls by more than ``sigmas``
    robust standard deviations (1.4826·MAD) of the closure's steps and by more than
    ``min_drop``; the window ends at the sample before it.
    """
    g = df["_group"].to_numpy()
    c = df[gas].to_numpy(dtype=np.float64)
    t = df["elapsed_s"].to_numpy()
    same = np.r_[False, g[1:] == g[:-1]]
    d = np.where(same, np.diff(c, prepend=c[0]), np.nan)
    steps = pd.Series(d)
    median = steps.groupby(g).transform("median").to_numpy()
    mad = pd.Series(np.abs(d - median)).groupby(g).transform("median").to_numpy()
    threshold = np.maximum(sigmas * 1.4826 * mad, min_drop)
    drop = same & (t > 0) & (d < median - threshold)
    prev_t = np.r_[np.nan, t[:-1]]
    end = pd.Series(np.where(drop, prev_t, np.nan)).groupby(g).min()
    end_s = np.asarray(end.reindex(ids).to_numpy(dtype=np.float64), dtype=np.float64)
    return np.asarray(np.isfinite(end_s), dtype=np.bool_), end_s


def _empty(
    gases: list[str], report: SegmentReport
) -> tuple[pd.DataFrame, pd.DataFrame, SegmentReport]:
    samples = pd.DataFrame(
        {"closure": pd.Series(dtype=np.int64), "elapsed_s": pd.Series(dtype=np.float64)}
    )
    for g in gases:
        samples[g] = pd.Series(dtype=np.float64)
    closures = pd.DataFrame(
        {
            "chamber": pd.Series(dtype="string"),
            "location": pd.Series(dtype="string"),
            "start": pd.Series(dtype="datetime64[ns, UTC]"),
            "end": pd.Series(dtype="datetime64[ns, UTC]"),
            "volume_cm3": pd.Series(dtype=np.float64),
            "area_cm2": pd.Series(dtype=np.float64),
            "deadband_s": pd.Series(dtype=np.float64),
            "obs_length_s": pd.Series(dtype=np.float64),
            "segment_flags": pd.Series(dtype="string"),
            "n_samples": pd.Series(dtype=np.int64),
            "closure_id": pd.Series(dtype="string"),
        }
    )
    closures.index = pd.Index([], dtype=np.int64, name="closure")
    return samples, closures, report


def combine(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join several ``(samples, closures)`` pairs, renumbering closures 0..n-1.

    Parameters
    ----------
    parts : list of (samples, closures)
        Results of :func:`segment` on separate files.

    Returns
    -------
    samples, closures
        One pair, closures in the order given.
    """
    samples_out: list[pd.DataFrame] = []
    closures_out: list[pd.DataFrame] = []
    offset = 0
    for samples, closures in parts:
        mapping = pd.Series(
            np.arange(offset, offset + len(closures), dtype=np.int64), index=closures.index
        )
        s = samples.copy()
        s["closure"] = mapping.reindex(s["closure"].to_numpy()).to_numpy()
        c = closures.copy()
        c.index = pd.Index(mapping.to_numpy(), name="closure")
        samples_out.append(s)
        closures_out.append(c)
        offset += len(closures)
    if not parts:
        raise ValueError("nothing to combine")
    return pd.concat(samples_out, ignore_index=True), pd.concat(closures_out)


def open_tail(
    data: pd.DataFrame, *, max_duration_s: float = 900.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split records into those whose closures are complete and each chamber's last closure
    when the record may continue it (the next file of a series).

    A chamber's last closure is open when its last sample is ``closed`` (phase mode) — or,
    with ``closure_id``, always, since a later file may hold more of the same id — unless
    it already lasts longer than ``max_duration_s`` (then it is complete, and ``long``).

    Parameters
    ----------
    data : pandas.DataFrame
        Records as the readers return them (``time``, ``chamber``, ``phase`` or
        ``closure_id``).
    max_duration_s : float
        Longest closure carried over [s].

    Returns
    -------
    complete, tail : pandas.DataFrame
        Rows to segment now, and rows to prepend to the next file's records.
    """
    if data.empty:
        return data, data.iloc[:0]
    time = pd.to_datetime(data["time"], utc=True)
    chamber = data["chamber"].astype(str)
    by_id = "closure_id" in data.columns and data["closure_id"].notna().any()
    last_time = time.groupby(chamber).transform("max")
    if by_id:
        key = data["closure_id"].astype("string").fillna("\x00none")
        last_id = key.where(time == last_time).groupby(chamber).transform("first")
        tail = (key == last_id) & data["closure_id"].notna()
    else:
        closed = (data["phase"].astype("string") == "closed").fillna(False).astype(bool)
        not_closed_time = time.where(~closed).groupby(chamber).transform("max")
        last_closed = closed.where(time == last_time).groupby(chamber).transform("max")
        after = not_closed_time.isna() | (time > not_closed_time)
        tail = after & last_closed.fillna(False).astype(bool)
    first_tail = time.where(tail).groupby(chamber).transform("min")
    too_long = (last_time - first_tail).dt.total_seconds() > max_duration_s
    tail = tail & ~too_long.fillna(False).astype(bool)
    mask = tail.to_numpy(dtype=bool)
    return data[~mask], data[mask]
