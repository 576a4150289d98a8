"""Write a store table to Parquet or CSV, atomically (a temporary file, then a rename).

Samples go out in soilflux's generic layout (:mod:`fluxfleet.ingest.layout`), so that
``soilflux compute FILE --hm-fallback shared --sensor-lag-s 20`` recomputes a season
offline; the other tables as stored. In CSV, times are ISO 8601 UTC with milliseconds
(``2023-09-15T20:00:03.000Z``) and raw payloads hexadecimal.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from fluxfleet.ingest.layout import generic_samples_table
from fluxfleet.store.base import Store


def export_table(
    store: Store,
    table: str,
    output: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    volume_cm3: float,
    area_cm2: float,
) -> int:
    """Write ``table`` rows in [start, end) to ``output`` (.parquet or .csv); row count."""
    data = store.read(table, start, end)
    if table == "samples":  # in Arrow throughout: Parquet never goes through pandas
        data = generic_samples_table(data, volume_cm3, area_cm2)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        if output.suffix.lower() == ".parquet":
            pq.write_table(data, tmp)
        else:
            frame = data.to_pandas()
            for name, col in frame.items():
                if isinstance(col.dtype, pd.DatetimeTZDtype):
                    frame[name] = col.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.slice(0, -4) + "Z"
                elif name == "payload":
                    frame[name] = col.map(lambda b: b.hex() if b is not None else "")
            frame.to_csv(tmp, index=False)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return int(data.num_rows)
