"""Readers: each returns ``(data, metadata)`` with columns renamed to soilflux names.

``data`` is one row per sample (see :data:`SAMPLE_COLUMNS`); :func:`soilflux.segment.segment`
turns it into the engine's ``(samples, closures)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from soilflux.io.chambers import read_chambers
from soilflux.io.errors import InputError, ReadMetadata, RowIssue, missing_reason
from soilflux.io.generic import SAMPLE_COLUMNS, h2o_from_rh, parse_generic_table, read_generic
from soilflux.io.licor81x import read_licor81x
from soilflux.io.licorjson import read_licorjson

Format = Literal["auto", "generic", "licor-81x", "licor-json"]
FORMATS: tuple[str, ...] = ("auto", "generic", "licor-81x", "licor-json")

__all__ = [
    "FORMATS",
    "SAMPLE_COLUMNS",
    "Format",
    "InputError",
    "ReadMetadata",
    "RowIssue",
    "detect_format",
    "h2o_from_rh",
    "parse_generic_table",
    "read",
    "read_chambers",
    "read_generic",
    "read_licor81x",
    "read_licorjson",
]


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its name and first bytes.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        ``licor-81x``, ``licor-json`` or ``generic``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".81x":
        return "licor-81x"
    if suffix == ".json":
        return "licor-json"
    if suffix in (".parquet", ".pq"):
        return "generic"
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise InputError(path, None, None, f"cannot open: {exc}") from exc
    if head.startswith(b"LI-8100"):
        return "licor-81x"
    if head.lstrip().startswith(b"{"):
        return "licor-json"
    return "generic"


def read(
    path: str | Path, format: Format = "auto", *, strict: bool = False, tz: str = "UTC"
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read any supported file.

    Parameters
    ----------
    path : str or Path
        The file.
    format : {"auto", "generic", "licor-81x", "licor-json"}
        ``auto`` guesses with :func:`detect_format`.
    strict : bool
        Raise on the first unusable value instead of reporting it in the metadata.
    tz : str
        IANA time zone of a ``.81x`` file's clock (the file does not say); UTC by default.

    Returns
    -------
    data : pandas.DataFrame
        Samples with soilflux column names.
    metadata : ReadMetadata
        Per-file information, issues and notes.
    """
    if not Path(path).is_file():
        raise InputError(path, None, None, missing_reason(path))
    chosen = detect_format(path) if format == "auto" else format
    if chosen == "generic":
        return read_generic(path, strict=strict)
    if chosen == "licor-81x":
        return read_licor81x(path, tz=tz, strict=strict)
    if chosen == "licor-json":
        return read_licorjson(path, strict=strict)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
