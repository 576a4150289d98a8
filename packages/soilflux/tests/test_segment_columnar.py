"""The columnar segmentation gives exactly what the row-frame version gave.

`segment_reference.py` beside this file is `soilflux.segment` as it was before it ran on
whole columns (pandas sorts and groupbys of the whole frame); it is the oracle here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from soilflux.segment import open_tail, open_tail_rows, segment

T0 = pd.Timestamp("2026-05-01T00:00:00Z")


def _reference() -> ModuleType:
    path = Path(__file__).with_name("segment_reference.py")
    spec = importlib.util.spec_from_file_location("segment_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["segment_reference"] = module
    spec.loader.exec_module(module)
    return module


REFERENCE = _reference()


def assert_same(data: pd.DataFrame, **options: Any) -> None:
    """New and reference segmentation agree exactly (or fail with the same message)."""
    try:
        expected = REFERENCE.segment(data.copy(), **options)
    except ValueError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            segment(data.copy(), **options)
        return
    samples, closures, report = segment(data.copy(), **options)
    pd.testing.assert_frame_equal(samples, expected[0], check_exact=True)
    pd.testing.assert_frame_equal(closures, expected[1], check_exact=True)
    assert dataclasses.asdict(report) == dataclasses.asdict(expected[2])


def records(
    seed: int,
    n_chambers: int,
    by_id: bool,
    elapsed: bool,
    defects: int,
    location: bool,
) -> pd.DataFrame:
    """Fleet-like records with the defects segmentation repairs, in arrival order."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    names = ["ch10", "A", "ch2", "b"][:n_chambers]
    for c, chamber in enumerate(names):
        t = c * 1.0
        for cycle in range(1, int(rng.integers(2, 5))):
            n_closed = int(rng.integers(3, 40))
            phases = ["open"] * 4 + ["closing"] + ["closed"] * n_closed + ["opening", "flush"]
            k = 0
            for phase in phases:
                closed = phase in ("closing", "closed")
                rows.append(
                    {
                        "t": t,
                        "chamber": chamber,
                        "phase": phase,
                        "closure_id": f"{cycle}" if closed else None,
                        "elapsed_s": 3.0 * (k - 1) if closed else np.nan,
                        "co2_ppm": 420.0 + (2.0 * k if closed else 0.0) + rng.normal(0, 0.5),
                        "temperature_c": 20.0 + rng.normal(0, 0.1),
                        "pressure_kpa": 100.0,
                        "h2o_mmol_mol": 15.0 + 0.01 * k,
                        "lux": 1.0,
                        "location": f"1.{c}.A",
                    }
                )
                k += closed
                t += 3.0 + float(rng.choice([0.0, 0.0, 0.0, 0.5, 20.0]) if defects else 0.0)
            t += float(rng.uniform(0, 400))
    df = pd.DataFrame(rows)
    for _ in range(defects):
        if len(df) < 2:  # lost stretches can take a short record whole (fuzz find)
            break
        i = int(rng.integers(0, len(df)))
        kind = int(rng.integers(0, 7))
        if kind == 0:  # exact repeat
            df = pd.concat([df.iloc[: i + 1], df.iloc[i : i + 1], df.iloc[i + 1 :]])
        elif kind == 1:  # repeat with other values
            dup = df.iloc[i : i + 1].copy()
            dup["co2_ppm"] += 5.0
            df = pd.concat([df.iloc[: i + 1], dup, df.iloc[i + 1 :]])
        elif kind == 2:  # clock set back: later samples repeat earlier times
            later = df.index >= df.index[i]
            same = (df["chamber"] == df["chamber"].iloc[i]).to_numpy()
            df.loc[later & same, "t"] -= float(rng.choice([90.0, 200.0]))
        elif kind == 3:  # missing gas / aux values
            df.iloc[i, df.columns.get_loc("co2_ppm")] = np.nan
            j = int(rng.integers(0, len(df)))
            df.iloc[j, df.columns.get_loc("temperature_c")] = np.nan
        elif kind == 4:  # a sample delivered late
            j = min(i + int(rng.integers(2, 6)), len(df) - 1)
            order = list(range(len(df)))
            order.insert(j, order.pop(i))
            df = df.iloc[order]
        elif kind == 5:  # a missing phase
            df.iloc[i, df.columns.get_loc("phase")] = None
        else:  # a lost stretch
            df = df.drop(df.index[i : i + int(rng.integers(1, 30))])
        df = df.reset_index(drop=True)
    # arrival order: chambers interleaved by their (possibly wrong) clocks
    arrival = np.argsort(df["t"].to_numpy() + rng.uniform(0, 2.0, len(df)), kind="stable")
    df = df.iloc[arrival].reset_index(drop=True)
    df["time"] = T0 + pd.to_timedelta(df.pop("t"), unit="s")
    if by_id:
        df = df[df["closure_id"].notna()].reset_index(drop=True)
        if not elapsed:
            df = df.drop(columns="elapsed_s")
    else:
        df = df.drop(columns=["closure_id", "elapsed_s"])
    # a missing phase inside a closure broke the row-frame version (pd.NA in np.where,
    # "boolean value of NA is ambiguous"): the comparison keeps to records it could read
    df["phase"] = df["phase"].fillna("open")
    if not location:
        df = df.drop(columns="location")
    df["chamber"] = df["chamber"].astype("string")
    df["phase"] = df["phase"].astype("string")
    if "closure_id" in df.columns:
        df["closure_id"] = df["closure_id"].astype("string")
    return df


