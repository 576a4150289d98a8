"""A fleet's time-ordered export for soilflux's tests of files, workers and pieces: the
chambers interleaved as they stream, closures run on across the cuts of ``split``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from soilflux.synthetic import synthetic_closures

T0 = pd.Timestamp("2026-05-01T00:00:00Z")
CHAMBERS = 12


def fleet_record(closures: int = 240, seed: int = 3, *, with_ids: bool = True) -> pd.DataFrame:
    """A fleet's time-ordered export: chambers interleaved, a closure every 10 min each."""
    s = synthetic_closures(closures, seed=seed, chambers=CHAMBERS).samples
    closure = s["closure"].to_numpy()
    start = T0 + pd.to_timedelta((closure // CHAMBERS) * 600 + (closure % CHAMBERS) * 12, unit="s")
    data = pd.DataFrame(
        {
            "time": start + pd.to_timedelta(s["elapsed_s"].to_numpy(), unit="s"),
            "chamber": [f"ch{i % CHAMBERS:02d}" for i in closure],
            "phase": "closed",
            **{c: s[c].to_numpy() for c in s.columns if c not in ("closure", "elapsed_s")},
        }
    )
    if with_ids:
        data["closure_id"] = (closure // CHAMBERS).astype(str)
    else:  # the lid open between closures: one sample 6 s before each
        first = ~pd.Series(closure).duplicated().to_numpy()
        opened = data[first].assign(phase="open")
        opened["time"] = opened["time"] - pd.Timedelta(seconds=6)
        data = pd.concat([data, opened], ignore_index=True)
    return data.sort_values("time", kind="stable").reset_index(drop=True)


def split(data: pd.DataFrame, folder: Path, n: int, suffix: str = ".parquet") -> list[Path]:
    """``n`` files cut at arbitrary rows, so closures run on across every boundary."""
    paths = []
    bounds = [round(len(data) * k / n) + 7 * k for k in range(n)] + [len(data)]
    for k in range(n):
        path = folder / f"part{k}{suffix}"
        piece = data.iloc[bounds[k] : bounds[k + 1]]
        if suffix == ".csv":
            piece.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            piece.to_parquet(path, index=False)
        paths.append(path)
    return paths
