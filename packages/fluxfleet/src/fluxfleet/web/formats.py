"""The one export mechanism of the console: a table as JSON records, CSV or Parquet.

Every route that a page draws from returns a pandas table through :func:`table_response`,
so the CSV/Parquet a page offers is exactly the table it shows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from fastapi import HTTPException
from fastapi.responses import Response

FORMATS = ("json", "csv", "parquet")
FORMAT_PATTERN = "^(json|csv|parquet)$"


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 query parameter as an aware datetime (UTC if it has no offset)."""
    if value is None or value == "":
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: {value!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def table_response(df: pd.DataFrame, fmt: str, name: str) -> Response:
    """``df`` as JSON records, CSV or Parquet (the export of exactly what a page shows)."""
    if fmt == "csv":
        return Response(
            df.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ"),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
        return Response(
            buf.getvalue(),
            media_type="application/vnd.apache.parquet",
            headers={"Content-Disposition": f'attachment; filename="{name}.parquet"'},
        )
    return Response(json.dumps(records(df)), media_type="application/json")


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` for JSON: times as ISO 8601 UTC with ms, NaN/NA as null, and floats
    in full (Python's shortest round-trip repr; pandas' to_json rounds to 15 digits)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            text = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
            out[col] = text.where(out[col].notna(), None)
    out = out.astype(object).where(out.notna(), None)
    return [
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in out.to_dict("records")
    ]


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """A summary dict for JSON: timestamps as ISO 8601, NaN as null."""
    out = {}
    for k, v in d.items():
        if isinstance(v, pd.Timestamp):
            v = v.isoformat()
        elif isinstance(v, float) and v != v:
            v = None
        out[k] = v
    return out