@given(
    seed=st.integers(0, 2**32 - 1),
    n_chambers=st.integers(1, 4),
    by_id=st.booleans(),
    elapsed=st.booleans(),
    defects=st.integers(0, 8),
    location=st.booleans(),
    trim=st.booleans(),
)
@example(seed=1, n_chambers=2, by_id=False, elapsed=False, defects=8, location=True, trim=True)
@example(seed=7, n_chambers=3, by_id=True, elapsed=True, defects=8, location=False, trim=False)
def test_same_as_row_frame_segmentation(
    seed: int,
    n_chambers: int,
    by_id: bool,
    elapsed: bool,
    defects: int,
    location: bool,
    trim: bool,
) -> None:
    data = records(seed, n_chambers, by_id, elapsed, defects, location)
    assert_same(data, volume_cm3=5000.0, area_cm2=300.0, trim_opening=trim)


def test_same_with_chamber_table_and_own_geometry() -> None:
    data = records(3, 3, True, True, 4, False)
    data["volume_cm3"] = np.where(data.index % 7 == 0, np.nan, 4000.0)
    data["area_cm2"] = 250.0
    table = pd.DataFrame(
        {"volume_cm3": [np.nan, 6000.0], "area_cm2": [300.0, 310.0], "location": ["9", "8"]},
        index=pd.Index(["A", "ch10"], name="chamber"),
    )
    assert_same(data, chambers=table)
    assert_same(data.drop(columns=["volume_cm3"]), chambers=table)  # 'ch2' lacks geometry


def test_same_on_a_fleet_week_slice() -> None:
    """A slice of the season benchmark's fleet file: by closure id with elapsed time."""
    from soilflux.synthetic import synthetic_closures

    syn = synthetic_closures(300, seed=5, chambers=50)
    s = syn.samples
    closure = s["closure"].to_numpy()
    start = T0 + pd.to_timedelta((closure // 50) * 600 + (closure % 50) * 12, unit="s")
    data = pd.DataFrame(
        {
            "time": start + pd.to_timedelta(s["elapsed_s"].to_numpy(), unit="s"),
            "chamber": [f"ch{i % 50:02d}" for i in closure],
            "phase": "closed",
            "closure_id": (closure // 50).astype(str),
            **{c: s[c].to_numpy() for c in s.columns if c != "closure"},
        }
    ).sort_values("time", kind="stable")
    assert_same(data.reset_index(drop=True), volume_cm3=5000.0, area_cm2=300.0)


@given(
    seed=st.integers(0, 2**32 - 1),
    n_chambers=st.integers(1, 4),
    by_id=st.booleans(),
    defects=st.integers(0, 8),
    cut=st.floats(0.1, 1.0),
    max_duration_s=st.sampled_from([60.0, 900.0]),
)
@example(seed=4128, n_chambers=2, by_id=False, defects=5, cut=1.0, max_duration_s=60.0)
def test_open_tail_same_as_row_frame_version(
    seed: int, n_chambers: int, by_id: bool, defects: int, cut: float, max_duration_s: float
) -> None:
    data = records(seed, n_chambers, by_id, True, defects, True)
    data = data.iloc[: max(1, int(cut * len(data)))]  # a file ending mid-closure
    complete, tail = open_tail(data, max_duration_s=max_duration_s)
    assert open_tail_rows(data, max_duration_s=max_duration_s).sum() == len(tail)
    expected = REFERENCE.open_tail(data, max_duration_s=max_duration_s)
    pd.testing.assert_frame_equal(complete, expected[0], check_exact=True)
    pd.testing.assert_frame_equal(tail, expected[1], check_exact=True)
    # the CLI leaves the tail out without splitting the frame: same closures
    if len(complete):
        options: dict[str, Any] = {"volume_cm3": 5000.0, "area_cm2": 300.0}
        rows = open_tail_rows(data, max_duration_s=max_duration_s)
        samples, closures, report = segment(data, leave_out=rows, **options)
        want = REFERENCE.segment(expected[0], **options)
        pd.testing.assert_frame_equal(samples, want[0], check_exact=True)
        pd.testing.assert_frame_equal(closures, want[1], check_exact=True)
        assert dataclasses.asdict(report) == dataclasses.asdict(want[2])


def _reference_parts(paths: list[Path], **read_options: Any) -> list[tuple[Any, Any]]:
    """``soilflux compute``'s reading loop as it was: read, carry the open tail by
    splitting the frame (row-frame ``open_tail``), segment with the row-frame version."""
    from soilflux.conventions import segment_options
    from soilflux.io import read

    parts = []
    carry = None
    for path in paths:
        data, meta = read(path, **read_options)
        if meta.format == "generic":
            if carry is not None:
                data = pd.concat([carry, data], ignore_index=True)
            data, carry = REFERENCE.open_tail(data)
        if data.empty:
            continue
        samples, closures, _ = REFERENCE.segment(
            data, volume_cm3=5000.0, area_cm2=300.0, **segment_options(meta.format)
        )
        parts.append((samples, closures))
    if carry is not None and not carry.empty:
        samples, closures, _ = REFERENCE.segment(carry, volume_cm3=5000.0, area_cm2=300.0)
        parts.append((samples, closures))
    return parts


def _assert_parts_equal(paths: list[Path], **read_options: Any) -> None:
    from soilflux.cli import iter_parts
    from soilflux.options import FluxOptions
    from soilflux.pipeline import compute_fluxes

    got = list(iter_parts(paths, volume_cm3=5000.0, area_cm2=300.0, **read_options))
    want = _reference_parts(paths, **read_options)
    assert len(got) == len(want)
    for (s_got, c_got), (s_want, c_want) in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(s_got, s_want, check_exact=True)
        pd.testing.assert_frame_equal(c_got, c_want, check_exact=True)
        pd.testing.assert_frame_equal(
            compute_fluxes(s_got, c_got, FluxOptions()),
            compute_fluxes(s_want, c_want, FluxOptions()),
            check_exact=True,
        )


def test_fleet_files_read_and_segmented_as_before(tmp_path: Path) -> None:
    """A simulated fleet record in two Parquet files and a CSV, closures open across the
    file boundary: the CLI's parts (and their fluxes) are those of the row-frame path."""
    from soilflux.synthetic import synthetic_closures

    syn = synthetic_closures(400, seed=9, chambers=20)
    s = syn.samples
    closure = s["closure"].to_numpy()
    start = T0 + pd.to_timedelta((closure // 20) * 600 + (closure % 20) * 12, unit="s")
    data = pd.DataFrame(
        {
            "time": start + pd.to_timedelta(s["elapsed_s"].to_numpy(), unit="s"),
            "chamber": [f"ch{i % 20:02d}" for i in closure],
            "location": "1.1.A",
            "phase": "closed",
            "closure_id": (closure // 20).astype(str),
            **{c: s[c].to_numpy() for c in s.columns if c != "closure"},
        }
    )
    data = data.sort_values("time", kind="stable").reset_index(drop=True)
    half = len(data) // 2
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    data.iloc[:half].to_parquet(paths[0], index=False, row_group_size=5000)
    data.iloc[half:].to_parquet(paths[1], index=False)
    _assert_parts_equal(paths)
    csv = tmp_path / "fleet.csv"
    data.drop(columns="closure_id").to_csv(csv, index=False)  # by phase
    _assert_parts_equal([csv])


@pytest.mark.reference
def test_reference_files_read_and_segmented_as_before(reference_dir: Path) -> None:
    flux = reference_dir / "flux"
    for name in ("LI8150.81x", "LI8200-01S.json"):
        _assert_parts_equal([flux / name])
    _assert_parts_equal([flux / "fluxible_co2_conc.csv"], format="fluxible")


def as_categorical_ids(data: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """``data`` with its identifier columns as the reader gives them to the CLI
    (``categorical_ids``): categories in a shuffled order, one of them unused."""
    out = data.copy()
    for name in ("chamber", "location", "phase", "closure_id"):
        if name in out.columns:
            values = [*out[name].dropna().unique().tolist(), "unused"]
            categories = pd.Index(rng.permutation(np.asarray(values, dtype=object)), dtype="string")
            out[name] = out[name].astype(pd.CategoricalDtype(categories))
    return out


@given(
    seed=st.integers(0, 2**32 - 1),
    n_chambers=st.integers(1, 4),
    by_id=st.booleans(),
    defects=st.integers(0, 8),
    cut=st.floats(0.1, 1.0),
)
def test_categorical_ids_segment_as_strings(
    seed: int, n_chambers: int, by_id: bool, defects: int, cut: float
) -> None:
    """Identifiers as categoricals (codes in any order, unused categories): the same open
    tail, samples, closures and report as the same identifiers as strings."""
    data = records(seed, n_chambers, by_id, True, defects, True)
    data = data.iloc[: max(1, int(cut * len(data)))].reset_index(drop=True)
    coded = as_categorical_ids(data, np.random.default_rng(seed))
    tail = open_tail_rows(data)
    np.testing.assert_array_equal(open_tail_rows(coded), tail)
    if tail.all():
        return
    options: dict[str, Any] = {"volume_cm3": 5000.0, "area_cm2": 300.0, "leave_out": tail}
    want = segment(data, **options)
    got = segment(coded, **options)
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)
    assert dataclasses.asdict(got[2]) == dataclasses.asdict(want[2])
